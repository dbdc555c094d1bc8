// The whole page state, and its round trip through the URL query string.
// ?model=default|induction|gpt2|gpt2-medium|local&prompt=…&lang=vi|en&ex1=L.H&ex2=L,mean,std,seed&ex3=L,f&ex4=L,f
//  &view=both|resid|hf&scale=linear|log&embed=1&topk=10&lens=1&predict=1&hook=NAME&stat=std&hl=L
//  &autorun=patch &locked=ex3,prompt &views=std,lens &picker=hidden (author controls)
// The keys are the slices' (below; URL, element attributes, set-state). An exercise parameter
// absent from the URL means that exercise is off. A value the parser cannot read falls back to
// its default, and a key not in the list is ignored; both are reported in `refused`.

import { MODELS } from './models-page.js';
import { defaultPatchState, patchFromParams, patchToParams } from './patch-state.js';
import { rowsFromText, rowsToText, rowIntervention, hookEntry } from './rows.js';
import { parseNumber } from './numbers.js';
import { genStateFromParams, genStateToParams } from './generate-state.js';
import { K, keyTable, LESSONS, isLessonUrl, listItems } from './keys.js';

// The page's models (the `model` key's values), declared once in models-page.js.
export { MODELS };

export const DEFAULT_PROMPT = 'When Mary and John went to the store, John gave a drink to';
export const STATS = ['mean', 'std', 'min', 'max', 'norm'];
export const TOPK_MAX = 50;
// The process key's values: the HuggingFace weights, or TransformerLens's from_pretrained processing
// (fold_ln, center_writing_weights, center_unembed, fold_value_biases; docs/engine.md).
export const PROCESSINGS = ['none', 'tl'];

export function defaultExercises() {
  return {
    ex1: { on: false, layer: 9, head: 2 },
    ex2: { on: false, layer: 9, mean: 10, std: 1, seed: 0 },
    ex3: { on: false, layer: 9, factor: 0.1 },
    ex4: { on: false, layer: 9, factor: 10 },
  };
}

export function defaultState(lang = 'en') {
  return Object.assign({ lang }, ...SLICES.map((sl) => sl.defaults()));
}

// The author's controls (docs/embedding.md): what runs on load, the keys the learner cannot
// change, the views shown (null: all), the model picker.
export function defaultAuthor() {
  return { autorun: [], locked: [], views: null, picker: 'shown' };
}

// The heads panel: the score shown, the block whose patterns are drawn, and the input (the
// prompt, or with `repeat` TransformerLens's repeated random tokens: R and a decimal seed).
export const HEAD_SCORES = ['previous_token', 'first_token', 'induction'];
export function defaultHeads() {
  return { score: 'induction', block: 0, repeat: false, r: 20, seed: '0' };
}

// Back to the defaults, keeping what is not an experiment: model (and its weight processing),
// language, embedding, and the author's controls.
export function resetState(st) {
  const { autorun, locked, views, picker } = st;
  return { ...defaultState(st.lang), model: st.model, process: st.process ?? 'none', embed: st.embed, autorun, locked, views, picker };
}

export function browserLang(languages = (typeof navigator !== 'undefined' && navigator.languages) || []) {
  for (const l of languages) {
    const s = String(l).toLowerCase();
    if (s.startsWith('vi')) return 'vi';
    if (s.startsWith('en')) return 'en';
  }
  return 'en';
}

// The rules of every numeric field. cfg: the loaded model's config (layer/head limits), or
// null before a model is loaded. Returns {value} or {error: {key, vars}} (an i18n key).
export function validateField(kind, raw, cfg = null) {
  const x = parseNumber(raw);
  if (String(raw ?? '').trim() === '') return { error: { key: 'fieldRequired', vars: {} } };
  if (!Number.isFinite(x)) return { error: { key: 'fieldNotNumber', vars: { v: String(raw).trim() } } };
  const whole = (lo, hi) => (Number.isInteger(x) && x >= lo && x <= hi ? { value: x } : { error: { key: 'fieldRange', vars: { lo, hi } } });
  switch (kind) {
    case 'layer': return whole(0, cfg ? cfg.n_layer - 1 : 1023);
    case 'head': return whole(0, cfg ? cfg.n_head - 1 : 1023);
    case 'seed': return whole(0, Number.MAX_SAFE_INTEGER);
    case 'topk': return whole(1, TOPK_MAX);
    case 'std': return x >= 0 ? { value: x } : { error: { key: 'fieldNonNegative', vars: {} } };
    default: return { value: x }; // mean, factor: any finite number
  }
}

// Each exercise parameter's kind, for validateField.
export const FIELD_KIND = { layer: 'layer', head: 'head', mean: 'mean', std: 'std', seed: 'seed', factor: 'factor' };

// Exercise parameters (and the hook-statistics block) that the loaded model cannot take,
// e.g. block 50 from a link on a 12-block model: [{id, key, vars}], id = the field's id. Each
// slice checks its own fields (its `invalid`).
export function invalidForModel(st, cfg) {
  return SLICES.flatMap((sl) => (sl.invalid ? sl.invalid(st, cfg) : []));
}

// Accepts a URLSearchParams or a plain object of attribute-style strings. Values it cannot
// read fall back to their defaults and are pushed onto `refused` as {key, value}.
export function stateFromParams(params, fallbackLang = 'en', refused = []) {
  const isQuery = params instanceof URLSearchParams;
  const get = (k) => {
    const v = isQuery ? params.get(k) : Object.prototype.hasOwnProperty.call(params, k) ? params[k] : undefined;
    return v === null || v === undefined ? undefined : String(v);
  };
  // A key not in KEYS: ignored, reported with the nearest key.
  for (const k of new Set(isQuery ? params.keys() : Object.keys(params))) {
    if (!Object.prototype.hasOwnProperty.call(KEYS, k)) refused.push({ key: k, value: get(k) ?? '', unknown: true, near: nearestKey(k) });
  }
  const st = defaultState(fallbackLang);
  let bad = false;
  const num = (s, d) => {
    if (s === undefined) return d;
    const x = parseNumber(s);
    if (Number.isFinite(x)) return x;
    bad = true;
    return d;
  };
  const int = (s, d, lo = 0) => {
    const x = num(s, d);
    if (Number.isInteger(x) && x >= lo) return x;
    bad = true;
    return d;
  };
  // take(k, fn): fn(value, fail, failed) when the key is given; fn calls fail() for a value it
  // cannot use (num and int fail on their own); failed(): whether anything has failed so far.
  const take = (k, fn) => {
    const v = get(k);
    if (v === undefined) return;
    bad = false;
    fn(v, () => { bad = true; }, () => bad);
    if (bad) refused.push({ key: k, value: v });
  };
  // Flags: 1/true or 0/false (embed also bare, `?embed`).
  const flag = (k, d) => {
    let out = d;
    take(k, (v, fail) => { if (['1', 'true'].includes(v) || (k === 'embed' && v === '')) out = true; else if (['0', 'false'].includes(v)) out = false; else fail(); });
    return out;
  };
  // The author's lists: every item must be known, or the key is refused whole.
  const list = (k, allowed, fn) => take(k, (v, fail) => {
    const items = listItems(v);
    if (items.every((x) => allowed.includes(x))) fn(items); else fail();
  });
  const r = { get, take, num, int, flag, list, refused };
  for (const sl of SLICES) sl.read(st, r);
  return st;
}

export function stateToParams(st) {
  const q = new URLSearchParams();
  for (const sl of SLICES) sl.write(st, q);
  return q;
}

// ---------------------------------------------------------------- the slices
// The page state is made of slices, one per area: each declares its keys (`keys`: each key's
// type, what it expects, its controls and where it lives in the state: keys.js's K), its
// result views (`views`: name, elements, whether it can autorun), its defaults, how it reads
// and writes its URL keys, and which of its fields the loaded model cannot take. The URL's order is the slices' order. A new view adds one slice here.
const oneOf = (values, set) => (v, fail) => { if (values.includes(v)) set(v); else fail(); };

export const SLICES = [
  {
    name: 'model', // which model, and its weights as TransformerLens processes them ('tl') or HF's
    keys: {
      model: K('text', 'one of "default", "induction", "gpt2", "gpt2-medium", "local"', 'input[name=model], #files, #empty-files, #clear-cache', 'model'),
      process: K('spec', '"tl" (the weights processed as TransformerLens\'s from_pretrained does: fold_ln, center_writing_weights, center_unembed, fold_value_biases), or "none" / null for the HuggingFace weights', '#process-tl', 'process'),
    },
    defaults: () => ({ model: 'default', process: 'none' }),
    read(st, { take }) {
      take('model', (m, fail) => { if (m in MODELS) st.model = m; else fail(); });
      take('process', oneOf(PROCESSINGS, (v) => { st.process = v; }));
    },
    write(st, q) {
      q.set('model', st.model);
      if (st.process === 'tl') q.set('process', 'tl');
    },
  },
  {
    name: 'input', // the prompt (and the page's language)
    keys: {
      lang: K('text', '"en" or "vi"', '#lang', 'lang'),
      prompt: K('text', 'a text', '#prompt', 'prompt'),
    },
    defaults: () => ({ prompt: DEFAULT_PROMPT }),
    read(st, { get, take }) {
      const p = get('prompt');
      if (p !== undefined) st.prompt = p;
      take('lang', oneOf(['vi', 'en'], (l) => { st.lang = l; }));
    },
    write(st, q) {
      q.set('lang', st.lang);
      q.set('prompt', st.prompt);
    },
  },
  {
    name: 'chapter', // the chapter's four exercises; absent from the URL: off
    keys: {
      ex1: K('spec', '"L.H" (block and head, e.g. "9.2"), or null to switch exercise 1 off', '[data-ex=ex1] input', 'ex.ex1'),
      ex2: K('spec', '"L,mean,std,seed" (block, mean, std ≥ 0, whole-number seed, e.g. "9,10,1,0"), or null to switch exercise 2 off', '[data-ex=ex2] input', 'ex.ex2'),
      ex3: K('spec', '"L,factor" (block and factor, e.g. "9,0.1"), or null to switch exercise 3 off', '[data-ex=ex3] input', 'ex.ex3'),
      ex4: K('spec', '"L,factor" (block and factor, e.g. "9,10"), or null to switch exercise 4 off', '[data-ex=ex4] input', 'ex.ex4'),
    },
    defaults: () => ({ ex: defaultExercises() }),
    read(st, { take, num, int }) {
      take('ex1', (v, fail) => {
        const [l, h, ...rest] = v.split(/[.,]/);
        if (rest.length) { fail(); st.ex.ex1.on = true; return; }
        st.ex.ex1 = { on: true, layer: int(l, 9), head: int(h, 2) };
      });
      take('ex2', (v, fail) => {
        const [l, mean, std, seed, ...rest] = v.split(',');
        if (rest.length) { fail(); st.ex.ex2.on = true; return; }
        const s = num(std, 1);
        if (s < 0) fail();
        st.ex.ex2 = { on: true, layer: int(l, 9), mean: num(mean, 10), std: s < 0 ? 1 : s, seed: int(seed, 0) };
      });
      for (const [k, f] of [['ex3', 0.1], ['ex4', 10]]) {
        take(k, (v, fail) => {
          const [l, fac, ...rest] = v.split(',');
          if (rest.length) { fail(); st.ex[k].on = true; return; }
          st.ex[k] = { on: true, layer: int(l, 9), factor: num(fac, f) };
        });
      }
    },
    write(st, q) {
      const e = st.ex;
      if (e.ex1.on) q.set('ex1', `${e.ex1.layer}.${e.ex1.head}`);
      if (e.ex2.on) q.set('ex2', `${e.ex2.layer},${e.ex2.mean},${e.ex2.std},${e.ex2.seed}`);
      if (e.ex3.on) q.set('ex3', `${e.ex3.layer},${e.ex3.factor}`);
      if (e.ex4.on) q.set('ex4', `${e.ex4.layer},${e.ex4.factor}`);
    },
    invalid(st, cfg) {
      const bad = [];
      for (const [k, e] of Object.entries(st.ex)) {
        for (const p of Object.keys(e)) {
          if (p === 'on') continue;
          const r = validateField(FIELD_KIND[p], String(e[p]), cfg);
          if (r.error) bad.push({ id: `${k}-${p}`, ...r.error });
        }
      }
      return bad;
    },
  },
  {
    name: 'views', // how the results are shown: charts, top-k, the statistics panel's hook, the lens, predict mode
    // The result views a course author can show or hide (`views`), and the elements of each.
    views: [
      { name: 'std', parts: ['#std-section'] },
      { name: 'top', parts: ['#top-section > .row', '#fig-top', '#kl'] },
      { name: 'lens', parts: ['#top-section .lens-toggle', '#lens-status', '#fig-lens'] },
      { name: 'attn', parts: ['#attn-section'] },
      { name: 'mlp', parts: ['#mlp-section'] },
      { name: 'stats', parts: ['#stats-section'] },
      { name: 'tuple', parts: ['#tuple-section'] },
      { name: 'code', parts: ['#code-section'] },
      { name: 'export', parts: ['#export-section'] },
    ],
    keys: {
      view: K('text', '"both", "resid" or "hf"', '#view', 'view'),
      scale: K('text', '"linear" or "log"', '#scale', 'scale'),
      topk: K('number', 'a whole number from 1 to 50', '#topk', 'topk'),
      hook: K('text', 'a hook name of the statistics panel, e.g. "hook_resid_post" or "attn.hook_z"', '#stat-hook', 'hook'),
      stat: K('text', '"mean", "std", "min", "max" or "norm"', '#stat-kind', 'stat'),
      hl: K('number', 'the statistics panel\'s block, a whole number', '#stat-layer', 'hookLayer'),
      predict: K('flag', 'true or false', '#predict-on', 'predict'),
      lens: K('flag', 'true or false', '#lens-on', 'lens'),
      embed: K('flag', 'true or false (the compact layout)'),
    },
    defaults: () => ({ view: 'both', scale: 'linear', topk: 10, hook: 'hook_resid_post', stat: 'std', hookLayer: 9, predict: false, lens: false, embed: false }),
    read(st, { take, int, flag }) {
      take('view', oneOf(['both', 'resid', 'hf'], (v) => { st.view = v; }));
      take('scale', oneOf(['linear', 'log'], (v) => { st.scale = v; }));
      take('topk', (v, fail) => {
        const k = int(v, 10, 1);
        if (k > TOPK_MAX) fail();
        else st.topk = k;
      });
      take('hook', (v, fail) => { if (/^[a-z0-9_]+(\.[a-z0-9_]+)?$/.test(v) && !v.startsWith('blocks')) st.hook = v; else fail(); });
      take('stat', oneOf(STATS, (v) => { st.stat = v; }));
      take('hl', (v) => { st.hookLayer = int(v, 9); });
      st.embed = flag('embed', false);
      st.predict = flag('predict', false);
      st.lens = flag('lens', null); // null: the author slice decides (the lens view shows it)
    },
    write(st, q) {
      if (st.view !== 'both') q.set('view', st.view);
      if (st.scale !== 'linear') q.set('scale', st.scale);
      if (st.topk !== 10) q.set('topk', String(st.topk));
      if (st.hook !== 'hook_resid_post') q.set('hook', st.hook);
      if (st.stat !== 'std') q.set('stat', st.stat);
      if (st.hookLayer !== 9) q.set('hl', String(st.hookLayer));
      if (st.predict) q.set('predict', '1');
      if (st.lens) q.set('lens', '1');
      else if (st.views?.includes('lens')) q.set('lens', '0'); // the lens view's default is on
      if (st.embed) q.set('embed', '1');
    },
    invalid(st, cfg) {
      const r = validateField('layer', String(st.hookLayer), cfg);
      return r.error ? [{ id: 'stat-layer', ...r.error }] : [];
    },
  },
  {
    name: 'patch', // the Patching view (patch-state.js)
    views: [{ name: 'patch', parts: ['#patch-section'], autorun: true }],
    keys: {
      pclean: K('spec', 'the clean prompt, or null for the model\'s default pair', '#patch-clean', 'patch.clean'),
      pcorr: K('spec', 'the corrupted prompt, or null for the model\'s default pair', '#patch-corrupted', 'patch.corrupted'),
      pans: K('spec', 'the answer token (text, or "#ID"), or null for the default', '#patch-answer, #patch-answer-pick', 'patch.answer'),
      pwrong: K('spec', 'the wrong token (text, or "#ID"), or null for the default', '#patch-wrong, #patch-wrong-pick', 'patch.wrong'),
      phook: K('text', '"resid_pre", "attn_out", "mlp_out" or "z"', '#patch-hook', 'patch.hook'),
      pmetric: K('text', '"normalized" or "logit_diff"', '#patch-metric', 'patch.metric'),
      pmethod: K('text', '"exact" or "attribution"', '#patch-method', 'patch.method'),
    },
    defaults: () => ({ patch: defaultPatchState() }),
    read(st, { get, refused }) { st.patch = patchFromParams(get, refused); },
    write(st, q) { patchToParams(st.patch, q); },
  },
  {
    name: 'builder', // the intervention builder's rows (rows.js): a row the page cannot read is left out and reported alone
    keys: {
      iv: K('spec', 'builder rows "HOOK KIND[=ARGS] [pos=S] [heads=S] [feat=S] [off]" separated by ";", or null for none', '#builder', 'iv'),
    },
    defaults: () => ({ iv: [] }),
    read(st, { get, refused }) {
      const ivText = get('iv');
      if (ivText === undefined) return;
      const { rows, refused: bad } = rowsFromText(ivText);
      st.iv = rows;
      for (const row of bad) refused.push({ key: 'iv', value: row });
    },
    write(st, q) { if (st.iv.length) q.set('iv', rowsToText(st.iv)); },
  },
  {
    name: 'heads', // the heads panel: the score, the block drawn, the input (prompt or repeated random tokens)
    views: [{ name: 'heads', parts: ['#heads-section'], autorun: true }],
    keys: {
      heads: K('spec', '"SCORE,L": previous_token, first_token or induction, and a block, e.g. "induction,5"', '#heads-score, #heads-block', ['heads.score', 'heads.block']),
      repeat: K('spec', '"R,SEED" (repeated random tokens), or null for the prompt', '#heads-input, #heads-r, #heads-seed', ['heads.repeat', 'heads.r', 'heads.seed']),
    },
    defaults: () => ({ heads: defaultHeads() }),
    read(st, { take, int }) {
      take('heads', (v, fail) => {
        const [score, block, ...rest] = v.split(',');
        if (rest.length || !HEAD_SCORES.includes(score)) { fail(); return; }
        st.heads.score = score;
        st.heads.block = int(block, 0);
      });
      take('repeat', (v, fail, failed) => {
        const [r, seed, ...rest] = v.split(',');
        const R = int(r, 20, 1);
        if (failed() || rest.length || !/^\d{1,20}$/.test(seed ?? '') || BigInt(seed) >= 2n ** 64n) { fail(); return; }
        st.heads = { ...st.heads, repeat: true, r: R, seed: String(BigInt(seed)) };
      });
    },
    write(st, q) {
      const hd = defaultHeads();
      if (st.heads.score !== hd.score || st.heads.block !== hd.block) q.set('heads', `${st.heads.score},${st.heads.block}`);
      if (st.heads.repeat) q.set('repeat', `${st.heads.r},${st.heads.seed}`);
    },
  },
  {
    name: 'generate', // the Generate panel's settings (generate-state.js)
    views: [{ name: 'generate', parts: ['#generate-section'], autorun: true }],
    keys: {
      gn: K('number', 'new tokens to generate, 1 to 1024', '#generate-section .gen-controls label:nth-of-type(1) input', 'gen.maxNewTokens'),
      gt: K('number', 'the sampling temperature, 0 to 10 (0: greedy)', '#generate-section .gen-controls label:nth-of-type(2) input', 'gen.temperature'),
      gk: K('number', 'top-k sampling, a whole number ≥ 0 (0: off)', '#generate-section .gen-controls label:nth-of-type(3) input', 'gen.topK'),
      gp: K('number', 'top-p sampling, above 0 and at most 1', '#generate-section .gen-controls label:nth-of-type(4) input', 'gen.topP'),
      gs: K('number', 'the sampling seed, a whole number ≥ 0', '#generate-section .gen-controls label:nth-of-type(5) input', 'gen.seed'),
    },
    defaults: () => ({ gen: genStateFromParams(() => undefined) }),
    read(st, { get, refused }) { st.gen = genStateFromParams(get, refused); },
    write(st, q) { if (st.gen) genStateToParams(st.gen, q); },
  },
  {
    name: 'loss', // the loss-per-token view (panels/token-loss.js): open, or folded (asks nothing)
    keys: {
      loss: K('flag', 'true or false (the loss-per-token view open)', null, 'loss'),
    },
    views: [{ name: 'loss', parts: ['#loss-section'] }],
    defaults: () => ({ loss: false }),
    read(st, { flag }) { st.loss = flag('loss', false); },
    write(st, q) { if (st.loss) q.set('loss', '1'); },
  },
  {
    name: 'author', // the course author's controls (docs/embedding.md) and the lesson
    keys: {
      autorun: K('list', () => `what runs on load without a click: ${AUTORUN.map((v) => `"${v}"`).join(', ')} ("1": "patch"), comma-separated, or null`),
      locked: K('list', 'keys the learner cannot change, comma-separated (e.g. "ex3,prompt"), or null'),
      views: K('list', () => `the views shown, comma-separated, of ${VIEWS.join(', ')}; or null for all`),
      picker: K('text', '"shown" or "hidden" (the model picker)'),
      lesson: K('spec', '"chapter" (lesson 1: the chapter\'s questions), "induction" (lesson 2: the guided path through induction), a lesson file on the page\'s origin (e.g. "lessons/chapter.md", docs/lessons.md), or null', null, 'lesson'),
    },
    defaults: defaultAuthor,
    read(st, { take, list }) {
      list('autorun', [...AUTORUN, '1'], (xs) => { st.autorun = [...new Set(xs.map((x) => (x === '1' ? 'patch' : x)))]; });
      list('locked', Object.keys(KEYS).filter((k) => !UNLOCKABLE.includes(k)), (xs) => { st.locked = [...new Set(xs)]; });
      list('views', VIEWS, (xs) => { st.views = xs.length ? [...new Set(xs)] : null; });
      take('picker', oneOf(['shown', 'hidden'], (v) => { st.picker = v; }));
      take('lesson', (v, fail) => { if (LESSONS.includes(v) || isLessonUrl(v)) st.lesson = v; else fail(); }); // a guided path (panels/induction-lesson.js)
      // The lens view shows the logit lens: on unless the link says lens=0.
      if (st.lens === null) st.lens = !!st.views?.includes('lens');
    },
    write(st, q) {
      if (st.autorun?.length) q.set('autorun', st.autorun.join(','));
      if (st.locked?.length) q.set('locked', st.locked.join(','));
      if (st.views) q.set('views', st.views.join(','));
      if (st.picker === 'hidden') q.set('picker', 'hidden');
      if (st.lesson) q.set('lesson', st.lesson);
    },
  },
];

// The slices' keys, one table (keys.js keyTable): URL, element attributes and set-state.
export const { KEYS, KEY_NAMES, nearestKey, unknownKeyText, typeError, expects } = keyTable(Object.assign({}, ...SLICES.map((sl) => sl.keys)));
// The result views (the `views` key) and those that run on load when asked (`autorun`).
const VIEW_DECLS = SLICES.flatMap((sl) => sl.views ?? []);
export const VIEWS = Object.freeze(VIEW_DECLS.map((v) => v.name));
export const AUTORUN = Object.freeze(VIEW_DECLS.filter((v) => v.autorun).map((v) => v.name));
/** The elements of each view: {name: [selector]} (author.js shows and hides them). */
export const VIEW_PARTS = Object.freeze(Object.fromEntries(VIEW_DECLS.map((v) => [v.name, v.parts])));

// Keys a learner is never locked out of: the author's own controls, and the layout.
const UNLOCKABLE = ['locked', 'autorun', 'views', 'picker', 'embed'];

// Where each key lives in the state, for locked keys (author.js copies the author's value of
// each locked key over the learner's): the paths the keys declare.
export const KEY_PARTS = Object.fromEntries(Object.entries(KEYS).filter(([k]) => !UNLOCKABLE.includes(k)).map(([k, d]) => [k, d.paths]));

/** Copies the keys' parts of `from` into `to` (both page states); true when anything changed. */
export function copyKeys(to, from, keys) {
  let changed = false;
  for (const k of keys) {
    for (const path of KEY_PARTS[k] ?? []) {
      let a = to, b = from;
      for (const p of path.slice(0, -1)) { a = a[p]; b = b[p]; }
      const last = path.at(-1);
      if (JSON.stringify(a[last]) !== JSON.stringify(b[last])) { a[last] = structuredClone(b[last]); changed = true; }
    }
  }
  return changed;
}

// The engine's intervention objects for the exercises that are on, in exercise order.
export function interventionsOf(st) {
  const e = st.ex;
  const out = [];
  if (e.ex1.on) out.push({ kind: 'zero_head_k', layer: e.ex1.layer, head: e.ex1.head });
  if (e.ex2.on) out.push({ kind: 'noise_even_neurons', layer: e.ex2.layer, mean: e.ex2.mean, std: e.ex2.std, seed: e.ex2.seed });
  if (e.ex3.on) out.push({ kind: 'scale_hidden', layer: e.ex3.layer, factor: e.ex3.factor });
  if (e.ex4.on) out.push({ kind: 'scale_hidden', layer: e.ex4.layer, factor: e.ex4.factor });
  for (const row of st.iv) if (row.on) out.push(rowIntervention(row)); // the builder's rows, after the exercises
  return out;
}

// The full name of the hook whose per-position std is drawn, or null (`logits`: [T, vocab]
// is too big to ship for a chart). table: the engine's hook table (lab.hooks()), which says
// whether the hook is one of the blocks'.
export function positionHookName(st, table) {
  if (st.hook === 'logits') return null;
  if (!table) throw new Error('the engine\'s hook table is needed to name the captured hook');
  return hookEntry(st.hook, table) ? st.hook : `blocks.${st.hookLayer}.${st.hook}`;
}

// Hooks captured in both runs, for the attention, MLP and per-position panels.
export function capturesOf(st, table) {
  const e = st.ex;
  const c = new Set();
  if (e.ex1.on) c.add(`blocks.${e.ex1.layer}.attn.hook_pattern`);
  if (e.ex2.on) c.add(`blocks.${e.ex2.layer}.mlp.hook_post`);
  const h = positionHookName(st, table);
  if (h) c.add(h);
  return [...c];
}

export function paramCount(cfg) {
  const d = cfg.n_embd, L = cfg.n_layer, V = cfg.vocab_size, P = cfg.n_positions, m = cfg.d_mlp ?? 4 * d;
  const block = 2 * 2 * d + d * 3 * d + 3 * d + d * d + d + d * m + m + m * d + d;
  return V * d + P * d + L * block + 2 * d;
}
