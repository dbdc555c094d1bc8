#!/usr/bin/env bash
# hooklab gradients' and patch --method's CLI contract (issue #26): one JSON object with every
# asked hook's gradient as {"shape", "data"}, input x gradient per position, the pass counts;
# patch --method attribution is patch's JSON plus "method" and "backwards"; any bad command line
# exits non-zero with one line on stderr and nothing on stdout. (The numbers themselves:
# test_backward.cpp against PyTorch autograd and finite differences; here, that the CLI prints
# what the library computes, against the golden at the golden's tolerance.)
set -euo pipefail
bin="$1"; model="$2"; golden="$3"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/cli_helpers.sh"  # fail, expect_error
clean="When Mary and John went to the store, John gave a drink to"
corrupted="When John and Mary went to the store, John gave a drink to"

"$bin" gradients --model "$model" --prompt "$clean" --answer '#337' --wrong '#1757' \
  --hook blocks.8.hook_resid_pre --hook blocks.8.attn.hook_pattern --hook hook_embed > "$tmp/g.json" || fail "gradients exited non-zero"
"$bin" gradients --model "$model" --prompt "$clean" --answer '#337' --wrong '#1757' --hook blocks.8.mlp.hook_post \
  --intervene '{"kind":"zero_head_k","layer":9,"head":2}' --intervene '{"kind":"scale_hidden","layer":8,"factor":0.5}' \
  --intervene '{"kind":"noise_even_neurons","layer":8,"mean":1.0,"std":1.0,"seed":1}' --pretty > "$tmp/gi.json" \
  || fail "gradients with interventions exited non-zero"
"$bin" patch --model "$model" --clean "$clean" --corrupted "$corrupted" --answer '#337' --wrong '#1757' --hook resid_pre \
  --method attribution > "$tmp/a.json" || fail "patch --method attribution exited non-zero"
"$bin" patch --model "$model" --clean "$clean" --corrupted "$corrupted" --answer '#337' --wrong '#1757' --hook z \
  --method attribution > "$tmp/az.json" || fail "patch --method attribution --hook z exited non-zero"
"$bin" patch --model "$model" --clean "$clean" --corrupted "$corrupted" --answer '#337' --wrong '#1757' --hook resid_pre \
  --method exact > "$tmp/e.json" || fail "patch --method exact exited non-zero"
"$bin" patch --model "$model" --clean "$clean" --corrupted "$corrupted" --answer '#337' --wrong '#1757' --hook resid_pre \
  > "$tmp/d.json" || fail "patch exited non-zero"

/usr/bin/python3 - "$tmp" "$golden" <<'PY'
import json, math, sys
tmp, golden = sys.argv[1], json.load(open(sys.argv[2]))
g, gi = (json.load(open(f"{tmp}/{n}.json")) for n in ("g", "gi"))
keys = ["answer", "answer_id", "backwards", "forwards", "gradients", "input_x_gradient", "interventions", "logit_diff", "ms",
        "token_strings", "tokens", "wrong", "wrong_id"]
for d in (g, gi):
    assert sorted(d) == keys, sorted(d)
    assert d["forwards"] == 1 and d["backwards"] == 1
    assert d["answer_id"] == 337 and d["wrong_id"] == 1757
    assert isinstance(d["ms"], float) and d["ms"] > 0
    T = len(d["tokens"])
    assert T == 16 and len(d["token_strings"]) == T and len(d["input_x_gradient"]) == T
    for name, e in d["gradients"].items():
        assert sorted(e) == ["data", "shape"], (name, sorted(e))
        assert len(e["data"]) == math.prod(e["shape"]), name
        assert all(isinstance(x, float) for x in e["data"]), name  # null would mean non-finite
assert sorted(g["gradients"]) == ["blocks.8.attn.hook_pattern", "blocks.8.hook_resid_pre", "hook_embed"]
assert g["gradients"]["blocks.8.hook_resid_pre"]["shape"] == [16, 96]
assert g["gradients"]["blocks.8.attn.hook_pattern"]["shape"] == [12, 16, 16]
assert g["gradients"]["hook_embed"]["shape"] == [16, 96]
assert g["interventions"] == [] and len(gi["interventions"]) == 3
assert gi["gradients"]["blocks.8.mlp.hook_post"]["shape"] == [16, 384]

# The library's numbers: the golden's (PyTorch autograd), within its tolerance record.
for got, case in ((g, golden["gradients"][0]), (gi, golden["gradients"][1])):
    tol = case["tolerance"]
    assert got["tokens"] == case["tokens"]
    assert abs(got["logit_diff"] - case["logit_diff"]) <= 2 * tol["logit_abs"], (got["logit_diff"], case["logit_diff"])
    for name, e in got["gradients"].items():
        want = case["gradients"][name]
        assert e["shape"] == want["shape"], name
        scale = max(abs(x) for x in want["gradient"])
        worst = max(abs(a - b) for a, b in zip(e["data"], want["gradient"]))
        assert worst <= tol["gradient_rel"] * scale, (name, worst, tol["gradient_rel"] * scale)
    worst = max(abs(a - b) for a, b in zip(got["input_x_gradient"], case["input_x_gradient"]))
    assert worst <= tol["input_x_gradient_abs"], worst

# patch --method attribution: patch's JSON, plus "method" and "backwards"; at most 4 passes.
a, az, e, d = (json.load(open(f"{tmp}/{n}.json")) for n in ("a", "az", "e", "d"))
assert e == {**d, "ms": e["ms"]}, "--method exact is patch's default"
assert "method" not in e and "backwards" not in e
assert set(a) == set(e) | {"method", "backwards"}, sorted(set(a) ^ set(e))
for r in (a, az):
    assert r["method"] == "attribution" and r["forwards"] == 2 and r["backwards"] == 1
    assert r["clean_tokens"] == e["clean_tokens"] and r["corrupted_tokens"] == e["corrupted_tokens"]
    assert len(r["logit_diff"]) == 12 and len(r["normalized"]) == 12
assert a["hook"] == "resid_pre" and a["by"] == "position" and all(len(row) == 16 for row in a["logit_diff"])
assert az["hook"] == "z" and az["by"] == "head" and all(len(row) == 12 for row in az["logit_diff"])
for r in (a, az):
    want = next(c for c in golden["attribution"] if c["hook"] == r["hook"] and c["interventions"] == [])
    tol = want["tolerance"]
    worst = max(abs(x - y) for row, wrow in zip(r["logit_diff"], want["logit_diff"]) for x, y in zip(row, wrow))
    assert worst <= tol["estimate_abs"], (r["hook"], worst, tol["estimate_abs"])
PY

"$bin" --help | grep -q "hooklab gradients --model DIR --prompt TEXT --answer TOKEN --wrong TOKEN --hook NAME" || fail "usage lacks gradients"
"$bin" --help | grep -q "\[--method exact|attribution\]" || fail "usage lacks patch --method"

expect_error "unknown hook point \"blocks.8.hook_resid_pree\"; did you mean \"blocks.8.hook_resid_pre\"" \
  gradients --model "$model" --prompt "$clean" --answer '#337' --wrong '#1757' --hook blocks.8.hook_resid_pree
expect_error "out of range" gradients --model "$model" --prompt "$clean" --answer '#337' --wrong '#1757' --hook blocks.12.hook_resid_pre
expect_error "answer .* must be exactly one token" \
  gradients --model "$model" --prompt "$clean" --answer ' Marybeth' --wrong '#1757' --hook hook_embed
expect_error "answer .* must be exactly one token" patch --model "$model" --clean "$clean" --corrupted "$corrupted" \
  --answer ' Marybeth' --wrong '#1757' --hook resid_pre --method attribution
expect_error "the clean prompt is 16 tokens and the corrupted prompt is 9: patching needs the same number of tokens" patch --model "$model" --clean "$clean" \
  --corrupted "When John and Mary went to the store" --answer '#337' --wrong '#1757' --hook resid_pre --method attribution
expect_error "--hook NAME is required" gradients --model "$model" --prompt "$clean" --answer '#337' --wrong '#1757'
expect_error "--answer and --wrong are required" gradients --model "$model" --prompt "$clean" --answer '#337' --hook hook_embed
expect_error "--prompt is required" gradients --model "$model" --answer '#337' --wrong '#1757' --hook hook_embed
expect_error "prompt is empty" gradients --model "$model" --prompt "" --answer '#337' --wrong '#1757' --hook hook_embed
expect_error "option --method needs exact or attribution, got \"approx\"" patch --model "$model" --clean "$clean" \
  --corrupted "$corrupted" --answer '#337' --wrong '#1757' --hook resid_pre --method approx
expect_error "unknown option --method for hooklab gradients (an option of hooklab patch)" gradients --model "$model" \
  --prompt "$clean" --answer '#337' --wrong '#1757' --hook hook_embed --method attribution
expect_error "unknown option --hooks for hooklab gradients (did you mean --hook?)" gradients --model "$model" \
  --prompt "$clean" --answer '#337' --wrong '#1757' --hooks hook_embed
expect_error "not valid JSON" gradients --model "$model" --prompt "$clean" --answer '#337' --wrong '#1757' --hook hook_embed \
  --intervene '{"kind":'
expect_error "unknown hook point" gradients --model "$model" --prompt "$clean" --answer '#337' --wrong '#1757' --hook hook_embed \
  --intervene '{"kind":"scale","hook":"blocks.1.hook_z","factor":2}'
echo "cli gradients: all checks passed"
