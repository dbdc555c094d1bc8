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
