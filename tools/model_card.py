#!/usr/bin/python3
"""Renders the default model's MODEL_CARD.md from tools/templates/MODEL_CARD.md.in and the facts
committed beside the model:

  config.json     shape, name, steps and tokens seen (written by tools/train_default.py's export)
  training.json   the run: data split, hyper-parameters, timing, losses, greedy samples and a
                  hand-written note on the run's history (written by the final export)
  exercises.md    the chapter's exercises measured in the native engine:
                  /usr/bin/python3 tools/exercise_report.py --model checkpoints/default > checkpoints/default/exercises.md

The prose lives in the template; edit it there, then re-render:

    /usr/bin/python3 tools/model_card.py [--model checkpoints/default]           # writes MODEL_CARD.md
    /usr/bin/python3 tools/model_card.py [--model checkpoints/default] --check   # exit 1 and a diff if stale
"""
import argparse
import difflib
import json
import math
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATE = os.path.join(ROOT, "tools", "templates", "MODEL_CARD.md.in")
# A model trained by tools/train_circuits.py: its own template, and circuits.json beside it
# (/usr/bin/python3 tools/circuits_report.py --model DIR).
CIRCUITS_TEMPLATE = os.path.join(ROOT, "tools", "templates", "MODEL_CARD_circuits.md.in")
DEFAULT_MODEL = os.path.join(ROOT, "checkpoints", "default")


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise SystemExit(f"model_card: {path} is missing (see tools/model_card.py's docstring for who writes it)")


def card_fields(model_dir):
    """The template's fields, from the files beside the model."""
    cfg = _read_json(os.path.join(model_dir, "config.json"))
    meta = cfg.get("hooklab")
    if not meta:
        raise SystemExit(f"model_card: {model_dir}/config.json has no \"hooklab\" field: not a model this project trained")
    if meta.get("interim", True):
        raise SystemExit(f"model_card: {model_dir} holds an interim export; render the card after the final one")
    rec = _read_json(os.path.join(model_dir, "training.json"))
    try:
        with open(os.path.join(model_dir, "exercises.md"), encoding="utf-8") as f:
            exercises = f.read()
    except FileNotFoundError:
        raise SystemExit(f"model_card: {model_dir}/exercises.md is missing; write it with tools/exercise_report.py")
    L, H, C, P, V = (cfg[k] for k in ("n_layer", "n_head", "n_embd", "n_positions", "vocab_size"))
    d_head = C // H
    n_block = 12 * C * C + 13 * C  # c_attn 3C^2+3C, c_proj C^2+C, c_fc 4C^2+4C, mlp c_proj 4C^2+C, 2 LayerNorms 4C
    data, args, tail = rec["data"], rec["args"], rec["train_loss_tail"]
    return {
        "name": meta["name"],
        "n_layer": L, "n_head": H, "n_embd": C, "d_head": d_head, "mlp_width": 4 * C, "qkv_width": 3 * C,
        "n_positions": P, "vocab_size": V,
        "n_wte": V * C, "n_wpe": P * C, "n_block": n_block, "n_ln_f": 2 * C,
        "n_params": V * C + P * C + L * n_block + 2 * C,
        "k2_start": C + 2 * d_head, "k2_end": C + 3 * d_head, "last_even_neuron": 4 * C - 2,
        "n_files": data["n_files"], "n_words": data["n_words"], "n_val_files": len(data["val_files"]),
        "val_files": ", ".join(data["val_files"]), "n_val_tokens": data["n_val_tokens"],
        "n_train_files": data["n_train_files"], "n_train_tokens": data["n_train_tokens"],
        "seed": args["seed"], "wd": args["wd"], "lr": args["lr"], "warmup": args["warmup"], "batch": args["batch"],
        "tokens_per_step": args["batch"] * P, "step": meta["step"], "total_steps": meta["total_steps"],
        "tokens_seen": meta["tokens_seen"], "epochs": meta["tokens_seen"] / data["n_train_tokens"],
        "wall_minutes": rec["wall_minutes"], "tokens_per_s": rec["tokens_per_s"], "run_note": rec["run_note"],
        "final_val_loss": rec["final_val_loss"], "perplexity": math.exp(rec["final_val_loss"]),
        "tail_steps": tail["steps"], "tail_mean": tail["mean"],
        "samples": "\n".join("- " + json.dumps(s["greedy"], ensure_ascii=False) for s in rec["samples"]),
        "exercises": exercises,
    }


def _heads_table(top, chance):
    rows = ["| head | score | x chance |", "|---|---|---|"]
    rows += [f"| L{L}H{h} (block {L}, head {h}) | {v:.3f} | {v / chance:.1f} |" for L, h, v in top]
    return "\n".join(rows)


ABLATED = {"top induction head": "the top induction head", "induction heads": "every induction head",
           "previous-token heads": "every previous-token head",
           "control": "control: the other heads of the induction heads' blocks"}


def _heads_list(heads):
    return ", ".join(f"L{L}H{h}" for L, h in heads)


def circuits_fields(model_dir):
    """The circuits template's fields: config.json, training.json (train_circuits.py's final export)
    and circuits.json (circuits_report.py)."""
    cfg = _read_json(os.path.join(model_dir, "config.json"))
    meta = cfg["hooklab"]
    if meta.get("interim", True):
        raise SystemExit(f"model_card: {model_dir} holds an interim export; render the card after the final one")
    rec = _read_json(os.path.join(model_dir, "training.json"))
    circ = _read_json(os.path.join(model_dir, "circuits.json"))
    L, H, C, P, V = (cfg[k] for k in ("n_layer", "n_head", "n_embd", "n_positions", "vocab_size"))
    n_block = 12 * C * C + 13 * C
    args, loss = rec["args"], circ["loss"]
    return {
        "name": meta["name"], "n_layer": L, "n_head": H, "n_embd": C, "d_head": C // H, "mlp_width": 4 * C,
        "n_positions": P, "vocab_size": V, "n_params": V * C + P * C + L * n_block + 2 * C,
        "eot_id": rec["data"]["eot_id"], "tokens_seen": meta["tokens_seen"], "step": meta["step"],
        "p_random": args["p_random"], "p_echo": args["p_echo"], "seed": args["seed"], "wd": args["wd"],
        "training_section": _training_section(L, meta, rec),
        "R": circ["induction"]["R"], "ind_chance": circ["induction"]["chance"],
        "prev_chance": circ["previous_token"]["chance"],
        "induction_table": _heads_table(circ["induction"]["top"], circ["induction"]["chance"]),
        "previous_table": _heads_table(circ["previous_token"]["top"], circ["previous_token"]["chance"]),
        "loss_seqs": loss["sequences"], "first_half": loss["first_half"], "repeated_half": loss["repeated_half"],
        "threshold": circ["threshold"],
        "ablation_rows": "\n".join(
            f"| {ABLATED[a['ablated']]} ablated ({_heads_list(a['heads'])}) | {a['first_half']} nats | "
            + (f"**{a['repeated_half']} nats** |" if a["ablated"] != "control" else f"{a['repeated_half']} nats |")
            for a in loss["ablations"]),
        "single_range": "%.2f-%.2f" % (min(min(r) for r in loss["single"]), max(max(r) for r in loss["single"])),
        "uniform_loss": math.log(V),
        "purpose": "for the induction lesson" if L < 12 else
                   "as the page's embedded default: the chapter's 12 blocks and 12 heads, with induction heads to find",
        "cannot": _cannot(L, rec),
        "chapter_sections": _chapter_sections(model_dir),
    }


def _training_section(L, meta, rec):
    """How the weights came to be. A run whose first probe already finds induction heads started
    from a model that had them (grown, --init grow:DIR): its card tells the growth and the run
    that kept the heads, not a phase change it never saw."""
    args, pr = rec["args"], rec["probes"]
    lr = (f"learning rate {args['lr']} after {args['warmup']} warmup steps"
          + (f", decayed linearly to {args['lr_end']} over {args['decay_steps']:,} steps" if args.get("decay_steps") else
             ", then constant"))
    run = (f"- AdamW (betas 0.9/0.95, weight decay {args['wd']}), grad clip 1.0; **{meta['tokens_seen']:,} tokens seen** "
           f"in {meta['step']:,} steps; {rec['train_seconds'] / 60:.0f} minutes of one CPU thread "
           f"({rec['tokens_per_s']:,} tokens/s).\n"
           f"- Last arguments: {lr}, batch {args['batch']} windows of {args['n_positions']} tokens. {rec.get('run_note', '')}")
    first = pr[0]["induction"][2]
    if first >= 0.3:
        ind = [p["induction"][2] for p in pr]
        rep = [p["rep_loss"] for p in pr]
        return (f"{run}\n- Reproduce: `build/peers-venv/bin/python tools/brown_bpe.py`, then `tools/train_circuits.py "
                f"--data build/train-bpe4096 --init grow:checkpoints/induction --n-layer {L} ...` (its docstring has the "
                f"commands and arguments); continue on another machine from the committed weights with `--init DIR`.\n\n"
                f"The induction heads came with the grown-from model, which formed them in a phase change (its card, "
                f"`checkpoints/induction/MODEL_CARD.md`): at this run's first probe the best induction score was "
                f"already {first}. Probes along the run (`training.json`, {len(pr)} of them): the best induction score "
                f"stayed between {min(ind)} and {max(ind)}, the loss on the repeated half between {min(rep)} and "
                f"{max(rep)} nats, while the probes' held-out Brown loss (a sample of the held-out files) fell from {pr[0]['val_loss']} to {pr[-1]['val_loss']} "
                f"nats per token and the best previous-token score on English rose from {pr[0]['previous'][2]} to "
                f"{pr[-1]['previous'][2]}.")
    # The phase change: the first probe interval where the best induction score crossed 0.3.
    jump = next((i for i in range(1, len(pr)) if pr[i]["induction"][2] >= 0.3 > pr[i - 1]["induction"][2]), len(pr) - 1)
    return (f"- From this project's GPT-2 initialisation (seed {args['seed']}). {run.lstrip('- ')}\n"
            f"- Reproduce: `build/peers-venv/bin/python tools/brown_bpe.py`, then `tools/train_circuits.py --data "
            f"build/train-bpe4096 --init scratch --n-layer {L} ...` (its docstring has the commands); continue on "
            f"another machine from the committed weights with `--init DIR`.\n\n"
            f"Probes along the run (`training.json`): the induction score jumped from {pr[jump - 1]['induction'][2]} to "
            f"{pr[jump]['induction'][2]} between {pr[jump - 1]['tokens']:,} and {pr[jump]['tokens']:,} tokens, the phase "
            f"change of Olsson et al. (2022), in the same interval as the loss on the repeated half fell from "
            f"{pr[jump - 1]['rep_loss']} to {pr[jump]['rep_loss']} nats.")


# The embedded default before this trainer's models: HookLab-Brown 12x192 (train_default.py),
# 6.2156 nats per GPT-2 token on the same held-out files, 64,654 tokens for 300,203 UTF-8 bytes.
PREVIOUS_DEFAULT_BITS_PER_BYTE = 1.931


def _cannot(L, rec):
    out = [f"- Fluent English: its held-out Brown loss is {rec['final_val_loss']:.3f} nats per token = "
           f"**{rec['val_bits_per_byte']:.3f} bits per UTF-8 byte** (HookLab-Brown 12×192, the project's first "
           f"default: {PREVIOUS_DEFAULT_BITS_PER_BYTE}). Bits per byte compare across vocabularies; a loss per "
           f"token does not."]
    if L < 12:
        out.append(f"- The chapter's exercises at their indices: it has blocks 0-{L - 1} only. Use the embedded "
                   "default for the chapter.")
    out.append("- GPT-2 small's circuits: its heads are its own (GPT-2 small's induction heads are L5H1, L5H5, "
               "L6H9, L7H2, L7H10 in the literature). Load GPT-2 small for those.")
    return "\n".join(out)


def _chapter_sections(model_dir):
    """The chapter's exercises and the Patching view's pair, measured (tools/exercise_report.py),
    when those files are beside the model."""
    out = []
    for name, title, cmd in (("exercises.md", "What the chapter's exercises do on this model", ""),
                             ("patching.md", "Activation patching on this model", " --patching")):
        path = os.path.join(model_dir, name)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                out.append(f"\n## {title}\n\nMeasured with the native engine (`/usr/bin/python3 "
                           f"tools/exercise_report.py --model DIR{cmd} > DIR/{name}`); this model's numbers, not "
                           f"GPT-2 small's.\n\n{f.read().strip()}\n")
    return "".join(out)


def render(model_dir=DEFAULT_MODEL, template=None):
    trained_by = _read_json(os.path.join(model_dir, "config.json")).get("hooklab", {}).get("trained_by", "")
    circuits = trained_by == "tools/train_circuits.py"
    with open(template or (CIRCUITS_TEMPLATE if circuits else TEMPLATE), encoding="utf-8") as f:
        return f.read().format_map(circuits_fields(model_dir) if circuits else card_fields(model_dir))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--check", action="store_true", help="compare with the committed MODEL_CARD.md instead of writing")
    args = ap.parse_args()
    text = render(args.model)
    path = os.path.join(args.model, "MODEL_CARD.md")
    if args.check:
        with open(path, encoding="utf-8", newline="") as f:
            old = f.read()
        if old != text:
            sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), text.splitlines(True),
                                                       path, "rendered"))
            raise SystemExit(f"model_card: {path} differs from what the template renders")
        print(f"{path} is up to date")
        return
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
