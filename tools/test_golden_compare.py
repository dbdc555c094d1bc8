"""The goldens check compares numbers within tolerances derived from the arithmetic
(tools/golden_compare.py): other CPUs' float32 results pass, stale goldens fail
(/usr/bin/python3 -m unittest tools/test_golden_compare.py)."""
import copy
import glob
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import golden_compare as gc  # noqa: E402

GOLDEN = os.path.join(os.path.dirname(HERE), "tests", "golden")


def floats(obj):
    """(container, key) of every compared float, depth first in key order (the order gc walks in)."""
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        if k == "tolerance":
            continue
        if isinstance(v, float):
            yield obj, k
        else:
            yield from floats(v)


def float_tolerances(obj):
    return [leaf.tol for leaf in gc._leaves(obj, obj) if not isinstance(leaf, tuple) and isinstance(leaf.a, float)]


def regenerate(extra_env, *args):
    """Goldens made by tools/make_goldens.py in a subprocess (another CPU setting, or a stale change),
    as {file name: parsed golden}."""
    out = tempfile.mkdtemp(prefix="hooklab-goldens-")
    env = dict(os.environ, OMP_NUM_THREADS="1", **extra_env)
    subprocess.run([sys.executable, os.path.join(HERE, "make_goldens.py"), "--reference-only", "--golden-dir", out,
                    "--ckpt-dir", os.path.join(out, "ckpt")] + list(args), env=env, check=True,
                   capture_output=True)
    got = {os.path.basename(p): json.load(open(p)) for p in glob.glob(os.path.join(out, "*__*.json"))}
    subprocess.run(["rm", "-rf", out], check=True)
    return got


class GoldenCompare(unittest.TestCase):
    def setUp(self):
        self.files = sorted(glob.glob(os.path.join(GOLDEN, "*__*.json")))
        self.assertGreater(len(self.files), 10)
        self.golden = json.load(open(os.path.join(GOLDEN, "mid__combo.json")))

    def test_every_golden_carries_its_tolerance(self):
        for path in self.files:
            d = json.load(open(path))
            records = [c["tolerance"] for c in d["cases"]] if "cases" in d else [d["tolerance"]]
            for t in records:
                self.assertGreater(t["activation_rel"], 0, path)
                self.assertLess(t["activation_rel"], 1e-2, path)  # still far below any stale change

    def test_identical(self):
        for path in self.files:
            d = json.load(open(path))
            self.assertEqual(gc.differences(d, copy.deepcopy(d)), [], path)

    def test_each_float_within_half_its_tolerance_passes_and_beyond_twice_fails(self):
        for name in ("mid__combo.json", "tiny_f16__patching.json", "heads__mid.json"):
            d = json.load(open(os.path.join(GOLDEN, name)))
            tols = float_tolerances(d)
            p = copy.deepcopy(d)
            locs = list(floats(p))
            self.assertEqual(len(tols), len(locs), name)
            self.assertGreater(len(locs), 100, name)
            for i, (c, k) in enumerate(locs):
                self.assertIsNotNone(tols[i], "%s float #%d has no tolerance" % (name, i))
                c[k] += 0.5 * tols[i] * (1 if i % 2 else -1)
            self.assertEqual(gc.differences(d, p), [], name)
            p = copy.deepcopy(d)
            for i, (c, k) in enumerate(list(floats(p))):
                if i % 37 and name == "mid__combo.json":
                    continue  # a sample of mid's ~5,000 floats
                orig = c[k]
                c[k] = orig + (2 * tols[i] or 1e-12)  # a tolerance of 0 (an exact 0.0): any change
                self.assertEqual(len(gc.differences(d, p)), 1, "%s float #%d not caught" % (name, i))
                c[k] = orig

    def test_normalized_tolerance_grows_as_the_denominator_shrinks(self):
        d = json.load(open(os.path.join(GOLDEN, "mid__patching.json")))
        case = d["patch"][0]
        D = case["clean_logit_diff"] - case["corrupted_logit_diff"]
        base = [leaf.tol for leaf in gc._leaves(d, d) if not isinstance(leaf, tuple)
                and leaf.path == "$.patch[0].normalized[0][0]"][0]
        small = copy.deepcopy(d)
        small["patch"][0]["clean_logit_diff"] = case["corrupted_logit_diff"] + D / 100
        tol = [leaf.tol for leaf in gc._leaves(small, small) if not isinstance(leaf, tuple)
               and leaf.path == "$.patch[0].normalized[0][0]"][0]
        self.assertAlmostEqual(tol / base, 100, places=6)

    def test_integers_strings_and_structure_are_exact(self):
        d = self.golden
        changes = [
            lambda p: p["tokens"].__setitem__(3, p["tokens"][3] + 1),
            lambda p: p["top"][0].__setitem__("id", p["top"][0]["id"] + 1),
            lambda p: p["token_strings"].__setitem__(0, "the"),
            lambda p: p["model"].__setitem__("n_layer", 11),
            lambda p: p["hidden_std"].pop(),
            lambda p: p["stats"].pop("logits"),
            lambda p: p["interventions"][0].__setitem__("kind", "zero"),
            lambda p: p.__setitem__("prompt", p["prompt"] + " "),
        ]
        for i, change in enumerate(changes):
            p = copy.deepcopy(d)
            change(p)
            self.assertTrue(gc.differences(d, p), "change #%d not caught" % i)

    def test_a_different_case_is_rejected(self):
        a = json.load(open(os.path.join(GOLDEN, "mid__ex3.json")))
        b = json.load(open(os.path.join(GOLDEN, "mid__ex4.json")))
        self.assertTrue(gc.differences(a, b))


class OtherCpusAndStaleGoldens(unittest.TestCase):
    """Real goldens, not synthetic perturbations: made by the reference under forced CPU paths
    (they must pass) and after a stale change of prompt, checkpoint or intervention (must fail)."""

    def committed(self, name):
        return json.load(open(os.path.join(GOLDEN, name)))

    def test_emulated_cpus_pass_and_really_differ(self):
        differing = 0
        for setting in ({"OPENBLAS_CORETYPE": "Prescott", "ATEN_CPU_CAPABILITY": "default"},
                        {"OPENBLAS_CORETYPE": "SkylakeX", "ATEN_CPU_CAPABILITY": "avx2"}):
            got = regenerate(setting, "--only", "tiny_f32", "--only", "tiny_f16")
            self.assertEqual(len(got), 16)  # 6 cases + patching + gradients, for each of the two
            for name, new in got.items():
                old = self.committed(name)
                self.assertEqual(gc.differences(old, new), [], "%s under %s" % (name, setting))
                differing += gc.max_deviation(old, new)[0] > 0
        self.assertGreater(differing, 0, "no CPU setting changed a bit: the test shows nothing")

    def test_stale_goldens_fail(self):
        """Each stale change alone, with the golden's records of prompt, tokens and interventions
        copied back from the committed one: only the numbers can tell the change."""
        import make_goldens as mg
        saved = (mg.PROMPT, dict(mg.CHECKPOINTS), mg.cases_for)
        ex3 = lambda f: lambda name: {"ex3": [{"kind": "scale_hidden", "layer": 1, "factor": f}]}  # noqa: E731
        stale = {
            "a word of the prompt": lambda: setattr(mg, "PROMPT", mg.PROMPT.replace("dogs", "cats")),
            "the checkpoint's seed": lambda: mg.CHECKPOINTS.__setitem__("tiny_f32", dict(mg.CHECKPOINTS["tiny_f32"], seed=7)),
            "exercise 3's factor, 0.1 -> 0.102": lambda: setattr(mg, "cases_for", ex3(0.102)),
        }
        old = self.committed("tiny_f32__ex3.json")
        with tempfile.TemporaryDirectory() as tmp:
            # the committed case regenerated here passes: the stale changes below are all that differ
            mg.cases_for = ex3(0.1)
            (path, text), = mg.build(["tiny_f32"], os.path.join(tmp, "ok"), tmp)
            self.assertEqual(gc.differences(old, json.loads(text)), [])
            try:
                for what, change in stale.items():
                    mg.PROMPT, mg.CHECKPOINTS, mg.cases_for = saved[0], dict(saved[1]), ex3(0.1)
                    change()
                    (path, text), = mg.build(["tiny_f32"], os.path.join(tmp, what), tmp)
                    new = json.loads(text)
                    for k in ("prompt", "tokens", "token_strings", "interventions"):
                        new[k] = old[k]
                    diffs = gc.differences(old, new)
                    self.assertTrue(diffs, "a stale golden (%s) passed" % what)
                    self.assertTrue(all("times its tolerance" in line for line in diffs), diffs)
            finally:
                mg.PROMPT, mg.CHECKPOINTS, mg.cases_for = saved


if __name__ == "__main__":
    unittest.main()
