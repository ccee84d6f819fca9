#!/usr/bin/env bash
# The realtime path, end to end, on a stack of its own (release builds):
#
#   1. freshness: the time from a POST /v1/projects/{id}/events answered 202 to the event
#      counted in GET /v1/projects/{id}/realtime (polled every 10 ms), over BENCH_SAMPLES
#      events one after the other at random moments; and, as the breakdown, to the event
#      counted in Redis (oa-realtime's part) and in a second oa-query that shares a
#      computation per second instead of per half second (the default).
#   2. polling: wrk with BENCH_CONNECTIONS (200) concurrent pollers on /realtime of one
#      project (full answers, and pollers sending If-None-Match), against the same oa-query
#      answering GET /healthz (the baseline: the server's floor), in alternation over
#      BENCH_ROUNDS rounds; req/s and p99. wrk runs one thread by default, so on a 2-core
#      machine wrk and oa-query each have a core (with -t2 they fight over both).
#   2b. many streams: BENCH_STREAMS (1000) event streams of one project held open: events
#      delivered per second, oa-query's CPU, Redis computations per second.
#   3. Redis memory per active project: MEMORY USAGE of every realtime key of a project
#      after a minute of traffic, for a small and a busy site, times the 31 minutes a
#      minute's keys live, plus the recent list.
# Then its section of docs/benchmarks.md is rewritten (unless BENCH_NO_DOCS=1).
#
#   bench/realtime/run.sh
#   BENCH_CONNECTIONS=200 BENCH_THREADS=1 BENCH_DURATION=10s BENCH_ROUNDS=3 BENCH_SAMPLES=200 bench/realtime/run.sh
#   BENCH_BUILD_DIR=build-release      where the release build lives (set up when missing)
#   BENCH_PORT_OFFSET=8000             added to the integration stack's ports (19092 + offset, ...)
#
# Needs wrk, python3, curl. The stack (private run directory .run-bench/realtime) and
# everything else it starts are stopped at exit.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD=${BENCH_BUILD_DIR:-$REPO/build-release}
OFF=${BENCH_PORT_OFFSET:-8000}
export BENCH_THREADS=${BENCH_THREADS:-1} BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-200}
export BENCH_DURATION=${BENCH_DURATION:-10s} BENCH_ROUNDS=${BENCH_ROUNDS:-3}
export BENCH_SAMPLES=${BENCH_SAMPLES:-200} BENCH_STREAMS=${BENCH_STREAMS:-1000}
STACK="$REPO/compose/local/stack.sh"

say() { echo "[bench/realtime] $*" >&2; }
die() { say "error: $*"; exit 1; }
for tool in wrk python3 curl; do
        command -v "$tool" >/dev/null || die "$tool is not installed"
done

# --- build (release, no sanitizers) -----------------------------------------------------------
if [[ ! -f $BUILD/build.ninja ]]; then
        say "configuring $BUILD (release, no tests)"
        meson setup "$BUILD" "$REPO" --buildtype=release -Dtests=false >/dev/null
fi
meson compile -C "$BUILD" services/query/oa-query services/realtime/oa-realtime services/edge/oa-edge \
        services/admin/oa-admin >/dev/null

# --- a stack of its own: its ports, its run directory, the release programs -------------------
export OA_RUN_DIR=$REPO/.run-bench/realtime OA_BIN_DIR=$BUILD OA_REDIS_AOF=no
# the ports of tests/integration/run.sh's stack, shifted by the offset (as OA_TEST_PORT_OFFSET)
export OA_KAFKA_PORT=$((19092 + OFF)) OA_KAFKA_CONTROLLER_PORT=$((19093 + OFF))
export OA_CLICKHOUSE_HTTP_PORT=$((18123 + OFF)) OA_CLICKHOUSE_TCP_PORT=$((19000 + OFF))
export OA_REDIS_PORT=$((16379 + OFF)) OA_GATEWAY_PORT=$((18000 + OFF)) OA_EDGE_PORT=$((18080 + OFF))
export OA_QUERY_PORT=$((18081 + OFF)) OA_SINK_METRICS_PORT=$((19101 + OFF))
export OA_REALTIME_METRICS_PORT=$((19102 + OFF)) OA_PRIVACY_METRICS_PORT=$((19103 + OFF))
PIDS=()
cleanup() {
        for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
        for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
        "$STACK" down >&2 || true
}
trap cleanup EXIT
"$STACK" down >&2 || true
rm -rf "$OA_RUN_DIR"
"$STACK" up >&2
set -a
# shellcheck disable=SC1091
. "$OA_RUN_DIR/stack.env"
set +a

# A second oa-query sharing a computation per second (OA_QUERY_REALTIME_CACHE_MS=1000, half
# the Redis round trips of the default 500), to show what the slot costs in freshness.
export BENCH_QUERY_HALF_PORT=$((18091 + OFF))
OA_QUERY_LISTEN=127.0.0.1:$BENCH_QUERY_HALF_PORT OA_QUERY_REALTIME_CACHE_MS=1000 OA_LOG_LEVEL=warn \
        "$BUILD/services/query/oa-query" >"$OA_RUN_DIR/log/query-half.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 300); do
        curl -fs "http://127.0.0.1:$BENCH_QUERY_HALF_PORT/readyz" >/dev/null 2>&1 && break
        sleep 0.1
done

export BENCH_ADMIN=$BUILD/services/admin/oa-admin
export BENCH_QUERY_PID=$(cat "$OA_RUN_DIR/pid/query.pid")
export BENCH_DOC=$REPO/docs/benchmarks.md
export BENCH_COMMIT=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)
export BENCH_CPU=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
export BENCH_CMD="BENCH_CONNECTIONS=$BENCH_CONNECTIONS BENCH_THREADS=$BENCH_THREADS BENCH_DURATION=$BENCH_DURATION BENCH_ROUNDS=$BENCH_ROUNDS BENCH_SAMPLES=$BENCH_SAMPLES bench/realtime/run.sh"
python3 "$HERE/measure.py"
