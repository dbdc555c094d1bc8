"""The peers suite (docs/peers.md): run with build/peers-venv/bin/python -m pytest -q tests/peers."""
import os

import pytest

import peerlib

# One thread (PEERS_THREADS to change it), whatever OMP_NUM_THREADS the caller exported
# (tools/test.sh exports 2): the test models are 32 to 96 wide, too small for threads to help,
# and on a busy 2-core machine torch's spinning threads made the suite ten times slower.
os.environ["OMP_NUM_THREADS"] = os.environ.get("PEERS_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pytest_configure(config):
    if not peerlib.HOOKLAB.exists():
        raise pytest.UsageError("build/hooklab is missing: build the engine first (bash tools/build.sh native)")


@pytest.fixture(scope="session")
def shown(tmp_path_factory):
    """Every program of tests/peers/emit_code.mjs, run once (HF, TL and nnsight tabs, Patching
    view): {(state name, "hf" | "tl" | "nn"): {"stdout", "error", "values"}}. PEERS_LANGS=nn (a
    comma-separated list) runs only those libraries' programs."""
    jobs = []
    for name, s in peerlib.emitted().items():
        if s.get("skip"):
            continue
        for lang in os.environ.get("PEERS_LANGS", "hf,tl,nn").split(","):
            if lang in s:
                jobs.append(((name, lang), s[lang], peerlib.ckpt(s["ckpt"])))
    return peerlib.run_programs(jobs, tmp_path_factory.mktemp("shown"))


def pytest_terminal_summary(terminalreporter):
    if not peerlib.REPORT:
        return
    tr = terminalreporter
    tr.section("peers: worst deviation of each check, as a fraction of its derived tolerance")
    for what, worst, where, nbad in peerlib.REPORT:
        tr.line("%-58s %8.3g  %s%s" % (what, worst, where, "  (%d beyond)" % nbad if nbad else ""))
