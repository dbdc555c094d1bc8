"""TransformerLens 4 (TransformerBridge, the installed transformer-lens 4.3) as a peer of the
engine, on the mid checkpoint and the patching goldens' IOI pair (tools/make_goldens.py
PATCH_CLEAN / PATCH_CORRUPTED, answer " Mary" / wrong " John" as mid's "#id" tokens):

- transformer_lens.patching's get_act_patch_resid_pre / attn_out / mlp_out /
  attn_head_out_all_pos against `build/hooklab patch` (resid_pre, attn_out, mlp_out, z);
- ActivationCache.decompose_resid / stack_head_results / apply_ln_to_stack (direct logit
  attribution) against `build/hooklab attribute`;
- run_with_cache at every hook name the engine shares with TransformerLens against
  `build/hooklab run --capture NAME`.

The bridge is booted from the checkpoint's folder with enable_compatibility_mode(no_processing=True):
HookedTransformer's hook names, HuggingFace's weights unprocessed (no LayerNorm folding, no
centring), so every activation is the engine's. With TransformerLens's default processing
(enable_compatibility_mode()), the residual stream and the LayerNorm hooks change while logit
differences do not: the last test shows both (docs/peers.md).
"""
import math

import pytest
import torch

import peerlib
from peerlib import Check

torch.set_grad_enabled(False)

PAIR = peerlib.golden("mid__patching")  # clean, corrupted, answer "#337", wrong "#1757"
A, W = int(PAIR["answer"][1:]), int(PAIR["wrong"][1:])


def boot(**compat):
    from transformer_lens import TransformerBridge
    b = TransformerBridge.boot_transformers(str(peerlib.ckpt("mid")))
    b.enable_compatibility_mode(disable_warnings=True, **compat)
    b.eval()
    return b


@pytest.fixture(scope="module")
def bridge():
    return boot(no_processing=True)


@pytest.fixture(scope="module")
def ioi(bridge):
    ct = bridge.to_tokens(PAIR["clean"], prepend_bos=False)
    kt = bridge.to_tokens(PAIR["corrupted"], prepend_bos=False)
    runs = [peerlib.engine_run("mid", t) for t in (PAIR["clean"], PAIR["corrupted"])]
    assert ct[0].tolist() == runs[0]["tokens"] and kt[0].tolist() == runs[1]["tokens"]
    return ct, kt, peerlib.derived(*runs)


def logit_diff(logits):
    return logits[0, -1, A] - logits[0, -1, W]


PATCH = {"resid_pre": "get_act_patch_resid_pre", "attn_out": "get_act_patch_attn_out",
         "mlp_out": "get_act_patch_mlp_out", "z": "get_act_patch_attn_head_out_all_pos"}


@pytest.mark.parametrize("hook", list(PATCH))
def test_patching_functions_match_hooklab_patch(bridge, ioi, hook):
    from transformer_lens import patching
    ct, kt, tol = ioi
    clean_logits, clean_cache = bridge.run_with_cache(ct)
    clean_ld, corrupted_ld = logit_diff(clean_logits).item(), logit_diff(bridge(kt)).item()
    metric = lambda logits: (logit_diff(logits) - corrupted_ld) / (clean_ld - corrupted_ld)  # noqa: E731
    res = getattr(patching, PATCH[hook])(bridge, kt, clean_cache, metric)
    e = peerlib.engine_patch("mid", PAIR["clean"], PAIR["corrupted"], PAIR["answer"], PAIR["wrong"], hook)
    c = Check("TL4 patching.%s vs hooklab patch --hook %s" % (PATCH[hook], hook))
    c.equal("shape", list(res.shape), [len(e["normalized"]), len(e["normalized"][0])])
    old = {k: e[k] for k in ("clean_logit_diff", "corrupted_logit_diff", "normalized")}
    c.golden("$", dict(old, tolerance=tol), {"clean_logit_diff": clean_ld, "corrupted_logit_diff": corrupted_ld,
                                              "normalized": res.double().tolist(), "tolerance": tol})
    c.done()


def dla(model, cache):
    """Direct logit attribution the TransformerLens way: every component of the final residual
    at the last position through ln_final with the run's own scale, onto W_U[answer] - W_U[wrong]."""
    direction = model.W_U[:, A] - model.W_U[:, W]

    def project(stack):
        return (cache.apply_ln_to_stack(stack, layer=-1, pos_slice=-1) * model.ln_final.w) @ direction

    resid, labels = cache.decompose_resid(layer=-1, pos_slice=-1, return_labels=True)
    heads, head_labels = cache.stack_head_results(layer=-1, pos_slice=-1, return_labels=True)
    parts = dict(zip(labels, project(resid)[:, 0].tolist()))
    per_head = dict(zip(head_labels, project(heads)[:, 0].tolist()))
    n, h = model.cfg.n_layers, model.cfg.n_heads
    out = {"embed": parts["embed"], "pos_embed": parts["pos_embed"],
           "ln_final.bias": (model.ln_final.b @ direction).item()}
    for l in range(n):
        for i in range(h):
            out["blocks.%d.attn.head.%d" % (l, i)] = per_head["L%dH%d" % (l, i)]
        out["blocks.%d.attn.bias" % l] = parts["%d_attn_out" % l] - sum(per_head["L%dH%d" % (l, i)] for i in range(h))
        out["blocks.%d.mlp" % l] = parts["%d_mlp_out" % l]
    return out


def test_decompose_resid_and_stack_head_results_match_hooklab_attribute(bridge, ioi):
    ct, _, _ = ioi
    logits, cache = bridge.run_with_cache(ct)
    mine = dla(bridge, cache)
    e = peerlib.engine_attribute("mid", PAIR["clean"], PAIR["answer"], PAIR["wrong"])
    tol = peerlib.derived(peerlib.engine_run("mid", PAIR["clean"]))
    c = Check("TL4 decompose_resid/stack_head_results vs hooklab attribute")
    c.equal("components", sorted(mine), sorted(x["name"] for x in e["components"]))
    old = {"logit_diff": e["logit_diff"], "components": e["components"], "tolerance": tol}
    new = {"logit_diff": logit_diff(logits).item(), "tolerance": tol,
           "components": [{"name": x["name"], "value": mine.get(x["name"], math.nan)} for x in e["components"]]}
    c.golden("$", old, new)
    c.near("sum of the components", sum(mine.values()), e["logit_diff"], 2 * tol["logit_abs"])
    c.done()


# The engine's hooks that TransformerLens has no hook for: hook_qkv is HF's fused c_attn output
# (TransformerLens computes q, k, v apart), logits is the output, not a hook point.
NOT_IN_TL = ("attn.hook_qkv", "logits")


@pytest.mark.parametrize("interventions", [[], [{"kind": "zero_head_k", "layer": 9, "head": 2}]], ids=["clean", "ex1"])
def test_run_with_cache_matches_the_engines_captures(bridge, interventions):
    prompt = PAIR["clean"]
    probe = peerlib.engine_run("mid", prompt)
    names = [n for n in peerlib.engine_hooks(probe) if not n.endswith(NOT_IN_TL)]
    run = peerlib.engine_run("mid", prompt, interventions, captures=tuple(names))
    tol = peerlib.derived(run)
    hooks = []
    for iv in interventions:  # the engine's exercise 1, as the page's TransformerLens code does it
        def zero_k(k, hook, h=iv["head"]):
            k[:, :, h, :] = 0
            return k
        hooks.append(("blocks.%d.attn.hook_k" % iv["layer"], zero_k))
    toks = bridge.to_tokens(prompt, prepend_bos=False)
    with bridge.hooks(fwd_hooks=hooks):
        _, cache = bridge.run_with_cache(toks)
    c = Check("TL4 run_with_cache vs hooklab run --capture (%s)" % ("+".join(iv["kind"] for iv in interventions) or "clean"))
    missing = [n for n in names if n not in cache]
    c.equal("engine hooks missing from TransformerLens's cache", missing, [])
    for name in names:
        if name in missing:
            continue
        cap = run["captures"][name]
        want = torch.tensor([math.nan if x is None else x for x in cap["data"]], dtype=torch.float64).reshape(cap["shape"])
        got = cache[name][0].double()
        if name.endswith("hook_normalized"):
            # TransformerLens's hook_normalized is (x - mean) / scale, before the LayerNorm's weight
            # and bias; the engine's is the LayerNorm's output (HF's ln_1 / ln_2 / ln_f output).
            ln = bridge.ln_final if name.startswith("ln_final") else getattr(bridge.blocks[int(name.split(".")[1])],
                                                                                name.split(".")[2])
            got = got * ln.w.double() + ln.b.double()
        peerlib.check_tensor(c, name, got, want, tol["activation_rel"])
    c.done()


def test_default_weight_processing_keeps_logit_differences_not_activations(ioi):
    """TransformerLens's HookedTransformer-equivalent processing (fold_ln, centred writing
    weights and unembedding, folded value biases): the logit difference and the patching
    sweep are the engine's; the residual stream and the LayerNorm output are not."""
    from transformer_lens import patching
    ct, kt, tol = ioi
    b = boot()  # enable_compatibility_mode() with its defaults
    clean_logits, clean_cache = b.run_with_cache(ct)
    clean_ld, corrupted_ld = logit_diff(clean_logits).item(), logit_diff(b(kt)).item()
    metric = lambda logits: (logit_diff(logits) - corrupted_ld) / (clean_ld - corrupted_ld)  # noqa: E731
    res = patching.get_act_patch_resid_pre(b, kt, clean_cache, metric)
    e = peerlib.engine_patch("mid", PAIR["clean"], PAIR["corrupted"], PAIR["answer"], PAIR["wrong"], "resid_pre")
    c = Check("TL4 processed weights: logit diffs and patching vs hooklab")
    old = {k: e[k] for k in ("clean_logit_diff", "corrupted_logit_diff", "normalized")}
    c.golden("$", dict(old, tolerance=tol), {"clean_logit_diff": clean_ld, "corrupted_logit_diff": corrupted_ld,
                                              "normalized": res.double().tolist(), "tolerance": tol})
    c.done()
    # ... while the residual stream moves: centre_writing_weights makes every write to it
    # mean-free, so TransformerLens's hook_resid_pre is the engine's minus its mean per position.
    run = peerlib.engine_run("mid", PAIR["clean"], captures=("blocks.5.hook_resid_pre",))
    cap = run["captures"]["blocks.5.hook_resid_pre"]
    want = torch.tensor(cap["data"], dtype=torch.float64).reshape(cap["shape"])
    got = clean_cache["blocks.5.hook_resid_pre"][0].double()
    bound = peerlib.derived(run)["activation_rel"] * want.abs().max().item()
    assert (got - want).abs().max().item() > 10 * bound
    assert (got - (want - want.mean(-1, keepdim=True))).abs().max().item() <= bound
