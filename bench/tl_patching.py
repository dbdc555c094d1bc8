"""TransformerLens as the speed peer (issue #27): TransformerLens 3.9's own patching sweep
(transformer_lens.patching.get_act_patch_resid_pre: one full forward per patch, as users run it)
on CPU at 1 and 2 threads, beside ours (lab.patch in wasm, `build/hooklab patch` native), on the
same weights and the IOI pair, resid_pre by position. Engines alternate in rounds, each run in
its own process pinned with taskset (t threads on t CPUs); TL gets torch.set_num_threads(t), ours
its threads option. Each time is the sweep without loading the model (TL: the clean
run_with_cache, the corrupted forward and the sweep; ours: lab.patch / the CLI's own "ms").
Checks that the sweeps agree (largest |logit diff| difference).

    build/peers-venv/bin/python bench/tl_patching.py [--model DIR] [--rounds N]
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLEAN = "When Mary and John went to the store, John gave a drink to"
CORRUPTED = "When Mary and John went to the store, Mary gave a drink to"
ANSWER, WRONG = " Mary", " John"
NCPU = os.cpu_count() or 1


def cpus(t):  # the last t CPUs, as bench.mjs pins (1 thread: the last CPU)
    return ",".join(str(c) for c in range(max(0, NCPU - t), NCPU))


def pinned(argv, t):
    return ["taskset", "-c", cpus(t), *argv]


def tl_child(model_dir, threads, pair):
    """One TL sweep in this process (run under taskset by the parent)."""
    sys.path.insert(0, str(ROOT / "build" / "peers-venv" / "tl3"))  # TransformerLens 3.9
    import torch
    from transformers import GPT2LMHeadModel
    from transformer_lens import HookedTransformer, HookedTransformerConfig, patching
    from transformer_lens.loading_from_pretrained import convert_gpt2_weights
    torch.set_num_threads(threads)
    torch.set_grad_enabled(False)
    hf = GPT2LMHeadModel.from_pretrained(model_dir).float().eval()
    c = hf.config
    cfg = HookedTransformerConfig(
        n_layers=c.n_layer, d_model=c.n_embd, n_heads=c.n_head, d_head=c.n_embd // c.n_head,
        d_mlp=c.n_inner or 4 * c.n_embd, n_ctx=c.n_positions, d_vocab=c.vocab_size,
        act_fn=c.activation_function, eps=c.layer_norm_epsilon, normalization_type="LN",
        original_architecture="GPT2LMHeadModel")
    model = HookedTransformer(cfg)
    # The engine's weights as they are (no LayerNorm folding, no centring).
    model.load_and_process_state_dict(convert_gpt2_weights(hf, model.cfg), fold_ln=False,
                                      center_writing_weights=False, center_unembed=False)
    model.eval()
    del hf
    ct, kt = torch.tensor([pair["clean_tokens"]]), torch.tensor([pair["corrupted_tokens"]])
    a, w = pair["answer_id"], pair["wrong_id"]
    metric = lambda logits: logits[0, -1, a] - logits[0, -1, w]  # noqa: E731
    model(kt)  # warm-up
    t0 = time.perf_counter()
    _, clean_cache = model.run_with_cache(ct)
    model(kt)  # the corrupted baseline, as a user's metric needs it
    res = patching.get_act_patch_resid_pre(model, kt, clean_cache, metric)
    ms = (time.perf_counter() - t0) * 1e3
    print(json.dumps({"ms": ms, "logit_diff": res.double().tolist(), "torch": torch.__version__,
                      "threads": torch.get_num_threads()}))


def run_json(argv, env=None):
    r = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env)
    if r.returncode != 0:
        sys.exit("%s failed: %s" % (argv[:4], r.stderr[-2000:]))
    return json.loads(r.stdout.strip().splitlines()[-1])


def native(model, t):
    return run_json(pinned([str(ROOT / "build/hooklab"), "patch", "--model", model, "--clean", CLEAN,
                            "--corrupted", CORRUPTED, "--answer", ANSWER, "--wrong", WRONG, "--hook",
                            "resid_pre", "--threads", str(t)], t))


def wasm(model, t):
    pair = {"clean": CLEAN, "corrupted": CORRUPTED, "answer": ANSWER, "wrong": WRONG, "hook": "resid_pre"}
    env = dict(os.environ, NODE_PATH=os.environ.get("NODE_PATH", "/usr/share/nodejs"))
    r = run_json(pinned(["node", str(ROOT / "bench/bench.mjs"), "--child", "patch", "--model", model,
                         "--pair", json.dumps(pair), "--threads", str(t)], t), env)
    return {"ms": r["wall_ms"], "logit_diff": r["logit_diff"], "forwards": r["forwards"]}


def tl(model, t, pair):
    env = dict(os.environ, OMP_NUM_THREADS=str(t), MKL_NUM_THREADS=str(t), TQDM_DISABLE="1")
    return run_json(pinned([sys.executable, __file__, "--tl-child", str(t), "--model", model,
                            "--pair", json.dumps(pair)], t), env)


def maxdiff(x, y):
    return max(abs(p - q) for rx, ry in zip(x, y) for p, q in zip(rx, ry))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "build/ckpt/gpt2_small_shape"))
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_TL_ROUNDS", 2)))
    ap.add_argument("--tl-child", type=int)
    ap.add_argument("--pair")
    a = ap.parse_args()
    if a.tl_child:
        return tl_child(a.model, a.tl_child, json.loads(a.pair))
    ref = native(a.model, 1)  # tokens and ids, as the engine has them
    pair = {k: ref[k] for k in ("clean_tokens", "corrupted_tokens", "answer_id", "wrong_id")}
    threads = [t for t in (1, 2) if t <= NCPU]
    best = {(e, t): float("inf") for e in ("tl", "wasm", "native") for t in threads}
    diff = {}
    for rnd in range(a.rounds):
        for t in threads:
            for e, f in (("tl", lambda: tl(a.model, t, pair)), ("wasm", lambda: wasm(a.model, t)),
                         ("native", lambda: native(a.model, t))):
                r = f()
                best[e, t] = min(best[e, t], r["ms"])
                diff[e] = max(diff.get(e, 0.0), maxdiff(r["logit_diff"], ref["logit_diff"]))
                if e == "tl":
                    torch_v = r["torch"]
                print("round %d, %d thread(s): %-6s %8.2f s" % (rnd + 1, t, e, r["ms"] / 1e3), flush=True)
    L, T = len(ref["logit_diff"]), len(ref["clean_tokens"])
    print("\nresid_pre patching sweep, %d blocks x %d positions (IOI pair), best of %d rounds, "
          "pinned: 1 thread CPU %s, 2 threads CPUs %s; TransformerLens 3.9 on torch %s"
          % (L, T, a.rounds, cpus(1), cpus(2), torch_v))
    print("| s, best | TransformerLens (%d full forwards) | wasm `lab.patch` | native `hooklab patch` | TL / wasm | TL / native |"
          % (L * T + 2))
    print("|---|---|---|---|---|---|")
    for t in threads:
        x, w, n = best["tl", t], best["wasm", t], best["native", t]
        print("| %d thread%s | %.2f | %.2f | %.2f | **%.1fx** | **%.1fx** |"
              % (t, "s" if t > 1 else "", x / 1e3, w / 1e3, n / 1e3, x / w, x / n))
    print("largest |logit diff| difference from the native sweep (1 thread): TL %.1e, wasm %.1e, native %.1e"
          % (diff["tl"], diff["wasm"], diff["native"]))
    if diff["tl"] > 1e-3 or diff["wasm"] > 1e-3:
        sys.exit("the sweeps disagree by more than 1e-3")


if __name__ == "__main__":
    main()
