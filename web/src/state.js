// The whole page state, and its round trip through the URL query string.
// ?model=default|gpt2|gpt2-medium&prompt=…&lang=vi|en&ex1=L.H&ex2=L,mean,std,seed&ex3=L,f&ex4=L,f
//  &view=both|resid|hf&scale=linear|log&embed=1&topk=10&lens=1&predict=1
// An exercise parameter absent from the URL means that exercise is off.

import { HUB_MODELS } from '../../wasm/js/models.js';

// The hub models' repos, sizes and training data live in the one registry (models.js).
export const MODELS = {
  default: { kind: 'bundled', base: 'models/default/' },
  gpt2: { kind: 'hub', ...HUB_MODELS.gpt2 },
  'gpt2-medium': { kind: 'hub', ...HUB_MODELS['gpt2-medium'] },
  local: { kind: 'local' },
};

export const DEFAULT_PROMPT = 'When Mary and John went to the store, John gave a drink to';

export function defaultExercises() {
  return {
    ex1: { on: false, layer: 9, head: 2 },
    ex2: { on: false, layer: 9, mean: 10, std: 1, seed: 0 },
    ex3: { on: false, layer: 9, factor: 0.1 },
    ex4: { on: false, layer: 9, factor: 10 },
  };
}

export function defaultState(lang = 'en') {
  return { model: 'default', prompt: DEFAULT_PROMPT, lang, ex: defaultExercises(), view: 'both', scale: 'linear', topk: 10, embed: false, predict: false, lens: false };
}

export function browserLang(languages = (typeof navigator !== 'undefined' && navigator.languages) || []) {
  for (const l of languages) {
    const s = String(l).toLowerCase();
    if (s.startsWith('vi')) return 'vi';
    if (s.startsWith('en')) return 'en';
  }
  return 'en';
}

const num = (s, d) => {
  if (s === undefined || s === '') return d;
  const x = Number(s);
  return Number.isFinite(x) ? x : d;
};
const int = (s, d) => {
  const x = num(s, d);
  return Number.isInteger(x) ? x : d;
};

// Accepts a URLSearchParams or a plain object of attribute-style strings.
export function stateFromParams(params, fallbackLang = 'en') {
  const get = (k) => (params instanceof URLSearchParams ? params.get(k) ?? undefined : params[k] ?? undefined);
  const st = defaultState(fallbackLang);
  const m = get('model');
  if (m && m in MODELS && m !== 'local') st.model = m;
  const p = get('prompt');
  if (p !== undefined) st.prompt = p;
  const lang = get('lang');
  if (lang === 'vi' || lang === 'en') st.lang = lang;
  const ex1 = get('ex1');
  if (ex1 !== undefined && ex1 !== null) {
    const [l, h] = String(ex1).split(/[.,]/);
    st.ex.ex1 = { on: true, layer: int(l, 9), head: int(h, 2) };
  }
  const ex2 = get('ex2');
  if (ex2 !== undefined && ex2 !== null) {
    const [l, mean, std, seed] = String(ex2).split(',');
    st.ex.ex2 = { on: true, layer: int(l, 9), mean: num(mean, 10), std: Math.max(0, num(std, 1)), seed: Math.max(0, int(seed, 0)) };
  }
  for (const [k, f] of [['ex3', 0.1], ['ex4', 10]]) {
    const v = get(k);
    if (v !== undefined && v !== null) {
      const [l, fac] = String(v).split(',');
      st.ex[k] = { on: true, layer: int(l, 9), factor: num(fac, f) };
    }
  }
  const view = get('view');
  if (['both', 'resid', 'hf'].includes(view)) st.view = view;
  const scale = get('scale');
  if (['linear', 'log'].includes(scale)) st.scale = scale;
  const topk = int(get('topk'), 10);
  st.topk = Math.min(50, Math.max(1, topk));
  const embed = get('embed');
  st.embed = embed === '1' || embed === 'true' || embed === '';
  const lens = get('lens');
  st.lens = lens === '1' || lens === 'true';
  const predict = get('predict');
  st.predict = predict === '1' || predict === 'true';
  return st;
}

export function stateToParams(st) {
  const q = new URLSearchParams();
  q.set('model', st.model === 'local' ? 'default' : st.model);
  q.set('lang', st.lang);
  q.set('prompt', st.prompt);
  const e = st.ex;
  if (e.ex1.on) q.set('ex1', `${e.ex1.layer}.${e.ex1.head}`);
  if (e.ex2.on) q.set('ex2', `${e.ex2.layer},${e.ex2.mean},${e.ex2.std},${e.ex2.seed}`);
  if (e.ex3.on) q.set('ex3', `${e.ex3.layer},${e.ex3.factor}`);
  if (e.ex4.on) q.set('ex4', `${e.ex4.layer},${e.ex4.factor}`);
  if (st.view !== 'both') q.set('view', st.view);
  if (st.scale !== 'linear') q.set('scale', st.scale);
  if (st.topk !== 10) q.set('topk', String(st.topk));
  if (st.predict) q.set('predict', '1');
  if (st.lens) q.set('lens', '1');
  if (st.embed) q.set('embed', '1');
  return q;
}

// The engine's intervention objects for the exercises that are on, in exercise order.
export function interventionsOf(st) {
  const e = st.ex;
  const out = [];
  if (e.ex1.on) out.push({ kind: 'zero_head_k', layer: e.ex1.layer, head: e.ex1.head });
  if (e.ex2.on) out.push({ kind: 'noise_even_neurons', layer: e.ex2.layer, mean: e.ex2.mean, std: e.ex2.std, seed: e.ex2.seed });
  if (e.ex3.on) out.push({ kind: 'scale_hidden', layer: e.ex3.layer, factor: e.ex3.factor });
  if (e.ex4.on) out.push({ kind: 'scale_hidden', layer: e.ex4.layer, factor: e.ex4.factor });
  return out;
}

// Hooks captured in both runs, for the attention and MLP panels and the tuple explorer.
export function capturesOf(st) {
  const e = st.ex;
  const c = new Set();
  if (e.ex1.on) c.add(`blocks.${e.ex1.layer}.attn.hook_pattern`);
  if (e.ex2.on) c.add(`blocks.${e.ex2.layer}.mlp.hook_post`);
  return [...c];
}

export function paramCount(cfg) {
  const d = cfg.n_embd, L = cfg.n_layer, V = cfg.vocab_size, P = cfg.n_positions, m = cfg.d_mlp ?? 4 * d;
  const block = 2 * 2 * d + d * 3 * d + 3 * d + d * d + d + d * m + m + m * d + d;
  return V * d + P * d + L * block + 2 * d;
}
