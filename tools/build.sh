#!/usr/bin/env bash
# Builds one part: native (engine, CLI, Catch2 tests), wasm (the Emscripten module and
# its JS API) or web (the page). Each part is incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
export NODE_PATH=/usr/share/nodejs  # Debian's emscripten looks for acorn there
part="${1:?usage: build.sh native|wasm|web}"
case "$part" in
  native)
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build -j"$(nproc)"
    ;;
  wasm) bash wasm/build.sh ;;
  web) bash web/build.sh ;;
  *) echo "build.sh: unknown part $part" >&2; exit 2 ;;
esac
