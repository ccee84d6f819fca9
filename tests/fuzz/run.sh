#!/usr/bin/env bash
# Build the libFuzzer harnesses with clang, ASan and UBSan in build-fuzz/ and run each for
# a bounded time: OA_FUZZ_SECONDS (default 60). New inputs go to a scratch corpus, so the
# seed corpus in tests/fuzz/corpus/ only changes by hand; a crash leaves its input in
# build-fuzz/fuzz-artifacts/ and fails the run. Needs clang (apt-get install -y clang).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${OA_FUZZ_SECONDS:-60}
max_len=${OA_FUZZ_MAX_LEN:-8192}

command -v clang >/dev/null || { echo "run.sh: clang is needed (apt-get install -y clang)" >&2; exit 1; }
if [[ ! -f build-fuzz/build.ninja ]]; then
        CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false
fi
meson compile -C build-fuzz tests/fuzz/fuzz_event

mkdir -p build-fuzz/fuzz-artifacts
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
echo "fuzz_event: ${secs}s, inputs up to ${max_len} bytes"
build-fuzz/tests/fuzz/fuzz_event -max_total_time="$secs" -max_len="$max_len" -timeout=10 \
        -dict=tests/fuzz/event.dict -artifact_prefix=build-fuzz/fuzz-artifacts/ -print_final_stats=1 \
        "$work" tests/fuzz/corpus/event
