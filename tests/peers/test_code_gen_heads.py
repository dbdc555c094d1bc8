"""The Generate panel's and the heads view's code (web/src/codegen-generate.js; generation's
nnsight tab: codegen-nnsight.js nnGenerateCode), run as shown
(only its `MODEL = ...` line pointed at a local checkpoint), against the engine:

- greedy generation (HuggingFace forward hooks, TransformerLens run_with_hooks, nnsight one
  trace per step with the code panel's edits; the whole sequence recomputed each step) against `build/hooklab generate --compare` (the engine's KV
  cache, the interventions at every step): the same new tokens, baseline and intervened (the
  states' top-1 margins are far beyond the derived tolerance);
- head scores (TransformerLens run_with_cache's hook_pattern, HuggingFace output_attentions)
  against `build/hooklab heads`, on a prompt (clean, with exercises) and on the engine's
  repeated random tokens (the program is given the ids the engine drew), within activation_rel.
The states are tests/peers/emit_code.mjs's `gen/*` and `heads/*`.
"""
import pytest

import peerlib
from peerlib import Check

STATES = {n: s for n, s in peerlib.emitted().items() if s.get("kind") in ("gen", "heads")}
GEN = [n for n, s in STATES.items() if s["kind"] == "gen"]
HEADS = [n for n, s in STATES.items() if s["kind"] == "heads"]


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    jobs = [((n, lang), s["code"][lang], peerlib.ckpt(s["ckpt"])) for n, s in STATES.items() if not s.get("skip")
            for lang in ("hf", "tl", "nn") if lang in s["code"]]
    return peerlib.run_programs(jobs, tmp_path_factory.mktemp("genheads"))


def _result(ran, name, lang):
    s = STATES[name]
    if s.get("skip"):
        pytest.skip(s["skip"])
    r = ran[(name, lang)]
    assert r["error"] is None, "the page's %s program for %s failed as shown:\n%s" % (lang.upper(), name, r["error"])
    assert r["values"].get("dtype") == "torch.float32", "%s %s computes in %s" % (name, lang, r["values"].get("dtype"))
    return s, r


@pytest.mark.parametrize("lang", ["hf", "tl", "nn"])
@pytest.mark.parametrize("name", GEN)
def test_generate_code_matches_hooklab_generate(ran, name, lang):
    s, r = _result(ran, name, lang)
    n = s["gen"]["maxNewTokens"]
    args = ["generate", "--model", str(peerlib.ckpt(s["ckpt"])), "--prompt", s["prompt"], "--max-new-tokens", str(n),
            "--threads", "1", "--compare"] + peerlib._ivs(s["interventions"])
    e = peerlib._engine(tuple(args))
    c = Check("%s generation code (%s) vs hooklab generate --compare" % (lang.upper(), name))
    for which in ("baseline", "intervened"):
        want = [st["id"] for st in e[which]["steps"]]
        got = r["values"][which]
        c.equal("%s: the program printed it" % which, str(got) in r["stdout"], True)
        for k, (a, b) in enumerate(zip(got, want)):
            if a != b:
                # The states have clear top-1 margins (on mid, the IOI prompt: the smallest top-2 gap
                # over the 12 steps is 0.76 clean and 0.45 with exercise 3, against 2 * logit_abs
                # ~ 0.006), so a different token is a finding, not a tie.
                c.bad.append("%s step %d: the engine chose %d (P %.4f), the program %d"
                             % (which, k, b, e[which]["steps"][k]["prob"], a))
                break
        else:
            c.equal("%s: how many tokens" % which, len(got), len(want))
    c.done()


@pytest.mark.parametrize("lang", ["hf", "tl"])
@pytest.mark.parametrize("name", HEADS)
def test_heads_code_matches_hooklab_heads(ran, name, lang):
    s, r = _result(ran, name, lang)
    args = ["heads", "--model", str(peerlib.ckpt(s["ckpt"]))]
    if s["heads"]["repeat"]:
        args += ["--repeat", str(s["heads"]["r"]), "--seed", s["heads"]["seed"]]
    else:
        args += ["--prompt", s["prompt"]]
    c = Check("%s head-score code (%s) vs hooklab heads" % (lang.upper(), name))
    for which, ivs in (("baseline", []), ("intervened", s["interventions"])):
        e = peerlib._engine(tuple(args + peerlib._ivs(ivs)))
        if s["heads"]["repeat"]:
            assert e["tokens"] == s["heads"]["tokens"]
        # The tolerance: derive() at the input's length with the scales of the engine's run of
        # the state's prompt with the same interventions (the repeated tokens have no text to
        # run: the page's prompt's scales stand in for theirs).
        run = peerlib.engine_run(s["ckpt"], s["prompt"], ivs)
        S, L = peerlib.gc.scales_of(run["stats"])
        tol = peerlib.gc.derive(run["model"], len(e["tokens"]), S, L)
        got = r["values"][which]
        for k in ("previous_token", "first_token", "induction"):
            for l, (grow, wrow) in enumerate(zip(got[k], e[k])):
                for h, (a, b) in enumerate(zip(grow, wrow)):
                    if a is None or b is None:
                        c.equal("%s.%s[%d][%d]" % (which, k, l, h), a, b)
                    else:
                        c.near("%s.%s[%d][%d]" % (which, k, l, h), a, b, tol["activation_rel"])
            c.equal("%s.%s blocks" % (which, k), len(got[k]), len(e[k]))
    c.done()
