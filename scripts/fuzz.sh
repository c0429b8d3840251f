#!/usr/bin/env bash
# Fuzzes the manifest codec and the scenario parser for a bounded time.
#   scripts/fuzz.sh [SECONDS]        (default 60, split evenly between the two targets)
# Builds codec_fuzz and scenario_fuzz in the asan preset (clang: libFuzzer +
# AddressSanitizer + UBSan) and runs each over its kept seed corpus, fuzz/corpus/<target>,
# with its dictionary, fuzz/<target>.dict. New inputs the fuzzer finds go to
# build/<preset>/fuzz/<target>/corpus (not the repo). On a crash (a sanitizer report, an
# abort from a broken property, a timeout or running out of memory) the input is saved in
# build/<preset>/fuzz/<target>/, the other target still runs, and the script exits
# non-zero: fix the bug, then copy the input into fuzz/corpus/<target>/ so every test build
# replays it (tests/api/codec_corpus_test.cc, tests/sim/scenario_corpus_test.cc).
# Environment: ORCH_FUZZ_PRESET (default asan), ORCH_FUZZ_BUILD_DIR (default the preset's).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds < 2)); then
  echo "usage: $0 [SECONDS]   (at least 2: one per target)" >&2
  exit 2
fi
preset=${ORCH_FUZZ_PRESET:-asan}
build_dir=${ORCH_FUZZ_BUILD_DIR:-build/$preset}
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=true

targets=(codec scenario)
cmake --preset "$preset" -B "$build_dir" >/dev/null
cmake --build "$build_dir" --target "${targets[@]/%/_fuzz}" -j2

failed=()
remaining=$seconds
for i in "${!targets[@]}"; do
  target=${targets[$i]}
  share=$((remaining / (${#targets[@]} - i)))  # libFuzzer reads 0 as "no limit"
  remaining=$((remaining - share))
  work=$build_dir/fuzz/$target
  mkdir -p "$work/corpus"
  echo "fuzzing $target for ${share}s (new inputs: $work/corpus)"
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$build_dir/bin/${target}_fuzz" \
      -max_total_time="$share" -timeout=20 -rss_limit_mb=4096 -max_len=16384 \
      -dict="fuzz/$target.dict" -artifact_prefix="$work/" -print_final_stats=1 \
      "$work/corpus" "fuzz/corpus/$target" || failed+=("$target")
done
if ((${#failed[@]})); then
  echo "fuzzing found a crash in: ${failed[*]} (inputs saved in $build_dir/fuzz/<target>/)" >&2
  exit 1
fi
