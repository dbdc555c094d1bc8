// The postMessage API of the embedded lab (web/src/embed-api.js): the message validator,
// and initEmbedApi's origin handling in a stand-in window (the allow-list arrives late,
// a refused origin is named in the console, answers carry the request's id).
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';

import { validMessage, initEmbedApi, refusedOriginWarning, EXPECTS } from '../../web/src/embed-api.js';
import { KEY_NAMES } from '../../web/src/state.js';
import { stateFromParams, stateToParams, defaultState, resetState, KEY_PARTS } from '../../web/src/state.js';

test('validMessage accepts the documented shapes', () => {
  assert.equal(validMessage({ type: 'hooklab:get-state' }), null);
  assert.equal(validMessage({ type: 'hooklab:get-result', id: 'r1' }), null);
  assert.equal(validMessage({ type: 'hooklab:get-result', id: 7 }), null);
  assert.equal(validMessage({ type: 'hooklab:set-state', state: {} }), null);
  assert.equal(validMessage({ type: 'hooklab:set-state', state: { ex3: '9,0.1', ex1: null, predict: false, topk: 5, lang: 'vi', prompt: 'x'.repeat(4000) } }), null);
});

test('validMessage refuses everything else with a reason', () => {
  const bad = [
    [null, /not an object/], ['hooklab:get-state', /not an object/], [[1], /not an object/], [42, /not an object/],
    [{}, /no hooklab type/], [{ type: 'other:x' }, /no hooklab type/], [{ type: 7 }, /no hooklab type/],
    [{ type: 'hooklab:reboot' }, /unknown type hooklab:reboot/],
    [{ type: 'hooklab:set-state' }, /state must be an object/], [{ type: 'hooklab:set-state', state: [] }, /state must be an object/],
    [{ type: 'hooklab:set-state', state: 'ex3=9' }, /state must be an object/],
    [{ type: 'hooklab:set-state', state: { evil: 1 } }, /unknown state key evil/],
    [{ type: 'hooklab:set-state', state: { __proto__: null, constructor: 'x' } }, /unknown state key constructor/],
    [{ type: 'hooklab:set-state', state: { prompt: { a: 1 } } }, /bad value for prompt/],
    [{ type: 'hooklab:set-state', state: { ex3: [9, 0.1] } }, /bad value for ex3/],
    [{ type: 'hooklab:set-state', state: { prompt: 'x'.repeat(4001) } }, /prompt is too long/],
    [{ type: 'hooklab:set-state', state: { topk: NaN } }, /topk must be finite/],
    [{ type: 'hooklab:set-state', state: { topk: Infinity } }, /topk must be finite/],
    [{ type: 'hooklab:get-result', id: { a: 1 } }, /id must be/], [{ type: 'hooklab:get-state', id: 'x'.repeat(101) }, /id must be/],
    [{ type: 'hooklab:get-result', id: NaN }, /id must be/],
  ];
  for (const [msg, re] of bad) assert.match(String(validMessage(msg)), re, JSON.stringify(msg));
});

// ---------------------------------------------------------------- a stand-in browser window

const LAB = 'http://lab.test', COURSE = 'http://course.test', OTHER = 'http://evil.test';
const saved = {};
for (const k of ['window', 'location', 'document', 'fetch']) saved[k] = Object.getOwnPropertyDescriptor(globalThis, k);
afterEach(() => {
  for (const [k, d] of Object.entries(saved)) {
    if (d) Object.defineProperty(globalThis, k, d);
    else delete globalThis[k];
  }
});

function fakeBrowser({ allowed = [], parentOrigin = COURSE, referrer = `${COURSE}/chapter5.html` } = {}) {
  const listeners = [];
  const toParent = [];
  const warnings = [];
  let deliverOrigins;
  // postMessage(msg, targetOrigin) reaches the parent only when targetOrigin is its origin.
  const parent = { postMessage: (msg, target) => { if (target === parentOrigin) toParent.push(structuredClone(msg)); } };
  const set = (k, v) => Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true });
  set('location', new URL(`${LAB}/lab/index.html?embed=1`));
  set('document', { referrer });
  set('window', { parent, addEventListener: (type, f) => { if (type === 'message') listeners.push(f); } });
  const originsLoaded = new Promise((r) => { deliverOrigins = r; });
  set('fetch', async (url) => {
    assert.equal(String(url), `${LAB}/lab/embed-origins.json`);
    await originsLoaded; // the allow-list arrives late, as over a network
    return { ok: true, json: async () => ({ allowedOrigins: allowed }) };
  });
  const origWarn = console.warn;
  console.warn = (m) => warnings.push(String(m));
  const send = (data, origin) => {
    const replies = [];
    const source = { postMessage: (msg, target) => { if (target === origin) replies.push(structuredClone(msg)); } };
    for (const f of listeners) f({ data, origin, source });
    return replies;
  };
  return { toParent, warnings, send, loadOrigins: () => deliverOrigins(), restore: () => { console.warn = origWarn; } };
}
const tick = () => new Promise((r) => setTimeout(r, 10));

test('the first hooklab:state reaches an allowed cross-origin parent even when sent before the allow-list loads', async () => {
  const b = fakeBrowser({ allowed: [COURSE] });
  try {
    let state = { lang: 'vi' };
    const api = initEmbedApi({ getState: () => state, setState: (p) => { state = { ...state, ...p }; }, getExport: () => null });
    api.setParamsOf((s) => new URLSearchParams(s));
    api.stateChanged(new URLSearchParams('lang=vi&ex3=9,0.1')); // at load, before embed-origins.json is in
    await tick();
    assert.deepEqual(b.toParent, []);
    b.loadOrigins();
    await tick();
    assert.deepEqual(b.toParent, [{ type: 'hooklab:state', state: { lang: 'vi', ex3: '9,0.1' }, v: 1 }]);
    assert.deepEqual(b.warnings, []);
  } finally { b.restore(); }
});

test('a set-state sent before the allow-list loads is applied once the origin is known to be allowed', async () => {
  const b = fakeBrowser({ allowed: [COURSE] });
  try {
    const patches = [];
    initEmbedApi({ getState: () => ({}), setState: (p) => patches.push(p), getExport: () => null }).setParamsOf(() => new URLSearchParams());
    const replies = b.send({ type: 'hooklab:set-state', state: { ex4: '9,10' } }, COURSE);
    b.loadOrigins();
    await tick();
    assert.deepEqual(patches, [{ ex4: '9,10' }]);
    assert.equal(replies[0].type, 'hooklab:state');
  } finally { b.restore(); }
});

test('a refused origin gets no answer and the console names it and the file to edit', async () => {
  const b = fakeBrowser({ allowed: [], parentOrigin: COURSE });
  try {
    const patches = [];
    initEmbedApi({ getState: () => ({}), setState: (p) => patches.push(p), getExport: () => ({ secret: 1 }) });
    b.loadOrigins();
    await tick();
    // The embedding page itself is not allowed: said once at load.
    assert.equal(b.warnings.length, 1);
    assert.ok(b.warnings[0].includes(COURSE));
    assert.ok(b.warnings[0].includes(`${LAB}/lab/embed-origins.json`));
    assert.match(b.warnings[0], /web\/public\/embed-origins\.json/);
    assert.equal(b.warnings[0], refusedOriginWarning(COURSE));
    const r1 = b.send({ type: 'hooklab:set-state', state: { prompt: 'pwned' } }, OTHER);
    const r2 = b.send({ type: 'hooklab:get-result', id: 1 }, OTHER);
    b.send({ type: 'hooklab:get-result', id: 2 }, OTHER);
    b.send({ hello: 'not ours' }, 'http://noise.test');
    await tick();
    assert.deepEqual(patches, []);
    assert.deepEqual([...r1, ...r2], []);
    assert.equal(b.warnings.length, 2, 'one warning per refused origin, none for foreign messages');
    assert.ok(b.warnings[1].includes(OTHER));
  } finally { b.restore(); }
});

test('answers carry the request id; malformed requests get hooklab:error', async () => {
  const b = fakeBrowser({ allowed: [COURSE] });
  try {
    const exp = { model: { n_layer: 12 }, baseline: { resid_std: [1] } };
    initEmbedApi({ getState: () => ({ lang: 'en' }), setState: () => {}, getExport: () => exp }).setParamsOf((s) => new URLSearchParams(s));
    b.loadOrigins();
    await tick();
    const r = b.send({ type: 'hooklab:get-result', id: 'q1' }, COURSE);
    const s = b.send({ type: 'hooklab:get-state', id: 3 }, COURSE);
    const e = b.send({ type: 'hooklab:set-state', state: { evil: 1 } }, COURSE);
    const x = b.send({ type: 'hooklab:state', state: {} }, LAB); // our own broadcast, heard by a top-level page
    await tick();
    assert.deepEqual(r, [{ type: 'hooklab:result', result: exp, v: 1, id: 'q1' }]);
    assert.deepEqual(s, [{ type: 'hooklab:state', state: { lang: 'en' }, v: 1, id: 3 }]);
    assert.equal(e.length, 1);
    assert.equal(e[0].type, 'hooklab:error');
    assert.match(e[0].error, /unknown state key evil/);
    assert.deepEqual(x, []);
  } finally { b.restore(); }
});

// ---------------------------------------------------------------- one list of keys (issue #28)

test('every URL key is a set-state key, with its type checked and a did-you-mean for a typo', () => {
  // The URL the page writes for a state that sets every key holds only keys.js's keys, and
  // each of them is a valid set-state field.
  const st = stateFromParams(new URLSearchParams('ex1=9.2&ex2=9,10,1,0&ex3=9,0.1&ex4=9,10&view=hf&scale=log&topk=5&hook=attn.hook_z&stat=max&hl=3&lens=1&predict=1&iv=blocks.3.attn.hook_z%20scale=0&heads=induction,5&repeat=20,7'
    + '&pclean=A%20B&pcorr=C%20D&pans=%20x&pwrong=%20y&phook=z&pmetric=logit_diff&pmethod=attribution&gn=5&gt=0.5&gk=3&gp=0.9&gs=2&autorun=patch&locked=ex3,prompt&views=std,patch&picker=hidden&embed=1&model=gpt2&process=tl&lang=vi&prompt=hi&lesson=induction&loss=1'));
  const q = stateToParams(st);
  assert.deepEqual([...q.keys()].sort(), [...KEY_NAMES].sort(), 'stateToParams writes exactly the keys of KEYS');
  for (const [k, v] of q) assert.equal(validMessage({ type: 'hooklab:set-state', state: { [k]: v } }), null, k);
  assert.deepEqual(Object.keys(EXPECTS).sort(), [...KEY_NAMES].sort());
  // A lockable key says where it lives in the state.
  for (const k of KEY_NAMES) if (!['locked', 'autorun', 'views', 'picker', 'embed'].includes(k)) assert.ok(KEY_PARTS[k], `KEY_PARTS.${k}`);
  // Round trip: the state read back from its URL is the same state.
  assert.deepEqual(stateFromParams(q, 'en'), st);
  // Typos and wrong types, named with the nearest key / what the key takes.
  assert.match(validMessage({ type: 'hooklab:set-state', state: { pcleen: 'x' } }), /unknown state key pcleen \(did you mean "pclean"\?\)/);
  assert.match(validMessage({ type: 'hooklab:set-state', state: { head: 'induction,5' } }), /did you mean "heads"/);
  assert.match(validMessage({ type: 'hooklab:set-state', state: { ex3: true } }), /bad value for ex3: true; expected "L,factor"/);
  assert.match(validMessage({ type: 'hooklab:set-state', state: { prompt: 7 } }), /bad value for prompt: 7/);
  assert.match(validMessage({ type: 'hooklab:set-state', state: { locked: ['ex3'] } }), /bad value for locked: an array/);
  assert.equal(validMessage({ type: 'hooklab:set-state', state: { pclean: 'When Mary', gn: 12, locked: 'ex3,prompt', autorun: 'patch', views: null } }), null);
  // The API's version.
  assert.equal(validMessage({ type: 'hooklab:get-state', v: 1 }), null);
  assert.match(validMessage({ type: 'hooklab:get-state', v: 2 }), /unsupported version/);
});

test('the process key (issue #27): "tl" or "none", anything else refused; set-state switches it off with null or false', () => {
  const read = (query) => { const refused = []; return { st: stateFromParams(new URLSearchParams(query), 'en', refused), refused }; };
  assert.equal(defaultState().process, 'none');
  const on = read('process=tl');
  assert.deepEqual([on.st.process, on.refused], ['tl', []]);
  assert.equal(stateToParams(on.st).get('process'), 'tl');
  assert.deepEqual(stateFromParams(stateToParams(on.st), 'en'), on.st, 'round trip');
  const off = read('process=none');
  assert.deepEqual([off.st.process, off.refused], ['none', []]);
  assert.equal(stateToParams(off.st).has('process'), false, 'the default is not written');
  for (const bad of ['TL', '1', 'true', 'fold_ln', '', 'tl,none']) {
    const r = read(`process=${encodeURIComponent(bad)}`);
    assert.equal(r.st.process, 'none', bad);
    assert.deepEqual(r.refused, [{ key: 'process', value: bad }], bad);
  }
  const typo = read('proces=tl');
  assert.deepEqual([typo.st.process, typo.refused[0].unknown, typo.refused[0].near], ['none', true, 'process']);
  // The element's attribute: the same rules.
  assert.equal(stateFromParams({ process: 'tl' }, 'en').process, 'tl');
  // set-state: a string, or null / false to go back to HF's weights; true or a number is refused.
  for (const v of ['tl', 'none', null, false]) assert.equal(validMessage({ type: 'hooklab:set-state', state: { process: v } }), null, String(v));
  assert.match(validMessage({ type: 'hooklab:set-state', state: { process: true } }), /bad value for process: true; expected "tl"/);
  assert.match(validMessage({ type: 'hooklab:set-state', state: { process: 1 } }), /bad value for process: 1/);
  assert.match(validMessage({ type: 'hooklab:set-state', state: { proces: 'tl' } }), /did you mean "process"/);
  // Not an experiment: Reset keeps it, as it keeps the model; an author can lock it.
  assert.equal(resetState(on.st).process, 'tl');
  assert.deepEqual(KEY_PARTS.process, [['process']]);
  assert.deepEqual(read('locked=process').st.locked, ['process']);
});

test('URL keys (and so the element\'s attributes) the page does not know are refused, naming the nearest key', () => {
  const refused = [];
  const st = stateFromParams(new URLSearchParams('pcleen=x&ex3=9,0.1&autorun=pach&views=std,len&locked=ex3,promt&gn=0&lens=yes'), 'en', refused);
  const by = Object.fromEntries(refused.map((r) => [r.key, r]));
  assert.equal(by.pcleen.unknown, true);
  assert.equal(by.pcleen.near, 'pclean');
  for (const k of ['autorun', 'views', 'locked', 'gn', 'lens']) assert.ok(by[k], k);
  assert.deepEqual([st.autorun, st.views, st.locked, st.gen.maxNewTokens, st.lens], [[], null, [], 20, false]);
  assert.equal(st.ex.ex3.on, true);
  // A plain object of attributes: the same rules.
  const r2 = [];
  stateFromParams({ pclean: 'A', phok: 'z' }, 'en', r2);
  assert.deepEqual(r2.map((r) => [r.key, r.near]), [['phok', 'phook']]);
  assert.deepEqual(defaultState().locked, []);
});
