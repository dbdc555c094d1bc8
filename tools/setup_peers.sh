#!/usr/bin/env bash
# The Python environment of the peers suite (tests/peers, docs/peers.md): build/peers-venv
# with HuggingFace transformers 5, TransformerLens 4 and nnsight (tools/peers/requirements.txt),
# and beside it, in folders the suite puts first on PYTHONPATH for the programs that need them
# (installed --no-deps: they share the venv's torch and the rest):
#   build/peers-venv/tl3         TransformerLens 3.9, for the page's TransformerLens code, which
#                                uses HookedTransformer (removed in TransformerLens 4.0);
#   build/peers-venv/tf-VERSION  other transformers releases (4.x before and after the GPT-2
#                                cache rewrite, the first 5.x), for the tuple explorer's claims.
#
# Creates the venv if missing and installs torch==2.13.0 FIRST (a later, indirect request for
# torch can bring a CUDA build of several GB), then the pinned requirements. Idempotent: a
# stamp records what was installed, and a second run with the same pins does nothing.
#
#   bash tools/setup_peers.sh            PEERS_PYTHON=python3.11 (default: python3.11, else python3)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=build/peers-venv
REQ=tools/peers/requirements.txt
TORCH=torch==2.13.0
TL3=(transformer-lens==3.9.0 better-abc==0.0.3)   # installed --no-deps: the rest is in $REQ
# Each transformers release with the hub client and tokenizers it accepts (the rest is the venv's).
TF=("4.48.3 huggingface-hub==0.36.0 tokenizers==0.21.4"
    "4.57.6 huggingface-hub==0.36.0 tokenizers==0.22.1"
    "5.0.0 huggingface-hub==1.3.0 tokenizers==0.22.1 typer-slim==0.21.1")

stamp_text() { printf '%s\n%s\n' "$TORCH ${TL3[*]} ${TF[*]}" "$(sha256sum "$REQ" | cut -d' ' -f1)"; }

have_all() {
  local spec
  [ -x "$VENV/bin/python" ] && [ -d "$VENV/tl3/transformer_lens" ] || return 1
  for spec in "${TF[@]}"; do [ -d "$VENV/tf-${spec%% *}/transformers" ] || return 1; done
  [ -f "$VENV/.peers-stamp" ] && [ "$(cat "$VENV/.peers-stamp")" = "$(stamp_text)" ]
}
have_all && exit 0

if [ ! -x "$VENV/bin/python" ]; then
  PY=${PEERS_PYTHON:-$(command -v python3.11 || command -v python3)}
  ver=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  [ "$ver" = 3.11 ] || echo "setup_peers: warning: $PY is Python $ver; the pins were made on 3.11" >&2
  echo "setup_peers: creating $VENV with $PY"
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check -q)
echo "setup_peers: $TORCH first, then $REQ"
"${PIP[@]}" "$TORCH"
"${PIP[@]}" -r "$REQ"
echo "setup_peers: TransformerLens 3.9 into $VENV/tl3 (the page's HookedTransformer code)"
"${PIP[@]}" --no-deps --upgrade --target "$VENV/tl3" "${TL3[@]}"
for spec in "${TF[@]}"; do
  set -- $spec
  v=$1; shift
  echo "setup_peers: transformers $v into $VENV/tf-$v (the tuple explorer's claims)"
  "${PIP[@]}" --no-deps --upgrade --target "$VENV/tf-$v" "transformers==$v" "$@"
done
stamp_text > "$VENV/.peers-stamp"
echo "setup_peers: done"
