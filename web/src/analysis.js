// Numbers derived from two run JSONs (baseline, intervened): pure functions, no DOM.

export const finite = (x) => typeof x === 'number' && Number.isFinite(x);

export function logSoftmax(logits) {
  let mx = -Infinity;
  for (const x of logits) if (finite(x) && x > mx) mx = x;
  let z = 0;
  for (const x of logits) if (finite(x)) z += Math.exp(x - mx);
  const lz = mx + Math.log(z);
  return logits.map((x) => (finite(x) ? x - lz : -Infinity));
}

// KL(P‖Q) in nats, in double; null when either side has non-finite logits.
export function klDivergence(logitsP, logitsQ) {
  if (!logitsP || !logitsQ || logitsP.length !== logitsQ.length) return null;
  if (!logitsP.every(finite) || !logitsQ.every(finite)) return null;
  const lp = logSoftmax(logitsP), lq = logSoftmax(logitsQ);
  let kl = 0;
  for (let i = 0; i < lp.length; i++) {
    const p = Math.exp(lp[i]);
    if (p > 0) kl += p * (lp[i] - lq[i]);
  }
  return Math.max(0, kl);
}

// Top-k of the baseline plus whatever entered the intervened top-k, with both probabilities.
export function topComparison(base, int, k) {
  const lpB = base.logits_last ? logSoftmax(base.logits_last) : null;
  const lpI = int.logits_last ? logSoftmax(int.logits_last) : null;
  const ids = [];
  for (const t of base.top.slice(0, k)) ids.push(t.id);
  // Tokens that entered the intervened top-k (not when its logits went non-finite: then
  // its "top" is an arbitrary order of nulls).
  for (const t of int.top.slice(0, k)) if (!ids.includes(t.id) && finite(t.prob)) ids.push(t.id);
  const tokenOf = new Map([...base.top, ...int.top].map((t) => [t.id, t.token]));
  const prob = (lp, run, id) => {
    if (lp) return finite(lp[id]) ? Math.exp(lp[id]) : null;
    const t = run.top.find((x) => x.id === id);
    return t ? t.prob : null;
  };
  return ids.map((id) => {
    const pb = prob(lpB, base, id), pi = prob(lpI, int, id);
    return { id, token: tokenOf.get(id), pBase: pb, pInt: pi, delta: finite(pb) && finite(pi) ? pi - pb : null };
  });
}

// For the scaling exercises: how far the intervention moved the std at its block, how far
// it still is at the last block (before ln_f) and after ln_f, as ratios intervened/baseline.
export function compensation(base, int, layer) {
  const r = (a, b) => (finite(a) && finite(b) && b !== 0 ? a / b : null);
  const n = base.resid_std.length;
  const rL = r(int.resid_std[layer], base.resid_std[layer]);
  const rLast = r(int.resid_std[n - 1], base.resid_std[n - 1]);
  const hn = base.hidden_std.length;
  const rF = r(int.hidden_std[hn - 1], base.hidden_std[hn - 1]);
  if (![rL, rLast, rF].every(finite) || rL <= 0 || rLast <= 0 || rF <= 0) return { rL, rLast, rF, net: null, lnf: null };
  const dL = Math.abs(Math.log(rL));
  if (dL < 1e-9) return { rL, rLast, rF, net: null, lnf: null };
  const dLast = Math.abs(Math.log(rLast)), dF = Math.abs(Math.log(rF));
  return { rL, rLast, rF, net: (100 * (dL - dLast)) / dL, lnf: (100 * (dLast - dF)) / dL };
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
  for (let q = 0; q < T; q++) rows.push(capture.data.slice((head * T + q) * T, (head * T + q + 1) * T));
  return rows;
}

export function neuronRow(capture, pos) {
  const [, D] = capture.shape;
  return capture.data.slice(pos * D, (pos + 1) * D);
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

// Everything the charts show, as one CSV with a "table" column. compare: the engine's
// {kl, top} for the two runs (computed here from logits_last when absent).
export function toCsv(base, int, k, compare = null) {
  const lines = [csvLine(['table', 'index', 'label', 'baseline', 'intervened'])];
  base.resid_std.forEach((b, i) => lines.push(csvLine(['resid_std', i, `block ${i}`, b, int.resid_std[i]])));
  base.hidden_std.forEach((b, i) =>
    lines.push(csvLine(['hidden_std', i, i === 0 ? 'embeddings' : i === base.hidden_std.length - 1 ? 'ln_f' : `block ${i - 1}`, b, int.hidden_std[i]])),
  );
  (compare?.top ?? topComparison(base, int, k)).forEach((r, i) => lines.push(csvLine(['next_token_prob', i, r.token, r.pBase, r.pInt])));
  const kl = compare ? compare.kl : klDivergence(base.logits_last, int.logits_last);
  lines.push(csvLine(['kl_final', 0, 'KL(baseline||intervened) nats', kl, '']));
  return lines.join('\n') + '\n';
}
