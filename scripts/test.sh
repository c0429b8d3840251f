#!/usr/bin/env bash
# Installs what orch needs, builds it and runs every test:
#   1. default build (optimized, debug info): unit, conformance, tool, example and
#      install-from-package tests; every benchmark program once, briefly, as a smoke test
#   2. ASan + UBSan build: every test
#   3. TSan build: the concurrent parts (base, store, client, scheduler)
#   4. the fuzzers (manifest codec, scenario parser), for a bounded time, over their kept corpora
# Exits non-zero at the first failing step. Timings per step are printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${ORCH_FUZZ_SECONDS:-120}
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=true
# Sanitizer settings; each applies only to binaries built with that sanitizer.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1}
timings=()
step() {
  local name=$1; shift
  echo "==== $name"
  local start=$SECONDS
  "$@"
  timings+=("$(printf '%-28s %4ds' "$name" $((SECONDS - start)))")
}

build() { cmake --preset "$1" >/dev/null && cmake --build --preset "$1" "${@:2}"; }
results=$(mktemp)
trap 'rm -f "$results"' EXIT
# Runs one build's tests and keeps CTest's "out of N" count for the closing line.
run_tests() {
  ctest --test-dir "$1" --output-on-failure -j"$(nproc)" "${@:2}" | tee -a "$results"
  return "${PIPESTATUS[0]}"
}
smoke_benchmarks() {
  for b in build/bench/*; do
    [[ -f $b && -x $b ]] || continue
    echo "-- $b"
    # The scheduler's kube-scheduler-sized cases (5,000 nodes) take minutes; its 500-node
    # cases run the same code.
    "$b" --benchmark_min_time=0.01 --benchmark_filter=-5000Nodes >/dev/null
  done
}

step "install dependencies" ./scripts/install-deps.sh
step "build (default)"      build default
step "tests (default)"      run_tests build
step "benchmark smoke run"  smoke_benchmarks
step "build (asan+ubsan)"   build asan
step "tests (asan+ubsan)"   run_tests build/asan
step "build (tsan)"         build tsan --target orch_base_tests orch_store_tests orch_client_tests orch_scheduler_tests \
                                 orch_controller_tests orch_testing_tests orch_node_tests orch_cluster_tests \
                                 orch_network_tests
step "tests (tsan)"         run_tests build/tsan -L "base|store|client|scheduler|controller|testing|node|cluster|network"
if [[ -f fuzz/CMakeLists.txt ]]; then
  step "fuzz (${FUZZ_SECONDS}s)"  ./scripts/fuzz.sh "$FUZZ_SECONDS"
fi

echo "==== all steps passed"
printf '%s\n' "${timings[@]}"
# Every step passed, so every test counted passed: one plain closing line for all builds.
awk '/tests failed out of/ { n += $NF } END { print n + 0 " passed, 0 failed" }' "$results"
