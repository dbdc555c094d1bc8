// Issue #25, "A guided path through induction", in Chromium on the built page at 390 px, in
// English and Vietnamese: the link key lesson=induction opens the path; the default model
// offers the lesson model (HookLab-Induction 2×192), which loads from the page; each step is
// predict-then-reveal, and its reveal says the numbers lab.heads gives in this test (the same
// engine, in node): the halves' loss on repeated random tokens, the best previous-token and
// induction heads with chance, and the ablations, which raise the repeated half's loss.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { launch, waitForRun, REPO } from './helpers.mjs';
import { HookLab } from '../../wasm/js/hooklab.js';
import { PASSAGE, halves, found, ablations, compareHalves, ablationVerdict } from '../../web/src/induction-data.js';

const R = 40, SEED = 3;
let env, lab, ref;
before(async () => {
  env = await launch();
  lab = await HookLab.load(join(REPO, 'web/dist/models/induction'));
  // What the path must find, computed here from lab.heads.
  const rep = lab.heads({ repeat: R, seed: SEED });
  const prev = lab.heads({ prompt: PASSAGE });
  const base = halves(rep.token_loss, R);
  const ind = found(rep, 'induction'), pt = found(prev, 'previous_token');
  const abl = ablations(ind, pt).map((a) => {
    const h = halves(lab.heads({ repeat: R, seed: SEED, interventions: a.interventions }).token_loss, R);
    return { ...a, halves: h, ...ablationVerdict(base, h) };
  });
  ref = { rep, base, ind, pt, abl };
});
after(async () => { lab?.dispose(); await env?.close(); });

const nf = (lang, sig) => new Intl.NumberFormat(lang === 'vi' ? 'vi-VN' : 'en-US', { maximumSignificantDigits: sig });
const nats = (lang, x) => nf(lang, 3).format(x);
const score = (lang, x) => nf(lang, 4).format(x);
const close = (a, b, what) => assert.ok(Math.abs(a - b) < 1e-3, `${what}: page ${a}, node ${b}`);

const WANT = {
  en: { title: 'A guided path through induction', load: /Load HookLab-Induction 2×192, the lesson model \(3 MB\)/, held: 'Your guess held.', failed: 'Your guess did not hold.', lower: 'lower' },
  vi: { title: 'Lộ trình có hướng dẫn về induction', load: /Nạp HookLab-Induction 2×192, mô hình cho bài học \(3 MB\)/, held: 'Dự đoán của bạn đúng.', failed: 'Dự đoán của bạn chưa đúng.', lower: 'thấp hơn' },
};

for (const lang of ['en', 'vi']) {
  test(`the induction path, ${lang}, 390 px: predictions, reveals with lab.heads' numbers, ablations raising the loss`, async () => {
    const w = WANT[lang];
    const page = await env.context.newPage();
    const errors = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(String(e)));
    try {
      await page.setViewportSize({ width: 390, height: 844 });
      // The default model: the path opens (lesson=induction) and offers the lesson model.
      await page.goto(`${env.url}index.html?lang=${lang}&lesson=induction`);
      await waitForRun(page);
      const sec = page.locator('#lesson-section');
      assert.equal(await sec.evaluate((d) => d.open), true, 'lesson=induction opens the path');
      assert.equal((await sec.locator('summary').textContent()).trim(), w.title);
      const load = sec.locator('.lesson-load');
      await page.waitForFunction((re) => new RegExp(re).test(document.querySelector('#lesson-section .lesson-load')?.textContent ?? ''), w.load.source, { timeout: 10000 }).catch(() => {});
      assert.match(await load.textContent(), w.load);
      assert.match(await page.locator('#model-induction-label').textContent(), /^HookLab-Induction 2×192 \(.+, 3 MB\)$/);
      await load.click();
      await page.waitForFunction(() => window.hooklab.state.model === 'induction' && /HookLab-Induction 2×192/.test(document.querySelector('#lesson-section .lesson-model')?.textContent ?? ''), null, { timeout: 60000 });
      await waitForRun(page);
      assert.ok(new URL(page.url()).searchParams.get('model') === 'induction' && new URL(page.url()).searchParams.get('lesson') === 'induction', page.url());
      assert.equal(await sec.locator('.lesson-load').count(), 0, 'no load button on the lesson model');
      assert.equal(await page.locator('input[name=model][value=induction]').isChecked(), true);

      // Step 1: R and seed, a prediction, the reveal.
      await page.fill('#ls-r', String(R));
      await page.locator('#ls-r').dispatchEvent('change');
      await page.fill('#ls-seed', String(SEED));
      await page.locator('#ls-seed').dispatchEvent('change');
      assert.equal(await sec.locator('[data-step="2"]').count(), 0, 'step 2 waits for step 1');
      await sec.locator('input[name="ls-1"][value="lower"]').check();
      await sec.locator('[data-reveal="1"]').click();
      await page.waitForSelector('[data-found="1"]', { timeout: 60000 });
      const got1 = await page.evaluate(() => window.hooklab.lesson());
      assert.equal(got1.r, R);
      assert.equal(got1.seed, SEED);
      assert.equal(got1.tokenLoss.length, 2 * R);
      got1.tokenLoss.forEach((x, i) => close(x, ref.rep.token_loss[i], `token_loss[${i}]`));
      close(got1.halves.first, ref.base.first, 'first half');
      close(got1.halves.repeat, ref.base.repeat, 'repeated half');
      assert.equal(compareHalves(ref.base), 'lower');
      const f1 = await sec.locator('[data-found="1"]').textContent();
      for (const s of [nats(lang, ref.base.first), nats(lang, ref.base.repeat), w.lower, `R = ${R}`]) assert.ok(f1.includes(s), `${s} in: ${f1}`);
      assert.equal((await sec.locator('[data-step="1"] .verdict').textContent()).trim(), `✓ ${w.held}`);
      assert.equal(await sec.locator('[data-step="1"] canvas').count(), 1, 'the per-position loss chart');
      assert.equal(await sec.locator('[data-step="1"] td').count(), 2 * R * 2, 'its data table: every position');

      // Step 2: the previous-token head's block. English answers it right, Vietnamese wrong.
      const ptBlock = ref.pt.best.layer;
      const guess2 = lang === 'en' ? ptBlock : 1 - ptBlock;
      await sec.locator('#ls-2').selectOption(String(guess2));
      await sec.locator('[data-reveal="2"]').click();
      await page.waitForSelector('[data-found="2"]', { timeout: 60000 });
      const f2 = await sec.locator('[data-found="2"]').textContent();
      const pBest = ref.pt.best;
      for (const s of [`L${pBest.layer}H${pBest.head}`, score(lang, pBest.value), score(lang, ref.pt.chance)]) assert.ok(f2.includes(s), `${s} in: ${f2}`);
      for (const h of ref.pt.heads) assert.ok(f2.includes(`L${h.layer}H${h.head}`), `L${h.layer}H${h.head} in: ${f2}`);
      assert.equal((await sec.locator('[data-step="2"] .verdict').textContent()).trim(), lang === 'en' ? `✓ ${w.held}` : `✗ ${w.failed}`);

      // Step 3: the induction heads, on step 1's tokens.
      await sec.locator('#ls-3').selectOption(String(ref.ind.best.layer));
      await sec.locator('[data-reveal="3"]').click();
      await page.waitForSelector('[data-found="3"]');
      const f3 = await sec.locator('[data-found="3"]').textContent();
      const iBest = ref.ind.best;
      for (const s of [`L${iBest.layer}H${iBest.head}`, score(lang, iBest.value), score(lang, ref.ind.chance), `(${ref.ind.heads.length} head`]) assert.ok(f3.includes(s), `${s} in: ${f3}`);
      assert.ok(ref.ind.heads.length >= 5 && ref.pt.best.layer < iBest.layer, 'the lesson model: induction heads after the previous-token heads');

      // Step 4: predictions for the three ablations, then their numbers.
      const guess = { top: 'little', induction: 'much', previous: lang === 'en' ? 'much' : 'little' };
      for (const [id, v] of Object.entries(guess)) await sec.locator(`input[name="ls-4-${id}"][value="${v}"]`).check();
      await sec.locator('[data-reveal="4"]').click();
      await page.waitForSelector('[data-found="4-previous"]', { timeout: 60000 });
      const got4 = (await page.evaluate(() => window.hooklab.lesson())).ablations;
      assert.equal(got4.length, 3);
      for (const [k, a] of got4.entries()) {
        const r = ref.abl[k];
        assert.equal(a.id, r.id);
        assert.deepEqual(a.interventions, r.interventions);
        assert.ok(a.interventions.every((iv) => iv.kind === 'zero' && /^blocks\.\d+\.attn\.hook_z$/.test(iv.hook)), JSON.stringify(a.interventions));
        close(a.halves.repeat, r.halves.repeat, `${a.id}: repeated half`);
        close(a.halves.first, r.halves.first, `${a.id}: first half`);
        assert.equal(a.verdict, r.verdict, a.id);
        const text = await sec.locator(`[data-found="4-${a.id}"]`).textContent();
        for (const s of [nats(lang, r.halves.repeat), nats(lang, ref.base.repeat), nats(lang, ref.base.first)]) assert.ok(text.includes(s), `${s} in: ${text}`);
        const v = await sec.locator(`[data-q="4-${a.id}"] .verdict`).textContent();
        assert.equal(v.trim(), guess[a.id] === r.verdict ? `✓ ${w.held}` : `✗ ${w.failed}`, a.id);
      }
      // Ablating every induction head, or the previous-token heads, raises the repeated half's
      // loss most of the way back; the top induction head alone barely moves it.
      const by = Object.fromEntries(got4.map((a) => [a.id, a]));
      assert.ok(by.induction.halves.repeat > ref.base.repeat + 5, `all induction heads: ${by.induction.halves.repeat} vs ${ref.base.repeat}`);
      assert.ok(by.previous.halves.repeat > ref.base.repeat + 5, `previous-token heads: ${by.previous.halves.repeat}`);
      assert.equal(by.induction.verdict, 'much');
      assert.equal(by.top.verdict, 'little');
      assert.equal(by.top.heads.length, 1);
      assert.equal(`L${by.top.heads[0].layer}H${by.top.heads[0].head}`, `L${iBest.layer}H${iBest.head}`);

      // 390 px: nothing wider than the screen.
      const wide = await page.evaluate(() => [document.documentElement.scrollWidth, document.querySelector('#lesson-section').scrollWidth, document.querySelector('#lesson-section').clientWidth]);
      assert.ok(wide[0] <= 390 && wide[1] <= wide[2], `widths ${wide}`);
      await sec.screenshot({ path: join(REPO, 'test-results', `induction-lesson-${lang}-390.png`) }); // the path alone, to review
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });
}
