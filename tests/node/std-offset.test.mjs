// The offset between a run's two std lists (hooklab.d.ts RunResult, docs/engine.md):
// resid_std has n_layer entries, the residual stream after block i, before ln_f; hidden_std has
// n_layer + 1, HuggingFace's output_hidden_states: [0] the embeddings, [i + 1] after block i,
// and the last after ln_f. So hidden_std[i + 1] == resid_std[i] for i < n_layer − 1, and the
// last entries differ (ln_f). Checked on runs with and without interventions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ENGINE = fileURLToPath(new URL('../../wasm/dist/hooklab.mjs', import.meta.url));

test('hidden_std[i + 1] == resid_std[i] for i < n_layer − 1; hidden_std[0] the embeddings, the last after ln_f', async (t) => {
  if (!existsSync(ENGINE)) return t.skip('wasm/dist is not built');
  const { HookLab } = await import('../../wasm/js/hooklab.js');
  const lab = await HookLab.load('default');
  const L = lab.config.n_layer;
  for (const interventions of [[], [{ kind: 'scale_hidden', layer: 3, factor: 0.1 }], [{ kind: 'scale_hidden', layer: L - 1, factor: 10 }]]) {
    const r = lab.run('When Mary and John went to the store, John gave a drink to', { interventions });
    const what = JSON.stringify(interventions);
    assert.equal(r.resid_std.length, L, what);
    assert.equal(r.hidden_std.length, L + 1, what);
    for (let i = 0; i < L - 1; i++) assert.equal(r.hidden_std[i + 1], r.resid_std[i], `${what}: hidden_std[${i + 1}] vs resid_std[${i}]`);
    // Both are the hook points' own stds: resid_std[i] is blocks.i.hook_resid_post's, hidden_std[0]
    // blocks.0.hook_resid_pre's (the embeddings), the last hidden_std ln_final.hook_normalized's.
    for (let i = 0; i < L; i++) assert.equal(r.resid_std[i], r.stats.hook_resid_post.std[i], `${what}: resid_std[${i}]`);
    assert.equal(r.hidden_std[0], r.stats.hook_resid_pre.std[0], what);
    assert.ok(Math.abs(r.hidden_std[L] - r.stats['ln_final.hook_normalized'].std[0]) <= 1e-6 * r.hidden_std[L], `${what}: ${r.hidden_std[L]} vs ${r.stats['ln_final.hook_normalized'].std[0]}`);
    assert.notEqual(r.hidden_std[L], r.resid_std[L - 1], `${what}: the last hidden_std is after ln_f`);
  }
  lab.dispose();
});
