// TransformerLens code for the Patching view's gradient features (issue #26): attribution
// patching with backward hooks, and gradient × input through hook_embed + hook_pos_embed and
// their gradients. Pure functions of the state, as codegen.js's are: the code runs as shown
// (TransformerLens 3.x, whose HookedTransformer it uses) and prints the numbers the page shows.
// ex: {clean, corrupted, answer, wrong, hook, metric} as the view resolves them; info:
// {lang, modelName, modelUrl, hooks: the engine's hook table (lab.hooks()), which the
// builder's rows need}.
//
// The page's interventions are permanent hooks (model.add_hook(..., is_permanent=True)), so they
// act in every run, as the engine applies them to both prompts, and before the hooks that read
// activations and gradients. Each is written without in-place writes to the hooked tensor: the
// backward goes through them, as the engine's gradients do (a zeroed or noised slice passes 0).
import { interventionsOf } from './state.js';
import { HUB_MODELS } from '../../wasm/js/models.js';
import { makeT } from './i18n.js';
import { TL_PKG, comment, modelSource, py, pyInt, pyNum, pyToken, tlLoad } from './codegen.js';
import { tlRows, isRow } from './codegen-rows.js';
import './codegen-strings.js';

// The hook whose activations a family patches, per block (the engine's attribution sites).
export const ATTRIBUTION_SITE = { resid_pre: 'hook_resid_pre', attn_out: 'hook_attn_out', mlp_out: 'hook_mlp_out', z: 'attn.hook_z' };

// The page's interventions as permanent hooks (differentiable: no in-place writes), and the
// builder's rows on the logits, which logit_diff applies. Returns {L, post}.
function permanentHooks(st, t, hooks) {
  const ivs = interventionsOf(st);
  const L = [];
  if (!ivs.length) return { L, post: [] };
  L.push(...comment(t('cgPatchIvs')));
  ivs.filter((iv) => !isRow(iv)).forEach((iv, n) => {
    const l = pyInt(iv.layer);
    if (iv.kind === 'zero_head_k') {
      L.push(`def zero_k_${n}(k, hook):  # ${t('cgK')}`);
      L.push('    k = k.clone()');
      L.push(`    k[:, :, ${pyInt(iv.head)}, :] = 0`);
      L.push('    return k');
      L.push(`model.add_hook("blocks.${l}.attn.hook_k", zero_k_${n}, is_permanent=True)`);
    } else if (iv.kind === 'noise_even_neurons') {
      L.push(`def noise_even_${n}(post, hook):  # ${t('cgPost')}`);
      L.push(`    # ${t('cgSeed')}`);
      L.push(`    g = torch.Generator().manual_seed(${pyInt(iv.seed)})`);
      L.push('    post = post.clone()');
      L.push(`    post[..., 0::2] = torch.normal(${pyNum(iv.mean)}, ${pyNum(iv.std)}, size=post[..., 0::2].shape, generator=g)`);
      L.push('    return post');
      L.push(`model.add_hook("blocks.${l}.mlp.hook_post", noise_even_${n}, is_permanent=True)`);
    } else if (iv.kind === 'scale_hidden') {
      L.push(`def scale_${n}(resid, hook):  # ${t('cgResidHook')}`);
      L.push(`    return resid * ${pyNum(iv.factor)}`);
      L.push(`model.add_hook("blocks.${l}.hook_resid_post", scale_${n}, is_permanent=True)`);
    } else {
      throw new Error(`codegen: no TransformerLens hook for intervention kind ${iv.kind}`);
    }
  });
  const rows = tlRows(ivs.filter(isRow), t, pyNum, ivs.length, hooks, st.process === 'tl');
  if (rows.hooks.length) {
    L.push(...comment(t('cgRowsPermanent')));
    L.push(...rows.L);
    L.push(`for name, fn in [${rows.hooks.join(', ')}]:`);
    L.push('    model.add_hook(name, fn, is_permanent=True)');
  } else L.push(...rows.L);
  L.push('');
  return { L, post: rows.post };
}

// The lines every program starts with: install line, imports, the model, the tokens, the
// interventions, the metric.
function head(st, ex, t, info, intro, prompts) {
  const hub = Object.hasOwn(HUB_MODELS, st.model);
  const L = [...comment(t('cgNeeds', { pkgs: hub ? `torch ${TL_PKG}` : `torch transformers ${TL_PKG}` }))];
  L.push('import torch');
  L.push('from transformer_lens import HookedTransformer');
  L.push('');
  L.push(...comment(intro));
  L.push(...tlLoad(modelSource(st, t, info), t));
  L.push('model.eval()');
  for (const [name, text] of prompts) L.push(`${name} = model.to_tokens(${py(text)}, prepend_bos=False)`);
  L.push(`answer, wrong = ${pyToken(ex.answer)}, ${pyToken(ex.wrong)}`);
  L.push('');
  const { L: ivL, post } = permanentHooks(st, t, info.hooks ?? null);
  L.push(...ivL);
  L.push('def logit_diff(logits):');
  if (post.length) {
    L.push(`    for f in [${post.join(', ')}]:  # ${t('cgPostLogits')}`);
    L.push('        logits = f(logits)');
  }
  L.push('    return logits[0, -1, answer] - logits[0, -1, wrong]');
  L.push('');
  // Forward hooks keep the values, backward hooks the gradients (TransformerLens calls a
  // backward hook with the gradient of the hook point's output, after its forward hooks).
  L.push(`act, grad = {}, {}  # ${t('cgGradHooks')}`);
  L.push('def save_act(x, hook):');
  L.push('    act[hook.name] = x.detach()');
  L.push('def save_grad(g, hook):');
  L.push('    grad[hook.name] = g.detach()');
  L.push('');
  return L;
}

/** Attribution patching of the Patching view (one clean forward, one corrupted forward and
 *  backward), in TransformerLens with backward hooks. */
export function tlAttributionCode(st, ex, { lang = 'en', ...info } = {}) {
  const t = makeT(lang);
  const site = ATTRIBUTION_SITE[ex.hook];
  if (!site) throw new Error(`codegen: unknown patching hook ${ex.hook}`);
  const L = head(st, ex, t, info, t('cgAttrIntro'), [['clean_tokens', ex.clean], ['corrupted_tokens', ex.corrupted]]);
  L.push(`names = [f"blocks.{l}.${site}" for l in range(model.cfg.n_layers)]`);
  L.push(...comment(t('cgAttrClean')));
  L.push('with torch.no_grad():');
  L.push('    clean_logits, clean_cache = model.run_with_cache(clean_tokens, names_filter=lambda name: name in names)');
  L.push('clean_ld = logit_diff(clean_logits).item()');
  L.push(...comment(t('cgAttrCorrupted')));
  L.push('for name in names:');
  L.push('    model.add_hook(name, save_act, "fwd")');
  L.push('    model.add_hook(name, save_grad, "bwd")');
  L.push('ld = logit_diff(model(corrupted_tokens))');
  L.push('ld.backward()');
  L.push(`model.reset_hooks()  # ${t('cgAttrReset')}`);
  L.push('model.zero_grad(set_to_none=True)');
  L.push('corrupted_ld = ld.item()');
  const byHead = ex.hook === 'z';
  L.push(...comment(t('cgAttrEstimate', { over: t(byHead ? 'cgAttrOverHead' : 'cgAttrOverPos') })));
  // [batch, pos, d_model] → per position: sum over d_model; [batch, pos, head, d_head] → per head.
  L.push(`delta = torch.stack([((clean_cache[n] - act[n]) * grad[n])[0].sum(${byHead ? 'dim=(0, 2)' : '-1'}) for n in names])`);
  if (ex.metric === 'logit_diff') L.push('result = corrupted_ld + delta');
  else L.push('result = delta / (clean_ld - corrupted_ld)');
  L.push('print("clean logit diff", clean_ld, "corrupted", corrupted_ld)');
  L.push(...comment(t('cgPatchPrint', { cols: byHead ? 'heads' : 'positions' })));
  L.push('torch.set_printoptions(precision=4, linewidth=200, sci_mode=False)');
  L.push('print(result)');
  if (interventionsOf(st).length) L.push('model.reset_hooks(including_permanent=True)');
  return L.join('\n');
}

/** Gradient × input of the clean prompt, in TransformerLens: hook_embed + hook_pos_embed and
 *  their gradients. */
export function tlInputGradCode(st, ex, { lang = 'en', ...info } = {}) {
  const t = makeT(lang);
  const L = head(st, ex, t, info, t('cgGradIntro'), [['tokens', ex.clean]]);
  // The engine reads the gradient where the two embeddings are summed (blocks.0.hook_resid_pre):
  // the embeddings' own gradients are that one unless an intervention acts there.
  const atResid = interventionsOf(st).some((iv) => iv.hook === 'blocks.0.hook_resid_pre');
  const names = ['hook_embed', 'hook_pos_embed', ...(atResid ? ['blocks.0.hook_resid_pre'] : [])];
  L.push(`for name in [${names.map(py).join(', ')}]:`);
  L.push('    model.add_hook(name, save_act, "fwd")');
  L.push('    model.add_hook(name, save_grad, "bwd")');
  L.push('ld = logit_diff(model(tokens))');
  L.push('ld.backward()');
  L.push(`model.reset_hooks()  # ${t('cgAttrReset')}`);
  L.push('model.zero_grad(set_to_none=True)');
  if (atResid) {
    L.push(...comment(t('cgGradResid')));
    L.push('x_grad = ((act["hook_embed"] + act["hook_pos_embed"]) * grad["blocks.0.hook_resid_pre"])[0].sum(-1)');
  } else {
    L.push('x_grad = (act["hook_embed"] * grad["hook_embed"] + act["hook_pos_embed"] * grad["hook_pos_embed"])[0].sum(-1)');
  }
  L.push('for p, (tok, v) in enumerate(zip(model.to_str_tokens(tokens), x_grad.tolist())):');
  L.push('    print(p, repr(tok), round(v, 6))');
  L.push('print("sum", x_grad.sum().item(), "logit diff", ld.item())');
  if (interventionsOf(st).length) L.push('model.reset_hooks(including_permanent=True)');
  return L.join('\n');
}
