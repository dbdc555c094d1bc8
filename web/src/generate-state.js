// The Generate panel's part of the page state: its settings and their URL keys. Apart from
// the panel because the page state (state.js), which every panel reads, is made of it.

export const GEN_DEFAULTS = { maxNewTokens: 20, temperature: 0, topK: 0, topP: 1, seed: 0 };
const PARAMS = { maxNewTokens: 'gn', temperature: 'gt', topK: 'gk', topP: 'gp', seed: 'gs' };

/** Generation settings from URL parameters (gn, gt, gk, gp, gs): a URLSearchParams, or
 *  get(key) → string|undefined. Bad values fall back to the defaults and are pushed onto
 *  refused as {key, value}. */
export function genStateFromParams(params, refused = []) {
  const get = typeof params === 'function' ? params : (k) => (params.has(k) ? params.get(k) : undefined);
  const st = { ...GEN_DEFAULTS };
  const ok = { maxNewTokens: (x) => Number.isInteger(x) && x >= 1 && x <= 1024, temperature: (x) => x >= 0 && x <= 10,
    topK: (x) => Number.isInteger(x) && x >= 0, topP: (x) => x > 0 && x <= 1, seed: (x) => Number.isSafeInteger(x) && x >= 0 };
  for (const [k, p] of Object.entries(PARAMS)) {
    const v = get(p);
    if (v === undefined) continue;
    const x = v.trim() === '' ? NaN : Number(v);
    if (ok[k](x)) st[k] = x;
    else refused.push({ key: p, value: v });
  }
  return st;
}

/** Writes the settings that differ from the defaults into `params`. */
export function genStateToParams(st, params) {
  for (const [k, p] of Object.entries(PARAMS)) {
    if (st[k] === GEN_DEFAULTS[k]) params.delete(p);
    else params.set(p, String(st[k]));
  }
  return params;
}
