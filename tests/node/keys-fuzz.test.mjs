// A seeded fuzzer for the one list of keys (web/src/keys.js, issue #28): random and near-miss
// keys and values thrown at the three doors into the page's state — the URL parser
// (state.js stateFromParams on a URLSearchParams), the element's attributes (lower-cased
// names, forwarded as the frame's URL; and the plain-object form stateFromParams takes), and
// set-state (embed-api.js validMessage, then applyPatch's rebuild through the URL parser).
// Asserted: nothing throws; an unknown key is reported with the nearest key ("did you mean");
// a value of the wrong type is refused naming its key; valid values are kept, and
// stateToParams ∘ stateFromParams is stable (a fixed point after one pass, whatever came in).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KEYS, KEY_NAMES, nearestKey, typeError } from '../../web/src/state.js';
import { stateFromParams, stateToParams } from '../../web/src/state.js';
import { validMessage } from '../../web/src/embed-api.js';

// mulberry32: a small seeded generator, so a failure names a case that can be replayed.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const SEED = Number(process.env.FUZZ_SEED ?? 28);
const CASES = Number(process.env.FUZZ_CASES ?? 2000);

// Valid values of every key, as a link writes them (web/README.md "URL", docs/embedding.md).
const VALID = {
  model: ['default', 'induction', 'gpt2', 'gpt2-medium'],
  process: ['tl', 'none'],
  prompt: ['When Mary and John went to the store, John gave a drink to', 'Xin chào', 'a, b; c = d & e', ' x '],
  lang: ['en', 'vi'],
  ex1: ['9.2', '0.0', '11.11', '3.4'],
  ex2: ['9,10,1,0', '0,0,0,0', '5,2.5,0.5,7', '3,-1,2,12345'],
  ex3: ['9,0.1', '5,0.5', '0,2', '11,-3'],
  ex4: ['9,10', '8,-2', '1,0.25'],
  view: ['both', 'resid', 'hf'],
  scale: ['linear', 'log'],
  topk: ['1', '5', '20', '50'],
  hook: ['hook_resid_post', 'attn.hook_z', 'hook_resid_pre', 'mlp.hook_post'],
  stat: ['mean', 'std', 'min', 'max', 'norm'],
  hl: ['0', '3', '11'],
  lens: ['1', '0'],
  predict: ['1', '0'],
  embed: ['1', '0'],
  iv: ['blocks.3.attn.hook_z scale=0 heads=1,5', 'blocks.0.hook_resid_post add=1 pos=even', 'blocks.2.mlp.hook_post noise=0,1,7 feat=0:10 off;blocks.1.hook_resid_pre zero'],
  heads: ['induction,5', 'previous_token,0', 'first_token,2'],
  repeat: ['20,7', '1,0', '50,123'],
  pclean: ['When the man came home, he', 'A B'],
  pcorr: ['When the men came home, they', 'C D'],
  pans: [' was', '#123', ' x'],
  pwrong: [' were', '#7', ' y'],
  phook: ['resid_pre', 'attn_out', 'mlp_out', 'z'],
  pmetric: ['normalized', 'logit_diff'],
  pmethod: ['exact', 'attribution'],
  gn: ['1', '20', '1024'],
  gt: ['0', '0.7', '10'],
  gk: ['0', '40'],
  gp: ['1', '0.9'],
  gs: ['0', '42'],
  autorun: ['patch', 'generate', 'heads', 'patch,heads', '1'],
  locked: ['ex3,prompt', 'pclean,pcorr,pans,pwrong,phook', 'model'],
  views: ['std,patch', 'heads', 'generate,top,lens', 'loss,std'],
  picker: ['hidden', 'shown'],
  lesson: ['chapter', 'induction', 'lessons/chapter.md', '/lessons/x-1.md'],
  loss: ['1', '0'],
};

const pick = (r, xs) => xs[Math.floor(r() * xs.length)];
const CHARS = 'abcdefghijklmnopqrstuvwxyzABCXYZ0123456789_-.,;:=&?#%/ ×éđữ\u0000\u202e\t';
function junkString(r, max = 24) {
  const n = Math.floor(r() * max);
  let s = '';
  for (let i = 0; i < n; i++) s += CHARS[Math.floor(r() * CHARS.length)];
  return s;
}
// A name one edit away from a key (delete, insert, replace, swap, upper-case), never a key.
function nearMiss(r, k) {
  for (let tries = 0; tries < 20; tries++) {
    const i = Math.floor(r() * k.length);
    const c = pick(r, 'abcdefghijklmnopqrstuvwxyz_');
    const op = Math.floor(r() * 5);
    const m = op === 0 && k.length > 2 ? k.slice(0, i) + k.slice(i + 1)
      : op === 1 ? k.slice(0, i) + c + k.slice(i)
        : op === 2 ? k.slice(0, i) + c + k.slice(i + 1)
          : op === 3 && i + 1 < k.length ? k.slice(0, i) + k[i + 1] + k[i] + k.slice(i + 2)
            : k.toUpperCase();
    if (!KEY_NAMES.includes(m) && m) return m;
  }
  return `${k}zz`;
}
// A string value: valid for some key (maybe another one), a mutation of one, or junk.
function stringValue(r, k) {
  const x = r();
  if (x < 0.4) return pick(r, VALID[k] ?? ['x']);
  if (x < 0.6) return pick(r, VALID[pick(r, KEY_NAMES)] ?? ['x']);
  if (x < 0.8) { const v = pick(r, VALID[k] ?? ['x']); const i = Math.floor(r() * (v.length + 1)); return v.slice(0, i) + junkString(r, 3) + v.slice(i + 1); }
  return junkString(r);
}
// Any JSON-ish value, for set-state.
function anyValue(r, k) {
  switch (Math.floor(r() * 9)) {
    case 0: return null;
    case 1: return r() < 0.5;
    case 2: return Math.floor(r() * 100) - 10;
    case 3: return pick(r, [NaN, Infinity, -0, 1e300, 0.5]);
    case 4: return [stringValue(r, k)];
    case 5: return { v: stringValue(r, k) };
    default: return stringValue(r, k);
  }
}

test('every key of keys.js has valid samples in this fuzzer (a new key gets its own)', () => {
  assert.deepEqual(KEY_NAMES.filter((k) => !VALID[k]), []);
  for (const k of KEY_NAMES) {
    for (const v of VALID[k]) {
      const refused = [];
      stateFromParams(new URLSearchParams([[k, v]]), 'en', refused);
      assert.deepEqual(refused, [], `${k}=${v} is valid`);
      const p1 = stateToParams(stateFromParams(new URLSearchParams([[k, v]]), 'en'));
      assert.equal(stateToParams(stateFromParams(p1, 'en')).toString(), p1.toString(), `${k}=${v} round-trips`);
      assert.equal(validMessage({ type: 'hooklab:set-state', state: { [k]: v } }), null, `set-state ${k}: ${v}`);
    }
  }
});

test(`fuzz the URL parser, the element's attributes and set-state (${CASES} cases, seed ${SEED})`, () => {
  const r = rng(SEED);
  const t0 = Date.now();
  let unknownSeen = 0, wrongTypeSeen = 0, roundTrips = 0;
  for (let n = 0; n < CASES; n++) {
    const at = `case ${n} (FUZZ_SEED=${SEED})`;
    // 1. A random link: valid keys with valid or broken values, near-miss and junk keys.
    const entries = [];
    const m = 1 + Math.floor(r() * 6);
    for (let i = 0; i < m; i++) {
      const x = r();
      const k = pick(r, KEY_NAMES);
      const key = x < 0.6 ? k : x < 0.85 ? nearMiss(r, k) : junkString(r, 10) || 'q';
      entries.push([key, stringValue(r, k)]);
    }
    const q = new URLSearchParams(entries);
    const refused = [];
    let st;
    assert.doesNotThrow(() => { st = stateFromParams(q, 'en', refused); }, at);
    // Unknown keys: each reported once, as unknown, with the nearest key (when one is near).
    for (const key of new Set(q.keys())) {
      if (KEY_NAMES.includes(key)) { assert.ok(!refused.some((x) => x.key === key && x.unknown), `${at}: ${key} is a key`); continue; }
      const rep = refused.filter((x) => x.key === key);
      assert.equal(rep.length, 1, `${at}: unknown ${JSON.stringify(key)} reported once`);
      assert.equal(rep[0].unknown, true, at);
      assert.equal(rep[0].near, nearestKey(key), at);
      unknownSeen++;
    }
    // Every refused known key was in the link; refused values are not in the state's URL.
    for (const x of refused) assert.ok(q.has(x.key), `${at}: refused ${x.key} was given`);
    // 2. Round trip: what the page writes reads back with nothing refused, to the same state
    // and the same URL (a fixed point after one pass, whatever came in).
    const p1 = stateToParams(st);
    const again = [];
    const st2 = stateFromParams(p1, 'en', again);
    assert.deepEqual(again, [], `${at}: ${p1} reads back without refusals`);
    assert.equal(stateToParams(st2).toString(), p1.toString(), `${at}: stable`);
    assert.deepEqual(st2, stateFromParams(new URLSearchParams(p1.toString()), 'en'), at);
    // A known key given a valid value keeps it: it is not refused (unless given twice).
    for (const [key, v] of entries) {
      if (KEY_NAMES.includes(key) && VALID[key].includes(v) && q.getAll(key).length === 1) assert.ok(!refused.some((x) => x.key === key), `${at}: ${key}=${v} valid`);
    }
    roundTrips++;

    // 3. The element's attributes: names lower-cased by HTML, forwarded into the frame's URL,
    // and the plain-object form stateFromParams also takes; the same refusals.
    const attrs = Object.fromEntries(entries.map(([k, v]) => [k.toLowerCase(), v]));
    const u = new URL('https://lab.example/index.html');
    for (const [k, v] of Object.entries(attrs)) u.searchParams.set(k, v);
    const ra = [], ro = [];
    let sa, so;
    assert.doesNotThrow(() => { sa = stateFromParams(u.searchParams, 'en', ra); so = stateFromParams(attrs, 'en', ro); }, at);
    assert.deepEqual(so, sa, `${at}: attributes as an object or as the frame's URL`);
    assert.deepEqual(ro.map((x) => x.key).sort(), ra.map((x) => x.key).sort(), at);

    // 4. set-state: any values, validated as embed-api.js does, then applied as main.js's
    // applyPatch does (the current URL with the patch over it, through the URL parser).
    const patch = {};
    for (let i = 0; i < m; i++) {
      const k = pick(r, KEY_NAMES);
      const key = r() < 0.8 ? k : nearMiss(r, k);
      patch[key] = anyValue(r, k);
    }
    let msg;
    assert.doesNotThrow(() => { msg = validMessage({ type: 'hooklab:set-state', state: patch }); }, at);
    // Refused whole, with the first failing field's reason; an unknown key named with the nearest.
    const single = Object.entries(patch).map(([k, v]) => validMessage({ type: 'hooklab:set-state', state: { [k]: v } }));
    assert.equal(msg, single.find((x) => x !== null) ?? null, `${at}: ${JSON.stringify(patch)}`);
    for (const [k] of Object.entries(patch)) {
      if (KEY_NAMES.includes(k)) continue;
      unknownSeen++;
      const near = nearestKey(k);
      assert.ok(near, `${at}: a near miss ${k} has a suggestion`);
      assert.equal(validMessage({ type: 'hooklab:set-state', state: { [k]: 'x' } }), `unknown state key ${k} (did you mean "${near}"?)`, at);
    }
    for (const [k, v] of Object.entries(patch)) {
      if (!KEY_NAMES.includes(k)) continue;
      const te = typeError(k, v);
      const wrongType = te !== null;
      if (wrongType) {
        wrongTypeSeen++;
        assert.match(te, new RegExp(`^bad value for ${k}: .*; expected `), `${at}: ${k} ${JSON.stringify(v)}`);
        const one = validMessage({ type: 'hooklab:set-state', state: { [k]: v } });
        assert.equal(one, te, `${at}: set-state {${k}: ${JSON.stringify(v)}} refused naming ${k}`);
      } else {
        const one = validMessage({ type: 'hooklab:set-state', state: { [k]: v } });
        if (one !== null) assert.match(one, new RegExp(`^${k} (must be finite|is too long)$`), `${at}: ${k} ${JSON.stringify(v)}`);
      }
    }
    if (msg === null) {
      // applyPatch's rebuild: only the patched keys can be refused; the result is a fixed point.
      const base = stateToParams(st);
      for (const [k, v] of Object.entries(patch)) { if (v === null || v === false) base.delete(k); else base.set(k, String(v)); }
      const rp = [];
      let next;
      assert.doesNotThrow(() => { next = stateFromParams(base, 'en', rp); }, at);
      for (const x of rp) assert.ok(x.key in patch, `${at}: ${x.key} refused but not patched`);
      const p2 = stateToParams(next);
      assert.equal(stateToParams(stateFromParams(p2, 'en')).toString(), p2.toString(), at);
    }
  }
  assert.ok(unknownSeen > CASES / 4 && wrongTypeSeen > CASES / 4 && roundTrips === CASES, `coverage: ${unknownSeen} unknown keys, ${wrongTypeSeen} wrong types`);
  assert.ok(Date.now() - t0 < 5000, `${Date.now() - t0} ms`);
});
