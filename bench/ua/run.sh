#!/usr/bin/env bash
# Enrichment micro-benchmark: ns per User-Agent parse (cache hit, miss over a realistic mix,
# their ratio, the rule scan with and without the literal prefilter) and per IP → country
# lookup, from a release build (-O3, no sanitizers). docs/benchmarks.md keeps the figures.
#
#   bench/ua/run.sh                      defaults: 20,000 misses, 2,000,000 hits
#   BENCH_BUILD_DIR=build-release        where the release build lives (set up when missing)
#   bench/ua/run.sh -n 50000 -h 5000000  arguments go to bench-ua
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD=${BENCH_BUILD_DIR:-$REPO/build-release}

if [[ ! -f $BUILD/build.ninja ]]; then
        echo "[bench/ua] configuring $BUILD (release, no tests)" >&2
        meson setup "$BUILD" "$REPO" --buildtype=release -Dtests=false >/dev/null
fi
# a build directory configured before bench-ua existed learns of it by reconfiguring
if ! meson compile -C "$BUILD" bench/bench-ua >/dev/null 2>&1; then
        meson setup --reconfigure "$BUILD" "$REPO" >/dev/null
        meson compile -C "$BUILD" bench/bench-ua >/dev/null
fi
exec "$BUILD/bench/bench-ua" "$@"
