"""Runs programs the page shows, unchanged, one after another in this process, and keeps what
each printed and the values it computed (tests/peers, docs/peers.md).

    python tests/peers/run_shown.py JOBS.json

JOBS.json: [{"code": PATH, "out": PATH}, ...]. Each program runs as a script (runpy, as
__main__) with its stdout captured; then {"stdout", "error", "values"} is written to its "out",
"values" being the globals the page's programs compute their printed numbers from (baseline,
intervened, result, clean_ld, corrupted_ld, parts, per_head, ln_bias, unembed_bias) as plain lists and numbers,
and the dtype of the model's parameters ("dtype").
One process for all of them saves importing torch and transformers once per program; the
programs share nothing (each loads its own model, removes its hooks, seeds its own noise).
"""
import contextlib
import io
import json
import runpy
import sys
import traceback

import torch

KEEP = ("baseline", "intervened", "result", "clean_ld", "corrupted_ld", "parts", "per_head", "ln_bias", "unembed_bias", "x_grad")


def plain(x):
    if isinstance(x, torch.Tensor):
        return x.detach().double().tolist()
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, (int, float, str)) or x is None:
        return x
    return repr(x)


def main(jobs_path):
    for job in json.load(open(jobs_path)):
        buf, err, values = io.StringIO(), None, {}
        # As a fresh interpreter starts: an earlier program may have turned autograd off
        # (torch.set_grad_enabled(False) in the Patching view's code), and the gradient programs need it.
        torch.set_grad_enabled(True)
        try:
            with contextlib.redirect_stdout(buf):
                g = runpy.run_path(job["code"], run_name="__main__")
            values = {k: plain(g[k]) for k in KEEP if k in g}
            model = g.get("model")
            # nnsight's model is an Envoy around the torch module (its _module)
            model = model if isinstance(model, torch.nn.Module) else getattr(model, "_module", None)
            if isinstance(model, torch.nn.Module):  # the dtype it computed in
                values["dtype"] = str(next(model.parameters()).dtype)
        except BaseException:  # noqa: BLE001 - the program's failure is the finding
            err = traceback.format_exc()
        with open(job["out"], "w") as f:
            json.dump({"stdout": buf.getvalue(), "error": err, "values": values}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
