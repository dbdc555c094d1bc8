"""Loads a checkpoint folder into TransformerLens 3.9's HookedTransformer the way the page's
TransformerLens code does (HookedTransformerConfig from the folder, convert_gpt2_weights), with
the weight processing named on the command line (load_and_process_state_dict's flags: what
from_pretrained does with its defaults), runs run_with_cache on token ids and saves, with
torch.save: the logits, every cached activation and the processed weights by TransformerLens's
names. For test_tl_processing.py, run with build/peers-venv/tl3 first on PYTHONPATH.

    python tl3_processed.py CKPT_DIR OUT_DIR TOKENS_JSON CONFIGS_JSON
CONFIGS_JSON: {"name": {"fold_ln": true, ...}, ...}; writes OUT_DIR/name.pt for each.
"""
import json
import sys

import torch
from transformers import GPT2LMHeadModel

from transformer_lens import HookedTransformer, HookedTransformerConfig
from transformer_lens.loading_from_pretrained import convert_gpt2_weights

torch.set_grad_enabled(False)
folder, out, tokens, configs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
hf = GPT2LMHeadModel.from_pretrained(folder).float().eval()
c = hf.config
for name, flags in configs.items():
    # A fresh config each time: fold_ln turns its normalization_type into "LNPre".
    cfg = HookedTransformerConfig(
        n_layers=c.n_layer, d_model=c.n_embd, n_heads=c.n_head, d_head=c.n_embd // c.n_head,
        d_mlp=c.n_inner or 4 * c.n_embd, n_ctx=c.n_positions, d_vocab=c.vocab_size,
        act_fn=c.activation_function, eps=c.layer_norm_epsilon, normalization_type="LN",
        original_architecture="GPT2LMHeadModel")
    model = HookedTransformer(cfg)
    model.load_and_process_state_dict(convert_gpt2_weights(hf, model.cfg), **flags)
    model.eval()
    logits, cache = model.run_with_cache(torch.tensor([tokens]))
    weights = {n: getattr(model, n).detach().clone() for n in
               ["W_E", "W_pos", "W_U", "b_U", "W_Q", "W_K", "W_V", "W_O", "b_Q", "b_K", "b_V", "b_O",
                "W_in", "b_in", "W_out", "b_out"]}
    for k, v in model.state_dict().items():
        if ("ln" in k) and k.endswith((".w", ".b")):
            weights[k] = v.detach().clone()
    torch.save({"logits": logits[0].detach().clone(), "cache": {k: v[0].detach().clone() for k, v in cache.items()},
                "weights": weights, "normalization_type": model.cfg.normalization_type}, "%s/%s.pt" % (out, name))
