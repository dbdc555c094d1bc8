// Python for exactly the current experiment (HuggingFace forward hooks, the chapter's recipes;
// TransformerLens run_with_hooks), and the tuple explorer's text. Pure functions of the state:
// the code runs as shown and prints the numbers the page plots. Comments follow the page's
// language (lang).
import { interventionsOf } from './state.js';
import { HUB_MODELS } from '../../wasm/js/models.js';
import { makeT } from './i18n.js';
import { hfRows, tlRows, isRow } from './codegen-rows.js';
import './codegen-strings.js';

// The checkpoint files a model folder holds (HuggingFace layout).
export const MODEL_FILES = ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt'];

export const py = (s) => JSON.stringify(String(s)); // a JSON string is a valid Python string literal

// The TransformerLens code uses HookedTransformer, which TransformerLens 4.0 removed (its
// TransformerBridge replaces it): the install line pins the 3.x series, where it runs as shown
// (tests/peers, docs/peers.md).
export const TL_PKG = '"transformer_lens<4"';

// A Python float literal for any JS number. String(x) is already one for most values
// ("0.1", "1e-30", "1e+38"), but integers need a point ("5" -> "5.0", and not "1e+38.0").
export function pyNum(x) {
  if (typeof x !== 'number' || Number.isNaN(x)) return 'float("nan")';
  if (x === Infinity) return 'float("inf")';
  if (x === -Infinity) return '-float("inf")';
  if (Object.is(x, -0)) return '-0.0';
  const s = String(x);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

// A Python int literal; layers, heads, seeds and k are integers by the state's checks.
export function pyInt(x) {
  if (!Number.isSafeInteger(x)) throw new Error(`codegen: expected an integer, got ${x}`);
  return String(x);
}

export const comment = (text, indent = '') => text.split('\n').map((l) => `${indent}# ${l}`);

// Where the Python finds the model: a hub name, or a folder (with the download of the
// embedded model's files from the page that serves them). modelUrl: the absolute URL of the
// page's models/KEY/ folder (http or https); without it, the folder in a clone of the repo.
// modelDir: that folder in a clone (checkpoints/KEY: the default, or the lesson model).
// processed: the page's weights are TransformerLens-processed (st.process 'tl'): tlLoad loads them so.
export function modelSource(st, t, info = {}) {
  return { ...modelFiles(st, t, info), processed: st.process === 'tl' };
}

function modelFiles(st, t, { modelName = 'HookLab-Circuits 12×192', modelUrl = null, modelDir = 'checkpoints/default' } = {}) {
  const inRepo = (s) => s.replaceAll('checkpoints/default', modelDir);
  const L = [];
  if (Object.hasOwn(HUB_MODELS, st.model)) return { L, hf: HUB_MODELS[st.model].repo, tl: st.model, hub: true };
  if (st.model === 'local') {
    L.push(...comment(t('cgLocalModel')));
    L.push('MODEL = "./my-model"');
    return { L, hub: false };
  }
  if (!(modelUrl && /^https?:/.test(modelUrl))) {
    L.push(...comment(`${t('cgDefaultModel', { name: modelName })}\n${inRepo(t('cgDefaultRepo'))}`));
    L.push(`MODEL = ${py(modelDir)}`);
    return { L, hub: false };
  }
  L.push(...comment(`${t('cgDefaultModel', { name: modelName })}\n${inRepo(t('cgDefaultFiles'))}`));
  L.push(`MODEL_URL = ${py(modelUrl)}`);
  L.push(modelDir === 'checkpoints/default' ? 'MODEL = "hooklab-circuits"' : `MODEL = ${py(`hooklab-${modelDir.split('/').pop()}`)}`);
  L.push('import os, urllib.request');
  L.push('os.makedirs(MODEL, exist_ok=True)');
  L.push(`for f in [${MODEL_FILES.map(py).join(', ')}]:`);
  L.push('    if not os.path.exists(os.path.join(MODEL, f)):');
  L.push('        urllib.request.urlretrieve(MODEL_URL + f, os.path.join(MODEL, f))');
  return { L, hub: false };
}

// The lines that print what the page shows, from run() results `baseline` and `intervened`
// = (resid_std, hidden_std, last-position logits), and a `decode(id)`.
function printResults(t, topk) {
  const L = [];
  L.push(`print(${py(t('cgResid'))})`);
  L.push('print("  baseline:  ", [round(x, 5) for x in baseline[0]])');
  L.push('print("  intervened:", [round(x, 5) for x in intervened[0]])');
  L.push(`print(${py(t('cgHfStd'))})`);
  L.push('print("  baseline:  ", [round(x, 5) for x in baseline[1]])');
  L.push('print("  intervened:", [round(x, 5) for x in intervened[1]])');
  L.push('lp, lq = baseline[2].double().log_softmax(-1), intervened[2].double().log_softmax(-1)');
  L.push(`print(${py(t('cgKl'))}, (lp.exp() * (lp - lq)).sum().item())`);
  L.push(`print(${py(t('cgTop', { k: topk }))})`);
  L.push(`for i in lp.topk(${pyInt(topk)}).indices.tolist():`);
  L.push('    print(f"  {decode(i)!r:>16} {lp[i].exp().item():.4f} {lq[i].exp().item():.4f}")');
  return L;
}

// The page's interventions as HuggingFace forward hooks: {L: their definitions, hooks: the
// (module, hook[, how]) tuples for attach()}. The code panel's and the Generate panel's code share them.
export function hfInterventions(ivs, t, info = {}) {
  const L = [];
  const hooks = [];
  const rows = hfRows(ivs.filter(isRow), t, pyNum, ivs.length, info.hooks);
  ivs.filter((iv) => !isRow(iv)).forEach((iv, n) => {
    const l = pyInt(iv.layer);
    if (iv.kind === 'zero_head_k') {
      L.push(...comment(t('cgEx1', { h: iv.head, l: iv.layer })));
      L.push(`def zero_head_k_${n}(module, inp, output):`);
      L.push(...comment(t('cgQkv'), '    '));
      L.push('    q, k, v = output.split(n_embd, dim=-1)');
      L.push('    k = k.clone()');
      L.push(`    k[..., ${pyInt(iv.head)} * d_head:(${pyInt(iv.head)} + 1) * d_head] = 0  # ${t('cgCols')}`);
      L.push('    return torch.cat([q, k, v], dim=-1)');
      hooks.push(`(blocks[${l}].attn.c_attn, zero_head_k_${n})`);
    } else if (iv.kind === 'noise_even_neurons') {
      L.push(...comment(t('cgEx2', { l: iv.layer, m: iv.mean, s: iv.std })));
      L.push(`torch.manual_seed(${pyInt(iv.seed)})  # ${t('cgSeed')}`);
      L.push(`def noise_even_${n}(module, inp, output):`);
      L.push('    output = output.clone()');
      L.push(`    output[..., 0::2] = torch.normal(${pyNum(iv.mean)}, ${pyNum(iv.std)}, size=output[..., 0::2].shape)`);
      L.push('    return output');
      hooks.push(`(blocks[${l}].mlp.act, noise_even_${n})`);
    } else if (iv.kind === 'scale_hidden') {
      L.push(...comment(t('cgEx34', { l: iv.layer, f: iv.factor })));
      L.push(`def scale_block_${n}(module, inp, output):`);
      L.push(`    if isinstance(output, tuple):  # ${t('cgRebuild')}`);
      L.push(`        return (output[0].mul(${pyNum(iv.factor)}),) + output[1:]`);
      L.push(`    return output.mul(${pyNum(iv.factor)})`);
      hooks.push(`(blocks[${l}], scale_block_${n})`);
    }
    L.push('');
  });
  L.push(...rows.L);
  hooks.push(...rows.hooks.map((h) => h.reg));
  return { L, hooks };
}

// The HuggingFace program's first lines: what it needs, its imports, the model and tokenizer.
// eagerNote: load with eager attention (out.attentions), saying why.
export function hfLoad(st, t, src, { eagerNote = null } = {}) {
  const L = [];
  L.push(...comment(t('cgNeeds', { pkgs: 'torch transformers' })));
  if (st.process === 'tl') L.push(...comment(t('cgHfUnprocessed')));
  L.push('import torch');
  L.push('from transformers import GPT2LMHeadModel, GPT2TokenizerFast');
  L.push('');
  if (src.hub) L.push(`MODEL = ${py(src.hf)}`);
  else L.push(...src.L);
  // .float(): transformers 5 loads a checkpoint in its own dtype (the embedded model's file is
  // F16, so the forward would run in half precision); the engine computes in float32.
  if (eagerNote) L.push(`model = GPT2LMHeadModel.from_pretrained(MODEL, attn_implementation="eager").float().eval()  # ${eagerNote}`);
  else L.push('model = GPT2LMHeadModel.from_pretrained(MODEL).float().eval()');
  L.push('tok = GPT2TokenizerFast.from_pretrained(MODEL)');
  L.push('n_embd, n_head = model.config.n_embd, model.config.n_head');
  L.push('d_head = n_embd // n_head');
  return L;
}

// Python helpers the programs share: a block's hidden state out of its output, and a hook
// attached after (or, "pre", before) a module.
export const hiddenDef = (t) => ['def hidden(output):', ...comment(t('cgHidden'), '    '), '    return output[0] if isinstance(output, tuple) else output', ''];
export const attachDef = (t) => ['def attach(module, hook, how="out"):', ...comment(t('cgAttach'), '    '),
  '    if how == "pre":', '        return module.register_forward_pre_hook(hook)', '    return module.register_forward_hook(hook)', ''];

// info: {modelName, modelUrl, hooks: the engine's hook table (lab.hooks()), which the
// builder's rows need}.
export function hfCode(st, { lang = 'en', ...info } = {}) {
  const t = makeT(lang);
  const ivs = interventionsOf(st);
  const src = modelSource(st, t, info);
  const L = [];
  L.push(...hfLoad(st, t, src));
  L.push(`inputs = tok(${py(st.prompt)}, return_tensors="pt")`);
  L.push('blocks = model.transformer.h');
  L.push('');
  L.push(...hiddenDef(t));
  L.push('def run(interventions):');
  L.push(...comment(t('cgRun'), '    '));
  L.push('    resid, emb, final = [None] * len(blocks), [], []');
  L.push('    def record(i):');
  L.push('        def hook(module, inp, output):');
  L.push('            resid[i] = hidden(output).std().item()');
  L.push('        return hook');
  L.push(`    handles = [attach(*x) for x in interventions]  # ${t('cgOrder')}`);
  L.push('    handles += [b.register_forward_hook(record(i)) for i, b in enumerate(blocks)]');
  L.push('    handles.append(blocks[0].register_forward_pre_hook(lambda m, args: emb.append(args[0].std().item())))');
  L.push('    handles.append(model.transformer.ln_f.register_forward_hook(lambda m, inp, out: final.append(out.std().item())))');
  L.push('    try:');
  L.push('        with torch.no_grad():');
  L.push('            logits = model(**inputs).logits[0, -1]');
  L.push('    finally:');
  L.push('        for h in handles:');
  L.push('            h.remove()');
  L.push('    return resid, emb + resid[:-1] + final, logits');
  L.push('');
  L.push(...attachDef(t));
  const iv = hfInterventions(ivs, t, info);
  L.push(...iv.L);
  const hooks = iv.hooks;
  if (!ivs.length) L.push(...comment(t('cgNone')));
  L.push('baseline = run([])');
  L.push(`intervened = run([${hooks.join(', ')}])`);
  L.push('decode = tok.decode');
  L.push(...printResults(t, st.topk));
  return L.join('\n');
}

// The lines that load the model into TransformerLens: a hub name directly; a folder (the
// embedded model, local files) through a config built from the checkpoint. src.processed (the
// page's weights TransformerLens-processed): from_pretrained's default processing, as the page
// computed its numbers; otherwise none (from_pretrained_no_processing: HF's activations).
export function tlLoad(src, t) {
  const L = [];
  const on = src.processed ? 'True' : 'False';
  if (src.hub) {
    if (src.processed) L.push(`model = HookedTransformer.from_pretrained(${py(src.tl)})  # ${t('cgTlHubTl')}`);
    else L.push(`model = HookedTransformer.from_pretrained_no_processing(${py(src.tl)})  # ${t('cgTlHub')}`);
  } else {
    L.push(...comment(t(src.processed ? 'cgTlLocalTl' : 'cgTlLocal')));
    L.push('from transformers import GPT2LMHeadModel, GPT2TokenizerFast');
    L.push('from transformer_lens import HookedTransformerConfig');
    L.push('from transformer_lens.loading_from_pretrained import convert_gpt2_weights');
    L.push(...src.L);
    // .float(): the processing computes on the converted tensors, in the file's dtype otherwise (F16).
    L.push('hf = GPT2LMHeadModel.from_pretrained(MODEL).float().eval()');
    L.push('c = hf.config');
    L.push('cfg = HookedTransformerConfig(');
    L.push('    n_layers=c.n_layer, d_model=c.n_embd, n_heads=c.n_head, d_head=c.n_embd // c.n_head,');
    L.push('    d_mlp=c.n_inner or 4 * c.n_embd, n_ctx=c.n_positions, d_vocab=c.vocab_size,');
    L.push('    act_fn=c.activation_function, eps=c.layer_norm_epsilon, normalization_type="LN",');
    L.push('    original_architecture="GPT2LMHeadModel")');
    L.push('model = HookedTransformer(cfg, tokenizer=GPT2TokenizerFast.from_pretrained(MODEL))');
    L.push(`model.load_and_process_state_dict(convert_gpt2_weights(hf, cfg), fold_ln=${on}, center_writing_weights=${on},`);
    L.push(`                                  center_unembed=${on}, fold_value_biases=${on})`);
  }
  return L;
}

// The page's interventions as TransformerLens hooks: {L: their definitions, hooks: the
// (name, fn) pairs for run_with_hooks, post: functions of the logits (rows on `logits`).
export function tlInterventions(ivs, t, info = {}, processed = false) {
  const L = [];
  const hooks = [];
  const rows = tlRows(ivs.filter(isRow), t, pyNum, ivs.length, info.hooks, processed);
  ivs.filter((iv) => !isRow(iv)).forEach((iv, n) => {
    const l = pyInt(iv.layer);
    if (iv.kind === 'zero_head_k') {
      L.push(...comment(t('cgEx1', { h: iv.head, l: iv.layer })));
      L.push(`def zero_k_${n}(k, hook):  # ${t('cgK')}`);
      L.push(`    k[:, :, ${pyInt(iv.head)}, :] = 0`);
      L.push('    return k');
      hooks.push(`("blocks.${l}.attn.hook_k", zero_k_${n})`);
    } else if (iv.kind === 'noise_even_neurons') {
      L.push(...comment(t('cgEx2', { l: iv.layer, m: iv.mean, s: iv.std })));
      L.push(`torch.manual_seed(${pyInt(iv.seed)})  # ${t('cgSeed')}`);
      L.push(`def noise_even_${n}(post, hook):  # ${t('cgPost')}`);
      L.push(`    post[..., 0::2] = torch.normal(${pyNum(iv.mean)}, ${pyNum(iv.std)}, size=post[..., 0::2].shape)`);
      L.push('    return post');
      hooks.push(`("blocks.${l}.mlp.hook_post", noise_even_${n})`);
    } else if (iv.kind === 'scale_hidden') {
      L.push(...comment(t('cgEx34', { l: iv.layer, f: iv.factor })));
      L.push(`def scale_${n}(resid, hook):  # ${t('cgResidHook')}`);
      L.push(`    return resid * ${pyNum(iv.factor)}`);
      hooks.push(`("blocks.${l}.hook_resid_post", scale_${n})`);
    }
    L.push('');
  });
  L.push(...rows.L);
  hooks.push(...rows.hooks);
  return { L, hooks, post: rows.post };
}

// The TransformerLens program's first lines: what it needs, its imports, the model loaded.
export function tlStart(st, t, info) {
  const src = modelSource(st, t, info);
  const L = [];
  L.push(...comment(t('cgNeeds', { pkgs: src.hub ? `torch ${TL_PKG}` : `torch transformers ${TL_PKG}` })));
  L.push('import torch');
  L.push('from transformer_lens import HookedTransformer');
  L.push('');
  L.push(...tlLoad(src, t));
  L.push('model.eval()');
  return { L, src };
}

export function tlCode(st, { lang = 'en', ...info } = {}) {
  const t = makeT(lang);
  const ivs = interventionsOf(st);
  const { L, src } = tlStart(st, t, info);
  L.push(`tokens = model.to_tokens(${py(st.prompt)}, prepend_bos=False)`);
  L.push('');
  L.push('def run(fwd_hooks, post=()):');
  L.push(...comment(t('cgRun'), '    '));
  L.push('    n = model.cfg.n_layers');
  L.push('    resid, emb, final = [None] * n, [], []');
  L.push('    def record(i):');
  L.push('        def hook(x, hook):');
  L.push('            resid[i] = x.std().item()');
  L.push('        return hook');
  L.push(`    rec = [(f"blocks.{i}.hook_resid_post", record(i)) for i in range(n)]  # ${t('cgOrder')}`);
  L.push('    rec += [("blocks.0.hook_resid_pre", lambda x, hook: emb.append(x.std().item())),');
  // TransformerLens's hook_normalized is (x - mean) / scale, before ln_final's weight and bias;
  // HF's last hidden_states entry, the page's, is ln_final's output: the recorder applies them.
  // Processed (fold_ln: LayerNormPre, no weight or bias), the page's value is TL's as it is.
  if (src.processed) L.push(`            ("ln_final.hook_normalized", lambda x, hook: final.append(x.std().item()))]  # ${t('cgTlLnPre')}`);
  else L.push('            ("ln_final.hook_normalized", lambda x, hook: final.append((x * model.ln_final.w + model.ln_final.b).std().item()))]');
  L.push('    with torch.no_grad():');
  L.push('        logits = model.run_with_hooks(tokens, fwd_hooks=fwd_hooks + rec)');
  L.push(`    for f in post:  # ${t('cgTlPost')}`);
  L.push('        logits = f(logits)');
  L.push('    logits = logits[0, -1]');
  L.push('    return resid, emb + resid[:-1] + final, logits');
  L.push('');
  const iv = tlInterventions(ivs, t, info, src.processed);
  L.push(...iv.L);
  const { hooks, post } = iv;
  if (!ivs.length) L.push(...comment(t('cgNone')));
  L.push('baseline = run([])');
  L.push(`intervened = run([${hooks.join(', ')}]${post.length ? `, post=[${post.join(', ')}]` : ''})`);
  L.push('decode = model.tokenizer.decode');
  L.push(...printResults(t, st.topk));
  return L.join('\n');
}

// The tuple explorer: what a forward hook on model.transformer.h[layer] receives as `output`
// inside model(**inputs), by transformers version (tf: '4' or '5'), with this run's shapes.
// Checked against transformers' GPT2Block.forward: 4.x before the cache rewrite returns
// (hidden_states, present[, attentions]) when use_cache (the default in a model call);
// after it (hidden_states[, attentions]); GPT-2 in 5.x with output capture, the tensor.
export function tupleText({ T, C, layer = 9, withAttn = false, tf = '4', lang = 'en' }) {
  const t = makeT(lang);
  const d = C.n_embd, H = C.n_head, dh = d / H;
  const sz = (a) => `torch.Size([${a.join(', ')}])`;
  const attn = sz([1, H, T, T]);
  const L = [];
  L.push(...comment(t('cgTupHook', { l: layer, attn: withAttn ? ', output_attentions=True' : '' })));
  // With the default attention (sdpa) there are no weights to return: later 4.x and 5.x give
  // None in the block's output and in out.attentions (an empty tuple in recent 5.x); the eager
  // implementation returns them in every release (tests/peers/test_tuple_explorer.py).
  if (withAttn) L.push('model = GPT2LMHeadModel.from_pretrained(MODEL, attn_implementation="eager")');
  L.push('def show(module, inp, output):');
  L.push('    print(type(output), len(output) if isinstance(output, tuple) else output.shape)');
  L.push(`handle = model.transformer.h[${layer}].register_forward_hook(show)`);
  L.push(`out = model(**inputs${withAttn ? ', output_attentions=True' : ''})`);
  L.push('');
  if (tf !== '5') {
    L.push(...comment(t('cgTup4old', { n: withAttn ? 3 : 2 })));
    L.push(`output[0].shape   # ${sz([1, T, d])}  ${t('cgTupHiddenNext', { l: layer })}`);
    L.push(`output[1]         # ${t('cgTupPresent', { shape: sz([1, H, T, dh]) })}`);
    if (withAttn) L.push(`output[2].shape   # ${attn}  ${t('cgTupAttn')}`);
    L.push('');
    L.push(...comment(t('cgTup4new', { n: withAttn ? 2 : 1 })));
    L.push(`output[0].shape   # ${sz([1, T, d])}  ${t('cgTupHiddenNext', { l: layer })}`);
    if (withAttn) L.push(`output[1].shape   # ${attn}  ${t('cgTupAttn')}`);
    L.push('');
    L.push(...comment(t('cgTupRebuild')));
    L.push('#   return (output[0].mul(factor),) + output[1:]');
  } else {
    L.push(...comment(`${t('cgTup5')}\n${t('cgTup5early')}`));
    L.push(`type(output)      # torch.Tensor, ${sz([1, T, d])}`);
    L.push(`output[0].shape   # ${sz([T, d])}  ← ${t('cgTup5first')}`);
    if (withAttn) L.push(...comment(t('cgTup5attn', { l: layer, shape: attn })));
    L.push('');
    L.push(...comment(t('cgTup5ret')));
    L.push('#   return output.mul(factor)');
  }
  L.push(...comment(t('cgTupAny')));
  L.push('#   if isinstance(output, tuple): return (output[0].mul(factor),) + output[1:]');
  L.push('#   return output.mul(factor)');
  return L.join('\n');
}

// ---------------------------------------------------------------- the Patching view
// TransformerLens code for the current patching sweep and attribution (transformer_lens.patching,
// ActivationCache.decompose_resid / stack_head_results / apply_ln_to_stack). ex: {clean,
// corrupted, answer, wrong, hook, metric} as the view resolves them.

const PATCH_FN = {
  resid_pre: 'get_act_patch_resid_pre',
  attn_out: 'get_act_patch_attn_out',
  mlp_out: 'get_act_patch_mlp_out',
  z: 'get_act_patch_attn_head_out_all_pos',
};

// A token as the engine takes it: "#ID" → the id, text → model.to_single_token(text).
export const pyToken = (s) => (/^#\d+$/.test(s) ? s.slice(1) : `model.to_single_token(${py(s)})`);

// The page's interventions as permanent TransformerLens hooks (they stay on for every run,
// as the engine applies them to both prompts; a permanent hook runs before the patch's).
function tlPermanentHooks(ivs, t) {
  if (!ivs.length) return [];
  const L = [...comment(t('cgPatchIvs'))];
  ivs.forEach((iv, n) => {
    const l = pyInt(iv.layer);
    if (iv.kind === 'zero_head_k') {
      L.push(`def zero_k_${n}(k, hook):  # ${t('cgK')}`);
      L.push(`    k[:, :, ${pyInt(iv.head)}, :] = 0`);
      L.push('    return k');
      L.push(`model.add_hook("blocks.${l}.attn.hook_k", zero_k_${n}, is_permanent=True)`);
    } else if (iv.kind === 'noise_even_neurons') {
      L.push(`torch.manual_seed(${pyInt(iv.seed)})  # ${t('cgSeed')}`);
      L.push(`def noise_even_${n}(post, hook):  # ${t('cgPost')}`);
      L.push(`    post[..., 0::2] = torch.normal(${pyNum(iv.mean)}, ${pyNum(iv.std)}, size=post[..., 0::2].shape)`);
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
  L.push('');
  return L;
}

function tlPatchHead(st, ex, t, info, extraImport) {
  const src = modelSource(st, t, info);
  const L = [];
  L.push(...comment(t('cgNeeds', { pkgs: src.hub ? `torch ${TL_PKG}` : `torch transformers ${TL_PKG}` })));
  L.push('import torch');
  L.push(`from transformer_lens import HookedTransformer${extraImport}`);
  L.push('');
  L.push(...tlLoad(src, t));
  L.push('model.eval()');
  L.push('torch.set_grad_enabled(False)');
  L.push(`clean_tokens = model.to_tokens(${py(ex.clean)}, prepend_bos=False)`);
  L.push(`answer, wrong = ${pyToken(ex.answer)}, ${pyToken(ex.wrong)}`);
  L.push('');
  L.push(...tlPermanentHooks(interventionsOf(st), t));
  L.push('def logit_diff(logits):');
  L.push('    return logits[0, -1, answer] - logits[0, -1, wrong]');
  L.push('');
  return L;
}

/** The patching sweep of the Patching view, in TransformerLens. */
export function tlPatchCode(st, ex, { lang = 'en', ...info } = {}) {
  const t = makeT(lang);
  const fn = PATCH_FN[ex.hook];
  if (!fn) throw new Error(`codegen: unknown patching hook ${ex.hook}`);
  const L = tlPatchHead(st, ex, t, info, ', patching');
  L.splice(L.indexOf('') + 1, 0, ...comment(t('cgPatchIntro')));
  L.push(`corrupted_tokens = model.to_tokens(${py(ex.corrupted)}, prepend_bos=False)`);
  L.push('clean_logits, clean_cache = model.run_with_cache(clean_tokens)');
  L.push('clean_ld = logit_diff(clean_logits).item()');
  L.push('corrupted_ld = logit_diff(model(corrupted_tokens)).item()');
  L.push('');
  if (ex.metric === 'logit_diff') {
    L.push('metric = logit_diff');
  } else {
    L.push('def metric(logits):');
    L.push('    return (logit_diff(logits) - corrupted_ld) / (clean_ld - corrupted_ld)');
  }
  L.push('');
  L.push(`result = patching.${fn}(model, corrupted_tokens, clean_cache, metric)`);
  L.push('print("clean logit diff", clean_ld, "corrupted", corrupted_ld)');
  const cols = ex.hook === 'z' ? 'heads' : 'positions';
  L.push(...comment(t('cgPatchPrint', { cols })));
  L.push('torch.set_printoptions(precision=4, linewidth=200, sci_mode=False)');
  L.push('print(result)');
  if (interventionsOf(st).length) L.push('model.reset_hooks(including_permanent=True)');
  return L.join('\n');
}

/** Direct logit attribution of the clean prompt, in TransformerLens. */
export function tlDlaCode(st, ex, { lang = 'en', ...info } = {}) {
  const t = makeT(lang);
  const L = tlPatchHead(st, ex, t, info, '');
  L.splice(L.indexOf('') + 1, 0, ...comment(t('cgDlaIntro')));
  const processed = st.process === 'tl';
  L.push('logits, cache = model.run_with_cache(clean_tokens)');
  L.push('direction = model.W_U[:, answer] - model.W_U[:, wrong]');
  L.push('def project(stack):');
  if (processed) {
    // fold_ln: ln_final has no weight or bias (LayerNormPre); they are inside W_U and b_U.
    L.push(`    # ${t('cgDlaProject')}`);
    L.push('    return cache.apply_ln_to_stack(stack, layer=-1, pos_slice=-1) @ direction');
  } else {
    L.push('    # ln_final with the run\'s own scale, its weight, then onto the direction');
    L.push('    return (cache.apply_ln_to_stack(stack, layer=-1, pos_slice=-1) * model.ln_final.w) @ direction');
  }
  L.push('resid, labels = cache.decompose_resid(layer=-1, pos_slice=-1, return_labels=True)');
  L.push('heads, head_labels = cache.stack_head_results(layer=-1, pos_slice=-1, return_labels=True)');
  L.push('parts = dict(zip(labels, project(resid)[:, 0].tolist()))');
  L.push('n, h = model.cfg.n_layers, model.cfg.n_heads');
  L.push('per_head = project(heads)[:, 0].reshape(n, h)');
  L.push(...comment(t('cgDlaBias')));
  if (processed) {
    L.push(...comment(t('cgDlaBiasTl')));
    L.push('ln_bias = 0.0');
    L.push('unembed_bias = (model.b_U[answer] - model.b_U[wrong]).item()');
  } else L.push('ln_bias = (model.ln_final.b @ direction).item()');
  L.push('print("embed", parts["embed"], "pos_embed", parts["pos_embed"])');
  L.push('print("block  heads  attn_bias  mlp")');
  L.push('for l in range(n):');
  L.push('    heads_sum = per_head[l].sum().item()');
  L.push('    print(l, heads_sum, parts[f"{l}_attn_out"] - heads_sum, parts[f"{l}_mlp_out"])');
  L.push('print("ln_final.bias", ln_bias)');
  if (processed) L.push('print("unembed.bias", unembed_bias)');
  L.push('torch.set_printoptions(precision=4, linewidth=200, sci_mode=False)');
  L.push('print(per_head)');
  L.push(`print("sum", sum(parts.values()) + ln_bias${processed ? ' + unembed_bias' : ''}, "logit diff", logit_diff(logits).item())`);
  if (interventionsOf(st).length) L.push('model.reset_hooks(including_permanent=True)');
  return L.join('\n');
}
