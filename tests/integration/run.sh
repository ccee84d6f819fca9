#!/usr/bin/env bash
# Runs the integration tests (meson suite "integration") against a stack of their own:
# a fresh run directory <repo>/.run-test on ports of its own, so a developer's `make run`
# stack can keep running next to it. The stack is stopped when the tests end, fail, or the
# script is interrupted; its logs stay in .run-test/log/ until the next run.
#
# Tests get the stack's environment (OA_BASE_URL, OA_KAFKA_BROKERS, OA_CLICKHOUSE_URL,
# OA_REDIS_URL, the OA_*_PORT variables, ...) and OA_STACK_CMD, a command that controls this
# stack: "$OA_STACK_CMD restart redis", "$OA_STACK_CMD stop clickhouse", "$OA_STACK_CMD up".
#
#   OA_BIN_DIR              meson build directory (default <repo>/build)
#   OA_TEST_PORT_OFFSET     added to every port below, to run two test stacks on one machine
#   OA_TEST_ARGS            extra arguments for `meson test` (e.g. a test name)
#   OA_TEST_TIMEOUT_MULTIPLIER   meson's --timeout-multiplier (default 2)

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STACK=$REPO/compose/local/stack.sh

export OA_RUN_DIR=$REPO/.run-test
export OA_BIN_DIR=${OA_BIN_DIR:-$REPO/build}
offset=${OA_TEST_PORT_OFFSET:-0}
export OA_KAFKA_PORT=$((19092 + offset))
export OA_KAFKA_CONTROLLER_PORT=$((19093 + offset))
export OA_CLICKHOUSE_HTTP_PORT=$((18123 + offset))
export OA_CLICKHOUSE_TCP_PORT=$((19000 + offset))
export OA_REDIS_PORT=$((16379 + offset))
export OA_GATEWAY_PORT=$((18000 + offset))
export OA_EDGE_PORT=$((18080 + offset))
export OA_QUERY_PORT=$((18081 + offset))
export OA_SINK_METRICS_PORT=$((19101 + offset))
export OA_REALTIME_METRICS_PORT=$((19102 + offset))
export OA_PRIVACY_METRICS_PORT=$((19103 + offset))
export OA_REDIS_AOF=no   # tests need no durability; restarts start from an empty Redis

say() { printf '[integration] %s\n' "$*" >&2; }

[[ -f $OA_BIN_DIR/build.ninja ]] || { say "error: $OA_BIN_DIR is not a meson build directory; run 'make build'"; exit 1; }

# Stop the stack however this script ends. `down` only touches pids in .run-test/pid/.
cleanup() {
        local status=$?
        trap - EXIT INT TERM
        "$STACK" down || true
        if ((status != 0)); then
                say "failed (exit $status); stack logs are in $OA_RUN_DIR/log/"
        fi
        exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A fresh stack every time: stop whatever an earlier run left, then start from empty state.
"$STACK" down
rm -rf "$OA_RUN_DIR"
start=$(date +%s)
"$STACK" up
say "stack up in $(($(date +%s) - start))s"

# Everything stack.env holds (URLs, ports, OA_STACK_CMD) goes to the tests' environment.
set -a
# shellcheck source=/dev/null
source "$OA_RUN_DIR/stack.env"
set +a

# One test at a time: they share the stack, and some of them restart parts of it.
# shellcheck disable=SC2086 # OA_TEST_ARGS is a list of words
meson test -C "$OA_BIN_DIR" -v --suite integration --num-processes 1 \
        --timeout-multiplier "${OA_TEST_TIMEOUT_MULTIPLIER:-2}" ${OA_TEST_ARGS:-}
