#!/usr/bin/python3
"""Native engine vs the PyTorch reference, side by side in one run, one thread each,
same weights and prompt: ms per forward (min and median after warm-up) and effective
GFLOP/s, with full logits at every position and with the last position only.

    /usr/bin/python3 bench/native_vs_pytorch.py --model build/ckpt/gpt2_small_shape [--tokens 32] [--iters 7]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import torch  # noqa: E402

import reference  # noqa: E402


def flops(cfg, T, all_logits):
    C, V = cfg["n_embd"], cfg["vocab_size"]
    per_block = 2 * T * (C * 3 * C + C * C + C * 4 * C + 4 * C * C) + 2 * 2 * T * T * C / 2
    return cfg["n_layer"] * per_block + 2 * (T if all_logits else 1) * C * V


def torch_times(model, ids, all_logits, iters):
    x = torch.tensor([ids])
    with torch.no_grad():
        def fwd():
            h = model.transformer(x).last_hidden_state
            return model.lm_head(h if all_logits else h[:, -1:])
        fwd()
        out = []
        for _ in range(iters):
            t0 = time.perf_counter()
            fwd()
            out.append((time.perf_counter() - t0) * 1e3)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, "build", "ckpt", "gpt2_small_shape"))
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--iters", type=int, default=7)
    ap.add_argument("--hooklab", default=os.path.join(ROOT, "build", "hooklab"))
    args = ap.parse_args()
    torch.set_num_threads(1)

    prompt = "word" + " word" * (args.tokens - 1)  # one token per word in GPT-2's vocabulary
    cfg = json.load(open(os.path.join(args.model, "config.json")))
    ids = json.loads(subprocess.check_output([args.hooklab, "tokenize", "--model", args.model, "--text", prompt]))
    assert len(ids) == args.tokens, len(ids)
    model = reference.load_model(args.model)

    rows = []
    for all_logits in (True, False):
        cmd = [args.hooklab, "bench", "--model", args.model, "--prompt", prompt, "--iters", str(args.iters)]
        native = json.loads(subprocess.check_output(cmd + (["--all-logits"] if all_logits else []),
                                                    env=dict(os.environ, OMP_NUM_THREADS="1")))
        t = torch_times(model, ids, all_logits, args.iters)
        f = flops(cfg, args.tokens, all_logits)
        rows.append((all_logits, native["ms_min"], native["ms_median"], min(t), statistics.median(t), f))

    print(f"model {args.model}: {cfg['n_layer']}x{cfg['n_head']}x{cfg['n_embd']}, vocab {cfg['vocab_size']}, "
          f"{args.tokens} tokens, 1 thread, {args.iters} iterations after warm-up")
    print(f"{'logits':<14}{'engine min/med ms':>20}{'GFLOP/s':>9}{'pytorch min/med ms':>21}{'GFLOP/s':>9}{'speed-up':>10}")
    for all_logits, nmin, nmed, tmin, tmed, f in rows:
        print(f"{'all positions' if all_logits else 'last only':<14}{nmin:>9.1f} /{nmed:>8.1f}{f / nmed / 1e6:>9.1f}"
              f"{tmin:>10.1f} /{tmed:>8.1f}{f / tmed / 1e6:>9.1f}{tmed / nmed:>9.2f}x")


if __name__ == "__main__":
    main()
