#!/usr/bin/env bash
# oa-query's stats reads under load, against the same SQL sent straight to ClickHouse, in
# one run:
#
#   10 million events over 90 days for one project (and 3.3 million sessions), generated
#   inside ClickHouse by bench/query/gen.sql (INSERT ... SELECT from numbers(); skewed
#   paths, visitors, referrers, a day/night cycle; kept between runs). Reads: pageviews
#   grouped by path over the last 30 days, sessions over the last 30 days, timeseries by
#   day over the 90 days. Each at BENCH_CLIENTS (10) concurrent keep-alive clients against
#   oa-query with its read cache off (every request a ClickHouse query: the figure that
#   counts), the very SQL oa-query sent (taken from its debug log) POSTed to ClickHouse's
#   HTTP interface with the same URL settings (the baseline), and oa-query with its default
#   5 s cache (what a polled dashboard sees). bench/query/measure.py alternates the variants
#   round by round and rewrites the bench/query section of docs/benchmarks.md.
#
#   bench/query/run.sh                     its own stack in .run-bench-query, ports offset by
#                                          BENCH_PORT_OFFSET (9500), left running for the
#                                          next run (stop: OA_RUN_DIR=.run-bench-query
#                                          compose/local/stack.sh down)
#   BENCH_CLIENTS=10 BENCH_DURATION=20 BENCH_ROUNDS=2 bench/query/run.sh
#   BENCH_BUILD_DIR=build-release          the release build (set up when missing)
#   BENCH_NO_DOCS=1                        do not touch docs/benchmarks.md
#
# Needs python3 and curl. The oa-query processes it starts are stopped by pid at exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD=${BENCH_BUILD_DIR:-$REPO/build-release}
OFF=${BENCH_PORT_OFFSET:-9500}
export BENCH_CLIENTS=${BENCH_CLIENTS:-10} BENCH_DURATION=${BENCH_DURATION:-20} BENCH_ROUNDS=${BENCH_ROUNDS:-2}
export OA_RUN_DIR=${OA_RUN_DIR:-$REPO/.run-bench-query}
export OA_KAFKA_PORT=$((9092 + OFF)) OA_KAFKA_CONTROLLER_PORT=$((9093 + OFF))
export OA_CLICKHOUSE_HTTP_PORT=$((8123 + OFF)) OA_CLICKHOUSE_TCP_PORT=$((9000 + OFF))
export OA_REDIS_PORT=$((6379 + OFF)) OA_GATEWAY_PORT=$((8000 + OFF)) OA_EDGE_PORT=$((8080 + OFF))
export OA_QUERY_PORT=$((8081 + OFF)) OA_SINK_METRICS_PORT=$((9101 + OFF))
export OA_REALTIME_METRICS_PORT=$((9102 + OFF)) OA_PRIVACY_METRICS_PORT=$((9103 + OFF))
export OA_BIN_DIR=$BUILD OA_REDIS_AOF=no
STACK="$REPO/compose/local/stack.sh"
STATE=$OA_RUN_DIR/bench-query.env

say() { echo "[bench/query] $*" >&2; }
die() { say "error: $*"; exit 1; }

# --- build (release, no sanitizers) -------------------------------------------------------------
if [[ ! -f $BUILD/build.ninja ]]; then
        say "configuring $BUILD (release, no tests)"
        meson setup "$BUILD" "$REPO" --buildtype=release -Dtests=false >/dev/null
fi
meson compile -C "$BUILD" services/query/oa-query services/admin/oa-admin >/dev/null
QUERY=$BUILD/services/query/oa-query
ADMIN=$BUILD/services/admin/oa-admin

# --- the stack --------------------------------------------------------------------------------
"$STACK" up >&2
set -a
# shellcheck disable=SC1091
. "$OA_RUN_DIR/stack.env"
set +a
CH=$OA_CLICKHOUSE_URL
ch() { curl -sfS "$CH/" --data-binary "$1"; }

PIDS=()
TMP=$(mktemp -d)
cleanup() {
        for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
        for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
        rm -rf "$TMP"
}
trap cleanup EXIT

# ch_script: run the ;-separated statements on stdin ("--" comment lines dropped)
ch_script() {
        grep -v '^--' | python3 -c '
import sys, urllib.request
for s in sys.stdin.read().split(";"):
    if s.strip():
        urllib.request.urlopen(sys.argv[1] + "/", data=s.encode(), timeout=3600).read()' "$CH"
}

# the schema: oa-admin migrate (idempotent; stack.sh up ran it already)
"$ADMIN" migrate >&2

# --- the project and its data (kept between runs) -----------------------------------------------
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
admin() {
        local field=$1 out
        shift
        out=$("$ADMIN" "$@" --json 2>"$TMP/admin.err") || { cat "$TMP/admin.err" >&2; die "oa-admin $1 $2 failed"; }
        json_field "$field" <<<"$out"
}
if [[ -f $STATE ]]; then
        # shellcheck disable=SC1090
        . "$STATE"
fi
if [[ -z ${PRJ:-} || $(ch "SELECT count() FROM oa.events WHERE project_id = '$PRJ'") != 10000000 ]]; then
        tag=$(date +%s)
        acc=$(admin id account create --name "bench-query-$tag" --plan enterprise --limit 10000000)
        PRJ=$(admin id project create --account "$acc" --name "bench-query-$tag" --domain shop.example.com --timezone Europe/Berlin)
        SITE=bench-site
        KEY=$(admin key key create --account "$acc" --name "bench-query-$tag" --scopes stats:read)
        T0=$(( ($(date -u +%s) / 86400 - 90) * 86400 ))
        say "generating 10M events and 3.3M sessions for $PRJ (90 days from $(date -u -d @"$T0" +%F))"
        start=$(date +%s)
        sed -e "s/{P}/$PRJ/g; s/{S}/$SITE/g; s/{T0}/$T0/g" "$HERE/gen.sql" | ch_script
        ch "OPTIMIZE TABLE oa.events" || true
        say "generated in $(($(date +%s) - start)) s"
        printf 'PRJ=%q\nKEY=%q\nT0=%q\n' "$PRJ" "$KEY" "$T0" >"$STATE"
fi
say "project $PRJ: $(ch "SELECT count() FROM oa.events WHERE project_id = '$PRJ'") events, $(ch "SELECT sum(sign) FROM oa.sessions WHERE project_id = '$PRJ'") sessions"

# --- two oa-query: read cache off (debug log: the SQL it sends) and on --------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start() {       # start NAME PORT VAR=VALUE...
        local name=$1 port=$2
        shift 2
        env OA_QUERY_LISTEN="127.0.0.1:$port" "$@" "$QUERY" >"$TMP/$name.log" 2>&1 &
        PIDS+=($!)
        for _ in $(seq 1 300); do
                curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
                sleep 0.1
        done
        cat "$TMP/$name.log" >&2
        die "$name did not become ready"
}
P_NOCACHE=$(free_port)
P_CACHE=$(free_port)
# both with the baseline's time budget (120 s), so a loaded machine shows as latency, not 503s
start nocache "$P_NOCACHE" OA_QUERY_CACHE_TTL_MS=0 OA_LOG_LEVEL=debug OA_QUERY_CLICKHOUSE_TIMEOUT_MS=120000 \
        OA_QUERY_CLICKHOUSE_WORKERS="$BENCH_CLIENTS"
start cache "$P_CACHE" OA_LOG_LEVEL=warn OA_QUERY_CLICKHOUSE_TIMEOUT_MS=120000 OA_QUERY_CLICKHOUSE_WORKERS="$BENCH_CLIENTS"

day() { date -u -d @"$((T0 + $1 * 86400))" +%F; }
PATHS=("pageviews by path, 30 days|/v1/projects/$PRJ/pageviews?from=$(day 60)&to=$(day 89)&group_by=path"
       "sessions, 30 days|/v1/projects/$PRJ/sessions?from=$(day 60)&to=$(day 89)"
       "timeseries by day, 90 days|/v1/projects/$PRJ/timeseries?from=$(day 0)&to=$(day 89)&interval=day")
for _ in $(seq 1 100); do    # the key must have reached the catalogues
        code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" "http://127.0.0.1:$P_NOCACHE${PATHS[0]#*|}")
        [[ $code == 200 ]] && break
        sleep 0.1
done
[[ $code == 200 ]] || die "GET ${PATHS[0]#*|} answers $code"
reads="["
for p in "${PATHS[@]}"; do
        before=$(wc -l <"$TMP/nocache.log")
        curl -s -H "Authorization: Bearer $KEY" "http://127.0.0.1:$P_NOCACHE${p#*|}" >/dev/null
        sql=$(tail -n +"$((before + 1))" "$TMP/nocache.log" | python3 -c '
import json, sys
for line in sys.stdin:
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if d.get("sql"):
        print(json.dumps(d["sql"]))
        break')
        [[ -n $sql ]] || die "no SQL logged for ${p#*|}"
        reads+="{\"name\": \"${p%%|*}\", \"path\": \"${p#*|}\", \"sql\": $sql},"
done
export BENCH_READS="${reads%,}]"
export BENCH_KEY=$KEY BENCH_OA_NOCACHE=127.0.0.1:$P_NOCACHE BENCH_OA_CACHE=127.0.0.1:$P_CACHE
export BENCH_CH=127.0.0.1:$OA_CLICKHOUSE_HTTP_PORT
export BENCH_CH_PARAMS="wait_end_of_query=1&output_format_json_quote_64bit_integers=0&max_execution_time=120&database=oa&default_format=JSON"
export BENCH_DOC=$REPO/docs/benchmarks.md
export BENCH_COMMIT=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)
export BENCH_CPU=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
export BENCH_CMD="BENCH_CLIENTS=$BENCH_CLIENTS BENCH_DURATION=$BENCH_DURATION BENCH_ROUNDS=$BENCH_ROUNDS bench/query/run.sh"
export BENCH_NOTE="oa-query runs each read's queries on its ClickHouse workers (OA_QUERY_CLICKHOUSE_WORKERS=$BENCH_CLIENTS here, so both sides have 10 queries on ClickHouse at once; the event loop never waits). With the cache off every request is a ClickHouse query (no sharing of reads in flight either): the figure that counts. The cache-on row is what a dashboard polled by many viewers costs: one ClickHouse query per read per 5 s (OA_QUERY_CACHE_TTL_MS) per replica, identical reads in flight sharing it. Data: bench/query/gen.sql (10,000,000 events, 3,333,334 sessions with every twentieth one also written +1/-1 as oa-sink does), project zone Europe/Berlin; ClickHouse is Debian's 18.16 of the local stack. Both oa-query processes and the baseline have a 120 s time budget (max_execution_time), so a loaded machine shows as latency rather than 503s. The SQL is the cost: exact unique visitors (uniqExact) over about 800,000 visitors a month."
python3 "$HERE/measure.py"
