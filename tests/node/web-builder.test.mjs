// The intervention builder's rows (web/src/rows.js) and their URL key `iv` (state.js): the
// round trip, the engine JSON, the refusals, and the checks against the engine's hook table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { stateFromParams, stateToParams, interventionsOf } from '../../web/src/state.js';
import { parseSelector, rowsFromText, rowsToText, hookError, hookEntry, validateRowParam } from '../../web/src/rows.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

test('selectors: all/even/odd, a:b, lists; bad ones refused with their reason', () => {
  assert.deepEqual(parseSelector('even'), { value: 'even' });
  assert.deepEqual(parseSelector(' 2:5 '), { value: { range: [2, 5] } });
  assert.deepEqual(parseSelector('0,2,-1'), { value: [0, 2, -1] });
  assert.equal(parseSelector('5:2').error.key, 'ivRangeOrder');
  assert.equal(parseSelector('0:13', 12).error.key, 'ivRangeOrder');
  assert.equal(parseSelector('-1:3').error.key, 'ivRangeOrder');
  assert.equal(parseSelector('1:x').error.key, 'ivRangeBad');
  assert.equal(parseSelector('1,,2').error.key, 'ivListBad');
  assert.equal(parseSelector('').error.key, 'ivListBad');
  assert.equal(parseSelector('0,12', 12).error.key, 'ivIndexRange');
  assert.deepEqual(parseSelector('-12', 12), { value: [-12] });
  assert.equal(validateRowParam('std', '-1').error.key, 'fieldNonNegative');
  assert.equal(validateRowParam('seed', '1.5').error.key, 'fieldRange');
  assert.deepEqual(validateRowParam('factor', '0,5'), { value: 0.5 }); // the Vietnamese decimal comma
});

test('iv= round-trips; rows go after the exercises as the engine\'s JSON; off rows stay in the URL only', () => {
  const iv = 'blocks.3.attn.hook_z scale=0 heads=1,5;hook_embed noise=0,0.5,7 pos=0:3 off;logits add=-2.5 feat=odd;blocks.0.hook_resid_pre zero';
  const refused = [];
  const st = stateFromParams(new URLSearchParams({ iv, ex3: '9,0.1' }), 'en', refused);
  assert.deepEqual(refused, []);
  assert.equal(stateToParams(st).get('iv'), iv);
  assert.deepEqual(interventionsOf(st), [
    { kind: 'scale_hidden', layer: 9, factor: 0.1 },
    { kind: 'scale', hook: 'blocks.3.attn.hook_z', factor: 0, heads: [1, 5] },
    { kind: 'add', hook: 'logits', value: -2.5, features: 'odd' },
    { kind: 'zero', hook: 'blocks.0.hook_resid_pre' },
  ]);
  // Reading its own output gives the same state.
  assert.deepEqual(stateFromParams(stateToParams(st)).iv, st.iv);
});

test('a row the page cannot read is refused alone and reported', () => {
  for (const bad of ['blocks.1.hook_z', 'Blocks.1.hook_z zero', 'hook_embed scale', 'hook_embed scale=x', 'hook_embed noise=0,-1,0', 'hook_embed noise=0,1,1.5',
    'hook_embed zero pos=5:2', 'hook_embed zero pos=1 pos=2', 'hook_embed zero where=1', 'hook_embed frobnicate', 'hook_embed zero heads=']) {
    const refused = [];
    const st = stateFromParams(new URLSearchParams({ iv: `hook_embed zero;${bad}` }), 'en', refused);
    assert.deepEqual(refused, [{ key: 'iv', value: bad }], bad);
    assert.equal(st.iv.length, 1, bad);
  }
  assert.deepEqual(rowsFromText(';;'), { rows: [], refused: [] });
  assert.equal(rowsToText([]), '');
});

test('heads= and repeat= are read and refused like the other keys', () => {
  const refused = [];
  const st = stateFromParams(new URLSearchParams({ heads: 'first_token,4', repeat: '8,18446744073709551615' }), 'en', refused);
  assert.deepEqual(refused, []);
  assert.deepEqual(st.heads, { score: 'first_token', block: 4, repeat: true, r: 8, seed: '18446744073709551615' });
  assert.equal(stateToParams(st).get('repeat'), '8,18446744073709551615');
  for (const [k, v] of [['heads', 'loudness,1'], ['heads', 'induction,x'], ['repeat', '0,1'], ['repeat', '8,18446744073709551616'], ['repeat', '8,-1']]) {
    const r = [];
    const s = stateFromParams(new URLSearchParams({ [k]: v }), 'en', r);
    assert.deepEqual(r, [{ key: k, value: v }], `${k}=${v}`);
    assert.equal(s.heads.repeat, false);
  }
});

test('hook names are checked against the engine\'s own table', async (t) => {
  if (!existsSync(join(REPO, 'wasm/dist/hooklab.wasm'))) return t.skip('wasm engine not built');
  const { HookLab } = await import('../../wasm/js/hooklab.js');
  const lab = await HookLab.load(join(REPO, 'build/ckpt/mid'));
  const table = lab.hooks(1);
  const L = lab.config.n_layer;
  assert.equal(hookError('blocks.3.attn.hook_z', table, L), null);
  assert.equal(hookError('logits', table, L), null);
  assert.equal(hookError('attn.hook_z', table, L).key, 'ivHookBad'); // per block: needs its block
  assert.equal(hookError('blocks.3.logits', table, L).key, 'ivHookBad');
  assert.equal(hookError('blocks.3.attn.hook_nope', table, L).key, 'ivHookBad');
  assert.equal(hookError(`blocks.${L}.hook_resid_post`, table, L).key, 'fieldRange');
  assert.ok(hookEntry('blocks.0.attn.hook_pattern', table).axes.heads >= 0);
  assert.ok(hookEntry('blocks.0.hook_resid_post', table).axes.heads < 0);
  lab.dispose();
});
