#!/usr/bin/env bash
# The whole test suite: native (ctest: Catch2 + the CLI), the wasm module in node
# (node --test) and the page in Chromium (node --test + playwright-core).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

bash tools/build.sh native
(cd build && ctest --output-on-failure --timeout 900)

if [ -f wasm/build.sh ]; then
  bash tools/build.sh wasm
  node --test --test-concurrency=1 tests/node/
fi
if [ -f web/build.sh ]; then
  bash tools/build.sh web
  node --test --test-concurrency=1 tests/browser/
fi
