"""The JS API's lab.weight(name) against TransformerLens's own weights (issue #28): the bridge
booted from the mid checkpoint without weight processing (as test_tl_engine.py), each weight by
its TransformerLens name, shape and values. The engine's weights are the file's floats re-laid
out, so the values must be equal, bit for bit (mid is F32)."""
import json
import subprocess

import numpy as np
import pytest
import torch

import peerlib

torch.set_grad_enabled(False)

# HookedTransformer's stacked properties (model.W_Q ...), and per-block names.
STACKED = ["W_E", "W_pos", "W_U", "b_U", "W_Q", "W_K", "W_V", "W_O", "b_Q", "b_K", "b_V", "b_O",
           "W_in", "b_in", "W_out", "b_out"]
BLOCK = {"attn.W_Q": lambda b: b.attn.W_Q, "attn.W_O": lambda b: b.attn.W_O, "attn.b_V": lambda b: b.attn.b_V,
         "mlp.W_in": lambda b: b.mlp.W_in, "mlp.W_out": lambda b: b.mlp.W_out}
LN = {"ln1.w": "ln1.weight", "ln1.b": "ln1.bias", "ln2.w": "ln2.weight", "ln2.b": "ln2.bias"}


@pytest.fixture(scope="module")
def bridge():
    from transformer_lens import TransformerBridge
    b = TransformerBridge.boot_transformers(str(peerlib.ckpt("mid")))
    b.enable_compatibility_mode(disable_warnings=True, no_processing=True)
    return b


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    names = STACKED + ["blocks.%d.%s" % (L, n) for L in (0, 7) for n in list(BLOCK) + list(LN)] + ["ln_final.w", "ln_final.b"]
    out = tmp_path_factory.mktemp("weights")
    r = subprocess.run(["node", str(peerlib.REPO / "tests/peers/weights_probe.mjs"), str(peerlib.ckpt("mid")), str(out), *names],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    index = json.loads((out / "index.json").read_text())
    return {n: np.fromfile(out / e["file"], dtype=np.float32).reshape(e["shape"]) for n, e in index.items()}


def same(name, got, want):
    want = want.detach().float().cpu().numpy()
    assert tuple(got.shape) == want.shape, "%s: engine %s vs TransformerLens %s" % (name, got.shape, want.shape)
    assert np.array_equal(got, want), "%s: max |diff| %g" % (name, np.abs(got - want).max())


def test_weights_are_transformer_lens_own(bridge, engine):
    for n in STACKED:
        same(n, engine[n], getattr(bridge, n))
    sd = bridge.state_dict()
    for L in (0, 7):
        for n, get in BLOCK.items():
            same("blocks.%d.%s" % (L, n), engine["blocks.%d.%s" % (L, n)], get(bridge.blocks[L]))
        for n, key in LN.items():
            same("blocks.%d.%s" % (L, n), engine["blocks.%d.%s" % (L, n)], sd["blocks.%d.%s" % (L, key)])
    same("ln_final.w", engine["ln_final.w"], sd["ln_final.weight"])
    same("ln_final.b", engine["ln_final.b"], sd["ln_final.bias"])
