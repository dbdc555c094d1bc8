// The page's state (web/src/state.js): URL round trip, refused link values, field
// validation against the loaded model, local models in the URL, reset.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stateFromParams, stateToParams, defaultState, resetState, validateField, invalidForModel, capturesOf, interventionsOf, positionHookName } from '../../web/src/state.js';
import { parseNumber, formatField } from '../../web/src/numbers.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const q = (s) => new URLSearchParams(s);
const cfg = { n_layer: 12, n_head: 12 };

test('round trip through the URL, every field', () => {
  const st = stateFromParams(q('model=gpt2&lang=vi&prompt=Xin%20ch%C3%A0o&ex1=3.4&ex2=5,2.5,0.5,7&ex3=9,0.1&ex4=8,-2&view=hf&scale=log&topk=20&predict=1&lens=1&hook=attn.hook_z&stat=max&hl=4'));
  assert.equal(st.model, 'gpt2');
  assert.deepEqual(st.ex.ex2, { on: true, layer: 5, mean: 2.5, std: 0.5, seed: 7 });
  assert.equal(st.hook, 'attn.hook_z');
  assert.equal(st.stat, 'max');
  assert.equal(st.hookLayer, 4);
  assert.deepEqual(stateFromParams(stateToParams(st)), st);
  // Defaults stay out of the URL.
  assert.deepEqual([...stateToParams(defaultState()).keys()], ['model', 'lang', 'prompt']);
});

test('a local model stays local in the URL', () => {
  const st = { ...defaultState(), model: 'local' };
  assert.equal(stateToParams(st).get('model'), 'local');
  assert.equal(stateFromParams(q('model=local')).model, 'local');
});

test('values a link cannot hold are refused, reported, and replaced by defaults', () => {
  const refused = [];
  const st = stateFromParams(q('ex3=9,abc&ex1=2.5.1&topk=500&view=wide&stat=median&model=gpt9&ex2=1,2,-3,0'), 'en', refused);
  assert.equal(st.ex.ex3.factor, 0.1);
  assert.equal(st.ex.ex3.on, true);
  assert.equal(st.topk, 10);
  assert.equal(st.view, 'both');
  assert.equal(st.model, 'default');
  assert.equal(st.ex.ex2.std, 1);
  assert.deepEqual(refused.map((r) => r.key).sort(), ['ex1', 'ex2', 'ex3', 'model', 'stat', 'topk', 'view']);
  assert.equal(refused.find((r) => r.key === 'ex3').value, '9,abc');
  const ok = [];
  stateFromParams(q('ex3=9,0.1&ex4=9,1e3&topk=50'), 'en', ok);
  assert.deepEqual(ok, []);
});

test('numbers with either decimal separator; fields in the page language', () => {
  assert.equal(parseNumber('0,1'), 0.1);
  assert.equal(parseNumber(' -2.5e3 '), -2500);
  for (const bad of ['abc', '', '1,2,3', '0x10', 'NaN', 'Infinity', '1e']) assert.ok(Number.isNaN(parseNumber(bad)), bad);
  assert.equal(formatField(0.1, 'vi'), '0,1');
  assert.equal(formatField(0.1, 'en'), '0.1');
  assert.equal(stateFromParams(q('ex3=9,0,5')).ex.ex3.factor, 0.1); // a comma is the separator in the URL
});

test('field validation against the loaded model', () => {
  assert.deepEqual(validateField('layer', '11', cfg), { value: 11 });
  for (const bad of ['12', '-1', '2.5', '50']) assert.equal(validateField('layer', bad, cfg).error.key, 'fieldRange', bad);
  assert.deepEqual(validateField('layer', '50', cfg).error.vars, { lo: 0, hi: 11 });
  assert.equal(validateField('factor', 'abc', cfg).error.key, 'fieldNotNumber');
  assert.equal(validateField('factor', '', cfg).error.key, 'fieldRequired');
  assert.deepEqual(validateField('factor', '0,5', cfg), { value: 0.5 });
  assert.equal(validateField('std', '-1', cfg).error.key, 'fieldNonNegative');
  assert.equal(validateField('head', '12', cfg).error.key, 'fieldRange');
  assert.equal(validateField('topk', '51', cfg).error.key, 'fieldRange');
  const st = stateFromParams(q('ex3=50,0.1&ex1=2.30&hl=40'));
  assert.deepEqual(invalidForModel(st, cfg).map((e) => e.id).sort(), ['ex1-head', 'ex3-layer', 'stat-layer']);
  assert.deepEqual(invalidForModel(defaultState(), cfg), []);
});

test('reset keeps model, language and embedding, nothing else', () => {
  const st = stateFromParams(q('model=gpt2&lang=vi&embed=1&ex3=2,5&topk=3&prompt=x&lens=1'));
  assert.deepEqual(resetState(st), { ...defaultState('vi'), model: 'gpt2', embed: true });
});

// The per-position hook is named from the engine's hook table (lab.hooks()), which says
// which hook points are outside the blocks.
test('captures and interventions of the exercises and the per-position hook', async (t) => {
  if (!existsSync(join(REPO, 'wasm/dist/hooklab.wasm'))) return t.skip('wasm engine not built (npm run build:wasm)');
  const { HookLab } = await import('../../wasm/js/hooklab.js');
  const lab = await HookLab.load(join(REPO, 'checkpoints/default'));
  const table = lab.hooks(1);
  lab.dispose();
  const st = stateFromParams(q('ex1=3.4&ex2=5,1,1,0&ex3=9,2&hook=mlp.hook_pre&hl=2'));
  assert.deepEqual(capturesOf(st, table), ['blocks.3.attn.hook_pattern', 'blocks.5.mlp.hook_post', 'blocks.2.mlp.hook_pre']);
  assert.deepEqual(interventionsOf(st).map((i) => i.kind), ['zero_head_k', 'noise_even_neurons', 'scale_hidden']);
  assert.equal(positionHookName({ ...st, hook: 'hook_embed' }, table), 'hook_embed');
  assert.equal(positionHookName({ ...st, hook: 'ln_final.hook_normalized' }, table), 'ln_final.hook_normalized');
  assert.equal(positionHookName({ ...st, hook: 'hook_resid_mid' }, table), 'blocks.2.hook_resid_mid');
  assert.equal(positionHookName({ ...st, hook: 'logits' }, table), null);
  assert.throws(() => positionHookName(st, null), /hook table/);
  assert.deepEqual(capturesOf({ ...defaultState() }, table), ['blocks.9.hook_resid_post']);
});

test('the state is made of declared slices: every key belongs to exactly one, which reads and writes it', async () => {
  const { SLICES } = await import('../../web/src/state.js');
  const { KEY_NAMES } = await import('../../web/src/state.js');
  const owner = {};
  for (const sl of SLICES) {
    for (const k of Object.keys(sl.keys)) {
      assert.equal(owner[k], undefined, `${k} is declared by ${owner[k]} and ${sl.name}`);
      owner[k] = sl.name;
    }
    // Its defaults are the default state's fields, and its keys' paths point into them (lang:
    // the browser's, given to defaultState; lesson: absent unless asked for).
    const d = sl.defaults();
    for (const [k, { paths }] of Object.entries(sl.keys)) {
      for (const path of paths) assert.ok(path[0] in d || ['lesson', 'lang'].includes(path[0]), `${sl.name}.${k}: ${path.join('.')} not in its defaults`);
    }
  }
  assert.deepEqual(Object.keys(owner).sort(), [...KEY_NAMES].sort(), 'the slices declare exactly the table\'s keys');
  // A slice writes only its own keys: a state with every key set, written by each slice alone.
  const full = stateFromParams(new URLSearchParams('model=gpt2&process=tl&lang=vi&prompt=x&ex1=3.1&ex2=3,1,2,3&ex3=3,2&ex4=3,5&view=hf&scale=log&topk=5&hook=attn.hook_z&stat=max&hl=2&lens=1&predict=1&embed=1&iv=hook_resid_post%20scale%3D2&heads=first_token,2&repeat=5,7&pclean=a&pcorr=b&pans=c&pwrong=d&phook=z&pmetric=logit_diff&pmethod=attribution&gn=3&gt=1&gk=2&gp=0.5&gs=4&autorun=patch&locked=ex3&views=std,lens&picker=hidden&lesson=chapter&loss=1'));
  for (const sl of SLICES) {
    const q = new URLSearchParams();
    sl.write(full, q);
    for (const k of q.keys()) assert.equal(owner[k], sl.name, `${sl.name} wrote ${k}`);
  }
  assert.deepEqual([...stateToParams(full).keys()].sort(), [...KEY_NAMES].sort(), 'every key set comes back');
});
