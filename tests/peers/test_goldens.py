"""HuggingFace transformers against the committed goldens (tests/golden, tools/reference.py), with
each golden's own tolerance record and tools/golden_compare.py's rules:

- GPT2LMHeadModel.from_pretrained(the checkpoint folder): logits_last, hidden_std, resid_std of
  the clean run;
- the chapter's four exercises (and exercises 1-3 together, the "combo" golden) done with real
  HF forward hooks, by the very program the page's HuggingFace tab shows for that state, and by
  its TransformerLens tab (TransformerLens 3.9: see docs/peers.md).
"""
import pytest
import torch
from transformers import GPT2LMHeadModel, GPT2TokenizerFast

import peerlib
from peerlib import Check

CKPTS = ["mid", "tiny_f32"]
KEYS = ("hidden_std", "resid_std", "logits_last")


def _sub(g):
    return dict({k: g[k] for k in KEYS}, tolerance=g["tolerance"])


@pytest.mark.parametrize("name", CKPTS)
def test_from_pretrained_matches_the_clean_golden(name):
    g = peerlib.golden("%s__clean" % name)
    d = str(peerlib.ckpt(name))
    tok = GPT2TokenizerFast.from_pretrained(d)
    assert tok(g["prompt"])["input_ids"] == g["tokens"], "HF's tokenizer from the checkpoint's folder"
    model = GPT2LMHeadModel.from_pretrained(d).eval()
    last = []
    h = model.transformer.h[-1].register_forward_hook(lambda m, i, o: last.append(o[0] if isinstance(o, tuple) else o))
    try:
        with torch.no_grad():
            out = model(torch.tensor([g["tokens"]]), output_hidden_states=True)
    finally:
        h.remove()
    hs = out.hidden_states  # the embeddings, each block's output, the last one after ln_f
    assert len(hs) == g["model"]["n_layer"] + 1
    new = {"hidden_std": [x.double().std().item() for x in hs],
           "resid_std": [x.double().std().item() for x in hs[1:-1]] + [last[0].double().std().item()],
           "logits_last": out.logits[0, -1].tolist(), "tolerance": g["tolerance"]}
    c = Check("golden %s clean: HF from_pretrained" % name)
    c.golden("$", _sub(g), new)
    c.done()


GOLDEN_STATES = ["golden/%s/%s" % (n, k) for n in CKPTS for k in ("ex1", "ex2", "ex3", "ex4", "combo")]


@pytest.mark.parametrize("lang", ["hf", "tl"])
@pytest.mark.parametrize("state", GOLDEN_STATES)
def test_the_pages_code_matches_the_exercise_goldens(shown, state, lang):
    s = peerlib.emitted()[state]
    r = shown[(state, lang)]
    assert r["error"] is None, "the page's %s program failed as shown:\n%s" % (lang, r["error"])
    gi, gb = peerlib.golden(s["golden"]), peerlib.golden("%s__clean" % s["ckpt"])
    assert s["prompt"] == gi["prompt"] and s["interventions"] == [
        {k: v for k, v in iv.items()} for iv in gi["interventions"]], "the state is the golden's case"
    v = r["values"]
    c = Check("golden %s: the page's %s code" % (state.split("/", 1)[1], lang.upper()))
    for which, g in (("baseline", gb), ("intervened", gi)):
        resid, hidden, logits = v[which]
        c.golden(which, _sub(g), {"resid_std": resid, "hidden_std": hidden, "logits_last": logits,
                                  "tolerance": g["tolerance"]})
    # What it prints is what it computed (5 decimals).
    p = peerlib.printed(r["stdout"])
    want = [v["baseline"][0], v["intervened"][0], v["baseline"][1], v["intervened"][1]]
    assert [[round(x, 5) for x in w] for w in want] == p["lists"]
    c.done()
