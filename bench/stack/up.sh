#!/usr/bin/env bash
# Benchmark: how long `compose/local/stack.sh up` takes to bring the whole local stack
# (Kafka, ClickHouse, Redis, the nginx gateway, the topics and every built daemon) to ready.
#
# Baseline, measured in the same run: Apache Kafka alone from stop to ready (the slowest
# component: a JVM). The ratio up / kafka-alone says what the rest of the stack and our
# scripts add on top of the one start nobody can avoid.
#
# Cases, each repeated N times (default 5), in a private run directory on its own ports:
#   fresh   up from an empty run directory (formats Kafka's storage, creates topics)
#   cold    up after down, data kept (what `make up` costs on a machine already set up)
#   warm    up when everything is already up (the idempotent no-op)
#   kafka   baseline: `stack.sh start kafka` alone after down
#
# Usage: bench/stack/up.sh [N]     Environment: OA_BENCH_PORT_OFFSET (default 5000)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
N=${1:-5}
offset=${OA_BENCH_PORT_OFFSET:-5000}
export OA_RUN_DIR=${OA_BENCH_RUN_DIR:-$REPO/.run-bench}
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"
bench_ports "$offset"
export OA_BIN_DIR=${OA_BIN_DIR:-$REPO/build}
STACK=$REPO/compose/local/stack.sh

trap '"$STACK" down >/dev/null 2>&1 || true' EXIT

now_ms() { date +%s%3N; }

# time_ms CMD...: run CMD quietly, print its wall time in ms.
time_ms() {
        local t0
        t0=$(now_ms)
        "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
        echo $(($(now_ms) - t0))
}

# stats NAME VALUES...: print "NAME median min max" in ms.
stats() {
        local name=$1
        shift
        printf '%s\n' "$@" | sort -n | awk -v name="$name" '
                { v[NR] = $1 }
                END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
                      printf "%-6s %8.0f %8.0f %8.0f\n", name, m, v[1], v[NR] }'
}

declare -a fresh=() cold=() warm=() kafka=()
for ((i = 0; i < N; i++)); do
        "$STACK" down >/dev/null 2>&1 || true
        rm -rf "$OA_RUN_DIR"
        fresh+=("$(time_ms "$STACK" up)")
        warm+=("$(time_ms "$STACK" up)")
        "$STACK" down >/dev/null 2>&1
        cold+=("$(time_ms "$STACK" up)")
        "$STACK" down >/dev/null 2>&1
        kafka+=("$(time_ms "$STACK" start kafka)")
done
"$STACK" down >/dev/null 2>&1 || true

echo "stack up, $N runs each, ms (median min max); $(date -u +%Y-%m-%d), $(nproc) cores"
printf '%-6s %8s %8s %8s\n' case median min max
stats fresh "${fresh[@]}"
stats cold "${cold[@]}"
stats warm "${warm[@]}"
stats kafka "${kafka[@]}"
cold_med=$(printf '%s\n' "${cold[@]}" | sort -n | awk '{v[NR]=$1} END {print (NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2}')
kafka_med=$(printf '%s\n' "${kafka[@]}" | sort -n | awk '{v[NR]=$1} END {print (NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2}')
awk -v c="$cold_med" -v k="$kafka_med" 'BEGIN { printf "ratio cold up / kafka alone: %.2f (target: up <= 60000 ms)\n", c / k }'
