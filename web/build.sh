#!/usr/bin/env bash
# Builds the page into web/dist (called by `bash tools/build.sh web`). Incremental:
# copies only changed engine/model files and reruns Vite only when an input changed.
#   - the engine: wasm/js/hooklab.js + wasm/dist/hooklab.{mjs,wasm} (`bash tools/build.sh wasm`) → public/engine/
#   - the default model: checkpoints/default (or, until it exists, the random-weights
#     test checkpoint build/ckpt/mid) → public/models/default/
#   - the induction lesson's model: checkpoints/induction → public/models/induction/
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
pub=web/public

sync_file() { # src dst: copy when different
  if ! cmp -s "$1" "$2" 2>/dev/null; then mkdir -p "$(dirname "$2")"; cp "$1" "$2"; fi
}

# The engine: wasm/js/hooklab.js imports ../dist/hooklab.mjs and fetches ../dist/hooklab.wasm,
# so the same two folders, side by side, under engine/.
if [ -f wasm/js/hooklab.js ] && [ -f wasm/dist/hooklab.mjs ] && [ -f wasm/dist/hooklab.wasm ]; then
  for f in hooklab.js models.js download.js errors.js; do sync_file "wasm/js/$f" "$pub/engine/js/$f"; done
  sync_file wasm/dist/hooklab.mjs "$pub/engine/dist/hooklab.mjs"
  sync_file wasm/dist/hooklab.wasm "$pub/engine/dist/hooklab.wasm"
  # The threaded build (chosen by select-build.js when the page is cross-origin isolated).
  for f in js/select-build.js dist/hooklab-mt.mjs dist/hooklab-mt.wasm dist/hooklab-mt.worker.js; do
    if [ -f "wasm/$f" ]; then sync_file "wasm/$f" "$pub/engine/$f"; fi
  done
else
  rm -rf "$pub/engine"
  echo "web/build.sh: the wasm engine (wasm/js/hooklab.js, wasm/dist/hooklab.{mjs,wasm}) is missing: run 'bash tools/build.sh wasm' first; the page will say the engine is missing" >&2
fi

# The bundled models (web/src/models-page.js MODELS, kind 'bundled'): checkpoints/KEY → public/models/KEY/.
# The default falls back to the random-weights test checkpoint while checkpoints/default is
# missing; another bundled model that is missing is left out (the page says it cannot load).
bundle_model() { # key src
  local key=$1 src=$2 m="$pub/models/$1" f
  for f in config.json model.safetensors vocab.json merges.txt MODEL_CARD.md; do
    [ -f "$src/$f" ] && sync_file "$src/$f" "$m/$f"
  done
  [ -f "$src/MODEL_CARD.md" ] || rm -f "$m/MODEL_CARD.md"
  # Its content key: each file's size and sha256 in files.json, by which every embed and every
  # reload find the model in Cache Storage instead of downloading it (docs/embedding.md); and
  # the config's name, by which the model picker labels it before it is loaded.
  # Hashed again only when a file changed.
  if [ ! -f "$m/files.json" ] || ! grep -q '"name"' "$m/files.json" || [ -n "$(find "$m" -maxdepth 1 \( -name config.json -o -name vocab.json -o -name merges.txt -o -name model.safetensors \) -newer "$m/files.json" -print -quit)" ]; then
    node -e '
      const { createHash } = require("node:crypto"), { readFileSync, statSync, writeFileSync } = require("node:fs");
      const [dir, out] = process.argv.slice(1);
      const files = {};
      for (const f of ["config.json", "vocab.json", "merges.txt", "model.safetensors"])
        files[f] = { size: statSync(`${dir}/${f}`).size, sha256: createHash("sha256").update(readFileSync(`${dir}/${f}`)).digest("hex") };
      const name = JSON.parse(readFileSync(`${dir}/config.json`, "utf8")).hooklab?.name ?? null;
      writeFileSync(out, JSON.stringify({ files, name }, null, 2) + "\n");
    ' "$m" "$m/files.json.tmp"
    sync_file "$m/files.json.tmp" "$m/files.json"
    rm -f "$m/files.json.tmp"
  fi
}

bundled=$(node --input-type=module -e "import { MODELS } from './web/src/models-page.js'; console.log(Object.keys(MODELS).filter((k) => MODELS[k].kind === 'bundled').join(' '))")
for key in $bundled; do
  src=checkpoints/$key
  if [ "$key" = default ] && [ ! -f "$src/model.safetensors" ]; then
    src=build/ckpt/mid
    echo "web/build.sh: checkpoints/default is missing; embedding the random-weights test checkpoint $src" >&2
    [ -f "$src/model.safetensors" ] || { echo "web/build.sh: $src is missing too: run 'bash tools/build.sh native' (ctest makes it)" >&2; exit 1; }
  fi
  if [ -f "$src/model.safetensors" ]; then
    bundle_model "$key" "$src"
  else
    rm -rf "$pub/models/$key"
    echo "web/build.sh: $src is missing; the page's $key model will not load" >&2
  fi
done

# The lesson files (lessons/*.md, docs/lessons.md): served as they are, so that a link
# ?lesson=lessons/NAME.md opens one; chapter and induction are bundled too (web/src/lessons.js).
mkdir -p "$pub/lessons"
for f in lessons/*.md; do sync_file "$f" "$pub/lessons/$(basename "$f")"; done
for f in "$pub"/lessons/*.md; do [ -f "lessons/$(basename "$f")" ] || rm -f "$f"; done

# Vite, when anything it reads is newer than the last build.
stamp=web/dist/index.html
if [ -f "$stamp" ] && [ -z "$(find web/index.html web/vite.config.js web/src web/public lessons package.json -newer "$stamp" -print -quit)" ]; then
  echo "web/build.sh: web/dist is up to date"
  exit 0
fi
cd web
"$root/node_modules/.bin/vite" build --logLevel warn
touch dist/index.html
echo "web/build.sh: built web/dist"
