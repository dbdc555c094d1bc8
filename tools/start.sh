#!/usr/bin/env bash
# `npm start`: installs what is missing, builds the wasm engine and the page when missing or
# outdated (both builds are incremental), and serves web/dist on localhost.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bash tools/build.sh wasm
bash tools/build.sh web
exec node web/serve.mjs "$@"
