"""Generation and head scores, the peers' own way of computing
what the engine computes, on the mid checkpoint.

- greedy generation: HuggingFace's model.generate(do_sample=False) against `build/hooklab
  generate` (temperature 0), clean and with an exercise as HF forward hooks (the page's HF
  code's hook for exercise 3), tokens and each step's probability;
- head scores: the previous-token, first-token and induction scores (docs/engine.md, `heads`)
  computed from TransformerLens 4's run_with_cache patterns against `build/hooklab heads`, on a
  prompt and on TransformerLens's repeated random tokens (the engine's own draw).
"""
import math

import pytest
import torch
from transformers import GPT2LMHeadModel

import peerlib
from peerlib import Check

torch.set_grad_enabled(False)
PROMPT = peerlib.golden("mid__patching")["clean"]
N_NEW = 12


def scale_block(factor):
    def hook(module, inp, output):  # the page's HF code for exercises 3 and 4
        if isinstance(output, tuple):
            return (output[0].mul(factor),) + output[1:]
        return output.mul(factor)
    return hook


@pytest.mark.parametrize("ex", [None, {"kind": "scale_hidden", "layer": 9, "factor": 0.1}], ids=["clean", "ex3"])
def test_greedy_generate_matches_hooklab_generate(ex):
    ivs = [ex] if ex else []
    args = ["generate", "--model", str(peerlib.ckpt("mid")), "--prompt", PROMPT, "--max-new-tokens", str(N_NEW),
            "--threads", "1"] + peerlib._ivs(ivs)
    e = peerlib._engine(tuple(args))
    model = GPT2LMHeadModel.from_pretrained(str(peerlib.ckpt("mid"))).eval()
    handles = [model.transformer.h[ex["layer"]].register_forward_hook(scale_block(ex["factor"]))] if ex else []
    try:
        out = model.generate(torch.tensor([e["prompt_tokens"]]), max_new_tokens=N_NEW, do_sample=False,
                             output_scores=True, return_dict_in_generate=True, pad_token_id=model.config.eos_token_id)
    finally:
        for h in handles:
            h.remove()
    new = out.sequences[0, len(e["prompt_tokens"]):].tolist()
    # The tolerance: derive() at the longest sequence (most roundings), the largest score scale of
    # the engine's run over it (a prefix's scores are among the whole run's) and the largest
    # |logit| of any step (the engine's final run and HF's per-step logits, which agree within it).
    full = peerlib.engine_run("mid", PROMPT + e["text"], ivs)
    S, _ = peerlib.gc.scales_of(full["stats"])
    L = max(max(abs(x) for x in full["logits_last"]), max(s.abs().max().item() for s in out.scores))
    tol = peerlib.gc.derive(full["model"], len(e["prompt_tokens"]) + len(e["steps"]), S, L)
    c = Check("HF generate(greedy) vs hooklab generate (%s)" % ("ex3" if ex else "clean"))
    for k, step in enumerate(e["steps"]):
        logits = out.scores[k][0].double()
        p = logits.softmax(-1)
        c.near("step %d: P(%r)" % (k, step["token"]), p[step["id"]].item(), step["prob"], 2 * tol["logit_abs"] * step["prob"])
        if new[k] != step["id"]:
            # Only a tie within the tolerance may pick another token; after it the texts differ.
            gap = (logits[step["id"]] - logits[new[k]]).abs().item()
            c.near("step %d: the engine's %d and HF's %d tie" % (k, step["id"], new[k]), gap, 0.0, 2 * tol["logit_abs"])
            break
    c.equal("stopped", len(new), len(e["steps"]))
    c.done()


def scores_of(pattern, tokens):
    """docs/engine.md's head scores of one block's patterns [head, query, key]."""
    T = len(tokens)
    prev = pattern[:, torch.arange(1, T), torch.arange(0, T - 1)].double().mean(-1) if T > 1 else None
    first = pattern[:, :, 0].double().mean(-1)
    rows = []
    for i in range(T):
        js = [j for j in range(i) if tokens[j] == tokens[i]]
        if js:
            rows.append((i, max(js) + 1))
    ind = torch.stack([pattern[:, i, j] for i, j in rows]).double().mean(0) if rows else None
    return prev, first, ind


@pytest.fixture(scope="module")
def bridge():
    from transformer_lens import TransformerBridge
    b = TransformerBridge.boot_transformers(str(peerlib.ckpt("mid")))
    b.enable_compatibility_mode(disable_warnings=True, no_processing=True)
    return b.eval()


@pytest.mark.parametrize("case", [{"prompt": peerlib.golden("mid__clean")["prompt"]}, {"repeat": 20, "seed": "0"}],
                         ids=["prompt", "repeat"])
def test_head_scores_from_transformerlens_patterns_match_hooklab_heads(bridge, case):
    args = ["heads", "--model", str(peerlib.ckpt("mid"))]
    args += ["--prompt", case["prompt"]] if "prompt" in case else ["--repeat", str(case["repeat"]), "--seed", case["seed"]]
    e = peerlib._engine(tuple(args))
    tokens = e["tokens"]
    if "prompt" in case:
        assert bridge.to_tokens(case["prompt"], prepend_bos=False)[0].tolist() == tokens
        run = peerlib.engine_run("mid", case["prompt"])
    else:
        run = None
    _, cache = bridge.run_with_cache(torch.tensor([tokens]))
    n = bridge.cfg.n_layers
    mine = {"previous_token": [], "first_token": [], "induction": []}
    for l in range(n):
        prev, first, ind = scores_of(cache["blocks.%d.attn.hook_pattern" % l][0], tokens)
        mine["previous_token"].append(prev.tolist())
        mine["first_token"].append(first.tolist())
        mine["induction"].append(None if ind is None else ind.tolist())
    # The tolerance: the engine's run of the prompt, or (repeated tokens: no text to run) the
    # scale of this forward's own scores, which agree with the engine's within it.
    if run is not None:
        tol = peerlib.derived(run)
    else:
        S = max(cache["blocks.%d.attn.hook_attn_scores" % l][0].masked_fill(
            ~torch.isfinite(cache["blocks.%d.attn.hook_attn_scores" % l][0]), 0).abs().max().item() for l in range(n))
        cfg = bridge.cfg
        tol = peerlib.gc.derive({"n_layer": cfg.n_layers, "n_embd": cfg.d_model, "n_head": cfg.n_heads},
                                len(tokens), S, 0.0)
    c = Check("TL4 patterns -> head scores vs hooklab heads (%s)" % ("prompt" if run else "repeat"))
    old = dict({k: e[k] for k in mine}, tolerance=tol)
    if any(x is None for x in mine["induction"]):
        assert all(x is None for x in mine["induction"]) and all(
            v is None for row in e["induction"] for v in row), "induction is undefined where no token repeats"
        old["induction"] = mine["induction"]
    c.golden("$", old, dict(mine, tolerance=tol))
    c.done()
