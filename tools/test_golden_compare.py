"""The goldens check compares numbers with a tolerance that another CPU's float32 passes
and a stale golden fails (python3 -m unittest tools/test_golden_compare.py)."""
import copy
import glob
import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import golden_compare as gc  # noqa: E402

GOLDEN = os.path.join(os.path.dirname(HERE), "tests", "golden")


def floats(obj):
    """(container, key) of every float, depth first in key order (the order gc walks in)."""
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        if isinstance(v, float):
            yield obj, k
        else:
            yield from floats(v)


def scales(obj):
    return [item[4] for item in gc._pairs(obj, obj, "$", 0.0) if item[0] == "leaf" and isinstance(item[2], float)]


class GoldenCompare(unittest.TestCase):
    def setUp(self):
        self.files = sorted(glob.glob(os.path.join(GOLDEN, "*__*.json")))
        self.assertGreater(len(self.files), 10)
        self.golden = json.load(open(os.path.join(GOLDEN, "mid__combo.json")))

    def test_identical(self):
        for path in self.files:
            d = json.load(open(path))
            self.assertEqual(gc.differences(d, copy.deepcopy(d)), [], path)

    def test_accepts_1e9_relative_everywhere(self):
        for path in self.files:
            d = json.load(open(path))
            p = copy.deepcopy(d)
            for i, (c, k) in enumerate(floats(p)):
                c[k] *= 1 + (1e-9 if i % 2 else -1e-9)
            self.assertEqual(gc.differences(d, p), [], path)

    def test_rejects_each_value_changed_at_1e4_of_its_scale(self):
        d = self.golden
        sc = scales(d)
        p = copy.deepcopy(d)
        locs = list(floats(p))
        self.assertEqual(len(sc), len(locs))
        self.assertGreater(len(locs), 500)
        logits = p["logits_last"]
        for i, (c, k) in enumerate(locs):
            if c is logits and k % 61:
                continue  # a sample of the 4096 logits: one list, one scale
            orig = c[k]
            c[k] = orig + 1e-4 * (max(abs(orig), sc[i]) or 1.0)
            self.assertEqual(len(gc.differences(d, p)), 1, "float #%d not caught" % i)
            c[k] = orig
        self.assertEqual(gc.differences(d, p), [])

    def test_rejects_1e4_relative_on_what_the_page_shows(self):
        d = self.golden
        top = max(range(len(d["logits_last"])), key=lambda i: abs(d["logits_last"][i]))
        for key, idx in (("hidden_std", 3), ("resid_std", 11), ("logits_last", top)):
            p = copy.deepcopy(d)
            p[key][idx] *= 1 + 1e-4
            self.assertTrue(gc.differences(d, p), key)
        for field in ("logit", "prob"):
            p = copy.deepcopy(d)
            p["top"][4][field] *= 1 + 1e-4
            self.assertTrue(gc.differences(d, p), field)
        for stat in ("std", "norm", "max"):
            p = copy.deepcopy(d)
            p["stats"]["mlp.hook_post"][stat][9] *= 1 + 1e-4
            self.assertTrue(gc.differences(d, p), stat)

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


if __name__ == "__main__":
    unittest.main()
