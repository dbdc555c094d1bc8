// Python for exactly the current experiment: HuggingFace forward hooks (the chapter's
// recipes) and TransformerLens run_with_hooks.
import { interventionsOf } from './state.js';

const py = (s) => JSON.stringify(s); // a JSON string is a valid Python string literal
const pyNum = (x) => (Number.isInteger(x) ? `${x}.0` : String(x));

export function hubName(model) {
  return model === 'gpt2-medium' ? 'gpt2-medium' : 'gpt2';
}

export function hfCode(st, info = {}) {
  const ivs = interventionsOf(st);
  // The embedded default model is in HF layout in the repo's checkpoints/default/.
  const name = st.model === 'default' ? 'checkpoints/default' : st.model === 'local' ? (info.localPath || './my-model') : `openai-community/${hubName(st.model)}`;
  const L = [];
  L.push('import torch');
  L.push('from transformers import GPT2LMHeadModel, GPT2TokenizerFast');
  L.push('');
  L.push(`model = GPT2LMHeadModel.from_pretrained(${py(name)}).eval()`);
  L.push(`tok = GPT2TokenizerFast.from_pretrained(${py(name)})`);
  L.push('cfg = model.config');
  L.push('n_embd, d_head = cfg.n_embd, cfg.n_embd // cfg.n_head');
  L.push(`inputs = tok(${py(st.prompt)}, return_tensors="pt")`);
  L.push('');
  L.push('handles = []');
  for (const iv of ivs) {
    if (iv.kind === 'zero_head_k') {
      L.push(`# Exercise 1: zero the Key of head ${iv.head} in block ${iv.layer}.`);
      L.push(`HEAD = ${iv.head}`);
      L.push(`def zero_head_k_${iv.layer}_${iv.head}(module, inp, output):`);
      L.push('    # output: [batch, seq, 3*n_embd] laid out [Q | K | V]');
      L.push('    q, k, v = output.split(n_embd, dim=-1)');
      L.push('    k = k.clone()');
      L.push('    k[..., HEAD * d_head:(HEAD + 1) * d_head] = 0  # = columns n_embd + H*d_head : n_embd + (H+1)*d_head');
      L.push('    return torch.cat([q, k, v], dim=-1)');
      L.push(`handles.append(model.transformer.h[${iv.layer}].attn.c_attn.register_forward_hook(zero_head_k_${iv.layer}_${iv.head}))`);
    } else if (iv.kind === 'noise_even_neurons') {
      L.push(`# Exercise 2: even post-GELU neurons of block ${iv.layer} <- N(${iv.mean}, ${iv.std}).`);
      L.push(`torch.manual_seed(${iv.seed})  # PyTorch's generator: the noise differs from the engine's, its distribution does not`);
      L.push(`def noise_even_${iv.layer}(module, inp, output):`);
      L.push('    output = output.clone()');
      L.push(`    output[..., 0::2] = torch.normal(${pyNum(iv.mean)}, ${pyNum(iv.std)}, size=output[..., 0::2].shape)`);
      L.push('    return output');
      L.push(`handles.append(model.transformer.h[${iv.layer}].mlp.act.register_forward_hook(noise_even_${iv.layer}))`);
    } else if (iv.kind === 'scale_hidden') {
      const fn = `scale_block_${iv.layer}_${String(iv.factor).replace(/[^0-9a-z]/gi, '_')}`;
      L.push(`# Exercises 3 and 4: scale the output of block ${iv.layer} (HF output[0]) by ${iv.factor}.`);
      L.push(`def ${fn}(module, inp, output):`);
      L.push('    if isinstance(output, tuple):  # transformers < 5: (hidden_states, [attentions])');
      L.push(`        return (output[0].mul(${pyNum(iv.factor)}),) + output[1:]`);
      L.push(`    return output.mul(${pyNum(iv.factor)})  # transformers >= 5: the bare tensor`);
      L.push(`handles.append(model.transformer.h[${iv.layer}].register_forward_hook(${fn}))`);
    }
    L.push('');
  }
  if (!ivs.length) L.push('# (no exercise is on: this is the baseline run)\n');
  L.push('with torch.no_grad():');
  L.push('    out = model(**inputs, output_hidden_states=True)');
  L.push('for h in handles:');
  L.push('    h.remove()');
  L.push('');
  L.push('# hidden_states: embeddings, then each block; the last one is taken AFTER ln_f');
  L.push('print([round(h.std().item(), 4) for h in out.hidden_states])');
  L.push('probs = out.logits[0, -1].softmax(-1)');
  L.push(`top = probs.topk(${st.topk})`);
  L.push('print([(tok.decode(i), round(p.item(), 4)) for p, i in zip(top.values, top.indices)])');
  return L.join('\n');
}

export function tlCode(st) {
  const ivs = interventionsOf(st);
  const name = st.model === 'gpt2-medium' ? 'gpt2-medium' : 'gpt2';
  const L = [];
  L.push('import torch');
  L.push('from transformer_lens import HookedTransformer');
  L.push('');
  if (st.model === 'default' || st.model === 'local')
    L.push('# TransformerLens loads named models; for this checkpoint load it into HF first and pass hf_model=…');
  L.push(`model = HookedTransformer.from_pretrained(${py(name)})`);
  L.push(`tokens = model.to_tokens(${py(st.prompt)}, prepend_bos=False)`);
  L.push('');
  const hooks = [];
  for (const iv of ivs) {
    if (iv.kind === 'zero_head_k') {
      L.push(`def zero_k(k, hook):  # k: [batch, pos, head, d_head]`);
      L.push(`    k[:, :, ${iv.head}, :] = 0`);
      L.push('    return k');
      hooks.push(`("blocks.${iv.layer}.attn.hook_k", zero_k)`);
    } else if (iv.kind === 'noise_even_neurons') {
      L.push(`torch.manual_seed(${iv.seed})`);
      L.push('def noise_even(post, hook):  # post: [batch, pos, d_mlp], after GELU');
      L.push(`    post[..., 0::2] = torch.normal(${pyNum(iv.mean)}, ${pyNum(iv.std)}, size=post[..., 0::2].shape)`);
      L.push('    return post');
      hooks.push(`("blocks.${iv.layer}.mlp.hook_post", noise_even)`);
    } else if (iv.kind === 'scale_hidden') {
      const fn = `scale_${hooks.length}`;
      L.push(`def ${fn}(resid, hook):  # = HF block output[0]`);
      L.push(`    return resid * ${pyNum(iv.factor)}`);
      hooks.push(`("blocks.${iv.layer}.hook_resid_post", ${fn})`);
    }
  }
  L.push('');
  L.push(`logits = model.run_with_hooks(tokens, fwd_hooks=[${hooks.join(', ')}])`);
  L.push('probs = logits[0, -1].softmax(-1)');
  L.push('# TransformerLens folds LayerNorm weights by default (fold_ln=True); activations differ from HF,');
  L.push('# logits do not. Use from_pretrained_no_processing for HF-identical activations.');
  return L.join('\n');
}
