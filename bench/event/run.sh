#!/usr/bin/env bash
# The CPU cost of the event pipeline in oa-edge without sockets (bench/event/bench.c):
# parse + validate, enrich, pack, for /collect and for /v1 batches of 100. Uses the release
# build (BENCH_BUILD_DIR, default build-release; set up with -Dbuildtype=release when
# missing). BENCH_SECONDS per case (default 1).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BENCH_BUILD_DIR:-$REPO/build-release}
if [[ ! -f $BUILD/build.ninja ]]; then
        meson setup "$BUILD" "$REPO" -Dbuildtype=release -Db_sanitize=none
fi
meson compile -C "$BUILD" bench/bench-event
"$BUILD/bench/bench-event"
