"""Exports a HuggingFace-layout GPT-2 checkpoint to ONNX (F32) for the ONNX Runtime Web
comparison in bench/bench.mjs: tools/reference.py's PyTorch GPT-2 (the HF module structure),
input_ids [1, T] (T dynamic) -> logits [1, T, V], or [1, 1, V] with --last-only (the
engine's natural path: logits at the last position only).

The work either export does, as bench/bench.mjs counts it for ORT's GFLOP/s: every block on
all T positions, attention as whole T x T matmuls (QK^T and PV, the causal mask applied to the
scores in between); --last-only slices after the final layer norm, so it saves only lm_head's
other T - 1 rows (the wasm engine also skips most of the last block's rows there)."""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import reference  # noqa: E402


class Logits(torch.nn.Module):
    def __init__(self, model, last_only):
        super().__init__()
        self.model, self.last_only = model, last_only

    def forward(self, input_ids):
        h = self.model.transformer(input_ids).last_hidden_state
        if self.last_only:
            h = h[:, -1:, :]
        return self.model.lm_head(h)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="checkpoint folder (config.json, model.safetensors)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--last-only", action="store_true", help="logits at the last position only")
    a = ap.parse_args()
    torch.set_num_threads(1)
    model = reference.load_model(a.model)
    m = Logits(model, a.last_only).eval()
    ids = torch.zeros((1, 8), dtype=torch.long)
    tmp = a.out + ".tmp"
    with torch.no_grad():
        torch.onnx.export(m, (ids,), tmp, input_names=["input_ids"], output_names=["logits"],
                          dynamic_axes={"input_ids": {1: "T"}, "logits": {1: "T_out"}}, opset_version=14,
                          do_constant_folding=True)
    os.replace(tmp, a.out)
    print(f"wrote {a.out} ({os.path.getsize(a.out) >> 20} MB)")


if __name__ == "__main__":
    main()
