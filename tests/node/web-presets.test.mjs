// #24: the chapter's exercises are presets of builder rows. Each exercise, as the row
// exerciseRow writes (rows.js), runs in the wasm engine to the same numbers as the exercise's
// own intervention (the logits and every block's std, bit for bit), on the embedded default
// and on a model of another width; and the row reads back from its URL text unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { exerciseRow, rowIntervention, rowToText, rowFromText } from '../../web/src/rows.js';
import { defaultState, interventionsOf } from '../../web/src/state.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const built = existsSync(join(REPO, 'wasm/dist/hooklab.wasm'));

// Exercise parameters other than the defaults too: another block, head, mean, seed and factor.
const CASES = [
  { n: 1, e: { on: true, layer: 9, head: 2 } },
  { n: 1, e: { on: true, layer: 0, head: 11 } },
  { n: 2, e: { on: true, layer: 9, mean: 10, std: 1, seed: 0 } },
  { n: 2, e: { on: true, layer: 3, mean: -2.5, std: 0.25, seed: 7 } },
  { n: 3, e: { on: true, layer: 9, factor: 0.1 } },
  { n: 4, e: { on: true, layer: 5, factor: 10 } },
];

const exerciseIv = (n, e) => {
  const st = defaultState();
  for (const k of ['ex1', 'ex2', 'ex3', 'ex4']) st.ex[k].on = false;
  st.ex[`ex${n}`] = { ...st.ex[`ex${n}`], ...e };
  return interventionsOf(st);
};

test('a preset row is its exercise: the URL text reads back to the same row', () => {
  const cfg = { n_embd: 192, n_head: 12 };
  for (const { n, e } of CASES) {
    const row = exerciseRow(n, e, cfg);
    assert.deepEqual(rowFromText(rowToText(row)).row, row, rowToText(row));
  }
  assert.equal(rowToText(exerciseRow(1, { on: true, layer: 9, head: 2 }, cfg)), 'blocks.9.attn.hook_qkv zero feat=224:240');
  assert.equal(rowToText(exerciseRow(1, { on: true, layer: 9, head: 2 }, { n_embd: 768, n_head: 12 })), 'blocks.9.attn.hook_qkv zero feat=896:960');
  assert.equal(rowToText(exerciseRow(2, { on: false, layer: 9, mean: 10, std: 1, seed: 0 }, cfg)), 'blocks.9.mlp.hook_post noise=10,1,0 feat=even off');
  assert.equal(rowToText(exerciseRow(3, { on: true, layer: 9, factor: 0.1 }, cfg)), 'blocks.9.hook_resid_post scale=0.1');
});

for (const model of ['checkpoints/default', 'build/ckpt/mid']) {
  test(`each exercise and its preset row give the same run, bit for bit (${model})`, { skip: !built && 'wasm engine not built' }, async (t) => {
    if (!existsSync(join(REPO, model, 'config.json'))) return t.skip(`${model} is missing`);
    const { HookLab } = await import('../../wasm/js/hooklab.js');
    const lab = await HookLab.load(join(REPO, model));
    try {
      const cfg = lab.config;
      const prompt = 'When Mary and John went to the store, John gave a drink to';
      for (const { n, e } of CASES) {
        if (e.layer >= cfg.n_layer || (e.head ?? 0) >= cfg.n_head) continue;
        const a = lab.run(prompt, { interventions: exerciseIv(n, e), logits: true });
        const b = lab.run(prompt, { interventions: [rowIntervention(exerciseRow(n, e, cfg))], logits: true });
        const what = `exercise ${n} ${JSON.stringify(e)}`;
        assert.ok(a.logits_last.length > 0 && a.logits_last.every(Number.isFinite), what);
        assert.deepEqual(Array.from(b.logits_last), Array.from(a.logits_last), `${what}: logits`);
        assert.deepEqual(b.resid_std, a.resid_std, `${what}: resid_std`);
        // Not a no-op: the exercise changed the run.
        assert.notDeepEqual(a.resid_std, lab.run(prompt, { logits: true }).resid_std, what);
      }
    } finally { lab.dispose(); }
  });
}
