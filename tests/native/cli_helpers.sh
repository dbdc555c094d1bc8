# Shared by the CLI contract tests (sourced after they set $bin, the CLI, and $tmp, a
# scratch folder). The contract for errors: a non-zero exit, one line on stderr naming
# the problem, nothing on stdout.

fail() { echo "FAIL: $*" >&2; exit 1; }

expect_error() {  # message fragment, args...
  local want="$1"; shift
  if "$bin" "$@" > "$tmp/stdout" 2> "$tmp/stderr"; then fail "expected failure: $*"; fi
  [ ! -s "$tmp/stdout" ] || fail "stdout not empty on error: $*"
  [ "$(wc -l < "$tmp/stderr")" -eq 1 ] || fail "stderr is not one line: $(cat "$tmp/stderr")"
  grep -q -- "$want" "$tmp/stderr" || fail "stderr lacks '$want': $(cat "$tmp/stderr")"
}
