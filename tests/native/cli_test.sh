#!/usr/bin/env bash
# The native CLI's contract: each exercise prints one JSON object with the documented
# fields; any error exits non-zero with one line on stderr and nothing on stdout.
set -euo pipefail
bin="$1"; model="$2"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
prompt="The quick brown fox doesn't jump over 12 lazy dogs."
source "$(dirname "$0")/cli_helpers.sh"  # fail, expect_error

check_json() {  # file, expected number of interventions
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, math, sys
d = json.load(open(sys.argv[1]))
n_layer = d["model"]["n_layer"]
for key in ("model", "tokens", "token_strings", "hidden_std", "resid_std", "stats", "top", "interventions"):
    assert key in d, key
assert len(d["hidden_std"]) == n_layer + 1 and len(d["resid_std"]) == n_layer
assert len(d["stats"]) == 20
for name, s in d["stats"].items():
    want = n_layer if name not in ("hook_embed", "hook_pos_embed", "ln_final.hook_normalized", "logits") else 1
    assert all(len(s[f]) == want for f in ("mean", "std", "min", "max", "norm")), name
assert len(d["interventions"]) == int(sys.argv[2])
top = d["top"]
assert len(top) == 5, len(top)  # --topk 5
probs, logits = [t["prob"] for t in top], [t["logit"] for t in top]
assert all(isinstance(x, float) for x in probs + logits), top  # null would mean non-finite
assert all(0 < p <= 1 for p in probs), probs
assert all(a >= b for a, b in zip(probs, probs[1:])), probs
assert all(a >= b for a, b in zip(logits, logits[1:])), logits
# k of the V probabilities of one distribution: at most 1 (1e-6 for the rounding of the sum).
assert sum(probs) <= 1 + 1e-6, sum(probs)
# prob_i = exp(logit_i - lse) with one lse for all, so prob_i / prob_0 = exp(logit_i - logit_0):
# lse cancels. The logits are float32 values, printed exactly, and the difference of two of
# like size is exact in double. Tolerance as if the softmax were done in float32 (the engine
# does it in double, so a right answer is far inside it), u = 2^-24: x_i = logit_i - lse is
# rounded with error <= |x_i| u, and exp() adds about one ulp, so prob_i is off by a relative
# (|x_i| + 1) u at most (to first order), with |x_i| = -log(prob_i). The ratio takes both
# probs' errors, plus 2 u of slack (the division, exp's ulp being a little over u): with
# these probs (~1e-2) about 1e-6 relative, where a wrong logit or lse is off by far more.
u = 2.0 ** -24
for i in range(1, len(top)):
    ratio, want = probs[i] / probs[0], math.exp(logits[i] - logits[0])
    tol = (-math.log(probs[i]) - math.log(probs[0]) + 4) * u
    assert abs(ratio - want) <= tol * want, (i, ratio, want, tol)
PY
}

i=0
for iv in '' '{"kind":"zero_head_k","layer":9,"head":2}' '{"kind":"noise_even_neurons","layer":9,"mean":10,"std":1,"seed":3}' \
          '{"kind":"scale_hidden","layer":9,"factor":0.1}' '{"kind":"scale_hidden","layer":9,"factor":10}'; do
  args=(run --model "$model" --prompt "$prompt" --topk 5)
  n=0; [ -n "$iv" ] && { args+=(--intervene "$iv"); n=1; }
  "$bin" "${args[@]}" > "$tmp/out$i.json" || fail "exercise $i exited non-zero"
  check_json "$tmp/out$i.json" "$n" || fail "exercise $i: bad JSON"
  i=$((i+1))
done
# Exercise 3 really scales block 9's output: resid_std[9] is a tenth of the clean run's.
/usr/bin/python3 - "$tmp/out0.json" "$tmp/out3.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert abs(b["resid_std"][9] - 0.1 * a["resid_std"][9]) < 1e-4 * a["resid_std"][9], (a["resid_std"][9], b["resid_std"][9])
assert a["resid_std"][:9] == b["resid_std"][:9]
PY
"$bin" run --model "$model" --prompt "$prompt" --logits --capture blocks.9.attn.hook_pattern > "$tmp/full.json"
/usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert len(d['logits_last'])==d['model']['vocab_size']; assert d['captures']['blocks.9.attn.hook_pattern']['shape'][0]==12" "$tmp/full.json"

expect_error "head 12 is out of range" run --model "$model" --prompt "$prompt" --intervene '{"kind":"zero_head_k","layer":9,"head":12}'
expect_error "not valid JSON" run --model "$model" --prompt "$prompt" --intervene '{"kind":'
expect_error "cannot open" run --model "$tmp/nowhere" --prompt "$prompt"
expect_error "prompt is empty" run --model "$model" --prompt ""
expect_error "unknown option" run --model "$model" --prompt x --bogus
expect_error "unknown hook point" run --model "$model" --prompt x --capture blocks.1.hook_nothing
mkdir -p "$tmp/broken" && cp "$model"/{config.json,vocab.json,merges.txt} "$tmp/broken/"
head -c 100 "$model/model.safetensors" > "$tmp/broken/model.safetensors"
expect_error "truncated" run --model "$tmp/broken" --prompt "$prompt"
: > "$tmp/broken/model.safetensors"
expect_error "empty" run --model "$tmp/broken" --prompt "$prompt"
echo "cli: all checks passed"
