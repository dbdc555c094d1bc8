"""TransformerLens's weight processing as a load option of the engine (issue #27; `--process`,
HookLab.load(src, {process})): the engine loaded with fold_ln, center_writing_weights,
center_unembed, fold_value_biases, each alone and all four (`tl`, from_pretrained's defaults),
against TransformerLens 3.9's HookedTransformer loaded from the same folder with
load_and_process_state_dict and the same flags (tests/peers/tl3_processed.py), on the patching
goldens' clean prompt:

- every position's logits (derived logit_abs);
- run_with_cache at every hook name the engine shares with TransformerLens (derived
  activation_rel, relative to each hook's largest value). With fold_ln the LayerNorms have no
  weight and bias left (TransformerLens's LayerNormPre), so ln1 / ln2 / ln_final.hook_normalized
  are compared as they are; without it, with TransformerLens's `x * ln.w + ln.b` as in
  test_tl_engine.py;
- the processed weights, lab.weight(name) (tests/peers/weights_probe.mjs) against the model's
  own (model.W_E ... model.b_out, ln*.w / .b where the model still has them).
"""
import json
import math
import os
import subprocess
import sys

import pytest
import torch

import peerlib
from peerlib import Check

torch.set_grad_enabled(False)

PAIR = peerlib.golden("mid__patching")
OPTIONS = ("fold_ln", "center_writing_weights", "center_unembed", "fold_value_biases")
CONFIGS = {o: {x: x == o for x in OPTIONS} for o in OPTIONS}
CONFIGS["tl"] = {x: True for x in OPTIONS}
CASES = [("mid", n) for n in CONFIGS] + [("tiny_f32", "tl")]
NOT_IN_TL = ("attn.hook_qkv", "logits")
WEIGHTS = ["W_E", "W_pos", "W_U", "b_U", "W_Q", "W_K", "W_V", "W_O", "b_Q", "b_K", "b_V", "b_O",
           "W_in", "b_in", "W_out", "b_out"]


def process_arg(config):
    return "tl" if config == "tl" else config


@pytest.fixture(scope="module")
def tokens():
    return peerlib.engine_run("mid", PAIR["clean"])["tokens"]


@pytest.fixture(scope="module")
def peer(tmp_path_factory, tokens):
    """{(ckpt, config): TransformerLens 3.9's logits, cache and weights}."""
    out = {}
    for ck in ("mid", "tiny_f32"):
        d = tmp_path_factory.mktemp("tl3_" + ck)
        configs = {n: f for (c, n) in CASES if c == ck for f in [CONFIGS[n]]}
        if ck == "mid":
            configs["none"] = {x: False for x in OPTIONS}  # the raw weights: the scale of the inputs
        toks = tokens if ck == "mid" else peerlib.engine_run(ck, PAIR["clean"])["tokens"]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(peerlib.TL3)] + [p for p in [os.environ.get("PYTHONPATH")] if p]),
                   OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONWARNINGS="ignore")
        r = subprocess.run([sys.executable, str(peerlib.REPO / "tests/peers/tl3_processed.py"), str(peerlib.ckpt(ck)), str(d),
                            json.dumps(toks), json.dumps(configs)], env=env, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, r.stderr[-3000:]
        for n in configs:
            out[(ck, n)] = torch.load(d / ("%s.pt" % n))
    return out


def engine(ck, config, captures=()):
    args = ["run", "--model", str(peerlib.ckpt(ck)), "--prompt", PAIR["clean"], "--all-logits", "--topk", "1",
            "--threads", "1", "--process", process_arg(config)] + [a for c in captures for a in ("--capture", c)]
    return peerlib._engine(tuple(args))


def engine_hooks(run):
    return [x for x in peerlib.engine_hooks(run) if not x.endswith(NOT_IN_TL)]


@pytest.mark.parametrize("ck,config", CASES, ids=["%s-%s" % c for c in CASES])
def test_processed_logits_and_hooks_match_transformer_lens(peer, ck, config):
    tl = peer[(ck, config)]
    probe = engine(ck, config)
    assert probe["model"]["processing"] == CONFIGS[config]
    names = engine_hooks(probe)
    run = engine(ck, config, names)
    tol = peerlib.derived(run)
    c = Check("TL3 load_and_process_state_dict(%s) vs hooklab --process %s (%s)" % (config, process_arg(config), ck))
    got = tl["logits"].double()
    want = torch.tensor(run["logits_all"], dtype=torch.float64)
    c.equal("logits shape", list(got.shape), list(want.shape))
    d = (got - want).abs()
    worst = int(d.argmax())
    c.near("logits[%d of %d]" % (worst, d.numel()), got.flatten()[worst].item(), want.flatten()[worst].item(), tol["logit_abs"])
    folded = CONFIGS[config]["fold_ln"]
    c.equal("TransformerLens's LayerNorm", tl["normalization_type"], "LNPre" if folded else "LN")
    missing = [n for n in names if n not in tl["cache"]]
    c.equal("engine hooks missing from TransformerLens's cache", missing, [])
    for name in names:
        if name in missing:
            continue
        cap = run["captures"][name]
        want = torch.tensor([math.nan if x is None else x for x in cap["data"]], dtype=torch.float64).reshape(cap["shape"])
        got = tl["cache"][name].double()
        if name.endswith("hook_normalized") and not folded:
            key = "ln_final" if name.startswith("ln_final") else ".".join(name.split(".")[:3])
            got = got * tl["weights"][key + ".w"].double() + tl["weights"][key + ".b"].double()
        peerlib.check_tensor(c, name, got, want, tol["activation_rel"])
    c.done()


def weight_rel(model):
    """A processed weight is a short chain of float32 sums (fold: d_model terms, then a mean over
    d_model; center_writing_weights: a mean over d_model; center_unembed: a mean over the
    vocabulary; fold_value_biases: n_head * d_head terms, then a mean over d_model): tools/
    golden_compare.py's random-walk bound, Z * u * sqrt(roundings), relative to the tensor's
    largest value and its inputs' (both sides round each sum; the engine sums in double)."""
    d = model["n_embd"]
    n = 3 * d + model["vocab_size"] + d + 8
    return 2 * peerlib.gc.Z * peerlib.gc.U * math.sqrt(n)


@pytest.mark.parametrize("config", list(CONFIGS))
def test_processed_weights_match_transformer_lens(peer, tmp_path, config):
    if not (peerlib.REPO / "wasm/dist").exists():
        pytest.skip("lab.weight needs the wasm build (wasm/dist)")
    tl = peer[("mid", config)]["weights"]
    names = WEIGHTS + sorted(k for k in tl if k not in WEIGHTS)
    r = subprocess.run(["node", str(peerlib.REPO / "tests/peers/weights_probe.mjs"), str(peerlib.ckpt("mid")), str(tmp_path),
                        "--process=" + ",".join(o for o in OPTIONS if CONFIGS[config][o]), *names],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    index = json.loads((tmp_path / "index.json").read_text())
    import numpy as np
    raw = peer[("mid", "none")]["weights"]
    model = engine("mid", config)["model"]
    rel = weight_rel(model)
    c = Check("TL3 processed weights (%s) vs lab.weight" % config)
    for n in names:
        got = torch.from_numpy(np.fromfile(tmp_path / index[n]["file"], dtype=np.float32).reshape(index[n]["shape"])).double()
        want = tl[n].double()
        c.equal("%s shape" % n, list(got.shape), list(want.shape))
        if list(got.shape) != list(want.shape):
            continue
        scale = max(want.abs().max().item(), max(v.abs().max().item() for v in raw.values()))
        d = (got - want).abs()
        w = int(d.argmax())
        c.near("%s[%d of %d]" % (n, w, d.numel()), got.flatten()[w].item(), want.flatten()[w].item(), rel * scale)
    c.done()
