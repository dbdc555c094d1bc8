// Numbers derived from two run JSONs (baseline, intervened): pure functions, no DOM.
import { hookEntry } from './rows.js';

export const finite = (x) => typeof x === 'number' && Number.isFinite(x);
// Plain arrays out of typed ones (captures may arrive as Float32Array).
const slice = (a, i, j) => Array.from(a.slice(i, j));

// For the scaling exercises: what the interventions imposed on the std at their block, and
// how much of it is left at the last block (before ln_f) and after ln_f, as ratios
// intervened/baseline. "What the network did" is defined only when the scaling is the
// only intervention and sits at one block with a later block after it: otherwise part of
// the change at the last block is imposed, not the network's, and `reason` says why no
// figure is given ('mixed' | 'twoBlocks' | 'cancel' | 'zero' | 'lastBlock' | 'nonfinite').
// net: % of the imposed change (log scale) that the later blocks undid (> 100: they
// overshot past ×1; < 0: they amplified it); lnf: % that ln_f then removed.
export function compensationReport(interventions, base, int) {
  const scales = interventions.filter((iv) => iv.kind === 'scale_hidden');
  if (!scales.length) return null;
  const layers = [...new Set(scales.map((iv) => iv.layer))];
  const layer = Math.min(...layers);
  const factor = scales.filter((iv) => iv.layer === layer).reduce((a, iv) => a * iv.factor, 1);
  const r = (a, b) => (finite(a) && finite(b) && b !== 0 ? a / b : null);
  const n = base.resid_std.length;
  const hn = base.hidden_std.length;
  const rL = r(int.resid_std[layer], base.resid_std[layer]);
  const rLast = r(int.resid_std[n - 1], base.resid_std[n - 1]);
  const rF = r(int.hidden_std[hn - 1], base.hidden_std[hn - 1]);
  const out = { layer, factor, rL, rLast, rF, net: null, lnf: null, reason: null };
  if (layers.length > 1) return { ...out, reason: 'twoBlocks' };
  if (scales.length < interventions.length) return { ...out, reason: 'mixed' };
  if (factor === 0) return { ...out, reason: 'zero' };
  if (Math.abs(Math.log(Math.abs(factor))) < 1e-6) return { ...out, reason: 'cancel' };
  if (![rL, rLast, rF].every(finite) || rL <= 0 || rLast <= 0 || rF <= 0) return { ...out, reason: 'nonfinite' };
  if (Math.abs(Math.log(rL)) < 1e-4) return { ...out, reason: 'cancel' };
  if (layer === n - 1) return { ...out, reason: 'lastBlock' };
  const dL = Math.log(rL);
  return { ...out, net: 100 * (1 - Math.log(rLast) / dL), lnf: (100 * (Math.log(rLast) - Math.log(rF))) / dL };
}

// The predict-then-reveal questions for a run, with their true answers (null: undefined
// for this run, `reason` says why): {id, vars, truth, net?, reason?}. Their wording is lessons/chapter.md's
// (the questions that name these truths, lesson-truths.js); the page asks them in predict mode (panels/questions.js).
export function quizTruths(interventions, ex, base, int) {
  const qs = [];
  const comp = compensationReport(interventions, base, int);
  if (comp) {
    // "Recovers" = the later blocks themselves undo at least a quarter of the change (log scale).
    const truth = finite(comp.net) ? comp.net >= 25 : null;
    qs.push({ id: 'recover', vars: { l: comp.layer, f: comp.factor }, truth, net: comp.net, reason: comp.reason });
    const n = base.hidden_std.length - 1;
    const bb = base.hidden_std[n], ii = int.hidden_std[n];
    qs.push({ id: 'hf1', vars: {}, truth: finite(bb) && finite(ii) && bb !== 0 ? Math.abs(ii / bb - 1) < 0.05 : null });
  }
  if (ex?.ex1?.on) {
    const cap = int.captures?.[`blocks.${ex.ex1.layer}.attn.hook_pattern`];
    qs.push({ id: 'uniform', vars: { h: ex.ex1.head, l: ex.ex1.layer }, truth: isUniformHead(cap, ex.ex1.head) });
  }
  if (interventions.length) qs.push({ id: 'top1', vars: {}, truth: base.top[0]?.id !== int.top[0]?.id });
  return qs;
}

// Sample std (N-1) of a capture at each position. entry: the hook's row of the engine's hook
// table (lab.hooks()), which gives its dims and axes. Attention scores and patterns ([head,
// pos, key_pos]) are read per query position over heads and the visible keys (k <= q), as
// the run's stats leave the masked entries out; every other hook has its positions first.
export function positionStd(capture, entry) {
  const { shape, data } = capture;
  const attn = entry.dims.join() === 'head,pos,key_pos';
  if (!attn && entry.axes.positions !== 0) throw new Error(`positionStd: ${entry.name} does not have its positions first`);
  const T = shape[entry.axes.positions];
  const out = [];
  for (let q = 0; q < T; q++) {
    let n = 0, mean = 0, m2 = 0, bad = false;
    const add = (v) => {
      if (!finite(v)) { bad = true; return; }
      n++;
      const d = v - mean;
      mean += d / n;
      m2 += d * (v - mean);
    };
    if (attn) {
      for (let h = 0; h < shape[0]; h++) for (let k = 0; k <= q; k++) add(data[(h * T + q) * T + k]);
    } else {
      const w = data.length / T;
      for (let j = q * w; j < (q + 1) * w; j++) add(data[j]);
    }
    out.push(bad || n < 2 ? null : Math.sqrt(m2 / (n - 1)));
  }
  return out;
}

// Smallest and largest finite value of any number list (typed arrays included), without
// spreading it onto the stack.
export function finiteRange(...lists) {
  let lo = Infinity, hi = -Infinity;
  for (const l of lists) for (const v of l) if (finite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
  return lo <= hi ? { lo, hi } : null;
}

// Is the pattern of `head` uniform over the causal prefix? pattern: capture {shape:[H,T,T], data}.
export function isUniformHead(capture, head, tol = 1e-4) {
  if (!capture) return null;
  const [, T] = capture.shape;
  for (let q = 0; q < T; q++)
    for (let k = 0; k <= q; k++) {
      const v = capture.data[(head * T + q) * T + k];
      if (!finite(v) || Math.abs(v - 1 / (q + 1)) > tol) return false;
    }
  return true;
}

export function headMatrix(capture, head) {
  const [, T] = capture.shape;
  const rows = [];
  for (let q = 0; q < T; q++) rows.push(slice(capture.data, (head * T + q) * T, (head * T + q + 1) * T));
  return rows;
}

export function neuronRow(capture, pos) {
  const [, D] = capture.shape;
  return slice(capture.data, pos * D, (pos + 1) * D);
}

export function histogram(values, lo, hi, bins) {
  const counts = new Array(bins).fill(0);
  const w = (hi - lo) / bins;
  for (const v of values) {
    if (!finite(v)) continue;
    const b = Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / w)));
    counts[b]++;
  }
  return counts.map((c, i) => ({ lo: lo + i * w, hi: lo + (i + 1) * w, count: c }));
}

const csvCell = (v) => {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};
export const csvLine = (cells) => cells.map(csvCell).join(',');

// Every number the page shows, as one CSV with a "table" column; `meta` rows first name the
// model, prompt, interventions and date. exp: the page's export object (see export.js);
// table: the engine's hook table (lab.hooks()), for the captures' layouts.
export function toCsv(exp, table) {
  const { baseline: base, intervened: int } = exp;
  const lines = [csvLine(['table', 'index', 'label', 'baseline', 'intervened'])];
  const row = (...c) => lines.push(csvLine(c));
  row('meta', 0, 'model', exp.model.name, '');
  row('meta', 1, 'prompt', exp.prompt, '');
  row('meta', 2, 'interventions', JSON.stringify(exp.interventions), '');
  row('meta', 3, 'date', exp.date, '');
  if (exp.model.processing) row('meta', 4, 'processing', Object.keys(exp.model.processing).filter((k) => exp.model.processing[k]).join(','), ''); // TransformerLens's, at load
  Array.from(base.resid_std).forEach((b, i) => row('resid_std', i, `block ${i}`, b, int.resid_std[i]));
  const hn = base.hidden_std.length;
  Array.from(base.hidden_std).forEach((b, i) => row('hidden_std', i, i === 0 ? 'embeddings' : i === hn - 1 ? 'ln_f' : `block ${i - 1}`, b, int.hidden_std[i]));
  exp.compare.top.forEach((r, i) => row('next_token_prob', i, r.token, r.pBase, r.pInt));
  row('kl_final', 0, 'KL(baseline||intervened) nats', exp.compare.kl, '');
  for (const l of exp.logit_lens || []) {
    row('logit_lens_kl', l.layer, `block ${l.layer}`, l.kl, '');
    row('logit_lens_top1_token', l.layer, `block ${l.layer}`, l.topBase?.token, l.topInt?.token);
    row('logit_lens_top1_prob', l.layer, `block ${l.layer}`, l.topBase?.prob, l.topInt?.prob);
  }
  for (const [hook, st] of Object.entries(base.stats || {}))
    for (const [stat, vals] of Object.entries(st))
      Array.from(vals).forEach((v, i) => row(`stats ${hook} ${stat}`, i, vals.length > 1 ? `block ${i}` : hook, v, int.stats?.[hook]?.[stat]?.[i]));
  for (const [name, cb] of Object.entries(base.captures || {})) {
    const ci = int.captures?.[name];
    if (!ci) continue;
    const entry = hookEntry(name, table);
    const pi = positionStd(ci, entry);
    positionStd(cb, entry).forEach((v, q) => row(`position_std ${name}`, q, `position ${q}`, v, pi[q]));
    if (/mlp\.hook_post$|attn\.hook_pattern$/.test(name)) {
      const idx = (k) => { const out = []; let r = k; for (let d = cb.shape.length - 1; d >= 0; d--) { out.unshift(r % cb.shape[d]); r = Math.floor(r / cb.shape[d]); } return out.join(' '); };
      for (let k = 0; k < cb.data.length; k++) row(`capture ${name}`, k, idx(k), cb.data[k], ci.data[k]);
    }
  }
  return lines.join('\n') + '\n';
}
