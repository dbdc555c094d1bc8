"""Helpers of the peers suite (docs/peers.md): the engine's CLI, the page's code, the tolerances.

Every comparison of the engine with a peer (HuggingFace transformers, TransformerLens) is a
comparison of two float32 implementations that sum in other orders, so it uses the tolerance
derived from the arithmetic (tools/golden_compare.py, imported from the repository): a golden's
own "tolerance" record where there is a golden, else derive(model, n_tokens, score_scale,
logit_scale) with the scales of the engine's own runs (as tests/tolerance.mjs does), and
golden_compare's per-quantity rules (differences / max_deviation).
"""
import functools
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HOOKLAB = REPO / "build" / "hooklab"
CKPT = REPO / "build" / "ckpt"
TL3 = REPO / "build" / "peers-venv" / "tl3"  # TransformerLens 3.9 (tools/setup_peers.sh)
GOLDEN = REPO / "tests" / "golden"

sys.path.insert(0, str(REPO / "tools"))
import golden_compare as gc  # noqa: E402


def ckpt(name):
    """The folder of a test checkpoint (made by the native tests; made here when missing), or
    of the embedded model ("default": checkpoints/default)."""
    if name == "default":
        return REPO / "checkpoints" / "default"
    d = CKPT / name
    if not (d / "model.safetensors").exists():
        import make_goldens  # the checkpoints' one generator (numpy draws, stamped)
        make_goldens.ensure_checkpoint(name, str(d))
    return d


def golden(name):
    return json.loads((GOLDEN / ("%s.json" % name)).read_text())


# ------------------------------------------------------------------ the engine (native CLI)

@functools.lru_cache(maxsize=None)
def _engine(args):
    r = subprocess.run([str(HOOKLAB), *args], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError("hooklab %s failed: %s" % (" ".join(args[:1]), r.stderr.strip()))
    return json.loads(r.stdout)


def _ivs(interventions):
    return [a for iv in interventions for a in ("--intervene", json.dumps(iv))]


def _process(process):
    """--process LIST for a page state's weight processing ("tl": TransformerLens's from_pretrained's four)."""
    return ["--process", process] if process and process != "none" else []


def engine_run(name, prompt, interventions=(), captures=(), topk=20, process=None):
    args = ["run", "--model", str(ckpt(name)), "--prompt", prompt, "--logits", "--topk", str(topk), "--threads", "1"]
    args += _ivs(interventions) + [a for c in captures for a in ("--capture", c)] + _process(process)
    return _engine(tuple(args))


def engine_patch(name, clean, corrupted, answer, wrong, hook, interventions=(), method="exact", process=None):
    args = ["patch", "--model", str(ckpt(name)), "--clean", clean, "--corrupted", corrupted, "--answer", answer,
            "--wrong", wrong, "--hook", hook, "--method", method, "--threads", "1"] + _ivs(interventions) + _process(process)
    return _engine(tuple(args))


def engine_gradients(name, prompt, answer, wrong, hooks, interventions=()):
    args = ["gradients", "--model", str(ckpt(name)), "--prompt", prompt, "--answer", answer, "--wrong", wrong,
            "--threads", "1"] + [a for h in hooks for a in ("--hook", h)] + _ivs(interventions)
    return _engine(tuple(args))


# The hook whose activations a patching family reads, per block (web/src/codegen-gradients.js).
ATTRIBUTION_SITE = {"resid_pre": "hook_resid_pre", "attn_out": "hook_attn_out", "mlp_out": "hook_mlp_out",
                    "z": "attn.hook_z"}


def _abs_max(v):
    return max(abs(x) for x in v)


def _slice_norms(data, shape, by_head):
    """L2 norms over each slice of a [T, d] (per position) or [T, H, D] (per head) tensor."""
    out = [0.0] * (shape[1] if by_head else shape[0])
    inner = 1
    for d in shape[1:]:
        inner *= d
    for i, v in enumerate(data):
        out[(i % inner) // shape[2] if by_head else i // inner] += v * v
    return [math.sqrt(x) for x in out]


def attribution_tolerance(name, clean, corrupted, answer, wrong, hook, interventions=()):
    """tools/make_goldens.py attribution_case's record (as tests/browser/attribution.test.mjs has
    it): derive_gradient from the two runs' scales, plus estimate_abs from the engine's values at
    every block's site and the corrupted run's gradients there."""
    runs = [engine_run(name, t, interventions) for t in (clean, corrupted)]
    n_layer = runs[0]["model"]["n_layer"]
    names = ["blocks.%d.%s" % (l, ATTRIBUTION_SITE[hook]) for l in range(n_layer)]
    c, k = (engine_run(name, t, interventions, captures=names)["captures"] for t in (clean, corrupted))
    g = engine_gradients(name, corrupted, answer, wrong, names, interventions)["gradients"]
    S = L = 0.0
    for r in runs:
        s, l = gc.scales_of(r["stats"])
        S, L = max(S, s), max(L, l)
    rec = gc.derive_gradient(runs[0]["model"], len(runs[0]["tokens"]), S, L)
    worst = 0.0
    for n in names:
        cv, kv, gv, shape = c[n]["data"], k[n]["data"], g[n]["data"], c[n]["shape"]
        act = rec["activation_rel"] * (_abs_max(cv) + _abs_max(kv))
        grad = rec["gradient_rel"] * _abs_max(gv)
        gn = _slice_norms(gv, shape, hook == "z")
        dn = _slice_norms([a - b for a, b in zip(cv, kv)], shape, hook == "z")
        worst = max([worst] + [act * a + grad * b for a, b in zip(gn, dn)])
    rec["estimate_abs"] = 2 * rec["logit_abs"] + worst
    return rec


def input_x_gradient_tolerance(name, prompt, answer, wrong, interventions=()):
    """The engine's gradient x input and its record (make_goldens.py gradient_case): derive_gradient
    from the run's scales, plus input_x_gradient_abs = gradient_rel max|g| max_p ||x[p]||, x the
    embeddings' sum and g the gradient at blocks.0.hook_resid_pre."""
    run = engine_run(name, prompt, interventions, captures=("hook_embed", "hook_pos_embed"))
    g = engine_gradients(name, prompt, answer, wrong, ["blocks.0.hook_resid_pre"], interventions)
    rec = gc.derive_gradient(run["model"], len(run["tokens"]), *gc.scales_of(run["stats"]))
    e, p = run["captures"]["hook_embed"], run["captures"]["hook_pos_embed"]
    x = [a + b for a, b in zip(e["data"], p["data"])]
    d = e["shape"][-1]
    xn = max(math.sqrt(sum(v * v for v in x[i:i + d])) for i in range(0, len(x), d))
    rec["input_x_gradient_abs"] = rec["gradient_rel"] * _abs_max(g["gradients"]["blocks.0.hook_resid_pre"]["data"]) * xn
    return g, rec


def engine_attribute(name, prompt, answer, wrong, interventions=(), process=None):
    args = ["attribute", "--model", str(ckpt(name)), "--prompt", prompt, "--answer", answer, "--wrong", wrong,
            "--threads", "1"] + _ivs(interventions) + _process(process)
    return _engine(tuple(args))


def derived(*runs):
    """The tolerance record of comparing the engine's runs (or values computed from them) with
    another implementation: derive() from the model, the token count and the runs' largest scales."""
    S = L = 0.0
    for r in runs:
        s, l = gc.scales_of(r["stats"])
        S, L = max(S, s), max(L, l)
    return gc.derive(runs[0]["model"], len(runs[0]["tokens"]), S, L)


def kl(lp, lq):
    """KL(P || Q) in double of two logit vectors."""
    a, b = log_softmax(lp), log_softmax(lq)
    return sum(math.exp(x) * (x - y) for x, y in zip(a, b))


def log_softmax(v):
    m = max(v)
    lz = m + math.log(sum(math.exp(x - m) for x in v))
    return [x - lz for x in v]


def kl_tolerance(tp, tq, lp, lq):
    """tests/tolerance.mjs's klTolerance: the bound on |dKL| when every logit of P may be off by
    tp's logit_abs and every logit of Q by tq's."""
    LP, LQ = tp["logit_abs"], tq["logit_abs"]
    e = math.expm1(2 * LP)
    a, b = log_softmax(lp), log_softmax(lq)
    spread = sum(math.exp(x) * abs(x - y) for x, y in zip(a, b))
    tv = sum(abs(math.exp(x) - math.exp(y)) for x, y in zip(a, b))
    return e * spread + LQ * (tv + e) + (LP * LP + LQ * LQ) / 2


# ------------------------------------------------------------------ comparisons

REPORT = []  # (test, what, worst deviation as a fraction of its tolerance, where): the summary


class Check:
    """Collects comparisons; .done() fails with the first disagreements, numbers included."""

    def __init__(self, what):
        self.what, self.bad, self.worst = what, [], (0.0, "-")

    def near(self, path, got, want, tol, slack=0.0):
        """|got - want| <= tol + slack, slack being what printing rounded away (half a unit of the
        last printed digit); the deviation reported is the part beyond the slack, over tol."""
        d = max(0.0, abs(got - want) - slack) if not (math.isnan(got) or math.isnan(want)) else math.nan
        dev = d / tol if tol > 0 else (0.0 if d == 0 else math.inf)
        if not (dev <= 1.0):  # NaN fails too
            self.bad.append("%s: peer %r vs engine %r (|diff| %.3g, %.3g times its tolerance %.3g%s)"
                            % (path, got, want, abs(got - want), dev, tol, " + %.1g printed" % slack if slack else ""))
        if dev > self.worst[0] or math.isnan(dev):
            self.worst = (dev, path)

    def equal(self, path, got, want):
        if got != want:
            self.bad.append("%s: peer %r vs engine %r" % (path, got, want))

    def golden(self, path, old, new):
        """golden_compare's rules: `old` carries the "tolerance" record, `new` the same keys."""
        for line in gc.differences(old, new, limit=8):
            self.bad.append("%s %s" % (path, line))
        d, where = gc.max_deviation(old, new)
        if d > self.worst[0]:
            self.worst = (d, "%s %s" % (path, where))

    def done(self):
        REPORT.append((self.what, self.worst[0], self.worst[1], len(self.bad)))
        if self.bad:
            raise AssertionError("%s: %d disagreements beyond the derived tolerance:\n  %s"
                                 % (self.what, len(self.bad), "\n  ".join(self.bad[:12])))


# ------------------------------------------------------------------ the page's code

@functools.lru_cache(maxsize=None)
def emitted():
    """tests/peers/emit_code.mjs's states, by name."""
    r = subprocess.run(["node", str(REPO / "tests/peers/emit_code.mjs")], capture_output=True, text=True,
                       cwd=REPO, timeout=300)
    if r.returncode != 0:
        raise RuntimeError("emit_code.mjs failed: %s" % r.stderr)
    return {s["name"]: s for s in json.loads(r.stdout)["states"]}


MODEL_LINE = re.compile(r"^MODEL = .*$", re.M)


def local_code(code, folder):
    """The page's program with only where its weights come from changed: its one `MODEL = ...`
    line (a hub id, or the folder the served page's files are downloaded into) set to a local
    checkpoint folder, as the program's own comment says a clone of the repository does."""
    lines = MODEL_LINE.findall(code)
    if len(lines) != 1:
        raise AssertionError("the program should name its model on one `MODEL = ...` line, found %r" % lines)
    return MODEL_LINE.sub(lambda m: "MODEL = %s" % json.dumps(str(folder)), code)


def run_programs(jobs, workdir):
    """Runs [(key, code, checkpoint)] with tests/peers/run_shown.py in one process of this
    Python, TransformerLens 3.9 first on the path (the page's code uses HookedTransformer);
    returns {key: {"stdout", "error", "values"}}."""
    workdir = Path(workdir)
    spec = []
    for i, (key, code, folder) in enumerate(jobs):
        src, out = workdir / ("prog_%02d.py" % i), workdir / ("prog_%02d.json" % i)
        src.write_text(local_code(code, folder))
        spec.append({"key": key, "code": str(src), "out": str(out)})
    (workdir / "jobs.json").write_text(json.dumps(spec))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TL3)] + [p for p in [os.environ.get("PYTHONPATH")] if p]),
               OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"), TOKENIZERS_PARALLELISM="false",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONWARNINGS="ignore")
    r = subprocess.run([sys.executable, str(REPO / "tests/peers/run_shown.py"), str(workdir / "jobs.json")],
                       cwd=workdir, env=env, capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        raise RuntimeError("run_shown.py failed: %s" % r.stderr[-3000:])
    return {s["key"]: json.loads(Path(s["out"]).read_text()) for s in spec}


def printed(stdout):
    """What the code panel's programs print: the 4 std lists (baseline and intervened, before
    ln_f then HF hidden_states), the KL, and the top-k rows (token, P baseline, P intervened)."""
    lists = [json.loads(l.split(":", 1)[1]) for l in stdout.splitlines()
             if l.strip().startswith(("baseline:", "intervened:"))]
    kl_line = [l for l in stdout.splitlines() if l.startswith("KL(")]
    rows, lines = [], stdout.splitlines()
    top = [i for i, l in enumerate(lines) if "top-" in l]
    if top:
        import ast
        for l in lines[top[0] + 1:]:
            m = re.match(r"^\s*('.*'|\".*\")\s+(\S+)\s+(\S+)$", l)
            if m:
                rows.append((ast.literal_eval(m.group(1)), float(m.group(2)), float(m.group(3))))
    return {"lists": lists, "kl": float(kl_line[0].split()[-1]) if kl_line else None, "top": rows}


def check_tensor(c, name, got, want, rel):
    """One hook tensor against a peer's: same shape, the masked (future) attention scores -inf in
    both, and the worst finite element within rel times the tensor's largest |value|."""
    import torch

    c.equal("%s shape" % name, list(got.shape), list(want.shape))
    finite = torch.isfinite(want)
    if name.endswith("hook_attn_scores"):
        c.equal("%s masked" % name, bool(torch.isneginf(got[~finite]).all()), True)
    scale = want[finite].abs().max().item()
    diff = (got[finite] - want[finite]).abs()
    worst = int(diff.argmax())
    c.near("%s[%d of %d]" % (name, worst, diff.numel()), got[finite][worst].item(), want[finite][worst].item(),
           rel * scale)


def engine_hooks(run):
    """Every hook name of the engine, from a run's statistics (per block: blocks.{i}.NAME)."""
    n = run["model"]["n_layer"]
    names = []
    for k, st in run["stats"].items():
        names += ["blocks.%d.%s" % (i, k) for i in range(n)] if len(st["std"]) == n and k != "logits" and not k.startswith(
            ("hook_embed", "hook_pos_embed", "ln_final")) else [k]
    return names
