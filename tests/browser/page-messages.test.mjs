// What a toggle costs the page's engine worker, in Chromium on the built page (web/dist):
// the reply to a toggle (the baseline unchanged) carries only the intervened run, and the
// page still shows the engine's baseline and intervened numbers; the Patching pickers' top-k
// (one more forward) is asked only once that view is on screen, not behind every toggle; the
// logit lens switched on after a run rides along with that run asked again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { launch, waitForRun, REPO } from './helpers.mjs';
import { HookLab } from '../../wasm/js/hooklab.js';

// Installed before the page's scripts: the page's requests to its worker by type, and each
// run reply's fields.
function record() {
  const W = window.Worker;
  window.__sent = [];
  window.__runs = [];
  window.Worker = class extends W {
    constructor(...a) {
      super(...a);
      const ids = new Set();
      const post = this.postMessage.bind(this);
      // A patchTop sent while the Patching view is off screen is recorded as such.
      const shown = (el) => { const r = el?.getBoundingClientRect(); return !!r && r.width > 0 && r.bottom > 0 && r.top < innerHeight; };
      this.postMessage = (msg, ...rest) => {
        window.__sent.push(msg?.type === 'patchTop' && !shown(document.getElementById('patch-section')) ? 'patchTop off screen' : msg?.type);
        if (msg?.type === 'run') ids.add(msg.id);
        return post(msg, ...rest);
      };
      this.addEventListener('message', (e) => {
        if (!ids.has(e.data?.id) || e.data.type !== 'result' || e.data.value?.superseded) return;
        const v = e.data.value;
        window.__runs.push({ baseline: !!v.baseline, intervened: !!v.intervened });
      });
    }
  };
}

let env;
before(async () => { env = await launch(); });
after(async () => { await env?.close(); });

test('a toggle\'s reply leaves the kept baseline out; the page shows the engine\'s numbers; the pickers wait until on screen', async () => {
  const page = await env.context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.addInitScript(record);
  await page.goto(`${env.url}index.html?lang=en&ex3=9,0.1&ex4=5,10`);
  await waitForRun(page);
  await page.locator('#ex4-on').uncheck();
  await waitForRun(page);
  const runs = await page.evaluate(() => window.__runs);
  assert.deepEqual(runs.at(0), { baseline: true, intervened: true });
  assert.deepEqual(runs.at(-1), { baseline: false, intervened: true }, JSON.stringify(runs));

  // The page's result after the toggle: the engine's baseline and intervened runs.
  const ex = await page.evaluate(() => window.hooklab.exportObject());
  assert.equal(ex.interventions.length, 1);
  const lab = await HookLab.load(join(REPO, 'web/dist/models/default/'));
  const base = lab.run(ex.prompt, { topk: ex.topk }), int = lab.run(ex.prompt, { topk: ex.topk, interventions: ex.interventions });
  lab.dispose();
  const near = (a, b) => a.length === b.length && a.every((x, i) => Math.abs(x - b[i]) <= 1e-5 * Math.max(1, Math.abs(b[i])));
  assert.ok(near(ex.baseline.resid_std, base.resid_std), 'baseline resid_std');
  assert.ok(near(ex.intervened.resid_std, int.resid_std), 'intervened resid_std');
  assert.ok(!near(ex.intervened.resid_std, base.resid_std), 'the intervention changes the run');
  assert.deepEqual(ex.baseline.top.map((t) => t.id), base.top.map((t) => t.id));

  // No top-k for the pickers while the Patching view is off screen (it may have been on
  // screen for a moment while the page loaded), not even when something reads the page
  // (its pending draws run: lazy.js); scrolled to, it is filled, once.
  const asked = (sent) => sent.filter((t) => t.startsWith('patchTop'));
  await page.evaluate(() => window.hooklab.chartData('top'));
  await page.waitForTimeout(400); // a top-k's settle delay
  const before = asked(await page.evaluate(() => window.__sent));
  assert.ok(!before.includes('patchTop off screen'), JSON.stringify(before));
  await page.locator('#patch-section').scrollIntoViewIfNeeded();
  await page.waitForFunction(() => document.querySelectorAll('#patch-answer-pick option').length > 1);
  const after = asked(await page.evaluate(() => window.__sent));
  assert.ok(!after.includes('patchTop off screen') && after.length - before.length <= 1, JSON.stringify(after));
  assert.deepEqual(errors, []);
  await page.close();
});

test('the logit lens is a run option: switched on after a run, the run is asked again with it (no other request)', async () => {
  const page = await env.context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.addInitScript(record);
  await page.goto(`${env.url}index.html?lang=en&ex3=9,0.1`);
  await waitForRun(page);
  assert.equal(await page.evaluate(() => window.hooklab.lensData()), null);
  const n = await page.evaluate(() => window.__sent.length);
  await page.locator('#lens-on').check();
  await page.waitForFunction(() => window.hooklab.lensData(), null, { timeout: 60000 });
  const lens = await page.evaluate(() => window.hooklab.lensData());
  assert.ok(lens[9].kl < 1e-3 && lens[11].kl > 0.1, JSON.stringify(lens.map((l) => l.kl)));
  const sent = (await page.evaluate(() => window.__sent)).slice(n).filter((t) => !t.startsWith('patchTop'));
  assert.deepEqual(sent, ['run'], JSON.stringify(sent));
  assert.equal(await page.locator('#lens-status').textContent(), '');
  assert.deepEqual(errors, []);
  await page.close();
});
