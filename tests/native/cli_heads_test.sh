#!/usr/bin/env bash
# hooklab heads' CLI contract: one JSON object with every head's three scores as
# [n_layer][n_head]; any bad command line exits non-zero with one line on stderr and
# nothing on stdout. (The numbers themselves: test_heads.cpp against the reference.)
set -euo pipefail
bin="$1"; model="$2"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/cli_helpers.sh"  # fail, expect_error

"$bin" heads --model "$model" --prompt "The cat sat. The cat" > "$tmp/p.json" || fail "prompt run exited non-zero"
"$bin" heads --model "$model" --repeat 10 --seed 18446744073709551615 --pattern 5 \
  --intervene '{"kind":"scale_hidden","layer":3,"factor":10}' > "$tmp/r.json" || fail "repeat run exited non-zero"
/usr/bin/python3 - "$tmp/p.json" "$tmp/r.json" <<'PY'
import json, sys
p, r = (json.load(open(f)) for f in sys.argv[1:])
assert r.pop("pattern")["shape"] == [12, 21, 21] and "pattern" not in p
for d in (p, r):
    assert sorted(d) == ["first_token", "induction", "interventions", "previous_token", "token_loss", "token_strings", "tokens"], sorted(d)
    for k in ("induction", "previous_token", "first_token"):
        assert len(d[k]) == 12 and all(len(row) == 12 for row in d[k]), k
        assert all(x is None or 0 <= x <= 1 for row in d[k] for x in row), k
t = r["tokens"]
assert len(t) == 21 and t[1:11] == t[11:] and t[0] not in t[1:], t
assert all(x is not None for row in r["induction"] for x in row)
assert len(r["interventions"]) == 1 and p["interventions"] == []
PY

expect_error "exactly one" heads --model "$model"
expect_error "exactly one" heads --model "$model" --prompt x --repeat 3 --seed 1
expect_error "needs --seed" heads --model "$model" --repeat 3
expect_error "seed only goes with" heads --model "$model" --prompt x --seed 1
expect_error "between 1 and 63" heads --model "$model" --repeat 64 --seed 1
expect_error "between 1 and 63" heads --model "$model" --repeat 0 --seed 1
expect_error "needs a positive integer" heads --model "$model" --repeat -3 --seed 1
expect_error "needs a positive integer" heads --model "$model" --repeat 2.5 --seed 1
expect_error "seed must be an integer" heads --model "$model" --repeat 3 --seed -1
expect_error "seed must be an integer" heads --model "$model" --repeat 3 --seed 18446744073709551616
expect_error "seed must be an integer" heads --model "$model" --repeat 3 --seed x
expect_error "needs a value" heads --model "$model" --repeat
expect_error "not valid JSON" heads --model "$model" --prompt x --intervene '{"kind":'
expect_error "layer 12 is out of range" heads --model "$model" --prompt x --intervene '{"kind":"scale_hidden","layer":12,"factor":2}'
expect_error "prompt is empty" heads --model "$model" --prompt ""
expect_error "unknown option" heads --model "$model" --prompt x --topk 3
expect_error "pattern block 12 is out of range" heads --model "$model" --prompt x --pattern 12
expect_error "needs a block number" heads --model "$model" --prompt x --pattern -1
mkdir -p "$tmp/noeos" && cp "$model"/{config.json,model.safetensors,merges.txt} "$tmp/noeos/"
/usr/bin/python3 -c "import json,sys; v=json.load(open(sys.argv[1])); del v['<|endoftext|>']; json.dump(v, open(sys.argv[2],'w'))" \
  "$model/vocab.json" "$tmp/noeos/vocab.json"
expect_error "no <|endoftext|> token" heads --model "$tmp/noeos" --repeat 3 --seed 1
echo "cli heads: all checks passed"
