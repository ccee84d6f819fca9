#!/usr/bin/env bash
# DSAR deletion speed: the time from `DELETE /v1/projects/{id}/privacy/user/{user_id}` to the
# request's status `completed`, for a user with 10,000 events in an oa.events table of 10
# million rows (and an oa.sessions table of 1 million), through the whole local stack
# (gateway, oa-query, Kafka, oa-privacy, ClickHouse 18.16). Target: at most 60 s.
#
# Baseline, in the same run: what ClickHouse alone takes for the same work, driven by
# clickhouse-client for another user with 10,000 events: the two ALTER TABLE ... DELETE
# mutations, polled at the same interval until no row of the user is left. The ratio says
# what our pipeline (Kafka, the status rows, the checks) adds to the floor.
#
#   bench/privacy/run.sh                 a private stack in .run-bench-privacy (own ports)
#   BENCH_ROUNDS=3 BENCH_ROWS=10000000 BENCH_USER_EVENTS=10000 bench/privacy/run.sh
#   BENCH_PORT_OFFSET=12500              added to the stack's default ports
#   BENCH_NO_DOCS=1                      do not touch docs/benchmarks.md
#   BENCH_KEEP=1                         leave the stack running afterwards

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
STACK="$REPO/compose/local/stack.sh"
offset=${BENCH_PORT_OFFSET:-12500}
export OA_RUN_DIR=${BENCH_RUN_DIR:-$REPO/.run-bench-privacy}
export OA_BIN_DIR=${OA_BIN_DIR:-$REPO/build}
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"
bench_ports "$offset"
export OA_PRIVACY_CHECK_EVERY_MS=${BENCH_CHECK_EVERY_MS:-200}

say() { echo "[bench/privacy] $*" >&2; }
for tool in python3 curl clickhouse-client; do
        command -v "$tool" >/dev/null || { say "error: $tool is not installed"; exit 1; }
done
[[ -x $OA_BIN_DIR/services/privacy/oa-privacy ]] || { say "error: build first (make build)"; exit 1; }

cleanup() {
        [[ -n ${BENCH_KEEP:-} ]] || "$STACK" down >&2 || true
}
trap cleanup EXIT
say "starting a private stack in $OA_RUN_DIR"
"$STACK" up >&2
set -a
# shellcheck disable=SC1091
. "$OA_RUN_DIR/stack.env"
# shellcheck disable=SC1091
. "$OA_RUN_DIR/demo.env"
set +a
export BENCH_DOC=$REPO/docs/benchmarks.md
export BENCH_CMD="bench/privacy/run.sh${BENCH_ROUNDS:+ (BENCH_ROUNDS=$BENCH_ROUNDS)}"
python3 "$HERE/measure.py"
