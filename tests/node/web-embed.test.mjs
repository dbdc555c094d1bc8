// The postMessage API of the embedded lab (web/src/embed-api.js): the message validator,
// and initEmbedApi's origin handling in a stand-in window (the allow-list arrives late,
// a refused origin is named in the console, answers carry the request's id).
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';

import { validMessage, initEmbedApi, refusedOriginWarning } from '../../web/src/embed-api.js';

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
    assert.deepEqual(b.toParent, [{ type: 'hooklab:state', state: { lang: 'vi', ex3: '9,0.1' } }]);
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
    assert.deepEqual(r, [{ type: 'hooklab:result', result: exp, id: 'q1' }]);
    assert.deepEqual(s, [{ type: 'hooklab:state', state: { lang: 'en' }, id: 3 }]);
    assert.equal(e.length, 1);
    assert.equal(e[0].type, 'hooklab:error');
    assert.match(e[0].error, /unknown state key evil/);
    assert.deepEqual(x, []);
  } finally { b.restore(); }
});
