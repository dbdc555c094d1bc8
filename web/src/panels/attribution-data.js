// Pure helpers behind the Patching view's attribution patching and gradient × input (issue
// #26; no DOM): the correlation of the estimate with the exact sweep, the pairs the scatter
// plots, the two exports' CSV, and the text colour on a shaded token. Numbers come from the
// engine (lab.patch({method: 'attribution'}), lab.gradients); nothing is recomputed here
// except the correlation and sums for display.
import { sweepRows, divergingColor } from './patch-data.js';

/** Pearson's r of two equal-length lists, over the indices where both are finite; null when
 *  fewer than two such pairs or either side has no spread. */
export function pearson(xs, ys) {
  let n = 0, sx = 0, sy = 0;
  for (let i = 0; i < xs.length; i++) if (Number.isFinite(xs[i]) && Number.isFinite(ys[i])) { n++; sx += xs[i]; sy += ys[i]; }
  if (n < 2) return null;
  const mx = sx / n, my = sy / n;
  let cxy = 0, cxx = 0, cyy = 0;
  for (let i = 0; i < xs.length; i++) {
    if (!(Number.isFinite(xs[i]) && Number.isFinite(ys[i]))) continue;
    const dx = xs[i] - mx, dy = ys[i] - my;
    cxy += dx * dy;
    cxx += dx * dx;
    cyy += dy * dy;
  }
  return cxx > 0 && cyy > 0 ? cxy / Math.sqrt(cxx * cyy) : null;
}

/** Whether two sweeps cover the same slices (hook family, by, tokens): only then are they compared. */
export function sameSlices(a, b) {
  return !!a && !!b && a.hook === b.hook && a.by === b.by && a.logit_diff.length === b.logit_diff.length
    && JSON.stringify(a.clean_tokens) === JSON.stringify(b.clean_tokens) && JSON.stringify(a.corrupted_tokens) === JSON.stringify(b.corrupted_tokens);
}

/** The exact and the estimated value of every slice, row-major (block, then column), in one
 *  metric: {x: exact, y: estimate, layer, col}; and their Pearson r over the slices. */
export function comparison(exact, attr, metric) {
  const points = [];
  exact[metric].forEach((row, layer) => row.forEach((x, col) => points.push({ x, y: attr[metric][layer][col], layer, col })));
  return { points, r: pearson(points.map((p) => p.x), points.map((p) => p.y)), n: points.length };
}

const csvCell = (v) => {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n\r]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};
const csvHead = (pairs) => pairs.map(([k, v]) => `# ${k}: ${typeof v === 'string' ? JSON.stringify(v) : v}`);
const csvBody = (rows) => {
  const keys = Object.keys(rows[0] ?? {});
  return [keys.join(','), ...rows.map((row) => keys.map((k) => csvCell(row[k])).join(','))];
};

/** The attribution export as CSV: '#' lines naming the experiment, then one row per slice with
 *  the estimate (logit_diff, normalized) and, when the exact sweep of the same slices is in
 *  the export, its values (exact_logit_diff, exact_normalized). */
export function attributionCsv(exp) {
  const r = exp.sweep;
  const head = csvHead([
    ['model', exp.model.name], ['method', 'attribution'], ['clean', exp.clean], ['corrupted', exp.corrupted],
    ['answer', `${exp.answer} (#${r.answer_id})`], ['wrong', `${exp.wrong} (#${r.wrong_id})`], ['hook', r.hook], ['by', r.by],
    ['interventions', JSON.stringify(exp.interventions)], ['clean_logit_diff', r.clean_logit_diff],
    ['corrupted_logit_diff', r.corrupted_logit_diff], ['forwards', r.forwards], ['backwards', r.backwards],
    ...(exp.exact ? [['pearson_r_normalized', exp.correlation.normalized], ['pearson_r_logit_diff', exp.correlation.logit_diff]] : []),
    ['date', exp.date],
  ]);
  const ex = exp.exact ? sweepRows(exp.exact) : null;
  const rows = sweepRows(r).map((row, i) => (ex ? { ...row, exact_logit_diff: ex[i].logit_diff, exact_normalized: ex[i].normalized } : row));
  return [...head, ...csvBody(rows)].join('\n') + '\n';
}

/** Gradient × input as rows: [{position, token, token_id, input_x_gradient}]. */
export function ixgRows(g) {
  return g.tokens.map((id, p) => ({ position: p, token: g.token_strings[p], token_id: id, input_x_gradient: g.input_x_gradient[p] }));
}

/** The gradient × input export as CSV. */
export function ixgCsv(exp) {
  const g = exp.gradients;
  const head = csvHead([
    ['model', exp.model.name], ['prompt', exp.prompt], ['answer', `${exp.answer} (#${g.answer_id})`], ['wrong', `${exp.wrong} (#${g.wrong_id})`],
    ['interventions', JSON.stringify(exp.interventions)], ['logit_diff', g.logit_diff], ['sum', exp.sum], ['date', exp.date],
  ]);
  return [...head, ...csvBody(ixgRows(g))].join('\n') + '\n';
}

/** Sum of the finite values. */
export const finiteSum = (xs) => xs.reduce((s, v) => (Number.isFinite(v) ? s + v : s), 0);

/** The largest finite |value| (1 when there is none): the colour scale's half-width. */
export function absMax(xs) {
  let m = 0;
  for (const v of xs) if (Number.isFinite(v)) m = Math.max(m, Math.abs(v));
  return m || 1;
}

const linear = (c) => (c / 255 <= 0.04045 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4);

/** Black or white text on a cell of divergingColor(v, m), whichever contrasts more (WCAG
 *  relative luminance): at least 4.58:1 (√21, where the two cross) on every colour of the scale. */
export function textOn(v, m) {
  const c = divergingColor(v, m);
  if (!c) return '#000';
  const [r, g, b] = c.match(/\d+/g).map(Number);
  const L = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  return 1.05 / (L + 0.05) > (L + 0.05) / 0.05 ? '#fff' : '#000';
}
