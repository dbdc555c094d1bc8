// Pure helpers behind the Patching view (no DOM: node tests import them): the default
// pairs, the diverging colour scale, the sweep's table and CSV, and the grouping of the
// engine's attribution components (the view's state and URL keys: ../patch-state.js).
// The form's input check, run in the worker, is ../worker/patch-check.js.
// Numbers come from the engine (lab.patch, lab.attribute); nothing is recomputed here
// except sums for display.

// GPT-2's indirect-object pair (Wang et al. 2022), the course's standard example.
export const IOI_PAIR = {
  clean: 'When Mary and John went to the store, John gave a drink to',
  corrupted: 'When Mary and John went to the store, Mary gave a drink to',
  answer: ' Mary',
  wrong: ' John',
};
// The embedded HookLab-Circuits barely reacts to the IOI pair (logit differences -1.75 and
// -1.67); this number-agreement pair moves it from +4.68 to -2.00 (measured with
// `hooklab patch`, reported in the model card's patching.md, checked by
// tests/node/web-patching.test.mjs).
export const EMBEDDED_PAIR = {
  clean: 'When the man came home, he',
  corrupted: 'When the men came home, they',
  answer: ' was',
  wrong: ' were',
};

/** The pair a model starts with: the embedded model's own, GPT-2's IOI pair otherwise. */
export const defaultPair = (modelKey) => (modelKey === 'default' ? EMBEDDED_PAIR : IOI_PAIR);

/** The four texts the sweep uses: the state's, or the model's default where unset. */
export function patchInputs(p, modelKey) {
  const d = defaultPair(modelKey);
  return { clean: p.clean ?? d.clean, corrupted: p.corrupted ?? d.corrupted, answer: p.answer ?? d.answer, wrong: p.wrong ?? d.wrong };
}

/** A diverging colour for v on [-m, m]: ColorBrewer RdBu's blue end below 0, PuOr's
 *  orange end above, near-white at 0 (a blue–orange pair reads for every colour vision). */
export function divergingColor(v, m) {
  const white = [247, 247, 247], neg = [33, 102, 172], pos = [179, 88, 6];
  if (typeof v !== 'number' || !Number.isFinite(v)) return null;
  const s = m > 0 ? Math.max(-1, Math.min(1, v / m)) : 0;
  const end = s < 0 ? neg : pos, a = Math.abs(s);
  return `rgb(${white.map((w, i) => Math.round(w + (end[i] - w) * a)).join(',')})`;
}

/** The colour scale's half-width: the largest |value| (1 at least for the normalised metric,
 *  so "fully restored" is the darkest colour). */
export function scaleMax(matrix, metric) {
  let m = 0;
  for (const row of matrix) for (const v of row) if (Number.isFinite(v)) m = Math.max(m, Math.abs(v));
  return metric === 'normalized' ? Math.max(1, m) : m || 1;
}

/** Column labels of a sweep: "p 'token'" per position, "h" per head. */
export function sweepColumns(r) {
  if (r.by === 'head') return r.logit_diff[0].map((_, h) => ({ kind: 'head', h }));
  return r.corrupted_token_strings.map((tok, p) => ({ kind: 'pos', p, tok, clean: r.clean_token_strings[p] }));
}

/** The sweep as rows for CSV/JSON: [{layer, position|head, clean_token?, corrupted_token?, logit_diff, normalized}]. */
export function sweepRows(r) {
  const cols = sweepColumns(r);
  const rows = [];
  r.logit_diff.forEach((row, layer) => row.forEach((ld, i) => {
    const c = cols[i];
    rows.push(c.kind === 'head'
      ? { layer, head: c.h, logit_diff: ld, normalized: r.normalized[layer][i] }
      : { layer, position: c.p, clean_token: c.clean, corrupted_token: c.tok, logit_diff: ld, normalized: r.normalized[layer][i] });
  }));
  return rows;
}

const csvCell = (v) => {
  const s = v === null || v === undefined ? '' : typeof v === 'number' ? String(v) : String(v);
  return /[",\n\r]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** The export as CSV: '#'-comment lines naming the experiment, then one row per cell. */
export function sweepCsv(exp) {
  const r = exp.sweep;
  const head = [
    ['model', exp.model.name], ['clean', exp.clean], ['corrupted', exp.corrupted], ['answer', `${exp.answer} (#${r.answer_id})`],
    ['wrong', `${exp.wrong} (#${r.wrong_id})`], ['hook', r.hook], ['by', r.by], ['interventions', JSON.stringify(exp.interventions)],
    ['clean_logit_diff', r.clean_logit_diff], ['corrupted_logit_diff', r.corrupted_logit_diff], ['date', exp.date],
  ].map(([k, v]) => `# ${k}: ${typeof v === 'string' ? JSON.stringify(v) : v}`);
  const rows = sweepRows(r);
  const keys = Object.keys(rows[0] ?? {});
  return [...head, keys.join(','), ...rows.map((row) => keys.map((k) => csvCell(row[k])).join(','))].join('\n') + '\n';
}

/** The engine's attribution components grouped for the charts: per block the heads' sum,
 *  the attention bias and the MLP; the heads as [n_layer][n_head]; embed, pos_embed and
 *  ln_final.bias; the sum of every component. */
export function dlaGroups(attr, nLayer, nHead) {
  const heads = Array.from({ length: nLayer }, () => new Array(nHead).fill(0));
  const attn = new Array(nLayer).fill(0), bias = new Array(nLayer).fill(0), mlp = new Array(nLayer).fill(0);
  const other = {};
  let sum = 0;
  for (const { name, value } of attr.components) {
    sum += value;
    let m;
    if ((m = name.match(/^blocks\.(\d+)\.attn\.head\.(\d+)$/))) { heads[+m[1]][+m[2]] = value; attn[+m[1]] += value; }
    else if ((m = name.match(/^blocks\.(\d+)\.attn\.bias$/))) bias[+m[1]] = value;
    else if ((m = name.match(/^blocks\.(\d+)\.mlp$/))) mlp[+m[1]] = value;
    else other[name] = value;
  }
  return { heads, attn, bias, mlp, other, sum, count: attr.components.length };
}

/** Which field an engine error belongs next to: 'prompts', 'answer', 'wrong', 'dla' or null. */
export function errorField(desc) {
  const which = desc?.vars?.which;
  if (desc.key === 'errPatchLengths' || desc.key === 'errPromptLong' || which === 'clean' || which === 'corrupted') return 'prompts';
  if (which === 'answer' || which === 'wrong') return which;
  if (desc.key === 'errDlaResid') return 'dla';
  return null;
}

// When the normalised metric misleads: it divides by D = clean − corrupted and reads 1 as
// "back to the clean run", which is "the answer restored" only when D > 0. The rule, stated
// in the map's caption: warn when D ≤ 0, or |D| < SMALL_DIFF, or |D| < SMALL_SHARE of the
// larger of |clean| and |corrupted|.
export const SMALL_DIFF = 0.5;
export const SMALL_SHARE = 0.1;

/** null, or {reversed, small, d}: what is wrong with this pair's logit differences. */
export function diffWarning(clean, corrupted) {
  if (!Number.isFinite(clean) || !Number.isFinite(corrupted)) return null;
  const d = clean - corrupted;
  const small = Math.abs(d) < SMALL_DIFF || Math.abs(d) < SMALL_SHARE * Math.max(Math.abs(clean), Math.abs(corrupted));
  const reversed = d <= 0;
  return small || reversed ? { reversed, small, d } : null;
}
