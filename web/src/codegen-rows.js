// The builder's rows (general interventions, README "Interventions") as Python: HuggingFace
// forward hooks on the module that computes each hook point, and TransformerLens hooks. Each
// tensor is handled in TransformerLens's layout ([batch, pos, d], [batch, pos, head, d_head],
// [batch, head, query, key]), where the selectors' axes are the engine's.

import { hookEntry } from './rows.js';
import './codegen-strings.js';

const py = (s) => JSON.stringify(String(s));

// A selector as a Python literal (the engine's JSON is valid Python for these shapes).
const pySel = (s) => (s === undefined ? '"all"' : JSON.stringify(s));

// The engine's hook name → {layer, name} (layer null for the global hooks).
function split(hook) {
  const m = hook.match(/^blocks\.(\d+)\.(.+)$/);
  return m ? { layer: Number(m[1]), name: m[2] } : { layer: null, name: hook };
}

let table = null; // the engine's hook table (lab.hooks()), set by the generators

// The table's entry of a hook; a hook it does not know is refused.
function entryOf(hook) {
  const e = hookEntry(hook, table);
  if (!e) throw new Error(`codegen: ${hook} is not in the engine's hook table`);
  return e;
}

// Axes of a hook's tensor in TransformerLens's layout: the table's (the engine's tensors
// have no batch axis), one further for the batch; -1: the tensor has no such axis.
function axesOf(hook) {
  const { axes } = entryOf(hook);
  return Object.fromEntries(['positions', 'heads', 'features'].filter((k) => axes[k] >= 0).map((k) => [k, axes[k] + 1]));
}

// The Python call that applies one row to `x`.
function call(iv, x) {
  const ax = axesOf(iv.hook);
  const axes = Object.entries(ax).map(([k, a]) => `${a}: ${pySel(iv[k])}`).join(', ');
  const p = iv.kind === 'scale' ? `, factor=${num(iv.factor)}` : iv.kind === 'add' || iv.kind === 'set' ? `, value=${num(iv.value)}`
    : iv.kind === 'noise' ? `, mean=${num(iv.mean)}, std=${num(iv.std)}, seed=${iv.seed}` : '';
  return `intervene(${x}, ${py(iv.kind)}, {${axes}}${p})`;
}

let num = String; // set by the generators (codegen.js's pyNum)

/** The helpers every row uses: selector masks and the five operations. */
function helpers(t) {
  return [
    `def sel_mask(n, s):`,
    `    # ${t('cgSelMask')}`,
    '    m = torch.zeros(n, dtype=torch.bool)',
    '    if s == "all":',
    '        m[:] = True',
    '    elif s == "even":',
    '        m[0::2] = True',
    '    elif s == "odd":',
    '        m[1::2] = True',
    '    elif isinstance(s, dict):',
    '        m[s["range"][0]:s["range"][1]] = True',
    '    else:',
    '        m[torch.tensor(s)] = True',
    '    return m',
    '',
    'def intervene(x, op, axes, factor=1.0, value=0.0, mean=0.0, std=1.0, seed=0):',
    `    # ${t('cgIntervene')}`,
    '    mask = torch.ones(x.shape, dtype=torch.bool)',
    '    for axis, s in axes.items():',
    '        shape = [1] * x.dim()',
    '        shape[axis] = x.shape[axis]',
    '        mask = mask & sel_mask(x.shape[axis], s).view(shape)',
    '    if op == "zero":',
    '        new = torch.zeros_like(x)',
    '    elif op == "scale":',
    '        new = x * factor',
    '    elif op == "add":',
    '        new = x + value',
    '    elif op == "set":',
    '        new = torch.full_like(x, value)',
    '    else:',
    `        # ${t('cgSeed')}`,
    '        new = torch.normal(mean, std, size=x.shape, generator=torch.Generator().manual_seed(seed))',
    '    return torch.where(mask, new, x)',
    '',
    'def causal(x):',
    `    # ${t('cgCausal')}`,
    '    T = x.shape[-1]',
    '    return torch.ones(T, T, dtype=torch.bool).tril()',
    '',
  ];
}

// The engine's firing order (the table's): HF hooks are registered in it, so that rows on
// different hook points act in the engine's order whatever their order in the list (rows on
// one point keep theirs). The hooks outside the blocks come before them or after them.
const hookRank = (hook) => {
  const { layer } = split(hook);
  const i = table.indexOf(entryOf(hook));
  const where = layer ?? (i < table.findIndex((e) => e.per_block) ? -1 : 1e6);
  return where * 100 + i;
};

/** The generators' table: rows need it (their axes and order are the engine's). */
function useTable(rows, engineHooks) {
  if (rows.length && !Array.isArray(engineHooks)) throw new Error('codegen: the builder\'s rows need the engine\'s hook table (lab.hooks())');
  table = engineHooks ?? null;
}

/**
 * HuggingFace: {lines, hooks: [{rank, reg}]}, reg a Python (module, fn, how) tuple for run().
 * rows: the engine's interventions of the builder (kind zero|scale|add|set|noise), n0: the
 * first function number, engineHooks: the engine's hook table (lab.hooks()), needed with rows.
 */
export function hfRows(rows, t, pyNum, n0 = 0, engineHooks = null) {
  num = pyNum;
  useTable(rows, engineHooks);
  const L = [];
  const hooks = [];
  if (!rows.length) return { L, hooks };
  L.push(...helpers(t));
  // hook_attn_scores and hook_pattern: HF has no module there, so one forward hook per block
  // recomputes the attention from the attn module's input with that block's rows.
  const attnRows = new Map();
  rows.forEach((iv, i) => {
    const n = n0 + i;
    const { layer, name } = split(iv.hook);
    const b = `blocks[${layer}]`;
    const fn = `row_${n}`;
    const rank = hookRank(iv.hook);
    L.push(`# ${t('cgRowHf', { n: i + 1, hook: iv.hook })}`);
    const out = (mod, body, how = 'out') => {
      const sig = how === 'pre' ? '(module, args)' : '(module, inp, output)';
      L.push(`def ${fn}${sig}:`, ...body.map((s) => `    ${s}`), '');
      hooks.push({ rank, reg: `(${mod}, ${fn}${how === 'out' ? '' : `, ${py(how)}`})` });
    };
    if (name === 'attn.hook_attn_scores' || name === 'attn.hook_pattern') {
      if (!attnRows.has(layer)) attnRows.set(layer, []);
      attnRows.get(layer).push(iv);
      L.pop();
      return;
    }
    switch (name) {
      case 'hook_embed': return out('model.transformer.wte', [`return ${call(iv, 'output')}`]);
      case 'hook_pos_embed': return out('model.transformer.wpe', [`return ${call(iv, 'output')}`]);
      case 'hook_resid_pre': return out(b, [`return (${call(iv, 'args[0]')},) + tuple(args[1:])`], 'pre');
      case 'ln1.hook_normalized': return out(`${b}.ln_1`, [`return ${call(iv, 'output')}`]);
      case 'ln2.hook_normalized': return out(`${b}.ln_2`, [`return ${call(iv, 'output')}`]);
      case 'attn.hook_qkv': return out(`${b}.attn.c_attn`, [`return ${call(iv, 'output')}`]);
      case 'attn.hook_q': case 'attn.hook_k': case 'attn.hook_v': {
        const k = 'qkv'.indexOf(name.slice(-1));
        return out(`${b}.attn.c_attn`, [
          `parts = list(output.split(n_embd, dim=-1))  # ${t('cgQkvParts')}`,
          `x = parts[${k}].reshape(*output.shape[:2], n_head, d_head)`,
          `parts[${k}] = ${call(iv, 'x')}.reshape(parts[${k}].shape)`,
          'return torch.cat(parts, dim=-1)']);
      }
      case 'attn.hook_z': return out(`${b}.attn.c_proj`, [
        `x = args[0].reshape(*args[0].shape[:2], n_head, d_head)  # ${t('cgZ')}`,
        `return (${call(iv, 'x')}.reshape(args[0].shape),) + tuple(args[1:])`], 'pre');
      case 'hook_attn_out': return out(`${b}.attn`, [`return (${call(iv, 'output[0]')},) + tuple(output[1:])`]);
      case 'hook_resid_mid': {
        // The residual after attention is a sum inside the block: keep the block's input,
        // change the sum, hand back the attention output that gives it.
        L.push(`resid_in_${n} = []`);
        L.push(`def keep_${n}(module, args):`, `    resid_in_${n}[:] = [args[0]]`, '');
        hooks.push({ rank, reg: `(${b}, keep_${n}, "pre")` });
        return out(`${b}.attn`, [
          `mid = resid_in_${n}[0] + output[0]  # ${t('cgResidMid')}`,
          `return (${call(iv, 'mid')} - resid_in_${n}[0],) + tuple(output[1:])`]);
      }
      case 'mlp.hook_pre': return out(`${b}.mlp.c_fc`, [`return ${call(iv, 'output')}`]);
      case 'mlp.hook_post': return out(`${b}.mlp.act`, [`return ${call(iv, 'output')}`]);
      case 'hook_mlp_out': return out(`${b}.mlp`, [`return ${call(iv, 'output')}`]);
      case 'hook_resid_post': return out(b, [
        `if isinstance(output, tuple):  # ${t('cgRebuild')}`,
        `    return (${call(iv, 'output[0]')},) + output[1:]`,
        `return ${call(iv, 'output')}`]);
      case 'ln_final.hook_normalized': return out('model.transformer.ln_f', [`return ${call(iv, 'output')}`]);
      case 'logits': return out('model.lm_head', [
        `output = output.clone()  # ${t('cgLogitsLast')}`,
        `output[:, -1:] = ${call(iv, 'output[:, -1:]')}`,
        'return output']);
      default: throw new Error(`codegen: no HuggingFace module for hook ${iv.hook}`);
    }
  });
  for (const [layer, ivs] of attnRows) {
    const fn = `attention_${layer}`;
    L.push(`# ${t('cgAttnRecompute', { l: layer })}`);
    L.push(`def ${fn}(module, inp, output):`);
    L.push(`    x = inp[0]  # ${t('cgAttnInput')}`);
    L.push('    q, k, v = (t.reshape(*x.shape[:2], n_head, d_head).transpose(1, 2) for t in module.c_attn(x).split(n_embd, dim=-1))');
    L.push('    scores = q @ k.transpose(-1, -2) / d_head ** 0.5');
    L.push('    scores = scores.masked_fill(~causal(scores), float("-inf"))');
    for (const iv of ivs.filter((r) => r.hook.endsWith('hook_attn_scores'))) L.push(`    scores = torch.where(causal(scores), ${call(iv, 'scores')}, scores)`);
    L.push('    pattern = scores.softmax(-1)');
    for (const iv of ivs.filter((r) => r.hook.endsWith('hook_pattern'))) L.push(`    pattern = ${call(iv, 'pattern')}`);
    L.push('    z = (pattern @ v).transpose(1, 2).reshape(x.shape)');
    L.push('    return (module.c_proj(z),) + tuple(output[1:])');
    L.push('');
    hooks.push({ rank: hookRank(`blocks.${layer}.attn.hook_attn_scores`), reg: `(blocks[${layer}].attn, ${fn})` });
  }
  hooks.sort((a, b) => a.rank - b.rank); // stable: rows at one point keep their order
  return { L, hooks };
}

// The TransformerLens LayerNorm module of each hook_normalized.
const LN_MODULE = {
  'ln1.hook_normalized': (l) => `model.blocks[${l}].ln1`,
  'ln2.hook_normalized': (l) => `model.blocks[${l}].ln2`,
  'ln_final.hook_normalized': () => 'model.ln_final',
};

/** TransformerLens: {lines, hooks: [python (name, fn) tuples], post: [fn names for the logits]}. */
export function tlRows(rows, t, pyNum, n0 = 0, engineHooks = null, processed = false) {
  num = pyNum;
  useTable(rows, engineHooks);
  const L = [];
  const hooks = [];
  const post = [];
  if (!rows.length) return { L, hooks, post };
  L.push(...helpers(t));
  rows.forEach((iv, i) => {
    const fn = `row_${n0 + i}`;
    const { layer, name } = split(iv.hook);
    L.push(`# ${t('cgRowTl', { n: i + 1, hook: iv.hook })}`);
    if (name === 'logits') {
      L.push(`def ${fn}(logits):  # ${t('cgTlLogits')}`);
      L.push('    logits = logits.clone()');
      L.push(`    logits[:, -1:] = ${call(iv, 'logits[:, -1:]')}`);
      L.push('    return logits', '');
      post.push(fn);
      return;
    }
    if (name === 'attn.hook_qkv') {
      // TransformerLens has q, k and v apart: each gets its third of the [pos, 3·d_model] row.
      L.push(`def ${fn}(x, hook):  # ${t('cgTlQkv')}`);
      L.push('    part, C = "qkv".index(hook.name[-1]), x.shape[2] * x.shape[3]');
      L.push('    full = torch.zeros(*x.shape[:2], 3 * C)');
      L.push('    full[..., part * C:(part + 1) * C] = x.reshape(*x.shape[:2], C)');
      L.push(`    full = ${call(iv, 'full')}`);
      L.push('    return full[..., part * C:(part + 1) * C].reshape(x.shape)', '');
      for (const p of 'qkv') hooks.push(`("blocks.${layer}.attn.hook_${p}", ${fn})`);
      return;
    }
    L.push(`def ${fn}(x, hook):`);
    if (name === 'attn.hook_attn_scores') L.push(`    return torch.where(causal(x), ${call(iv, 'x')}, x)  # ${t('cgCausalTl')}`);
    else if (LN_MODULE[name] && processed) {
      // Weights processed (fold_ln): TransformerLens's LayerNormPre value is the engine's hook point.
      L.push(`    return ${call(iv, 'x')}  # ${t('cgTlLnPre')}`);
    } else if (LN_MODULE[name]) {
      // TransformerLens's hook_normalized is (x - mean) / scale, before the LayerNorm's weight and
      // bias; the engine's hook point (HF's ln output) is after them: act there, hand back x.
      L.push(`    ln = ${LN_MODULE[name](layer)}`);
      L.push(`    return (${call(iv, 'x * ln.w + ln.b')} - ln.b) / ln.w`);
    } else L.push(`    return ${call(iv, 'x')}`);
    L.push('');
    hooks.push(`(${py(iv.hook)}, ${fn})`);
  });
  return { L, hooks, post };
}

/** Whether an intervention is one of the builder's general rows. */
export const isRow = (iv) => typeof iv.hook === 'string' && ['zero', 'scale', 'add', 'set', 'noise'].includes(iv.kind);

/**
 * For the other code writers (codegen-nnsight.js): the rows sorted in the engine's firing order
 * (stable), the helpers' lines, and call(iv, x), the Python expression that applies a row to x
 * (x in TransformerLens's layout, batch first).
 */
export function rowTools(rows, t, pyNum, engineHooks = null) {
  num = pyNum;
  useTable(rows, engineHooks);
  const sorted = rows.map((iv, i) => ({ iv, i, rank: hookRank(iv.hook) })).sort((a, b) => a.rank - b.rank || a.i - b.i).map((x) => x.iv);
  return { sorted, helpers: rows.length ? helpers(t) : [], call: (iv, x) => call(iv, x), split };
}
