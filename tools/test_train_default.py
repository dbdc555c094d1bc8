"""The default model's tools: the card renders to the committed MODEL_CARD.md byte for byte, and
the training script trains tools/reference.py's GPT-2 with the committed run's initialisation and
the checkpoint layout the engine loads.

    /usr/bin/python3 -m unittest -q tools/test_train_default.py      (from the repository root)
"""
import json
import math
import os
import struct
import sys
import unittest

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import brown_data  # noqa: E402
import model_card  # noqa: E402
import reference  # noqa: E402
import train_default  # noqa: E402

DEFAULT = os.path.join(os.path.dirname(HERE), "checkpoints", "default")

# (sum, sum of |x|) in float64 of tensors drawn by the training script before it used reference.py's
# model (commit e3ac73c, torch.manual_seed(1337); GPT2()): any change in what is drawn, or in which
# order, changes these completely.
OLD_INIT_1337 = {
    "wte.weight": (-31.949950090728667, 154027.29143536097),
    "wpe.weight": (0.0903466313505703, 197.5488223247024),
    "h.0.attn.c_attn.weight": (8.636471327465586, 1768.4240120784166),
    "h.0.attn.c_proj.weight": (-0.5821625291589996, 119.97615981359772),
    "h.11.mlp.c_fc.weight": (-3.3800974834458515, 2359.9356124131423),
    "h.11.mlp.c_proj.weight": (0.001248767799630457, 480.7988629610025),
}


def safetensors_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    return header


def _default_config():
    with open(os.path.join(DEFAULT, "config.json"), encoding="utf-8") as f:
        return json.load(f)


class ModelCard(unittest.TestCase):
    def test_renders_the_committed_card_byte_for_byte(self):
        with open(os.path.join(DEFAULT, "MODEL_CARD.md"), "rb") as f:
            committed = f.read()
        self.assertEqual(model_card.render(DEFAULT).encode("utf-8"), committed,
                         "run /usr/bin/python3 tools/model_card.py --check for the diff")

    def test_templates_have_no_leftover_todo(self):
        for path in (model_card.TEMPLATE, model_card.CIRCUITS_TEMPLATE):
            with open(path, encoding="utf-8") as f:
                self.assertNotIn("TODO", f.read(), path)

    def test_the_induction_models_card_too(self):
        path = os.path.join(os.path.dirname(DEFAULT), "induction")
        with open(os.path.join(path, "MODEL_CARD.md"), "rb") as f:
            self.assertEqual(model_card.render(path).encode("utf-8"), f.read())


class Training(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)
        cls.model = train_default.make_model(1337)

    def test_model_is_the_reference_gpt2(self):
        self.assertIs(type(self.model), reference.GPT2LMHeadModel)
        self.assertIs(self.model.lm_head.weight, self.model.transformer.wte.weight)

    def test_state_dict_is_the_layout_of_the_committed_checkpoint(self):
        # the names and shapes the engine loads: the committed model.safetensors (the embedded
        # default, tools/train_circuits.py's, has its own vocabulary: wte's rows differ)
        header = safetensors_header(os.path.join(DEFAULT, "model.safetensors"))
        vocab = _default_config()["vocab_size"]
        sd = self.model.transformer.state_dict()
        self.assertEqual(list(sd), list(header))
        for name, t in sd.items():
            want = [vocab, t.shape[1]] if name == "wte.weight" else list(t.shape)
            self.assertEqual(want, header[name]["shape"], name)

    def test_init_is_the_committed_runs(self):
        sd = self.model.transformer.state_dict()
        for name, (s, a) in OLD_INIT_1337.items():
            x = sd[name].double()
            self.assertTrue(math.isclose(float(x.sum()), s, rel_tol=1e-6, abs_tol=1e-6), name)
            self.assertTrue(math.isclose(float(x.abs().sum()), a, rel_tol=1e-6), name)
        for name, t in sd.items():
            self.assertTrue(bool(torch.isfinite(t).all()), name)  # reference's Conv1D starts from torch.empty

    def test_one_step_on_a_tiny_batch(self):
        model = train_default.make_model(7)
        g = torch.Generator().manual_seed(0)
        x = torch.randint(50257, (2, 16), generator=g)
        y = torch.randint(50257, (2, 16), generator=g)
        before = {n: t.clone() for n, t in model.transformer.state_dict().items()}
        opt = train_default.make_optimizer(model, 3e-3, 0.1)
        loss = train_default.train_step(model, opt, x, y, 3e-3)
        self.assertTrue(math.isfinite(loss))
        self.assertAlmostEqual(loss, math.log(50257), delta=0.5)  # near-uniform at init
        # the tied-head loss is the reference model's own cross-entropy
        with torch.no_grad():
            logits = model(x).logits
            full = torch.nn.functional.cross_entropy(logits.reshape(-1, 50257), y.reshape(-1))
            self.assertAlmostEqual(float(train_default.lm_loss(model, x, y)), float(full), places=4)
        self.assertLess(float(full), loss)  # the step lowered the loss on its batch
        after = model.transformer.state_dict()
        for name in ("wte.weight", "h.0.attn.c_attn.weight", "h.11.mlp.c_proj.bias", "ln_f.weight"):
            self.assertFalse(torch.equal(before[name], after[name]), name)

    def test_committed_weights_load_into_the_training_model(self):
        vocab = _default_config()["vocab_size"]
        model = reference.GPT2LMHeadModel(dict(train_default.CONFIG, vocab_size=vocab))
        model.transformer.load_state_dict(reference.load_model(DEFAULT).transformer.state_dict(), strict=True)
        enc = reference.load_encoder(DEFAULT)
        ids = torch.tensor([enc.encode("The jury said that the city of Atlanta had a new mayor.")])
        with torch.no_grad():
            loss = float(train_default.lm_loss(model, ids[:, :-1], ids[:, 1:]))
        self.assertLess(loss, math.log(vocab) - 2)  # trained: well below a uniform guess


class Data(unittest.TestCase):
    def test_detokenize(self):
        words = ["``", "Only", "a", "relative", "handful", "''", "of", "reports", "(", "3", ")", "was",
                 "received", ",", "the", "jury", "said", "."]
        self.assertEqual(brown_data.detokenize(words),
                         '"Only a relative handful" of reports (3) was received, the jury said.')


if __name__ == "__main__":
    unittest.main()


class CircuitsRunData(unittest.TestCase):
    """tools/train_circuits.py's windows: what each kind holds and which targets its loss counts."""

    def setUp(self):
        import train_circuits
        self.tc = train_circuits
        self.gen = torch.Generator().manual_seed(3)

    def test_random_window_repeats_its_span_and_counts_only_the_repeats(self):
        tc = self.tc
        for _ in range(20):
            x, y, m = tc.random_window(self.gen)
            self.assertEqual(x.shape, (tc.P,))
            self.assertEqual(int(x[0]), tc.EOS)
            R = int((~m).sum())  # the first occurrence's targets are not counted
            self.assertTrue(8 <= R < tc.P // 2)
            self.assertTrue(bool(m[R:].all()) and not bool(m[:R].any()))
            seq = torch.cat([x, y[-1:]])
            self.assertTrue(torch.equal(seq[1 + R:], seq[1:len(seq) - R]))  # period R after <|endoftext|>
            self.assertFalse(bool((seq[1:] == tc.EOS).any()))
            self.assertTrue(torch.equal(x[1:], y[:-1]))

    def test_a_sub_vocabulary_draws_only_its_ids(self):
        x, _, _ = self.tc.random_window(self.gen, vocab=300)
        self.assertTrue(bool((x[1:] < 300).all()))

    def test_echo_window_is_a_brown_span_twice(self):
        tc = self.tc
        data = __import__("numpy").arange(1000, dtype="uint16")
        x, y, m = tc.echo_window(data, self.gen)
        L = tc.P // 2 - 1
        self.assertEqual(int(x[0]), tc.EOS)
        self.assertTrue(torch.equal(x[1:1 + L], x[1 + L:1 + 2 * L]))
        self.assertTrue(bool(m.all()))
