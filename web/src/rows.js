// The intervention builder's rows: pure logic (no DOM; node tests import it). A row is the
// page's form of one general intervention (README "Interventions"):
//   {on, hook, kind, factor, value, mean, std, seed, positions, heads, features}
// with each selector kept as the text the learner typed: all | even | odd | a:b (b excluded)
// | a list 0,2,-1. The URL keeps the rows under one key, `iv`, rows separated by ";":
//   HOOK KIND[=ARGS] [pos=S] [heads=S] [feat=S] [off]      ARGS: scale=F, add=V, set=V, noise=MEAN,STD,SEED
// e.g. "blocks.3.attn.hook_z scale=0 heads=1,5;hook_embed noise=0,0.5,7 pos=0:3 off".

import { parseNumber } from './numbers.js';

export const KINDS = ['zero', 'scale', 'add', 'set', 'noise'];
export const SEL_MODES = ['all', 'even', 'odd', 'range', 'list'];
// The number fields each operation takes, in URL order.
export const KIND_PARAMS = { zero: [], scale: ['factor'], add: ['value'], set: ['value'], noise: ['mean', 'std', 'seed'] };
export const ROW_PARAM_KIND = { factor: 'factor', value: 'value', mean: 'mean', std: 'std', seed: 'seed' };

export function defaultRow(hook = 'blocks.0.hook_resid_post') {
  return { on: true, hook, kind: 'scale', factor: 0, value: 0, mean: 0, std: 1, seed: 0, positions: 'all', heads: 'all', features: 'all' };
}

const HOOK_RE = /^(blocks\.\d{1,4}\.)?[a-z0-9_]+(\.[a-z0-9_]+)?$/;

/** The selector's mode (one of SEL_MODES) as written. */
export function selectorMode(text) {
  const s = String(text).trim();
  if (s === 'all' || s === 'even' || s === 'odd') return s;
  return s.includes(':') ? 'range' : 'list';
}

/** Selector text → the engine's JSON ({value}) or {error: {key, vars}}. n: the axis length when
 *  known (heads), to refuse an index the engine would refuse. */
export function parseSelector(text, n = null) {
  const s = String(text ?? '').trim();
  if (s === 'all' || s === 'even' || s === 'odd') return { value: s };
  const int = (x) => (/^-?\d+$/.test(x.trim()) ? Number(x.trim()) : NaN);
  if (s.includes(':')) {
    const parts = s.split(':');
    const [a, b] = parts.map(int);
    if (parts.length !== 2 || !Number.isSafeInteger(a) || !Number.isSafeInteger(b)) return { error: { key: 'ivRangeBad', vars: { v: s } } };
    if (a < 0 || b <= a || (n !== null && b > n)) return { error: { key: 'ivRangeOrder', vars: { v: s, n: n ?? '…' } } };
    return { value: { range: [a, b] } };
  }
  const list = s.split(',').map(int);
  if (!s || list.some((x) => !Number.isSafeInteger(x))) return { error: { key: 'ivListBad', vars: { v: s } } };
  if (n !== null && list.some((x) => x < -n || x >= n)) return { error: { key: 'ivIndexRange', vars: { lo: -n, hi: n - 1 } } };
  return { value: list };
}

/** Validates one row's number field as typed: {value} or {error}. */
export function validateRowParam(p, raw) {
  const s = String(raw ?? '').trim();
  if (s === '') return { error: { key: 'fieldRequired', vars: {} } };
  const x = parseNumber(s);
  if (!Number.isFinite(x)) return { error: { key: 'fieldNotNumber', vars: { v: s } } };
  if (p === 'seed' && !(Number.isSafeInteger(x) && x >= 0)) return { error: { key: 'fieldRange', vars: { lo: 0, hi: Number.MAX_SAFE_INTEGER } } };
  if (p === 'std' && x < 0) return { error: { key: 'fieldNonNegative', vars: {} } };
  return { value: x };
}

// The table names per-block hooks "blocks.{i}.NAME": the part after the block.
export const tableName = (h) => h.name.replace(/^blocks\.\{i\}\./, '');

/** A hook name checked against the engine's hook table (lab.hooks()) and the model's depth:
 *  null when fine, else {key, vars}. Without a table, only its spelling is checked. */
export function hookError(name, table = null, nLayer = null) {
  if (!HOOK_RE.test(name)) return { key: 'ivHookBad', vars: { v: name } };
  if (!table) return null;
  const m = name.match(/^blocks\.(\d+)\.(.+)$/);
  const entry = hookEntry(name, table);
  if (!entry) return { key: 'ivHookBad', vars: { v: name } };
  if (m && nLayer !== null && Number(m[1]) >= nLayer) return { key: 'fieldRange', vars: { lo: 0, hi: nLayer - 1 } };
  return null;
}

/** The table entry of a full hook name, or null. */
export function hookEntry(name, table) {
  const m = String(name).match(/^blocks\.(\d+)\.(.+)$/);
  return table?.find((h) => tableName(h) === (m ? m[2] : name) && h.per_block === !!m) ?? null;
}

/** The chapter's exercise `n` (1-4) as a builder row, with its parameters `e` (the state's
 *  st.ex.exN): the engine runs the exercise kinds (zero_head_k, noise_even_neurons,
 *  scale_hidden) as exactly these general interventions, so a preset row gives the same
 *  numbers (tests/node/web-presets.test.mjs). cfg: the model's config (n_embd, n_head), for
 *  head h's Key columns in the fused [Q | K | V]. */
export function exerciseRow(n, e, cfg) {
  const row = { ...defaultRow(), on: !!e.on };
  if (n === 1) {
    const d = cfg.n_embd / cfg.n_head;
    return { ...row, hook: `blocks.${e.layer}.attn.hook_qkv`, kind: 'zero', features: `${cfg.n_embd + e.head * d}:${cfg.n_embd + (e.head + 1) * d}` };
  }
  if (n === 2) return { ...row, hook: `blocks.${e.layer}.mlp.hook_post`, kind: 'noise', mean: e.mean, std: e.std, seed: e.seed, features: 'even' };
  if (n === 3 || n === 4) return { ...row, hook: `blocks.${e.layer}.hook_resid_post`, kind: 'scale', factor: e.factor };
  throw new Error(`no exercise ${n}`);
}

/** The engine's intervention for a row (selectors that are "all" left out; heads only where the
 *  hook has a head axis, which the builder guarantees by resetting heads to "all" elsewhere). */
export function rowIntervention(row) {
  const iv = { kind: row.kind, hook: row.hook };
  for (const p of KIND_PARAMS[row.kind]) iv[p] = row[p];
  for (const [k, key] of [['positions', 'positions'], ['heads', 'heads'], ['features', 'features']]) {
    const r = parseSelector(row[k]);
    if (r.value !== undefined && r.value !== 'all') iv[key] = r.value;
  }
  return iv;
}

const selText = (s) => String(s).trim().replace(/\s+/g, '');

/** One row as its URL text. */
export function rowToText(row) {
  const ps = KIND_PARAMS[row.kind].map((p) => String(row[p]));
  const parts = [row.hook, ps.length ? `${row.kind}=${ps.join(',')}` : row.kind];
  for (const [k, key] of [['positions', 'pos'], ['heads', 'heads'], ['features', 'feat']])
    if (selText(row[k]) !== 'all') parts.push(`${key}=${selText(row[k])}`);
  if (!row.on) parts.push('off');
  return parts.join(' ');
}

export const rowsToText = (rows) => rows.map(rowToText).join(';');

/** One row's URL text → {row} or {error} (the whole row refused: a half-read row would run
 *  something the link did not say). */
export function rowFromText(text) {
  const bad = { error: true };
  const toks = String(text).trim().split(/\s+/);
  const hook = toks.shift();
  if (!hook || !HOOK_RE.test(hook)) return bad;
  const row = { ...defaultRow(hook) };
  const op = toks.shift() ?? '';
  const [kind, args] = op.split('=');
  if (!KINDS.includes(kind)) return bad;
  row.kind = kind;
  const want = KIND_PARAMS[kind];
  const vals = args === undefined ? [] : args.split(',');
  if (vals.length !== want.length) return bad;
  for (let i = 0; i < want.length; i++) {
    const r = validateRowParam(want[i], vals[i]);
    if (r.error) return bad;
    row[want[i]] = r.value;
  }
  const seen = new Set();
  for (const tok of toks) {
    if (tok === 'off') { row.on = false; continue; }
    const [k, v] = tok.split('=');
    const field = { pos: 'positions', heads: 'heads', feat: 'features' }[k];
    if (!field || seen.has(field) || v === undefined || parseSelector(v).error) return bad;
    seen.add(field);
    row[field] = v;
  }
  return { row };
}

/** The `iv` value → {rows, refused: [row texts]}. */
export function rowsFromText(text) {
  const rows = [], refused = [];
  for (const part of String(text).split(';')) {
    if (!part.trim()) continue;
    const r = rowFromText(part);
    if (r.error) refused.push(part.trim());
    else rows.push(r.row);
  }
  return { rows, refused };
}

/** A general intervention in the page's words, for exports: "blocks.3.attn.hook_z: scale by a
 *  factor 0 (heads 1,5)". t: i18n, f: a number formatter. */
export function describeRow(iv, t, f) {
  const args = KIND_PARAMS[iv.kind].map((p) => (p === 'seed' ? `seed ${iv.seed}` : f(iv[p]))).join(', ');
  const sel = (s) => (typeof s === 'string' ? t(`ivSel_${s}`) : Array.isArray(s) ? s.join(',') : `${s.range[0]}:${s.range[1]}`);
  const where = [['positions', 'ivPositions'], ['heads', 'ivHeads'], ['features', 'ivFeatures']]
    .filter(([k]) => iv[k] !== undefined && iv[k] !== 'all').map(([k, label]) => `${t(label).toLowerCase()} ${sel(iv[k])}`);
  return `${iv.hook}: ${t(`ivKind_${iv.kind}`)}${args ? ` ${args}` : ''}${where.length ? ` (${where.join('; ')})` : ''}`;
}
