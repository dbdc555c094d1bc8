// The docs stand alone in a clone: every relative link in the Markdown files points inside
// the repository, and docs/lesson.md's compensation table holds the engine's numbers for
// the embedded model (it fails when the model or the engine changes and the text did not).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const DOCS = ['README.md', 'web/README.md', 'wasm/README.md', 'docs/lesson.md', 'docs/lessons.md', 'docs/hardening.md', 'docs/engine.md',
  'docs/testing.md', 'bench/RESULTS.md', 'checkpoints/default/MODEL_CARD.md'];

test('relative links in the docs resolve to files of the repository', () => {
  for (const doc of DOCS.filter((d) => existsSync(join(REPO, d)))) {
    const text = readFileSync(join(REPO, doc), 'utf8');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:|^#/i.test(target)) continue;
      const file = resolve(dirname(join(REPO, doc)), target.split('#')[0]);
      const rel = relative(REPO, file);
      assert.ok(!rel.startsWith('..'), `${doc} links outside the repository: ${target}`);
      assert.ok(existsSync(file), `${doc} links a missing file: ${target}`);
    }
  }
  assert.match(readFileSync(join(REPO, 'README.md'), 'utf8'), /\]\(docs\/lesson\.md\)/);
});

test("docs/lesson.md's compensation table is the engine's", async (t) => {
  if (!existsSync(join(REPO, 'wasm/dist/hooklab.wasm'))) return t.skip('wasm engine not built (npm run build:wasm)');
  const { HookLab } = await import('../../wasm/js/hooklab.js');
  const { compensationReport } = await import('../../web/src/analysis.js');
  const text = readFileSync(join(REPO, 'docs/lesson.md'), 'utf8');
  const prompt = text.match(/prompt "([^"]+)" \((\d+) tokens\)/);
  assert.ok(prompt, 'the lesson names its prompt');
  prompt[1] = prompt[1].replace(/\s+/g, ' '); // wrapped in the Markdown source
  const rows = [...text.matchAll(/^\| block (\d+) × ([\d.]+) \| ([^|]+) \| × ([\d.]+) \| (-?\d+) % \| (-?\d+) % \|$/gm)];
  assert.equal(rows.length, 4);
  const lab = await HookLab.load(join(REPO, 'checkpoints/default'));
  const base = lab.run(prompt[1], {});
  assert.equal(base.tokens.length, Number(prompt[2]));
  const near = (shown, x) => {
    const decimals = (shown.split('.')[1] || '').length;
    return Math.abs(Number(shown) - x) <= 0.5 * 10 ** -decimals + 1e-9;
  };
  for (const [row, layer, factor, chain, lnf, pNet, pLnf] of rows) {
    const L = Number(layer);
    const ivs = [{ kind: 'scale_hidden', layer: L, factor: Number(factor) }];
    const int = lab.run(prompt[1], { interventions: ivs });
    const shown = chain.trim().split(' → ');
    assert.equal(shown.length, base.resid_std.length - L, row);
    shown.forEach((s, k) => assert.ok(near(s, int.resid_std[L + k] / base.resid_std[L + k]), `${row}: block ${L + k} is ${int.resid_std[L + k] / base.resid_std[L + k]}`));
    const c = compensationReport(ivs, base, int);
    assert.ok(near(lnf, c.rF), `${row}: after ln_f ${c.rF}`);
    assert.ok(Math.abs(Number(pNet) - c.net) <= 0.5 && Math.abs(Number(pLnf) - c.lnf) <= 0.5, `${row}: ${c.net}% / ${c.lnf}%`);
  }
});
