#!/usr/bin/env bash
# The ingest throughput of oa-edge (issue 4), in one run:
#
#   the ceiling: POST /collect of oa-edge-bench-bare (oa-edge built with OA_EDGE_BENCH_BARE:
#   the same HTTP server, route and 204, without reading the event);
#   POST /collect of oa-edge with realistic bodies and User-Agents (collect.lua);
#   POST /v1/projects/{id}/events with one event, and with batches of BENCH_BATCH (v1.lua),
#   each answered 202 only once Kafka acknowledged it;
#   then /collect at about half its maximum for the p99 there, and oa-edge's peak RSS.
#
# Release builds, a real Kafka broker and Redis: a private stack of its own (run directory
# BENCH_RUN_DIR, default .run-bench-edge; every port shifted by OA_BENCH_PORT_OFFSET,
# default 6000, as bench/stack/up.sh does), started when not up and stopped again at the
# end when this script started it. bench/edge/measure.py measures and rewrites its section
# of docs/benchmarks.md.
#
#   bench/edge/run.sh
#   BENCH_THREADS=1 BENCH_CONNECTIONS=32 BENCH_DURATION=10s BENCH_ROUNDS=3 BENCH_BATCH=100 BENCH_BATCH_CONNECTIONS=64 bench/edge/run.sh
#   BENCH_BUILD_DIR=build-release      where the release build lives (set up when missing)
#   BENCH_NO_DOCS=1                    do not touch docs/benchmarks.md
#   BENCH_REPLICAS=n                   oa-edge processes sharing a port (SO_REUSEPORT) for a
#                                      second batch case: the daemon scaled out on this host
#                                      (default 0: no such case; 2 on this 2-core machine made
#                                      batches slower, 137k vs 175k events/s: CPU-bound)
#   BENCH_BATCH_CONNECTIONS=n          connections of the batch case (default 64: each request
#                                      waits for Kafka's acknowledgement, OA_EDGE_API_LINGER_MS
#                                      and more, so fewer connections measure latency, not
#                                      throughput: 32 left a third of a core idle)
#
# Needs wrk, python3, curl. Processes it starts are stopped by pid at exit.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
THREADS=${BENCH_THREADS:-1}
CONNS=${BENCH_CONNECTIONS:-32}
DURATION=${BENCH_DURATION:-10s}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP=${BENCH_WARMUP:-3s}
BATCH=${BENCH_BATCH:-100}
BATCH_CONNS=${BENCH_BATCH_CONNECTIONS:-64}
BUILD=${BENCH_BUILD_DIR:-$REPO/build-release}
STACK="$REPO/compose/local/stack.sh"
LIMIT=10000000          # enterprise: requests per minute per key (and /collect events per second per site)

say() { echo "[bench/edge] $*" >&2; }
die() { say "error: $*"; exit 1; }

# shellcheck source=bench/lib.sh
source "$HERE/../lib.sh"

# --- build (release, no sanitizers) -------------------------------------------------------------
bench_build services/edge/oa-edge bench/oa-edge-bench-bare services/admin/oa-admin
EDGE=$BUILD/services/edge/oa-edge
BARE=$BUILD/bench/oa-edge-bench-bare
ADMIN=$BUILD/services/admin/oa-admin

# --- a private stack: Kafka, Redis (and the rest of the infrastructure), no daemons -------------
offset=${OA_BENCH_PORT_OFFSET:-6000}
export OA_RUN_DIR=${BENCH_RUN_DIR:-$REPO/.run-bench-edge}
bench_ports "$offset"
PIDS=()
TMP=$(mktemp -d)
BENCH_WIPE_KAFKA=1      # millions of throwaway events per run (see bench_cleanup)
trap bench_cleanup EXIT
# The stack starts the daemons it finds under OA_BIN_DIR: give it only oa-admin (topics, demo).
mkdir -p "$TMP/bin/services/admin"
ln -s "$ADMIN" "$TMP/bin/services/admin/oa-admin"
export OA_BIN_DIR=$TMP/bin

bench_stack_up

# --- an enterprise account with limits nobody reaches, a project, a write key -----------------
tag=$(date +%s)
acc=$(admin '["id"]' account create --name "bench-edge-$tag" --plan enterprise --limit "$LIMIT")
prj_json=$("$ADMIN" project create --account "$acc" --name "bench-edge-$tag" --domain shop.example.com --json)
prj=$(json_field '["id"]' <<<"$prj_json")
site=$(json_field '["site_id"]' <<<"$prj_json")
key=$(admin '["key"]' key create --account "$acc" --name "bench-edge-$tag" --scopes events:write)
[[ $key == oa_live_* ]] || die "oa-admin did not create a key"
say "account $acc (enterprise, $LIMIT/min), project $prj, site $site"

# --- both daemons -------------------------------------------------------------------------------
# One client address sends everything: lift the per-address /collect limit out of the way.
start() {       # start NAME PROGRAM PORT
        OA_EDGE_LISTEN=127.0.0.1:$3 OA_LOG_LEVEL=warn OA_EDGE_IP_RATE=1000000 OA_EDGE_IP_BURST=10000000 \
                "$2" >"$TMP/$1.log" 2>&1 &
        PIDS+=($!)
        bench_wait_ready "$1" "$3"
}
PORT_EDGE=$(free_port)
PORT_BARE=$(free_port)
start oa-edge "$EDGE" "$PORT_EDGE"
start oa-edge-bench-bare "$BARE" "$PORT_BARE"
# oa-edge scaled out on this host: BENCH_REPLICAS processes (default: one per core) sharing
# one port with SO_REUSEPORT, for the batch case (0: none)
REPLICAS=${BENCH_REPLICAS:-0}
PORT_REPLICAS=$(free_port)
REPLICA_PIDS=()
export OA_EDGE_REUSEPORT=1
for i in $(seq 1 "$REPLICAS"); do
        start "oa-edge-replica-$i" "$EDGE" "$PORT_REPLICAS"
        REPLICA_PIDS+=("${PIDS[-1]}")
done
unset OA_EDGE_REUSEPORT

# The key and the project must have reached oa-edge's catalogue.
for _ in $(seq 1 100); do
        a=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
                -d '{"event_type":"custom","event_name":"bench_ready"}' \
                "http://127.0.0.1:$PORT_EDGE/v1/projects/$prj/events")
        [[ $a == 202 ]] && break
        sleep 0.1
done
[[ $a == 202 ]] || die "POST /v1/projects/$prj/events answers $a"
# ...and every replica's (the kernel picks one per connection: 20 answers in a row)
ok=0
for _ in $(seq 1 200); do
        ((REPLICAS > 0)) || break
        a=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
                -d '{"event_type":"custom","event_name":"bench_ready"}' \
                "http://127.0.0.1:$PORT_REPLICAS/v1/projects/$prj/events")
        if [[ $a == 202 ]]; then ok=$((ok + 1)); else ok=0; sleep 0.1; fi
        ((ok >= 20)) && break
done
((REPLICAS == 0 || ok >= 20)) || die "the replicas do not all accept the key"

# --- wrk (bench/edge/measure.py) ---------------------------------------------------------------
export BENCH_THREADS=$THREADS BENCH_CONNECTIONS=$CONNS BENCH_DURATION=$DURATION BENCH_ROUNDS=$ROUNDS
export BENCH_WARMUP=$WARMUP BENCH_BATCH=$BATCH BENCH_BATCH_CONNECTIONS=$BATCH_CONNS BENCH_DOC=$REPO/docs/benchmarks.md
export BENCH_EDGE_URL=http://127.0.0.1:$PORT_EDGE BENCH_BARE_URL=http://127.0.0.1:$PORT_BARE
export BENCH_EDGE_PID=${PIDS[0]} BENCH_BARE_PID=${PIDS[1]} BENCH_REPLICA_PIDS="${REPLICA_PIDS[*]}"
export BENCH_REPLICAS_URL=http://127.0.0.1:$PORT_REPLICAS
export BENCH_PROJECT_ID=$prj BENCH_SITE_ID=$site BENCH_KEY=$key
export BENCH_COMMIT=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)
export BENCH_CPU=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
export BENCH_CMD="BENCH_THREADS=$THREADS BENCH_CONNECTIONS=$CONNS BENCH_DURATION=$DURATION BENCH_ROUNDS=$ROUNDS BENCH_BATCH=$BATCH BENCH_BATCH_CONNECTIONS=$BATCH_CONNS BENCH_REPLICAS=$REPLICAS bench/edge/run.sh"
python3 "$HERE/measure.py"

# Every /collect event of the realistic mix must have gone somewhere countable: delivered,
# or dropped as a bot; anything else is a sign the benchmark measured the wrong thing.
curl -s "$BENCH_EDGE_URL/metrics" | grep -E '^oa_edge_(collect_dropped|events_produced|kafka_deliveries)_total' >&2 || true
