// #24's done-when, a sixth kind of page view built on the declared parts: the loss-per-token
// view (web/src/panels/token-loss.js, its slice `loss` in state.js, the protocol entry
// tokenLoss). In Chromium on the built page: the numbers are the wasm engine's (node, the same
// model and interventions), the fold is the URL key `loss`, a course author's `views` shows it
// alone, Vietnamese after a live switch, 390 px; and what it is for: on a sentence written
// twice, zeroing the default model's induction heads raises the loss of the second copy.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { launch, openPage, waitForRun, REPO } from './helpers.mjs';
import { HookLab } from '../../wasm/js/hooklab.js';
import { KNOWN_HEADS } from '../../web/src/known-heads.js';

let env;
before(async () => { env = await launch(); });
after(async () => { await env?.close(); });

// Names: the model cannot guess them the first time, and can copy them the second.
const SENTENCE = 'Harriet Kowalski met Oswald Brandt near the Tennessee river.';
const PROMPT = `${SENTENCE} ${SENTENCE}`;
// The default model's measured induction heads (known-heads.js), zeroed as one builder row.
const IND = KNOWN_HEADS.find((e) => e.id === 'hooklab-circuits-12x192').heads.induction;
const ROW = `blocks.1.attn.hook_z scale=0 heads=${IND.map(([, h]) => h).join(',')}`;
const IVS = [{ kind: 'scale', hook: 'blocks.1.attn.hook_z', factor: 0, heads: IND.map(([, h]) => h) }];

async function engineLoss(ivs) {
  const lab = await HookLab.load(join(REPO, 'web/dist/models/default/'));
  try {
    const b = lab.run(PROMPT, { logits: 'all', topk: 1 });
    const i = lab.run(PROMPT, { interventions: ivs, logits: 'all', topk: 1 });
    return { tokens: b.token_strings, baseline: b.token_loss, intervened: i.token_loss };
  } finally { lab.dispose(); }
}


test('loss per token: the engine\'s numbers, open from the link, and the induction heads\' part in the second copy', async () => {
  assert.ok(IND.length >= 5 && IND.every(([l]) => l === 1));
  const q = new URLSearchParams({ lang: 'en', loss: '1', prompt: PROMPT, iv: ROW });
  const { page, errors } = await openPage(env, `?${q}`);
  const sec = page.locator('#loss-section');
  assert.equal(await sec.evaluate((e) => e.open), true, 'loss=1 opens the fold');
  await page.locator('#loss-summary').filter({ hasText: 'Mean loss' }).waitFor({ timeout: 60000 });
  const want = await engineLoss(IVS);
  const T = want.tokens.length;
  // The table (opened): one row per prediction, the engine's values to the 5 digits shown.
  await sec.locator('#fig-loss details > summary').click();
  await sec.locator('#fig-loss table tbody tr').nth(T - 2).waitFor({ state: 'attached' });
  const rows = await sec.locator('#fig-loss table tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  assert.equal(rows.length, T - 1);
  rows.forEach(([p, tok, b, i], k) => {
    assert.equal(p, String(k));
    assert.equal(tok, JSON.stringify(want.tokens[k + 1]));
    for (const [shown, x] of [[b, want.baseline[k]], [i, want.intervened[k]]])
      assert.ok(Math.abs(Number(shown.replace(/,/g, '')) - x) <= Math.abs(x) * 5e-5 + 1e-9, `position ${k}: ${shown} vs ${x}`);
  });
  // What the view is for: the second copy is cheap (the model copies), and costs much more
  // with the induction heads zeroed; the first copy barely moves.
  const n = (T - 1) / 2;
  const mean = (a, lo, hi) => a.slice(lo, hi).reduce((s, x) => s + x, 0) / (hi - lo);
  const second = [Math.ceil(n) + 1, T - 1];
  const first = [0, Math.floor(n)];
  assert.ok(mean(want.baseline, ...second) < 0.6 * mean(want.baseline, ...first), 'the second copy is cheaper');
  assert.ok(mean(want.intervened, ...second) > mean(want.baseline, ...second) + 1, 'zeroing the induction heads makes it expensive again');
  assert.ok(Math.abs(mean(want.intervened, ...first) - mean(want.baseline, ...first)) < 0.2, 'the first copy barely moves');
  const summary = await page.locator('#loss-summary').textContent();
  const m = summary.match(/^Mean loss over (\d+) predictions: baseline ([\d.]+) nats, intervened ([\d.]+) nats\. Largest rise: at position (\d+), predicting "/);
  assert.ok(m, summary);
  assert.equal(Number(m[1]), T - 1);
  // Shown rounded: within half a unit of the last digit shown.
  const near = (shown, x) => Math.abs(Number(shown) - x) <= 0.5 * 10 ** -((shown.split('.')[1] || '').length) + 1e-9;
  assert.ok(near(m[2], mean(want.baseline, 0, T - 1)), `baseline mean ${m[2]}`);
  assert.ok(near(m[3], mean(want.intervened, 0, T - 1)), `intervened mean ${m[3]}`);
  const rise = want.intervened.map((x, k) => x - want.baseline[k]);
  assert.equal(Number(m[4]), rise.indexOf(Math.max(...rise)));
  // Folded: the URL drops the key; opened again: no new request (same state).
  await sec.locator('summary').first().click();
  await page.waitForFunction(() => !new URL(location.href).searchParams.has('loss'));
  await sec.locator('summary').first().click();
  await page.waitForFunction(() => new URL(location.href).searchParams.get('loss') === '1');
  // Vietnamese, live.
  await page.locator('#lang').selectOption('vi');
  assert.equal(await page.locator('#loss-title').textContent(), 'Loss theo từng token');
  assert.match(await page.locator('#loss-summary').textContent(), /^Loss trung bình trên \d+ lần dự đoán: baseline [\d,]+ nat, có can thiệp [\d,]+ nat\. Tăng nhiều nhất: ở vị trí \d+/);
  // A phone: no horizontal scroll.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'no horizontal scroll at 390 px');
  assert.deepEqual(errors, []);
  await page.close();
});

test('loss per token: folded it asks nothing; a course author\'s views=loss shows it and hides the others', async () => {
  const { page, errors } = await openPage(env, '?lang=en');
  assert.equal(await page.locator('#loss-section').evaluate((e) => e.open), false);
  assert.equal(await page.locator('#loss-summary').textContent(), '');
  const { page: p2, errors: e2 } = await openPage(env, '?lang=en&views=loss&loss=1');
  assert.equal(await p2.locator('#loss-section').evaluate((e) => e.classList.contains('view-off')), false);
  for (const id of ['#std-section', '#heads-section']) assert.equal(await p2.locator(id).evaluate((e) => e.classList.contains('view-off')), true, id);
  await p2.locator('#loss-summary').filter({ hasText: 'Mean loss' }).waitFor({ timeout: 60000 });
  assert.match(await p2.locator('#loss-summary').textContent(), /the same in both runs\.$/);
  assert.deepEqual([...errors, ...e2], []);
  await page.close();
  await p2.close();
});
