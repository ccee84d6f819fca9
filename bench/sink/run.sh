#!/usr/bin/env bash
# Benchmark of oa-sink, on a private stack (release build, its own run directory and ports):
#
#   throughput  oa.events.v1 pre-filled with N realistic events (bench-sink-produce,
#               bench/sink/produce.c), then oa-sink started alone drains them into
#               ClickHouse: events/s from its start to the last row visible (target
#               >= 200,000/s), and its resident memory (peak VmRSS, sampled every 0.2 s).
#   baseline    in the same run, the same rows (written by the producer as an oa.events
#               RowBinary file with oa-sink's own encoder) inserted by clickhouse-client into
#               the emptied oa.events: ratio = oa-sink / clickhouse-client (target >= 0.5).
#               Both feed the same materialized views; oa-sink also writes the sessions.
#   freshness   p99 time from a /v1 202 (oa-edge) to the row visible in ClickHouse (target
#               <= 2 s): bench/sink/fresh.py, one event per request at a steady rate.
#
#   bench/sink/run.sh [N]            N events (default 5000000)
#   OA_BENCH_PORT_OFFSET=7000        added to every port of the stack
#   BENCH_BUILD_DIR=build-release    the release build (set up when missing)
#   BENCH_FRESH_COUNT=400 BENCH_FRESH_RATE=20   the freshness run
#   BENCH_NO_DOCS=1                  do not rewrite this section of docs/benchmarks.md
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
N=${1:-${BENCH_N:-5000000}}
FRESH_COUNT=${BENCH_FRESH_COUNT:-400}
FRESH_RATE=${BENCH_FRESH_RATE:-20}
BUILD=${BENCH_BUILD_DIR:-$REPO/build-release}
offset=${OA_BENCH_PORT_OFFSET:-7000}
export OA_RUN_DIR=${OA_BENCH_RUN_DIR:-$REPO/.run-bench/sink}
export OA_KAFKA_PORT=$((9092 + offset)) OA_KAFKA_CONTROLLER_PORT=$((9093 + offset))
export OA_CLICKHOUSE_HTTP_PORT=$((8123 + offset)) OA_CLICKHOUSE_TCP_PORT=$((9000 + offset))
# The gateway is not used here; 8000 + offset would meet another engineer's ClickHouse (9000 + 6000).
export OA_REDIS_PORT=$((6379 + offset)) OA_GATEWAY_PORT=${OA_BENCH_GATEWAY_PORT:-$((8900 + offset))}
export OA_EDGE_PORT=$((8080 + offset)) OA_QUERY_PORT=$((8081 + offset))
export OA_SINK_METRICS_PORT=$((9101 + offset)) OA_REALTIME_METRICS_PORT=$((9102 + offset))
export OA_PRIVACY_METRICS_PORT=$((9103 + offset)) OA_REDIS_AOF=no
export OA_BIN_DIR=$BUILD
STACK=$REPO/compose/local/stack.sh

say() { echo "[bench/sink] $*" >&2; }
die() { say "error: $*"; exit 1; }
now_ms() { date +%s%3N; }

if [[ ! -f $BUILD/build.ninja ]]; then
        say "configuring $BUILD (release, no tests)"
        meson setup "$BUILD" "$REPO" --buildtype=release -Dtests=false >/dev/null
fi
meson compile -C "$BUILD" services/sink/oa-sink services/admin/oa-admin services/edge/oa-edge \
        services/query/oa-query bench/bench-sink-produce >/dev/null

TMP=$(mktemp -d)
SINK_PID=
cleanup() {
        [[ -n $SINK_PID ]] && kill -TERM "$SINK_PID" 2>/dev/null && wait "$SINK_PID" 2>/dev/null
        "$STACK" down >/dev/null 2>&1 || true
        rm -rf "$TMP"
}
trap cleanup EXIT

say "a fresh stack in $OA_RUN_DIR (port offset $offset)"
"$STACK" down >/dev/null 2>&1 || true
rm -rf "$OA_RUN_DIR"
"$STACK" up >/dev/null
set -a
# shellcheck disable=SC1091
. "$OA_RUN_DIR/stack.env"
# shellcheck disable=SC1091
. "$OA_RUN_DIR/demo.env"
set +a
"$STACK" stop sink >/dev/null
ch() { curl -sfS "$OA_CLICKHOUSE_URL/" --data-binary "$1"; }

load_start=$(cut -d' ' -f1 /proc/loadavg)

# --- pre-fill -----------------------------------------------------------------------------------
say "producing $N events into oa.events.v1"
t0=$(now_ms)
read -r produced pbytes _ < <("$BUILD/bench/bench-sink-produce" "$OA_KAFKA_BROKERS" "$N" "$OA_DEMO_PROJECT_ID" "$TMP/events.rowbinary")
produce_ms=$(($(now_ms) - t0))
[[ $produced == "$N" ]] || die "produced $produced of $N"
say "produced $N events ($((pbytes / N)) bytes each) in ${produce_ms} ms"

# --- drain by oa-sink -------------------------------------------------------------------------
OA_SINK_LISTEN=127.0.0.1:$OA_SINK_METRICS_PORT OA_LOG_LEVEL=warn "$BUILD/services/sink/oa-sink" 2>"$TMP/sink.log" &
SINK_PID=$!
t_start=$(now_ms)
t_first=
rss_max=0
count=0
deadline=$((t_start + 1800 * 1000))
while ((count < N)); do
        (($(now_ms) < deadline)) || die "oa-sink drained $count of $N in 30 minutes"
        kill -0 "$SINK_PID" 2>/dev/null || { cat "$TMP/sink.log" >&2; die "oa-sink exited"; }
        rss=$(awk '/^VmRSS/ {print $2}' "/proc/$SINK_PID/status")
        ((rss > rss_max)) && rss_max=$rss
        count=$(ch "SELECT count() FROM oa.events")
        [[ -z $t_first && $count -gt 0 ]] && t_first=$(now_ms)
        ((count < N)) && sleep 0.2
done
t_done=$(now_ms)
# sessions follow within OA_SINK_SESSIONS_MS (5 s)
for _ in $(seq 1 150); do
        sessions_events=$(ch "SELECT sum(sign * events) FROM oa.sessions")
        [[ $sessions_events == "$N" ]] && break
        sleep 0.2
done
t_sessions=$(now_ms)
final=$(ch "SELECT count() FROM oa.events")
visits=$(ch "SELECT sum(sign) FROM oa.sessions")
[[ $final == "$N" ]] || die "oa.events holds $final rows, not $N"
[[ $sessions_events == "$N" ]] || die "oa.sessions counts $sessions_events events, not $N"
metrics=$(curl -sf "http://127.0.0.1:$OA_SINK_METRICS_PORT/metrics")
insert_s=$(awk '/^oa_sink_insert_seconds_sum/ {printf "%.2f", $2}' <<<"$metrics")
inserts=$(awk '/^oa_sink_insert_seconds_count/ {print $2}' <<<"$metrics")
kill -TERM "$SINK_PID"
wait "$SINK_PID" || die "oa-sink did not exit cleanly"
SINK_PID=
drain_ms=$((t_done - t_start))
sink_eps=$((N * 1000 / drain_ms))
say "oa-sink: $N rows in $drain_ms ms ($sink_eps events/s; first row after $((t_first - t_start)) ms; sessions complete $((t_sessions - t_done)) ms later), peak RSS $((rss_max / 1024)) MiB, $visits sessions, $inserts inserts taking ${insert_s} s"

# --- baseline: clickhouse-client, the same rows from a file --------------------------------------
ch "TRUNCATE TABLE oa.events" >/dev/null
cols=$("$BUILD/services/sink/oa-sink" --print-sql | tr '\0' '\n' | sed -n 1p)
t0=$(now_ms)
# blocks of 100,000 rows, as oa-sink's batches (OA_SINK_BATCH_ROWS); a 1M-row block with the
# views' uniqExact states passes the local server's per-query memory limit
clickhouse-client --host 127.0.0.1 --port "$OA_CLICKHOUSE_TCP_PORT" --max_insert_block_size 100000 \
        --query "$cols" <"$TMP/events.rowbinary"
client_ms=$(($(now_ms) - t0))
[[ $(ch "SELECT count() FROM oa.events") == "$N" ]] || die "clickhouse-client did not insert $N rows"
client_eps=$((N * 1000 / client_ms))
ratio=$(python3 -c "print(f'{$sink_eps / $client_eps:.2f}')")
say "clickhouse-client: $N rows in $client_ms ms ($client_eps events/s); ratio $ratio"
# the baseline's rows carry made-up offsets: gone before oa-sink runs again
ch "TRUNCATE TABLE oa.events" >/dev/null

# --- freshness -----------------------------------------------------------------------------------
"$STACK" start sink >/dev/null
fresh=$(python3 "$HERE/fresh.py" "$OA_EDGE_PORT" "$OA_DEMO_PROJECT_ID" "$OA_DEMO_KEY" "$OA_CLICKHOUSE_URL" \
        "$FRESH_COUNT" "$FRESH_RATE")
say "freshness: $fresh"
fp50=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['p50_ms'])" "$fresh")
fp99=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['p99_ms'])" "$fresh")
fmax=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['max_ms'])" "$fresh")
fmiss=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['missing'])" "$fresh")

# --- docs/benchmarks.md --------------------------------------------------------------------------
[[ -n ${BENCH_NO_DOCS:-} ]] && exit 0
cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
load_end=$(cut -d' ' -f1 /proc/loadavg)
commit=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)
section=$(cat <<EOT
<!-- bench/sink: start (written by bench/sink/run.sh; edits here are overwritten) -->
## oa-sink: drain, baseline, freshness (\`bench/sink/run.sh\`)

Date: $(date -u +%F). Commit $commit. Machine: $(nproc) cores ($cpu), shared with other
engineers' builds and tests, so absolute figures are noisy; the ratio is measured in the
same run. Load average (1 min) $load_start at the start, $load_end at the end. Release build;
Kafka, ClickHouse 18.16, Redis on the same machine.

| measure | result | target |
|---|---|---|
| events produced into oa.events.v1 (bench-sink-produce, ~$((pbytes / N)) bytes of protobuf each) | $N in $produce_ms ms | — |
| oa-sink drain, from its start to the last row visible | $drain_ms ms: **$sink_eps events/s** | >= 200,000/s |
| sessions complete (sum(sign * events) = N) after the last row | $((t_sessions - t_done)) ms | — |
| clickhouse-client, the same rows from a RowBinary file into oa.events | $client_ms ms: $client_eps events/s | — |
| ratio oa-sink / clickhouse-client | **$ratio** | >= 0.5 |
| oa-sink peak resident memory during the drain | $((rss_max / 1024)) MiB | — |
| of the drain, time in ClickHouse inserts (events and sessions; the events' inserts overlap the building of the next batch) | $inserts inserts, ${insert_s} s | — |
| freshness: /v1 202 to row visible, $FRESH_COUNT events at $FRESH_RATE/s | p50 $fp50 ms, **p99 $fp99 ms**, max $fmax ms ($fmiss missing) | p99 <= 2,000 ms |

Both inserts feed the rollups' materialized views; oa-sink also computes and writes
$visits sessions and skips nothing (exact: $final rows, sum(sign * events) = $sessions_events).
Its time includes joining the group, the assignment's reads of ClickHouse and Kafka fetches.
The freshness poll runs every 50 ms (included in the figures); oa-sink flushes a batch at
the latest OA_SINK_BATCH_MS = 500 ms after its first event (under a backlog, when the
batch before it is acknowledged).

- command: \`bench/sink/run.sh $N\`
<!-- bench/sink: end -->
EOT
)
python3 - "$REPO/docs/benchmarks.md" "$section" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2]
doc = open(path).read()
pat = re.compile(r"<!-- bench/sink: start.*?<!-- bench/sink: end -->", re.S)
doc = pat.sub(lambda m: section, doc) if pat.search(doc) else doc.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w").write(doc)
PY
say "docs/benchmarks.md updated"
