#!/usr/bin/python3
"""Runs the chapter's four exercises on a model with the native engine and prints the
numbers as Markdown (the model card's "What the chapter's exercises do" section); with
--patching, the Patching view's default pair instead (the card's "Activation patching" section).

    /usr/bin/python3 tools/exercise_report.py --model checkpoints/default [--layer 9] [--head 2]
    /usr/bin/python3 tools/exercise_report.py --model checkpoints/default --patching
"""
import argparse
import json
import math
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROMPT = "The jury said that the city of Atlanta had a"


def run(args, ivs, capture=()):
    cmd = [args.hooklab, "run", "--model", args.model, "--prompt", args.prompt, "--topk", "5", "--logits"]
    for iv in ivs:
        cmd += ["--intervene", json.dumps(iv)]
    for c in capture:
        cmd += ["--capture", c]
    return json.loads(subprocess.check_output(cmd))


def kl(p_logits, q_logits):
    def logsoftmax(x):
        m = max(x)
        z = math.log(sum(math.exp(v - m) for v in x)) + m
        return [v - z for v in x]
    lp, lq = logsoftmax(p_logits), logsoftmax(q_logits)
    return sum(math.exp(a) * (a - b) for a, b in zip(lp, lq))


def fmt(xs):
    return " ".join("%.3g" % x for x in xs)


# The embedded model's pair (web/src/panels/patch-data.js EMBEDDED_PAIR; tests/node/web-patching
# checks that the card names it) and GPT-2's IOI pair, for comparison.
PAIR = ("When the man came home, he", "When the men came home, they", " was", " were")
IOI = ("When Mary and John went to the store, John gave a drink to",
       "When Mary and John went to the store, Mary gave a drink to", " Mary", " John")


def engine(args, *cmd):
    return json.loads(subprocess.check_output([args.hooklab, *cmd, "--model", args.model]))


def patching(args):
    clean, corr, ans, wrong = PAIR
    common = ["--clean", clean, "--corrupted", corr, "--answer", ans, "--wrong", wrong]
    ioi = engine(args, "patch", "--clean", IOI[0], "--corrupted", IOI[1], "--answer", IOI[2], "--wrong", IOI[3],
                 "--hook", "resid_pre")
    print(f"On GPT-2's IOI pair (\"{IOI[0]}\" vs \"… Mary gave a drink to\"), logit(\" Mary\") − logit(\" John\") "
          f"is {ioi['clean_logit_diff']:+.2f} clean and {ioi['corrupted_logit_diff']:+.2f} corrupted.\n")
    r = engine(args, "patch", *common, "--hook", "resid_pre")
    ids = r["answer_id"], r["wrong_id"]
    print(f"Pair ({len(r['clean_tokens'])} tokens each): clean \"{clean}\", corrupted \"{corr}\"; answer \"{ans}\" "
          f"(#{ids[0]}), wrong \"{wrong}\" (#{ids[1]}). Measured with `build/hooklab patch` and `build/hooklab attribute`; "
          f"this model's numbers, not GPT-2 small's:\n")
    print(f"- logit difference (\"{ans}\" − \"{wrong}\"): **{r['clean_logit_diff']:+.2f} clean, "
          f"{r['corrupted_logit_diff']:+.2f} corrupted**.")
    for hook, by in (("resid_pre", "position"), ("attn_out", "position"), ("mlp_out", "position"), ("z", "head")):
        p = r if hook == "resid_pre" else engine(args, "patch", *common, "--hook", hook)
        grid = p["normalized"]
        cells = sorted(((v, L, k) for L, row in enumerate(grid) for k, v in enumerate(row) if v is not None),
                       key=lambda c: -abs(c[0]))[:3]
        what = "head" if by == "head" else "position"
        name = (lambda L, k: f"L{L}H{k}") if by == "head" else (lambda L, k: f"block {L} at {what} {k} ({p['corrupted_token_strings'][k]!r})")
        print(f"- `{hook}` by {what}, normalised: the largest cells are " + ", ".join(f"{name(L, k)} {v:.2f}" for v, L, k in cells) + ".")
    a = engine(args, "attribute", "--prompt", clean, "--answer", ans, "--wrong", wrong)
    comps = sorted(a["components"], key=lambda c: -abs(c["value"]))[:3]
    if comps:
        print("- Direct logit attribution of the clean prompt: the largest components are "
              + ", ".join(f"{c['name']} ({c['value']:+.2f})" for c in comps) + ".")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, "checkpoints", "default"))
    ap.add_argument("--hooklab", default=os.path.join(ROOT, "build", "hooklab"))
    ap.add_argument("--prompt", default=PROMPT)
    ap.add_argument("--layer", type=int, default=9)
    ap.add_argument("--head", type=int, default=2)
    ap.add_argument("--patching", action="store_true", help="the Patching view's default pair instead of the exercises")
    args = ap.parse_args()
    if args.patching:
        return patching(args)
    L, H = args.layer, args.head
    pat, post = f"blocks.{L}.attn.hook_pattern", f"blocks.{L}.mlp.hook_post"
    clean = run(args, [], [pat, post])
    T = len(clean["tokens"])
    top = lambda r: ", ".join("%r %.3f" % (t["token"], t["prob"]) for t in r["top"][:3])
    print(f"Prompt: \"{args.prompt}\" ({T} tokens). Clean run: next token {top(clean)}.\n")
    print(f"Clean `resid_std` (blocks 0..{len(clean['resid_std']) - 1}): {fmt(clean['resid_std'])}  ")
    print(f"Clean `hidden_std` (HF view, last entry after ln_f): {fmt(clean['hidden_std'])}\n")

    for factor in (0.1, 10):
        r = run(args, [{"kind": "scale_hidden", "layer": L, "factor": factor}])
        print(f"**Scale block {L}'s output by {factor}** (exercise {3 if factor < 1 else 4}):  ")
        print(f"- `resid_std`: {fmt(r['resid_std'])}  ")
        ratios = [a / b for a, b in zip(r["resid_std"], clean["resid_std"])]
        print(f"- ratio to clean, blocks {L}..{len(ratios) - 1}: {fmt(ratios[L:])}  ")
        print(f"- HF `hidden_std` last entry (after ln_f): {r['hidden_std'][-1]:.3g} (clean {clean['hidden_std'][-1]:.3g}); "
              f"residual before ln_f: {r['resid_std'][-1]:.3g} (clean {clean['resid_std'][-1]:.3g})  ")
        print(f"- next token: {top(r)}; KL(clean || scaled) = {kl(clean['logits_last'], r['logits_last']):.3f} nats\n")

    r = run(args, [{"kind": "zero_head_k", "layer": L, "head": H}], [pat])
    p = r["captures"][pat]["data"]
    dev = max(abs(p[(H * T + i) * T + j] - 1 / (i + 1)) for i in range(T) for j in range(i + 1))
    pc = clean["captures"][pat]["data"]
    dev_clean = max(abs(pc[(H * T + i) * T + j] - 1 / (i + 1)) for i in range(T) for j in range(i + 1))
    print(f"**Zero the Key of head {H} in block {L}** (exercise 1): the head's pattern is uniform over the causal prefix "
          f"(largest deviation from 1/(i+1): {dev:.2g}; clean run: {dev_clean:.2g}). Next token: {top(r)}; "
          f"KL = {kl(clean['logits_last'], r['logits_last']):.4f} nats; `resid_std` of the last block "
          f"{r['resid_std'][-1]:.4g} vs {clean['resid_std'][-1]:.4g}.\n")

    r = run(args, [{"kind": "noise_even_neurons", "layer": L, "mean": 10, "std": 1, "seed": 0}], [post])
    d = clean["captures"][post]["data"]
    M = len(d) // T
    even = [d[i] for i in range(len(d)) if (i % M) % 2 == 0]
    mean_clean = sum(even) / len(even)
    frac_small = sum(1 for x in d if abs(x) < 0.1) / len(d)
    print(f"**Noise N(10, 1) into the even post-GELU neurons of block {L}** (exercise 2): clean post-GELU activations "
          f"have mean {mean_clean:.3f} on the even neurons, min {min(d):.3f}, max {max(d):.3f}, and {100 * frac_small:.0f}% "
          f"are within ±0.1 of zero. With the noise: `resid_std` from block {L}: {fmt(r['resid_std'][L:])} "
          f"(clean {fmt(clean['resid_std'][L:])}); next token {top(r)}; KL = {kl(clean['logits_last'], r['logits_last']):.3f} nats.")


if __name__ == "__main__":
    main()
