#!/usr/bin/env bash
# The whole test suite: native (ctest: Catch2 + the CLI), the wasm module in node
# (node --test) and the page in Chromium (node --test + playwright-core).
#
# Every stage runs even when an earlier one fails, so that one red suite does not hide
# the others; a summary table (stage, passed / FAILED / not run, seconds) ends the output,
# and the exit status is non-zero if any stage failed. Only setup stops everything. A
# stage whose build failed is not run (its tests would test stale or missing binaries).
set -uo pipefail
cd "$(dirname "$0")/.."

stages=() status=() seconds=()
declare -A result  # stage -> passed | FAILED | not run

# stage NAME NEEDS COMMAND...: runs COMMAND (under set -e, in a subshell) unless one of
# NEEDS (space-separated names of earlier stages) did not pass; records how it went.
stage() {
  local name=$1 needs=$2 n rc t0 st
  shift 2
  stages+=("$name")
  for n in $needs; do
    if [ "${result[$n]}" != passed ]; then
      echo "=== $name: not run ($n: ${result[$n]})"
      result[$name]="not run"; status+=("not run"); seconds+=("-")
      return
    fi
  done
  echo "=== $name"
  t0=$SECONDS
  # Not in an `if`: set -e in a subshell that is a condition would be ignored.
  ( set -e; "$@" )
  rc=$?
  seconds+=($((SECONDS - t0)))
  if [ $rc -eq 0 ]; then st=passed; else st=FAILED; echo "=== $name: FAILED (exit $rc)"; fi
  result[$name]=$st; status+=("$st")
}

summary() {
  local i failed=0
  echo
  printf '%-14s %-8s %8s\n' stage status seconds
  printf '%-14s %-8s %8s\n' -------------- -------- --------
  for i in "${!stages[@]}"; do
    printf '%-14s %-8s %8s\n' "${stages[$i]}" "${status[$i]}" "${seconds[$i]}"
    [ "${status[$i]}" = FAILED ] && failed=1
  done
  return $failed
}

# The commands of each stage, in order.
native_tests() { (cd build && ctest --output-on-failure --timeout 900); }

# The same native suite under AddressSanitizer + UBSan (the 500 MB GPT-2-small-shape
# case is left to the plain build: it only repeats the 12x12 checks at a larger size; so
# are the Python-only tests, which run no C++).
asan_build() {
  cmake -S . -B build-asan -DHOOKLAB_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" >/dev/null
  cmake --build build-asan -j"$(nproc)"
}
asan_tests() {
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
     ctest --output-on-failure --timeout 1800 -E "gpt2_small_shape|reference_selftest|goldens_|default_model_tools")
}

# The wasm module in node (the npm package's tarball included), then the page.
wasm_tests() { node --test --test-concurrency=1 tests/node/; }
page_tests() { node --test --test-concurrency=1 tests/browser/; }
peers_tests() { bash tools/setup_peers.sh; build/peers-venv/bin/python -m pytest -q -p no:cacheprovider tests/peers; }

# Every stage needs setup: if it fails, nothing else runs.
stage setup "" bash tools/setup.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

stage native-build "setup" bash tools/build.sh native
stage native-tests "setup native-build" native_tests
stage asan-build "setup" asan_build
stage asan-tests "setup asan-build" asan_tests
# Fuzz smoke: each libFuzzer target from its committed seed corpus for a short while.
stage fuzz "setup" bash tools/fuzz.sh "${FUZZ_SECONDS:-30}"
stage wasm-build "setup" bash tools/build.sh wasm
# The node and page tests also use the native build: its CLI (build/hooklab, compared
# with the node CLI) and the test checkpoints its ctest run makes (build/ckpt). The page
# runs the wasm engine: after a failed wasm build it would hold a stale one.
stage wasm-tests "setup native-build wasm-build" wasm_tests
# The peers (docs/peers.md): HuggingFace transformers and TransformerLens against the goldens,
# the native CLI and the page's code panels run as shown, in their own venv (build/peers-venv,
# made or checked by tools/setup_peers.sh). The builder's rows also need the wasm build (the
# engine's hook table); without it those cases are skipped.
stage peers "setup native-build" peers_tests
stage web-build "setup" bash tools/build.sh web
stage page-tests "setup native-build wasm-build web-build" page_tests

summary
