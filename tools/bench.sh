#!/usr/bin/env bash
# npm run bench: native engine vs the wasm engine in node vs ONNX Runtime Web (wasm, one
# thread) on GPT-2-small-shaped random weights (12x12x768, P=1024, V=50257, F32), a
# 32-token prompt. Builds what is missing; the checkpoint and its ONNX exports go to build/.
# BENCH_MODEL=DIR picks another checkpoint; BENCH_ITERS (default 7) the timed runs;
# BENCH_ROUNDS (default 3) how many times the set of engines runs in turn. Then a full
# resid_pre activation-patching sweep (15-token IOI pair): wasm vs tools/reference.py the
# TransformerLens way, one thread each (BENCH_PATCH=0 skips it, =only runs nothing else).
# Then generation: 32 new tokens after the prompt vs one forward of it (BENCH_GENERATE=0 / only).
# Last, TransformerLens 3.9's own resid_pre patching sweep vs ours (wasm, native) at 1 and 2
# threads (bench/tl_patching.py, in the peers venv; BENCH_TL=0 skips it, =only runs nothing
# else; BENCH_TL_ROUNDS, default 2). Skipped with a message when build/peers-venv is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}
[ -x build/hooklab ] || bash tools/build.sh native
[ -f wasm/dist/hooklab.wasm ] || bash tools/build.sh wasm
mkdir -p build/bench
model=${BENCH_MODEL:-}
if [ -z "$model" ]; then
  if [ -f build/ckpt/gpt2_small_shape/model.safetensors ]; then
    model=build/ckpt/gpt2_small_shape
  else
    model=build/bench/gpt2_small
    [ -f "$model/model.safetensors" ] || /usr/bin/python3 tools/make_checkpoint.py --out "$model" --n-layer 12 --n-head 12 \
      --n-embd 768 --n-positions 1024 --vocab-size 50257 --dtype F32 --seed 3
  fi
fi
tl_bench() {
  if [ -x build/peers-venv/bin/python ] && [ -d build/peers-venv/tl3/transformer_lens ]; then
    build/peers-venv/bin/python bench/tl_patching.py --model "$model" --rounds "${BENCH_TL_ROUNDS:-2}"
  else
    echo "TransformerLens patching bench skipped: no build/peers-venv with tl3 (npm test sets it up: tools/setup_peers.sh)"
  fi
}
if [ "${BENCH_TL:-1}" = only ]; then tl_bench; exit; fi
name=$(basename "$model")
onnx=build/bench/$name.onnx
onnx_last=build/bench/$name.last.onnx
if [ ! -f "$onnx" ] || [ "$model/model.safetensors" -nt "$onnx" ]; then
  OMP_NUM_THREADS=1 /usr/bin/python3 bench/export_onnx.py --model "$model" --out "$onnx"
fi
if [ ! -f "$onnx_last" ] || [ "$model/model.safetensors" -nt "$onnx_last" ]; then
  OMP_NUM_THREADS=1 /usr/bin/python3 bench/export_onnx.py --model "$model" --out "$onnx_last" --last-only
fi
node bench/bench.mjs --model "$model" --onnx "$onnx" --onnx-last "$onnx_last" --tokens 32 \
  --iters "${BENCH_ITERS:-7}" --rounds "${BENCH_ROUNDS:-3}" --json build/bench/results.json
if [ "${BENCH_TL:-1}" != 0 ]; then tl_bench; fi
