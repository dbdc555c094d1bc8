#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs each for N seconds
# (default 30; the long runs reported in docs/hardening.md used 600) from its committed
# seed corpus. A crash, hang, leak or sanitizer report fails the run and leaves the
# reproducer in build-fuzz/work/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-30}"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DHOOKLAB_FUZZ=ON -DHOOKLAB_TESTS=OFF -DHOOKLAB_NATIVE_ARCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
for t in safetensors config tokenizer intervention; do
  work="build-fuzz/work/$t"; mkdir -p "$work/corpus"
  echo "fuzz: $t for ${secs}s"
  (cd "$work" && ../../tests/fuzz/fuzz_$t -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
     -print_final_stats=1 corpus "$OLDPWD/tests/fuzz/corpus/$t" 2>&1 | tail -n 3)
done
