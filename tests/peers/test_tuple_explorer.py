"""The tuple explorer's claims (web/src/codegen.js tupleText): what a forward hook on GPT-2's
block 9 receives as `output` inside model(**inputs), with and without output_attentions, checked
in the transformers releases the text speaks of, on the mid checkpoint and the page's prompt:

- 4.48.3, before the GPT-2 cache rewrite: the "transformers 4.x" text's first paragraph
  ((hidden, present[, attentions]));
- 4.57.6, later 4.x: its second paragraph ((hidden[, attentions]));
- 5.0.0, "the first 5.x releases still return a tuple, as later 4.x does": the same paragraph;
- 5.23.0 (the venv's): the "transformers 5.x" text (the bare tensor; out.attentions).

The other releases are build/peers-venv/tf-<version> (tools/setup_peers.sh), put first on
PYTHONPATH; tests/peers/tuple_probe.py runs the text's code as shown and checks each claim line
against the object the hook really got.
"""
import json
import os
import subprocess
import sys

import pytest
from transformers import GPT2TokenizerFast

import peerlib

PROMPT = "When Mary and John went to the store, John gave a drink to"  # the page's default prompt

# (release, the text's transformers series, the paragraph of claims for that release)
RELEASES = [("4.48.3", "4", 0), ("4.57.6", "4", 1), ("5.0.0", "4", 1), ("5.23.0", "5", 0)]


@pytest.fixture(scope="module")
def texts():
    T = len(GPT2TokenizerFast.from_pretrained(str(peerlib.ckpt("mid")))(PROMPT)["input_ids"])
    r = subprocess.run(["node", str(peerlib.REPO / "tests/peers/emit_code.mjs"), "--tuple", str(T)],
                       capture_output=True, text=True, cwd=peerlib.REPO, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_the_5x_text_says_the_first_5x_releases_still_return_a_tuple(texts):
    assert "first 5.x releases still return a tuple, as later 4.x does" in texts["5"]["plain"]


@pytest.mark.parametrize("release,series,section", RELEASES, ids=[r[0] for r in RELEASES])
def test_the_tuple_explorer_claims_hold_in_that_release(texts, tmp_path, release, series, section):
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", PYTHONWARNINGS="ignore")
    import transformers
    if release != transformers.__version__:
        overlay = peerlib.REPO / "build" / "peers-venv" / ("tf-%s" % release)
        if not (overlay / "transformers").is_dir():
            pytest.skip("transformers %s is not installed in %s: run tools/setup_peers.sh" % (release, overlay))
        env["PYTHONPATH"] = str(overlay)
    jobs = [{"folder": str(peerlib.ckpt("mid")), "prompt": PROMPT, "text": texts[series][k], "section": section}
            for k in ("plain", "attn")]
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    r = subprocess.run([sys.executable, str(peerlib.REPO / "tests/peers/tuple_probe.py"), str(tmp_path / "jobs.json")],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    results = json.loads(r.stdout)
    bad = []
    for kind, res in zip(("plain", "attn"), results):
        assert res["version"] == release
        assert len(res["claims"]) >= (2 if kind == "plain" else 3), res
        bad += ["%s (%s): %s -> got %s" % (release, kind, c["line"].strip(), c["got"]) for c in res["claims"] if not c["ok"]]
    peerlib.REPORT.append(("tuple explorer, transformers %s" % release, 0.0 if not bad else float("inf"),
                           "%d claims" % sum(len(x["claims"]) for x in results), len(bad)))
    assert not bad, "the tuple explorer's claims that do not hold:\n  " + "\n  ".join(bad)
