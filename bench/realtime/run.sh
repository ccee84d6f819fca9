#!/usr/bin/env bash
# The realtime path, end to end, on a stack of its own (release builds):
#
#   1. freshness: the time from a POST /v1/projects/{id}/events answered 202 to the event
#      counted in GET /v1/projects/{id}/realtime (polled every 10 ms), over BENCH_SAMPLES
#      events one after the other; and, as the breakdown, to the event counted in Redis
#      (oa-realtime's part, without oa-query's one-second sharing).
#   2. polling: wrk with BENCH_CONNECTIONS (200) concurrent pollers on /realtime of one
#      project, against the same oa-query answering GET /healthz (the baseline: the
#      server's floor), in alternation over BENCH_ROUNDS rounds; req/s and p99.
#   3. Redis memory per active project: MEMORY USAGE of every realtime key of a project
#      after a minute of traffic, for a small and a busy site, times the 31 minutes a
#      minute's keys live, plus the recent list.
# Then its section of docs/benchmarks.md is rewritten (unless BENCH_NO_DOCS=1).
#
#   bench/realtime/run.sh
#   BENCH_CONNECTIONS=200 BENCH_THREADS=2 BENCH_DURATION=10s BENCH_ROUNDS=3 BENCH_SAMPLES=200 bench/realtime/run.sh
#   BENCH_BUILD_DIR=build-release      where the release build lives (set up when missing)
#   BENCH_PORT_OFFSET=8000             added to the stack's default ports
#
# Needs wrk, python3, curl. The stack (private run directory .run-bench/realtime) and
# everything else it starts are stopped at exit.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD=${BENCH_BUILD_DIR:-$REPO/build-release}
OFF=${BENCH_PORT_OFFSET:-8000}
export BENCH_THREADS=${BENCH_THREADS:-2} BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-200}
export BENCH_DURATION=${BENCH_DURATION:-10s} BENCH_ROUNDS=${BENCH_ROUNDS:-3}
export BENCH_SAMPLES=${BENCH_SAMPLES:-200}
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
export OA_KAFKA_PORT=$((9092 + OFF)) OA_KAFKA_CONTROLLER_PORT=$((9093 + OFF))
export OA_CLICKHOUSE_HTTP_PORT=$((8123 + OFF)) OA_CLICKHOUSE_TCP_PORT=$((9000 + OFF))
export OA_REDIS_PORT=$((6379 + OFF)) OA_GATEWAY_PORT=$((8000 + OFF)) OA_EDGE_PORT=$((8080 + OFF))
export OA_QUERY_PORT=$((8081 + OFF)) OA_SINK_METRICS_PORT=$((9101 + OFF))
export OA_REALTIME_METRICS_PORT=$((9102 + OFF)) OA_PRIVACY_METRICS_PORT=$((9103 + OFF))
cleanup() { "$STACK" down >&2 || true; }
trap cleanup EXIT
"$STACK" down >&2 || true
rm -rf "$OA_RUN_DIR"
"$STACK" up >&2
set -a
# shellcheck disable=SC1091
. "$OA_RUN_DIR/stack.env"
set +a

export BENCH_ADMIN=$BUILD/services/admin/oa-admin
export BENCH_QUERY_PID=$(cat "$OA_RUN_DIR/pid/query.pid")
export BENCH_DOC=$REPO/docs/benchmarks.md
export BENCH_COMMIT=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)
export BENCH_CPU=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
export BENCH_CMD="BENCH_CONNECTIONS=$BENCH_CONNECTIONS BENCH_THREADS=$BENCH_THREADS BENCH_DURATION=$BENCH_DURATION BENCH_ROUNDS=$BENCH_ROUNDS BENCH_SAMPLES=$BENCH_SAMPLES bench/realtime/run.sh"
python3 "$HERE/measure.py"
