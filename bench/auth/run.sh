#!/usr/bin/env bash
# The cost of authentication and rate limiting in oa-query, in one run:
#
#   wrk on GET /v1/projects/{id} (a catalogue read) against oa-query, with a Bearer key of an
#   enterprise account whose limit is far above what wrk can send (the limiter counts every
#   request against the budget in Redis but never refuses), and against oa-query-bench-noauth, the same
#   sources built with OA_QUERY_BENCH_NOAUTH (bench/meson.build), which answers that one
#   route without looking at a key or counting it. Both release builds (-O3, no
#   sanitizers), both on the same Kafka and Redis, measured in alternation.
#
# bench/auth/measure.py runs wrk on the variants in alternation, round after round, and
# prints per variant the median requests/s and p99 latency, the median of the per-round
# throughput ratios to the baseline (target: auth plus limiting cost under 10%, i.e. ratio
# >= 0.90), and the CPU per request in the daemon and in Redis; then it rewrites its section
# of docs/benchmarks.md. A third oa-query, whose Redis URL points at a closed port, does the
# same work with the limiter counting in process (its fallback): the difference to the
# second is the Redis round trip.
#
#   bench/auth/run.sh                  uses the stack of OA_RUN_DIR (default .run), starting
#                                      it with compose/local/stack.sh up when it is not up
#   BENCH_THREADS=1 BENCH_CONNECTIONS=32 BENCH_DURATION=10s BENCH_ROUNDS=5 bench/auth/run.sh
#   BENCH_BUILD_DIR=build-release      where the release build lives (set up when missing)
#   BENCH_NO_DOCS=1                    do not touch docs/benchmarks.md
#
# Needs wrk, python3, curl. Processes it starts are stopped by pid at exit.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
THREADS=${BENCH_THREADS:-1}
CONNS=${BENCH_CONNECTIONS:-32}
DURATION=${BENCH_DURATION:-10s}
ROUNDS=${BENCH_ROUNDS:-5}
WARMUP=${BENCH_WARMUP:-3s}
BUILD=${BENCH_BUILD_DIR:-$REPO/build-release}
export OA_RUN_DIR=${OA_RUN_DIR:-$REPO/.run}
STACK="$REPO/compose/local/stack.sh"
LIMIT=10000000          # enterprise: requests per minute per key (oa-admin's maximum), never reached

say() { echo "[bench/auth] $*" >&2; }
die() { say "error: $*"; exit 1; }

# shellcheck source=bench/lib.sh
source "$HERE/../lib.sh"

# --- build (release, no sanitizers) -------------------------------------------------------------
bench_build services/query/oa-query bench/oa-query-bench-noauth bench/bench-auth-micro \
        services/admin/oa-admin
QUERY=$BUILD/services/query/oa-query
NOAUTH=$BUILD/bench/oa-query-bench-noauth
ADMIN=$BUILD/services/admin/oa-admin

# --- the stack (Kafka, Redis) -------------------------------------------------------------------
bench_stack_up
PIDS=()
TMP=$(mktemp -d)
trap bench_cleanup EXIT

# --- an enterprise account with a limit nobody reaches, a project, a read key -----------------
tag=$(date +%s)
acc=$(admin '["id"]' account create --name "bench-auth-$tag" --plan enterprise --limit "$LIMIT")
prj=$(admin '["id"]' project create --account "$acc" --name "bench-auth-$tag" --domain bench.example.com)
key=$(admin '["key"]' key create --account "$acc" --name "bench-auth-$tag" --scopes projects:read)
[[ $key == oa_live_* ]] || die "oa-admin did not create a key"
say "account $acc (enterprise, $LIMIT/min), project $prj"

# --- both daemons -------------------------------------------------------------------------------
start() {       # start NAME PROGRAM PORT
        OA_QUERY_LISTEN=127.0.0.1:$3 OA_LOG_LEVEL=warn "$2" >"$TMP/$1.log" 2>&1 &
        PIDS+=($!)
        bench_wait_ready "$1" "$3"
}
PORT_AUTH=$(free_port)
PORT_NOAUTH=$(free_port)
PORT_LOCAL=$(free_port)
start oa-query "$QUERY" "$PORT_AUTH"
start oa-query-bench-noauth "$NOAUTH" "$PORT_NOAUTH"
OA_REDIS_URL=redis://127.0.0.1:$(free_port) start oa-query-local-limits "$QUERY" "$PORT_LOCAL"
URL_AUTH="http://127.0.0.1:$PORT_AUTH/v1/projects/$prj"
URL_NOAUTH="http://127.0.0.1:$PORT_NOAUTH/v1/projects/$prj"
URL_LOCAL="http://127.0.0.1:$PORT_LOCAL/v1/projects/$prj"
AUTHZ="Authorization: Bearer $key"

# The key and the project must have reached every catalogue.
for _ in $(seq 1 100); do
        a=$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTHZ" "$URL_AUTH")
        b=$(curl -s -o /dev/null -w '%{http_code}' "$URL_NOAUTH")
        c=$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTHZ" "$URL_LOCAL")
        [[ $a == 200 && $b == 200 && $c == 200 ]] && break
        sleep 0.05
done
[[ $a == 200 && $b == 200 && $c == 200 ]] || die "GET answers $a (auth), $b (no auth), $c (local limits)"
curl -s -D - -o /dev/null -H "$AUTHZ" "$URL_AUTH" | grep -i '^x-ratelimit-limit' >&2

# --- wrk, in alternation (bench/auth/measure.py) -----------------------------------------------
export BENCH_THREADS=$THREADS BENCH_CONNECTIONS=$CONNS BENCH_DURATION=$DURATION BENCH_ROUNDS=$ROUNDS
export BENCH_WARMUP=$WARMUP BENCH_DOC=$REPO/docs/benchmarks.md
export BENCH_COMMIT=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)
export BENCH_CPU=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
export BENCH_CMD="BENCH_THREADS=$THREADS BENCH_CONNECTIONS=$CONNS BENCH_DURATION=$DURATION BENCH_ROUNDS=$ROUNDS bench/auth/run.sh"
export BENCH_NOTE="The third row is the same oa-query with its Redis URL pointing at a closed port: the limiter counts in process (its fallback, which still pays for trying Redis, see oa_rl_hit below); against the second row it shows what talking to Redis costs. The limiter takes each key's budget from Redis in leases (libshared rl), so most requests make no Redis round trip."
# The pieces alone, in ns per call (bench/auth/micro.c).
export BENCH_MICRO=$("$BUILD/bench/bench-auth-micro")
echo "$BENCH_MICRO" >&2
export BENCH_VARIANTS="no auth (oa-query-bench-noauth)|$URL_NOAUTH|${PIDS[1]}|
Bearer auth + rate limit in Redis (oa-query)|$URL_AUTH|${PIDS[0]}|$AUTHZ
breakdown: Bearer auth + limit counted in process (oa-query, Redis unreachable)|$URL_LOCAL|${PIDS[2]}|$AUTHZ"
python3 "$HERE/measure.py"

# The Redis variant must have counted in Redis, not in its fallback.
local_decisions=$(curl -s "http://127.0.0.1:$PORT_AUTH/metrics" | awk '/^oa_query_ratelimit_local_total\{limit="key"\}/ {print $2}')
[[ ${local_decisions:-0} == 0 ]] || say "warning: the Redis variant decided $local_decisions requests in process (Redis did not answer)"
