// The known-heads table's entries for the models this project trained and measured (issue
// #25: the embedded default and the induction lesson's model): each matches its
// config.json's "hooklab" record (name, step, tokens seen) and nothing
// retrained under the same name; its heads and scores are circuits.json's (every head at or
// above its threshold, in score order); its evidence, in English and Vietnamese, quotes the
// measured numbers and the command that measured them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { KNOWN_HEADS, knownHeadsFor, modelIdentity, headsNote } from '../../web/src/known-heads.js';
import { HEADS_STRINGS } from '../../web/src/panels/heads-strings.js';
import { makeT } from '../../web/src/i18n.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// The models this project measured: per model, its count of heads and what the note says.
const MODELS = [
  { dir: 'checkpoints/default', key: 'default', induction: 10, notInduction: [[1, 1], [1, 6]], best: 'L1H11 (0.918)', prev: 'L0H5 (0.997)' },
  { dir: 'checkpoints/induction', key: 'induction', induction: 11, notInduction: [[1, 6]], best: 'L1H4 (0.918)', prev: 'L0H5 (0.502)' },
];

for (const m of MODELS) {
  const read = (f) => JSON.parse(readFileSync(join(ROOT, m.dir, f), 'utf8'));
  const config = read('config.json');
  const circuits = read('circuits.json');
  const entryOf = (hooklab) => knownHeadsFor(modelIdentity({ key: m.key, rawConfig: { hooklab } }));

  test(`${m.dir}: the entry matches its config.json, and only that training run`, () => {
    const e = entryOf(config.hooklab);
    assert.ok(e, `an entry for ${config.hooklab.name}`);
    assert.equal(e.source, 'measured');
    assert.deepEqual(e.match.hooklab, { name: config.hooklab.name, step: config.hooklab.step, tokens_seen: config.hooklab.tokens_seen });
    // A retrained model of the same name does not inherit the claim.
    assert.equal(entryOf({ ...config.hooklab, step: config.hooklab.step + 1 }), null);
    assert.equal(entryOf({ ...config.hooklab, tokens_seen: config.hooklab.tokens_seen - 1 }), null);
    assert.equal(KNOWN_HEADS.filter((x) => x === e).length, 1);
  });

  test(`${m.dir}: its heads and scores are circuits.json's: every head at or above the threshold, best first`, () => {
    const e = entryOf(config.hooklab);
    for (const role of ['induction', 'previous_token']) {
      const grid = circuits[role].grid;
      const want = [];
      grid.forEach((row, l) => row.forEach((v, h) => { if (v >= circuits.threshold) want.push([l, h, v]); }));
      want.sort((a, b) => b[2] - a[2] || a[0] - b[0] || a[1] - b[1]);
      const got = [...e.heads[role]].sort((a, b) => b[2] - a[2] || a[0] - b[0] || a[1] - b[1]);
      assert.deepEqual(got, want, role);
      assert.deepEqual(e.heads[role].map((x) => x[2]), want.map((x) => x[2]), `${role}: listed best first`);
    }
    assert.equal(e.heads.induction.length, m.induction);
    for (const [l, h] of m.notInduction) assert.ok(!e.heads.induction.some((x) => x[0] === l && x[1] === h), `L${l}H${h} is no induction head`);
    assert.deepEqual(e.heads.previous_token.map(([l, h]) => `L${l}H${h}`).sort(), ['L0H4', 'L0H5', 'L0H7']);
  });

  test(`${m.dir}: its evidence quotes the measured numbers and the command, in English and Vietnamese`, () => {
    const e = entryOf(config.hooklab);
    const abl = Object.fromEntries(circuits.loss.ablations.map((a) => [a.ablated, a.repeated_half]));
    for (const lang of ['en', 'vi']) {
      const text = HEADS_STRINGS[lang][e.evidence];
      assert.ok(text, `${e.evidence} (${lang})`);
      assert.ok(HEADS_STRINGS[lang][e.advice], `${e.advice} (${lang})`);
      if (e.patchZ) assert.ok(HEADS_STRINGS[lang][e.patchZ], `${e.patchZ} (${lang})`);
      assert.match(text, /tools\/circuits_report\.py/);
      const num = (x, d) => (lang === 'vi' ? x.toFixed(d).replace('.', ',') : x.toFixed(d));
      for (const s of [num(circuits.induction.top[0][2], 3), num(circuits.induction.chance, 3), num(circuits.previous_token.chance, 3),
        num(circuits.loss.repeated_half, 2), num(abl['top induction head'], 2), num(abl['induction heads'], 1),
        num(abl['previous-token heads'], 1), num(abl.control, 2)]) assert.ok(text.includes(s), `${lang}: ${s} in ${text}`);
      assert.ok(text.includes(`${m.induction} heads of block 1`) || text.includes(`${m.induction} head của khối 1`), `${lang}: ${m.induction} heads`);
      // The note the heads view writes for it names the heads as L1H4 (never "1.4").
      const t = makeT(lang);
      const note = headsNote({ entry: e, name: config.hooklab.name, result: null, score: 'induction', t, fmt: (x) => String(x) });
      assert.ok(note.includes(m.best) && note.includes(m.prev), note);
      const [, l, h] = m.best.match(/^L(\d+)H(\d+)/);
      assert.ok(!new RegExp(`\\b${l}\\.${h}\\b`).test(note), `${l}.${h} in the note`);
    }
  });
}

// A model measured to have none: the note says so and gives the advice, in both languages.
test('an entry with no heads: "this model has no induction heads and no previous-token heads"', () => {
  const entry = { source: 'measured', heads: { induction: [], previous_token: [] }, advice: 'lookAdvice_loadGpt2' };
  const want = { en: 'What to look for on M: this model has no induction heads and no previous-token heads. Load GPT-2 small to see them.',
    vi: 'Cần tìm gì trên M: mô hình này không có head induction và head token liền trước. Hãy nạp GPT-2 small để thấy chúng.' };
  for (const lang of ['en', 'vi']) {
    const note = headsNote({ entry, name: 'M', result: null, score: 'induction', t: makeT(lang), fmt: String });
    assert.ok(note.startsWith(want[lang]), note);
  }
});
