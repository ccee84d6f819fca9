#!/usr/bin/env bash
# Runs every benchmark under bench/ in turn (`make bench`). Each prints its own table,
# with its baseline measured in the same run; docs/benchmarks.md keeps the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
for b in bench/*/run.sh bench/stack/up.sh; do
        [[ -x $b ]] || continue
        echo "== $b"
        "$b"
done
