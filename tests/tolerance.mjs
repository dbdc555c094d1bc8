// Float tolerances derived from the arithmetic, for the node and browser tests (issue #23).
//
// The derivation is tools/golden_compare.py's (read its docstring): two correct float32
// implementations of GPT-2 differ only in the order of their sums, so a value errs like a
// random walk of the N roundings along its chain of sums, amplified by the softmax
// (A = 1 + 2 * score_scale): activation_rel = Z * u * sqrt(N) * A, and a logit errs by
// logit_abs = activation_rel * logit_scale. Every golden in tests/golden carries that record
// ("tolerance"); goldenTolerance() reads it with the same rules per quantity as
// tests/native/tolerance.h.
//
// Comparisons with no golden (the wasm engine against the native CLI: Eigen against the
// hand-written simd128 kernels, the same network summed in another order) derive the record
// here with roundings() and derive(), the same formulas as tools/golden_compare.py, from the
// model's config, the token count and the run's own scales (scalesOf(stats)).

export const U = 2 ** -24; // float32's unit roundoff
export const Z = 6; // standard deviations allowed

// N: the float32 roundings along the longest chain of sums that a logit depends on.
// The same formula as tools/golden_compare.py's roundings(); keep the two identical.
export function roundings(nLayer, nEmbd, nHead, nTokens) {
  const d = nEmbd, dh = Math.trunc(nEmbd / nHead), T = nTokens;
  const perBlock = 2 * d + d + dh + 2 * T + d + d + 4 * d;
  return nLayer * perBlock + 2 * d;
}

// The tolerance record of a run (model: the run JSON's "model" block, {n_layer, n_embd,
// n_head}). The same formula, in the same order of operations, as tools/golden_compare.py's
// derive(); keep the two identical.
export function derive(model, nTokens, scoreScale, logitScale) {
  const n = roundings(model.n_layer, model.n_embd, model.n_head, nTokens);
  const amp = 1.0 + 2.0 * scoreScale;
  const rel = Z * U * Math.sqrt(n) * amp;
  return { activation_rel: rel, logit_abs: rel * logitScale, roundings: n, score_scale: scoreScale, logit_scale: logitScale, z: Z };
}

// [score_scale, logit_scale] of a run from its statistics record (tools/golden_compare.py's
// scales_of): the largest finite |pre-softmax score| over the blocks, and the largest |logit|
// at the last position. Non-finite statistics (null in the JSON) are left out.
export function scalesOf(stats) {
  const sc = stats['attn.hook_attn_scores'];
  let s = 0;
  sc.min.forEach((a, i) => { s = Math.max(s, absOrZero(a), absOrZero(sc.max[i])); });
  const lg = stats.logits;
  return [s, Math.max(absOrZero(lg.min.at(-1)), absOrZero(lg.max.at(-1)))];
}

const absOrZero = (x) => (typeof x === 'number' && Number.isFinite(x) ? Math.abs(x) : 0);

// The largest |value| of a (nested) list of numbers, nulls left out: the scale a curve
// (hidden_std, resid_std, a row of statistics) is read against.
export function maxAbs(values) {
  let m = 0;
  for (const x of values) m = Math.max(m, Array.isArray(x) ? maxAbs(x) : absOrZero(x));
  return m;
}

// The per-quantity tolerances of a record (a golden's "tolerance", or derive()'s), as
// tests/native/tolerance.h reads them. Each is an absolute bound on |a - b|.
export function goldenTolerance(record) {
  const rel = record.activation_rel, la = record.logit_abs;
  if (!(rel > 0 && la >= 0)) throw new Error(`not a tolerance record: ${JSON.stringify(record)}`);
  return {
    activationRel: rel,
    logitAbs: la,
    // An activation statistic, a curve value: relative to its scale (a layer's mean, std, min
    // and max: the largest of the four; a norm: itself; hidden_std, resid_std: the list's largest).
    activation: (scale) => rel * Math.abs(scale),
    // A logit.
    logit: () => la,
    // A probability p = exp(z - lse): the logit's error twice, relative to p.
    prob: (p) => 2 * la * Math.abs(p),
    // A logit difference (answer - wrong), or a direct-logit-attribution component (a piece of one).
    logitDiff: () => 2 * la,
    // Patching's (LD_patched - LD_corrupted) / D, D = LD_clean - LD_corrupted: numerator and
    // denominator each off by up to 4 logit_abs.
    normalized: (n, D) => (4 * la * (1 + Math.abs(n))) / Math.abs(D),
    // A head score: an average of attention probabilities (scale 1).
    headScore: () => rel,
  };
}

// KL(P || Q) = sum_i p_i (a_i - b_i) of two runs' last-position logits (a = log p, b = log q,
// each computed in double from float32 logits) when every logit of P may be off by up to
// lP = tolP.logit() and every logit of Q by up to lQ = tolQ.logit(). With P' the perturbed P,
// KL' - KL = sum (p'_i - p_i)(a_i - b_i) + KL(P' || P) - sum p'_i (b'_i - b_i), where
// |a'_i - a_i| <= 2 lP, so |p'_i - p_i| <= p_i (e^(2 lP) - 1); KL(P' || P) <= (2 lP)^2 / 8 and
// b'_i - b_i = dw_i - (log E_q e^dw), whose p'-average is sum (p'_i - q_i) dw_i (at most
// lQ * sum |p'_i - q_i|) less E_q dw's gap to log E_q e^dw, in [0, (2 lQ)^2 / 8] (Hoeffding's
// lemma). Hence, e = e^(2 lP) - 1:
// |dKL| <= e * sum p_i |a_i - b_i| + lQ * (sum |p_i - q_i| + e) + (lP^2 + lQ^2) / 2.
export function klTolerance(tolP, tolQ, logitsP, logitsQ) {
  const lP = tolP.logit(), lQ = tolQ.logit(), e = Math.expm1(2 * lP);
  const a = logSoftmax(logitsP), b = logSoftmax(logitsQ);
  let spread = 0, tv = 0;
  for (let i = 0; i < a.length; i++) {
    const p = Math.exp(a[i]), q = Math.exp(b[i]);
    if (p > 0) spread += p * Math.abs(a[i] - b[i]);
    tv += Math.abs(p - q);
  }
  return e * spread + lQ * (tv + e) + (lP * lP + lQ * lQ) / 2;
}

function logSoftmax(l) {
  let mx = -Infinity, z = 0;
  for (const x of l) if (x > mx) mx = x;
  for (const x of l) z += Math.exp(x - mx);
  const lz = mx + Math.log(z);
  return Array.from(l, (x) => x - lz);
}

// The tolerances of a generation's step probabilities (`want`: a generate JSON, {prompt_tokens,
// steps: [{id, token, prob}]}), one function p => bound per step. Step k's probability is of the
// raw logits of the forward over the prompt and the k tokens before it, so its record is derived
// from that forward's own run: runOf(text) gives the run JSON of a text with the generation's
// interventions (or null when the run refuses them, e.g. positions the text has not reached).
// A step whose ids do not come back from their text (a byte token) or whose run is refused takes
// the largest scales of the steps that could be run; when none could, runOf(prompt, true) (the
// prompt with the interventions it accepts) stands in for them all.
export function generationTolerances(want, prompt, runOf) {
  const runs = want.steps.map((_, k) => {
    const run = runOf(prompt + want.steps.slice(0, k).map((s) => s.token).join(''));
    const ids = [...want.prompt_tokens, ...want.steps.slice(0, k).map((s) => s.id)];
    return run && run.tokens.length === ids.length && run.tokens.every((t, i) => t === ids[i]) ? run : null;
  });
  let read = runs.filter(Boolean);
  if (!read.length) read = [runOf(prompt, true)];
  return want.steps.map((_, k) => {
    const n = want.prompt_tokens.length + k;
    return (runs[k] ? derivedTolerance(runs[k].model, n, runs[k].stats) : derivedTolerance(read[0].model, n, ...read.map((r) => r.stats))).prob;
  });
}

// The tolerance of comparing a run of the model with another implementation's, when there is
// no golden: derive() from the config, the token count and the largest scales of the given
// runs' statistics (each a run JSON's "stats"; several when a result depends on several runs).
export function derivedTolerance(model, nTokens, ...statsList) {
  let s = 0, l = 0;
  for (const st of statsList) {
    const [a, b] = scalesOf(st);
    s = Math.max(s, a);
    l = Math.max(l, b);
  }
  return goldenTolerance(derive(model, nTokens, s, l));
}

// ---------------------------------------------------------------- gradients (issue #26)
// tools/golden_compare.py's docstring derives these: a gradient carries the forward's roundings
// and the backward's own sums, read against the largest |gradient| of its hook.

// The float32 roundings a gradient adds to the forward's N along the backward. The same formula as
// tools/golden_compare.py's backward_roundings(); keep the two identical.
export function backwardRoundings(nLayer, nEmbd, nHead, nTokens) {
  const d = nEmbd, dh = Math.trunc(nEmbd / nHead), T = nTokens;
  return nLayer * (13 * d + dh + 3 * T) + 2 * d;
}

// The tolerance record of a gradients run: derive()'s plus gradient_rel. The same formula, in the
// same order of operations, as tools/golden_compare.py's derive_gradient(); keep the two identical.
export function deriveGradient(model, nTokens, scoreScale, logitScale) {
  const rec = derive(model, nTokens, scoreScale, logitScale);
  const n = rec.roundings + backwardRoundings(model.n_layer, model.n_embd, model.n_head, nTokens);
  rec.gradient_roundings = n;
  rec.gradient_rel = Z * U * Math.sqrt(n) * (1.0 + 2.0 * scoreScale);
  return rec;
}

// input_x_gradient's bound (the golden's input_x_gradient_abs, computed as tools/make_goldens.py
// does): gradient_rel * max |dLD/d(blocks.0.hook_resid_pre)| * max over positions of
// ||hook_embed + hook_pos_embed||_2. `x`: the summed embeddings, row-major [T, d].
export function inputXGradientAbs(record, gradResidPre0, x, d) {
  let rowMax = 0;
  for (let p = 0; p * d < x.length; ++p) {
    let s = 0;
    for (let i = 0; i < d; ++i) s += x[p * d + i] ** 2;
    rowMax = Math.max(rowMax, Math.sqrt(s));
  }
  return record.gradient_rel * maxAbs(Array.from(gradResidPre0)) * rowMax;
}

// The per-quantity tolerances of a gradients record (a gradients golden's "tolerance", or
// deriveGradient()'s with input_x_gradient_abs added), as tests/native/test_backward.cpp reads them:
// goldenTolerance()'s, plus
//   gradient(scale): a hook's gradient, relative to that hook's largest |gradient|;
//   inputXGradient(): input_x_gradient, absolute (the record's input_x_gradient_abs);
//   estimate(): an attribution-patching estimate of LD, absolute (the record's estimate_abs);
//   estimateNormalized(n, D): its normalized value n = (E - LD_corrupted) / D.
export function gradientTolerance(record) {
  const t = goldenTolerance(record);
  const g = record.gradient_rel;
  if (!(g > 0)) throw new Error(`not a gradients tolerance record: ${JSON.stringify(record)}`);
  const need = (k) => {
    if (!(record[k] >= 0)) throw new Error(`the record has no ${k}: ${JSON.stringify(record)}`);
    return record[k];
  };
  return {
    ...t,
    gradientRel: g,
    gradient: (scale) => g * Math.abs(scale),
    inputXGradient: () => need('input_x_gradient_abs'),
    estimate: () => need('estimate_abs'),
    estimateNormalized: (n, D) => (need('estimate_abs') + 2 * t.logitAbs + 4 * t.logitAbs * Math.abs(n)) / Math.abs(D),
  };
}
