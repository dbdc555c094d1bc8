// The Patching view's part of the page state: its defaults and its URL keys. Apart from the
// view's panels because the page state (state.js), which every panel reads, is made of it.

export const PATCH_HOOKS = ['resid_pre', 'attn_out', 'mlp_out', 'z'];
export const PATCH_METRICS = ['normalized', 'logit_diff'];
// exact: one patched forward per slice; attribution: the first-order estimate of every slice
// from one clean forward, one corrupted forward and one backward (attribution-data.js).
export const PATCH_METHODS = ['exact', 'attribution'];

/** The view's part of the page state; null fields follow the loaded model's default pair
 *  (panels/patch-data.js). */
export const defaultPatchState = () => ({ clean: null, corrupted: null, answer: null, wrong: null, hook: 'resid_pre', metric: 'normalized', method: 'exact' });

// URL keys: pclean, pcorr, pans, pwrong (texts; a token as text or #ID), phook, pmetric, pmethod.
const TEXT_KEYS = { clean: 'pclean', corrupted: 'pcorr', answer: 'pans', wrong: 'pwrong' };
export const TEXT_MAX = 2000; // characters; the engine refuses prompts longer than the context anyway

/** Reads the view's keys with get(key) → string|undefined; a value it cannot use is
 *  left at its default and pushed onto refused as {key, value}. */
export function patchFromParams(get, refused = []) {
  const p = defaultPatchState();
  for (const [field, key] of Object.entries(TEXT_KEYS)) {
    const v = get(key);
    if (v === undefined) continue;
    const bad = v.length > TEXT_MAX || ((field === 'answer' || field === 'wrong') && (v === '' || /^#/.test(v) && !/^#\d{1,6}$/.test(v)));
    if (bad) refused.push({ key, value: v });
    else p[field] = v;
  }
  const hook = get('phook');
  if (hook !== undefined) {
    if (PATCH_HOOKS.includes(hook)) p.hook = hook;
    else refused.push({ key: 'phook', value: hook });
  }
  const metric = get('pmetric');
  if (metric !== undefined) {
    if (PATCH_METRICS.includes(metric)) p.metric = metric;
    else refused.push({ key: 'pmetric', value: metric });
  }
  const method = get('pmethod');
  if (method !== undefined) {
    if (PATCH_METHODS.includes(method)) p.method = method;
    else refused.push({ key: 'pmethod', value: method });
  }
  return p;
}

/** Writes the view's non-default keys into q (a URLSearchParams). */
export function patchToParams(p, q) {
  for (const [field, key] of Object.entries(TEXT_KEYS)) if (p[field] !== null) q.set(key, p[field]);
  if (p.hook !== 'resid_pre') q.set('phook', p.hook);
  if (p.metric !== 'normalized') q.set('pmetric', p.metric);
  if (p.method && p.method !== 'exact') q.set('pmethod', p.method);
  return q;
}
