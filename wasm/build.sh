#!/usr/bin/env bash
# Builds the WebAssembly module with Emscripten through CMake (incremental) into
# build-wasm/ and copies hooklab.mjs + hooklab.wasm to wasm/dist/, where wasm/js/hooklab.js
# imports them.
set -euo pipefail
cd "$(dirname "$0")/.."
export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}  # Debian's emscripten looks for acorn there
jobs=${JOBS:-2}
if [ ! -f build-wasm/CMakeCache.txt ]; then
  emcmake cmake -S . -B build-wasm -DCMAKE_BUILD_TYPE=Release -DHOOKLAB_TESTS=OFF >/dev/null
fi
cmake --build build-wasm -j"$jobs" --target hooklab_wasm hooklab_bench_wasm
mkdir -p wasm/dist
for f in hooklab.mjs hooklab.wasm hooklab-bench.mjs hooklab-bench.wasm; do
  cmp -s "build-wasm/wasm/$f" "wasm/dist/$f" 2>/dev/null || cp "build-wasm/wasm/$f" "wasm/dist/$f"
done
echo "wasm: wasm/dist/hooklab.mjs, wasm/dist/hooklab.wasm ($(stat -c %s wasm/dist/hooklab.wasm) bytes)"
