#!/usr/bin/env bash
# Builds the two WebAssembly modules with Emscripten through CMake (incremental) and
# copies them to wasm/dist/, where wasm/js/hooklab.js imports them:
#   build-wasm/     -> hooklab.mjs + hooklab.wasm                          (no threads)
#   build-wasm-mt/  -> hooklab-mt.mjs + hooklab-mt.wasm + hooklab-mt.worker.js  (pthreads)
set -euo pipefail
cd "$(dirname "$0")/.."
export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}  # Debian's emscripten looks for acorn there
jobs=${JOBS:-2}
build() { # dir target cmake-args...
  local dir=$1 target=$2
  shift 2
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    emcmake cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DHOOKLAB_TESTS=OFF "$@" >/dev/null
  fi
  cmake --build "$dir" -j"$jobs" --target "$target"
}
build build-wasm hooklab_wasm
build build-wasm-mt hooklab_wasm_mt -DHOOKLAB_WASM_THREADS=ON
mkdir -p wasm/dist
copy() { cmp -s "$1" "wasm/dist/$(basename "$1")" 2>/dev/null || cp "$1" wasm/dist/; }
for f in hooklab.mjs hooklab.wasm; do copy "build-wasm/wasm/$f"; done
for f in hooklab-mt.mjs hooklab-mt.wasm hooklab-mt.worker.js; do copy "build-wasm-mt/wasm/$f"; done
# The pthread worker file is CommonJS (it require()s worker_threads under node), and the
# package says "type": "module": this folder says otherwise (.mjs files stay ES modules).
echo '{ "type": "commonjs" }' > wasm/dist/package.json
echo "wasm: wasm/dist/hooklab.{mjs,wasm} ($(stat -c %s wasm/dist/hooklab.wasm) bytes)," \
  "hooklab-mt.{mjs,wasm} + hooklab-mt.worker.js ($(stat -c %s wasm/dist/hooklab-mt.wasm) bytes)"
