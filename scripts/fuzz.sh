#!/usr/bin/env bash
# Fuzzes the manifest codec for a bounded time.
#   scripts/fuzz.sh [SECONDS]        (default 60)
# Builds codec_fuzz in the asan preset (clang: libFuzzer + AddressSanitizer + UBSan) and runs
# it over the kept seed corpus, fuzz/corpus/codec, with the dictionary fuzz/codec.dict.
# New inputs the fuzzer finds go to build/<preset>/fuzz/corpus (not the repo). On a crash
# (a sanitizer report, an abort from a broken round trip, a timeout or running out of
# memory) the input is saved in build/<preset>/fuzz/ and the script exits non-zero: fix the
# bug, then copy the input into fuzz/corpus/codec/ so every test build replays it
# (tests/api/codec_corpus_test.cc).
# Environment: ORCH_FUZZ_PRESET (default asan), ORCH_FUZZ_BUILD_DIR (default the preset's).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
if ! [[ $seconds =~ ^[0-9]+$ ]]; then
  echo "usage: $0 [SECONDS]" >&2
  exit 2
fi
preset=${ORCH_FUZZ_PRESET:-asan}
build_dir=${ORCH_FUZZ_BUILD_DIR:-build/$preset}
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=true

cmake --preset "$preset" -B "$build_dir" >/dev/null
cmake --build "$build_dir" --target codec_fuzz -j2

work=$build_dir/fuzz
mkdir -p "$work/corpus"
echo "fuzzing the codec for ${seconds}s (new inputs: $work/corpus)"
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  "$build_dir/bin/codec_fuzz" \
    -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -max_len=16384 \
    -dict=fuzz/codec.dict -artifact_prefix="$work/" -print_final_stats=1 \
    "$work/corpus" fuzz/corpus/codec
