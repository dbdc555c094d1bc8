// The per-head panels' data helpers (web/src/panels/heads-data.js, web/src/worker/heads.js) on the
// engine's real output: patternsOf reads a hook_pattern capture in the layout the scores
// were computed on (scores recomputed here from it equal lab.heads), and the rows and
// rankings the overview shows are the engine's numbers.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { HookLab } from '../../wasm/js/hooklab.js';
import { SCORE_KEYS, patternsOf, ramp, scoreRows, strongest } from '../../web/src/panels/heads-data.js';
import { headsForPage } from '../../web/src/worker/heads.js';

const MID = join(fileURLToPath(new URL('../..', import.meta.url)), 'build/ckpt/mid');
let lab;
before(async () => { lab = await HookLab.load(MID); });
after(() => lab?.dispose());

test('patternsOf gives [head][query][key]: the scores recomputed from it equal lab.heads', () => {
  const prompt = 'The cat sat on the mat. The cat sat';
  const iv = [{ kind: 'zero_head_k', layer: 4, head: 1 }];
  const { baseline, intervened } = headsForPage(lab, { prompt, interventions: iv });
  for (const [scores, ivs] of [[baseline, []], [intervened, iv]]) {
    const run = lab.run(prompt, { interventions: ivs, capture: ['blocks.4.attn.hook_pattern'] });
    const P = patternsOf(run.captures['blocks.4.attn.hook_pattern']);
    const t = scores.tokens, T = t.length;
    assert.equal(P.length, 12);
    P.forEach((A, h) => {
      let first = 0, prev = 0, ind = 0, n = 0;
      for (let i = 0; i < T; i++) {
        first += A[i][0];
        if (i) prev += A[i][i - 1];
        const j = t.lastIndexOf(t[i], i - 1);
        if (i && j >= 0) { ind += A[i][j + 1]; n++; }
      }
      assert.ok(n > 0);
      assert.ok(Math.abs(first / T - scores.first_token[4][h]) < 1e-6, `first ${h}`);
      assert.ok(Math.abs(prev / (T - 1) - scores.previous_token[4][h]) < 1e-6, `prev ${h}`);
      assert.ok(Math.abs(ind / n - scores.induction[4][h]) < 1e-6, `induction ${h}`);
    });
  }
  // Head 4.1's zeroed key makes its pattern uniform, so its first-token score moves.
  assert.notEqual(intervened.first_token[4][1], baseline.first_token[4][1]);
  assert.throws(() => patternsOf({ shape: [2, 3, 3], data: [1, 2] }), /\[head, T, T\]/);
});

test('scoreRows and strongest report the engine\'s numbers', () => {
  const { baseline, intervened } = headsForPage(lab, { repeat: 10, seed: '4', interventions: [{ kind: 'scale_hidden', layer: 2, factor: 5 }] });
  for (const key of SCORE_KEYS) {
    const rows = scoreRows(baseline, intervened, key);
    assert.equal(rows.length, 144);
    const r = rows[5 * 12 + 7];
    assert.deepEqual([r.layer, r.head, r.base, r.int], [5, 7, baseline[key][5][7], intervened[key][5][7]]);
    assert.equal(r.delta, r.int - r.base);
    const top = strongest(baseline, key, 3);
    const all = baseline[key].flat();
    assert.equal(top[0].value, Math.max(...all));
    assert.ok(top[0].value >= top[1].value && top[1].value >= top[2].value);
  }
  assert.equal(headsForPage(lab, { prompt: 'Hello there' }).intervened, null);
  // The grid's patterns come with the scores, for the repeated tokens too.
  const withPattern = headsForPage(lab, { repeat: 10, seed: '4', pattern: 3, interventions: [{ kind: 'scale_hidden', layer: 2, factor: 5 }] });
  for (const res of [withPattern.baseline, withPattern.intervened]) assert.deepEqual(patternsOf(res.pattern).map((m) => m.length), Array(12).fill(21));
  assert.notDeepEqual(withPattern.baseline.pattern.data, withPattern.intervened.pattern.data);
  assert.equal(scoreRows(baseline, null, 'induction')[0].int, null);
  // no repeated token: every induction score is null and strongest names none
  const plain = lab.heads({ prompt: 'One two three' });
  assert.ok(plain.induction.flat().every((x) => x === null));
  assert.deepEqual(strongest(plain, 'induction'), []);
  assert.equal(ramp(0), 'rgb(247,251,255)');
  assert.equal(ramp(1), 'rgb(8,48,107)');
  assert.equal(ramp(7), ramp(1));
});
