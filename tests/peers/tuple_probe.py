"""The tuple explorer's text (web/src/codegen.js tupleText) run in the installed transformers:
its code, then each of its claims about `output` (what a forward hook on a block receives inside
model(**inputs)) checked against what the hook really received.

    python tests/peers/tuple_probe.py JOBS.json   → a JSON list on stdout, one result a job

JOBS: [{"folder", "prompt", "text", "section"}, ...]: the model is loaded as the page's HF code does
(GPT2LMHeadModel.from_pretrained(MODEL), the tokenizer from the same folder, inputs = tok(prompt));
then the text's code lines run as shown; `section` (0, 1, ...) picks the block of claims, the
text's paragraphs after the code, that should hold for this release. Run with a transformers
overlay first on PYTHONPATH (build/peers-venv/tf-<version>, tools/setup_peers.sh) to ask
another release. Each result: {"version", "printed", "claims": [{"line", "ok", "got"}]}.
"""
import contextlib
import io
import json
import re
import sys
import warnings

import torch
import transformers
from transformers import GPT2LMHeadModel, GPT2TokenizerFast

warnings.filterwarnings("ignore")
transformers.logging.set_verbosity_error()

SIZE = r"torch\.Size\(\[[\d, ]*\]\)"


def size(text):
    return torch.Size(json.loads(re.search(r"\[[\d, ]*\]", text).group(0)))


def shape_of(x):
    return list(x.shape) if isinstance(x, torch.Tensor) else repr(type(x).__name__ if x is not None else None)


def check(line, output, out):
    """(ok, what was found) for one claim line of the text."""
    m = re.search(r"len\(output\) == (\d+)", line)
    if m:
        got = len(output) if isinstance(output, tuple) else "not a tuple: %s" % type(output).__name__
        return got == int(m.group(1)), got
    m = re.match(r"^type\(output\)\s+# torch\.Tensor, (%s)" % SIZE, line)
    if m:
        return isinstance(output, torch.Tensor) and output.shape == size(m.group(1)), shape_of(output)
    m = re.match(r"^(output\[\d+\])\s+# present = \(key, value\), each (%s)" % SIZE, line)
    if m:
        x = eval(m.group(1), {"output": output})  # noqa: S307 - the page's own expression
        ok = isinstance(x, tuple) and len(x) == 2 and all(isinstance(t, torch.Tensor) and t.shape == size(m.group(2)) for t in x)
        return ok, [shape_of(t) for t in x] if isinstance(x, tuple) else shape_of(x)
    m = re.match(r"^(output\[\d+\]\.shape)\s+# (%s)" % SIZE, line)
    if m:
        try:
            x = eval(m.group(1), {"output": output})  # noqa: S307
        except Exception as e:  # noqa: BLE001 - the claim fails as the learner would see it
            return False, "%s: %s" % (type(e).__name__, e)
        return x == size(m.group(2)), list(x)
    m = re.search(r"(out\.attentions\[\d+\]\.shape) == (%s)" % SIZE, line)
    if m:
        try:
            x = eval(m.group(1), {"out": out})  # noqa: S307
        except Exception as e:  # noqa: BLE001
            return False, "%s: %s" % (type(e).__name__, e)
        return x == size(m.group(2)), list(x)
    return None, None  # not a claim


def main(job):
    folder, text = job["folder"], job["text"]
    paragraphs = text.split("\n\n")
    code = "\n".join(l for l in paragraphs[0].splitlines() if not l.startswith("#"))
    g = {"MODEL": folder, "torch": torch, "GPT2LMHeadModel": GPT2LMHeadModel}
    g["model"] = GPT2LMHeadModel.from_pretrained(folder).eval()
    g["inputs"] = GPT2TokenizerFast.from_pretrained(folder)(job["prompt"], return_tensors="pt")
    m = re.search(r"model\.transformer\.h\[(\d+)\]", code)
    seen = []
    buf = io.StringIO()
    with torch.no_grad(), contextlib.redirect_stdout(buf):
        exec(compile(code + "\n", "tuple_text", "exec"), g)  # noqa: S102
    # The text's hook `show` only prints; run it again with one that keeps `output` too.
    g["handle"].remove()
    h = g["model"].transformer.h[int(m.group(1))].register_forward_hook(lambda mod, i, o: seen.append(o))
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
        last = [l for l in code.splitlines() if l.startswith("out = ")][0]
        exec(last, g)  # noqa: S102
    h.remove()
    output, out = seen[0], g["out"]
    claims = []
    for line in paragraphs[1 + job["section"]].splitlines():
        ok, got = check(line, output, out)
        if ok is not None:
            claims.append({"line": line, "ok": bool(ok), "got": got})
    return {"version": transformers.__version__, "printed": buf.getvalue(), "claims": claims}


if __name__ == "__main__":
    print(json.dumps([main(job) for job in json.load(open(sys.argv[1]))]))
