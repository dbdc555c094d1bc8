"""Every code panel of the page, run as shown (only its `MODEL = ...` line pointed at a local
checkpoint), against the engine's numbers for the same state (build/hooklab run / patch /
attribute on the same checkpoint), within the tolerance derived from the engine runs' own
scales (tools/golden_compare.py's derive() and rules; tests/tolerance.mjs's klTolerance).

- the code panel's HuggingFace and TransformerLens tabs: each exercise alone and all four
  together, and the intervention builder's rows on every hook family; what they print (the
  per-layer std before and after ln_f, the KL, the top-k with both probabilities) and the
  logits they computed;
- the Patching view's TransformerLens sweep (each hook family, both metrics, with the page's
  interventions as permanent hooks) and its direct logit attribution.
The states are tests/peers/emit_code.mjs's; the page's TransformerLens code runs on
TransformerLens 3.9 (HookedTransformer; see docs/peers.md).
"""
import math

import pytest

import peerlib
from peerlib import Check

STATES = peerlib.emitted()
MAIN = [n for n, s in STATES.items() if "kind" not in s and not n.startswith("golden/")]
PATCH = [n for n, s in STATES.items() if s.get("kind") == "patch"]
DLA = [n for n, s in STATES.items() if s.get("kind") == "dla"]

PRINT_5 = 5e-6  # half a unit of the 5th decimal the std lists are rounded to
PRINT_4 = 5e-5  # ... of the 4th, the top-k probabilities


LANG_IDS = {"hf": "hf", "tl": "tl", "nn": "nnsight"}
ATTR = [n for n, s in STATES.items() if s.get("kind") == "attr"]
IXG = [n for n, s in STATES.items() if s.get("kind") == "ixg"]


def _langs(*langs):
    return pytest.mark.parametrize("lang", list(langs), ids=[LANG_IDS[l] for l in langs])


def _program(shown, name, lang):
    s = STATES[name]
    if s.get("skip"):
        pytest.skip(s["skip"])
    if lang not in s:  # the page's weights processed (process=tl): only its TransformerLens code loads them so
        pytest.skip("%s: the page's %s code loads HF's weights, the page's are processed" % (name, lang))
    if (name, lang) not in shown:
        pytest.skip("%s's programs not run (PEERS_LANGS)" % lang)
    r = shown[(name, lang)]
    assert r["error"] is None, "the page's %s program for %s failed as shown:\n%s" % (lang.upper(), name, r["error"])
    # The engine computes in float32 whatever the file's dtype (the embedded model's is F16); so
    # must the program, or the derived tolerance (float32 roundings) does not apply to it.
    assert r["values"].get("dtype") == "torch.float32", "%s %s computes in %s" % (name, lang, r["values"].get("dtype"))
    return s, r


def _noise_layer(s):
    """The block of a noise intervention with std > 0 (PyTorch's generator is not the engine's:
    from there on the numbers are comparable only in distribution), or None."""
    ls = [iv.get("layer", 0) for iv in s["interventions"] if iv["kind"] in ("noise_even_neurons", "noise") and iv["std"] > 0]
    return min(ls) if ls else None


@_langs("hf", "tl", "nn")
@pytest.mark.parametrize("name", MAIN)
def test_code_panel_prints_the_engines_numbers(shown, name, lang):
    s, r = _program(shown, name, lang)
    proc = s.get("process")  # the page's weights TransformerLens-processed ("tl"): the engine loads them so
    base = peerlib.engine_run(s["ckpt"], s["prompt"], process=proc)
    inter = peerlib.engine_run(s["ckpt"], s["prompt"], s["interventions"], process=proc)
    tb, ti = peerlib.derived(base), peerlib.derived(inter)
    noise = _noise_layer(s)
    p = peerlib.printed(r["stdout"])
    c = Check("%s: the page's %s tab" % (name, lang.upper()))
    assert len(p["lists"]) == 4, r["stdout"]
    want = [(base["resid_std"], tb, None), (inter["resid_std"], ti, noise),
            (base["hidden_std"], tb, None), (inter["hidden_std"], ti, None if noise is None else noise + 1)]
    labels = ["baseline resid_std", "intervened resid_std", "baseline hidden_std", "intervened hidden_std"]
    v = r["values"]
    full = [v["baseline"][0], v["intervened"][0], v["baseline"][1], v["intervened"][1]]
    for label, got, shown_, (w, t, upto) in zip(labels, full, p["lists"], want):
        assert len(got) == len(w) == len(shown_), label
        bound = t["activation_rel"] * max(abs(x) for x in w if x is not None)
        for i, (a, a5, b) in enumerate(list(zip(got, shown_, w))[:upto]):
            c.near("%s[%d]" % (label, i), a, b, bound)  # what it computed
            c.near("%s[%d] printed" % (label, i), a5, b, bound, PRINT_5)  # what it printed (5 decimals)
    # The logits it computed, unrounded.
    c.golden("baseline", {"logits_last": base["logits_last"], "tolerance": tb},
             {"logits_last": r["values"]["baseline"][2], "tolerance": tb})
    if noise is None:
        c.golden("intervened", {"logits_last": inter["logits_last"], "tolerance": ti},
                 {"logits_last": r["values"]["intervened"][2], "tolerance": ti})
        k = peerlib.kl(base["logits_last"], inter["logits_last"])
        c.near("KL", p["kl"], k, peerlib.kl_tolerance(tb, ti, base["logits_last"], inter["logits_last"]) + 1e-12)
    # The top-k: rank i's baseline probability is the engine's i-th largest; its token one whose
    # engine probability is that close; its intervened probability the engine's for that token.
    lp, lq = peerlib.log_softmax(base["logits_last"]), peerlib.log_softmax(inter["logits_last"])
    order = sorted(range(len(lp)), key=lambda i: -lp[i])
    token = {t["id"]: t["token"] for t in base["top"]}
    assert len(p["top"]) == s["topk"], r["stdout"]
    for rank, (tok, pb, pi) in enumerate(p["top"]):
        pe = math.exp(lp[order[rank]])
        c.near("top[%d] P baseline" % rank, pb, pe, 2 * tb["logit_abs"] * pe, PRINT_4)
        ids = [i for i in order[:len(token)] if token[i] == tok]
        assert ids, "top[%d]: %r is not in the engine's baseline top %d" % (rank, tok, len(token))
        i = min(ids, key=lambda i: abs(math.exp(lp[i]) - pb))
        c.near("top[%d] %r P baseline" % (rank, tok), pb, math.exp(lp[i]), 2 * tb["logit_abs"] * math.exp(lp[i]), PRINT_4)
        if noise is None:
            q = math.exp(lq[i])
            c.near("top[%d] %r P intervened" % (rank, tok), pi, q, 2 * ti["logit_abs"] * q, PRINT_4)
    c.done()


def _pair(s):
    ex = s["ex"]
    return ex["clean"], ex["corrupted"], ex["answer"], ex["wrong"]


@_langs("tl", "nn")
@pytest.mark.parametrize("name", PATCH)
def test_patching_code_prints_the_engines_sweep(shown, name, lang):
    s, r = _program(shown, name, lang)
    clean, corrupted, answer, wrong = _pair(s)
    hook, metric = s["ex"]["hook"], s["ex"]["metric"]
    proc = s.get("process")
    e = peerlib.engine_patch(s["ckpt"], clean, corrupted, answer, wrong, hook, s["interventions"], process=proc)
    runs = [peerlib.engine_run(s["ckpt"], t, s["interventions"], process=proc) for t in (clean, corrupted)]
    tol = peerlib.derived(*runs)
    v = r["values"]
    line = [l for l in r["stdout"].splitlines() if l.startswith("clean logit diff")]
    assert line, r["stdout"]
    printed_clean, printed_corrupted = float(line[0].split()[3]), float(line[0].split()[5])
    assert (printed_clean, printed_corrupted) == (v["clean_ld"], v["corrupted_ld"])
    key = "normalized" if metric == "normalized" else "logit_diff"
    c = Check("%s: the Patching view's %s code (%s, %s)" % (name, lang.upper(), hook, metric))
    c.equal("shape", [len(v["result"]), len(v["result"][0])], [len(e[key]), len(e[key][0])])
    old = {"clean_logit_diff": e["clean_logit_diff"], "corrupted_logit_diff": e["corrupted_logit_diff"],
           key: e[key], "tolerance": tol}
    new = {"clean_logit_diff": v["clean_ld"], "corrupted_logit_diff": v["corrupted_ld"], key: v["result"],
           "tolerance": tol}
    c.golden("$", old, new)
    c.done()


@_langs("tl", "nn")
@pytest.mark.parametrize("name", DLA)
def test_attribution_code_prints_the_engines_components(shown, name, lang):
    s, r = _program(shown, name, lang)
    clean, _, answer, wrong = _pair(s)
    proc = s.get("process")
    e = peerlib.engine_attribute(s["ckpt"], clean, answer, wrong, s["interventions"], process=proc)
    tol = peerlib.derived(peerlib.engine_run(s["ckpt"], clean, s["interventions"], process=proc))
    v = r["values"]
    n_layer, n_head = len(v["per_head"]), len(v["per_head"][0])
    mine = {"embed": v["parts"]["embed"], "pos_embed": v["parts"]["pos_embed"], "ln_final.bias": v["ln_bias"]}
    if "unembed_bias" in v:  # processed weights: b_U[answer] - b_U[wrong], the engine's unembed.bias
        mine["unembed.bias"] = v["unembed_bias"]
    for l in range(n_layer):
        for h in range(n_head):
            mine["blocks.%d.attn.head.%d" % (l, h)] = v["per_head"][l][h]
        mine["blocks.%d.attn.bias" % l] = v["parts"]["%d_attn_out" % l] - sum(v["per_head"][l])
        mine["blocks.%d.mlp" % l] = v["parts"]["%d_mlp_out" % l]
    c = Check("%s: the Patching view's %s DLA code" % (name, lang.upper()))
    c.equal("components", sorted(mine), sorted(x["name"] for x in e["components"]))
    line = [l for l in r["stdout"].splitlines() if l.startswith("sum ")]
    assert line, r["stdout"]
    total, ld = float(line[0].split()[1]), float(line[0].split()[-1])
    old = {"logit_diff": e["logit_diff"], "components": e["components"], "tolerance": tol}
    new = {"logit_diff": ld, "components": [{"name": x["name"], "value": mine.get(x["name"], math.nan)}
                                            for x in e["components"]], "tolerance": tol}
    c.golden("$", old, new)
    c.near("sum of the components", total, e["logit_diff"], 2 * tol["logit_abs"])
    c.done()


@_langs("tl", "nn")
@pytest.mark.parametrize("name", ATTR)
def test_attribution_patching_code_prints_the_engines_estimates(shown, name, lang):
    s, r = _program(shown, name, lang)
    clean, corrupted, answer, wrong = _pair(s)
    hook, metric = s["ex"]["hook"], s["ex"]["metric"]
    e = peerlib.engine_patch(s["ckpt"], clean, corrupted, answer, wrong, hook, s["interventions"], "attribution")
    tol = peerlib.attribution_tolerance(s["ckpt"], clean, corrupted, answer, wrong, hook, s["interventions"])
    v = r["values"]
    line = [l for l in r["stdout"].splitlines() if l.startswith("clean logit diff")]
    assert line, r["stdout"]
    assert (float(line[0].split()[3]), float(line[0].split()[5])) == (v["clean_ld"], v["corrupted_ld"])
    key = "normalized" if metric == "normalized" else "logit_diff"
    c = Check("%s: the Patching view's %s attribution patching (%s, %s)" % (name, lang.upper(), hook, metric))
    c.equal("shape", [len(v["result"]), len(v["result"][0])], [len(e[key]), len(e[key][0])])
    old = {"clean_logit_diff": e["clean_logit_diff"], "corrupted_logit_diff": e["corrupted_logit_diff"],
           key: e[key], "tolerance": tol}
    new = {"clean_logit_diff": v["clean_ld"], "corrupted_logit_diff": v["corrupted_ld"], key: v["result"],
           "tolerance": tol}
    c.golden("$", old, new)
    c.done()


@_langs("tl", "nn")
@pytest.mark.parametrize("name", IXG)
def test_input_x_gradient_code_prints_the_engines_values(shown, name, lang):
    s, r = _program(shown, name, lang)
    clean, _, answer, wrong = _pair(s)
    e, tol = peerlib.input_x_gradient_tolerance(s["ckpt"], clean, answer, wrong, s["interventions"])
    v = r["values"]
    lines = r["stdout"].splitlines()
    rows = [float(l.split()[-1]) for l in lines if l.split() and l.split()[0].isdigit()]
    total = [l for l in lines if l.startswith("sum ")]
    assert total and len(rows) == len(e["input_x_gradient"]), r["stdout"]
    c = Check("%s: the Patching view's %s gradient x input" % (name, lang.upper()))
    c.golden("$", {"input_x_gradient": e["input_x_gradient"], "tolerance": tol},
             {"input_x_gradient": v["x_grad"], "tolerance": tol})
    for p, (a, b) in enumerate(zip(rows, e["input_x_gradient"])):
        c.near("printed[%d]" % p, a, b, tol["input_x_gradient_abs"], 5e-7)  # 6 decimals
    c.near("sum", float(total[0].split()[1]), sum(e["input_x_gradient"]),
           len(rows) * tol["input_x_gradient_abs"])
    c.near("logit diff", float(total[0].split()[-1]), e["logit_diff"], 2 * tol["logit_abs"])
    c.done()


def test_the_transformerlens_code_pins_the_series_it_runs_on():
    """The page's TransformerLens programs use HookedTransformer, which TransformerLens 4.0
    removed: their install line says transformer_lens<4, and TransformerLens 4 (this venv's,
    without the 3.9 overlay) indeed refuses the import they start with."""
    for name, s in STATES.items():
        if "tl" in s:
            assert s["tl"].splitlines()[0].endswith('"transformer_lens<4"'), name
            assert "from transformer_lens import HookedTransformer" in s["tl"], name
    import transformer_lens
    assert not transformer_lens.__file__.startswith(str(peerlib.TL3)), "this process runs TransformerLens 4"
    with pytest.raises(ImportError, match="removed in TransformerLens 4.0"):
        from transformer_lens import HookedTransformer  # noqa: F401
