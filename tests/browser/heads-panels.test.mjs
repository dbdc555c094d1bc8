// The per-head panels (web/src/panels/) in Chromium, on the real WebAssembly engine and the
// mid test checkpoint, from a harness page served from the repository (an import map stands
// in for Vite's bare-import resolution): the overview's grids, table and click-to-pick, the
// every-head grid, Vietnamese, and the "no repeated token" message. Then the page as built
// (web/dist): the folded panel asks the worker for scores only while open, once per state.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

import { REPO, startServer } from './server.mjs';
import { launch, waitForRun } from './helpers.mjs';
import { HookLab } from '../../wasm/js/hooklab.js';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = join(REPO, 'test-results');

const HARNESS = `<!doctype html><html><head><meta charset="utf-8">
<link rel="icon" href="data:,">
<script type="importmap">{"imports": {"chart.js": "/node_modules/chart.js/dist/chart.js",
  "@kurkle/color": "/node_modules/@kurkle/color/dist/color.esm.js"}}</script>
<link rel="stylesheet" href="/web/src/style.css"></head>
<body><div id="ov"></div><div id="grid"></div>
<script type="module">
import { HookLab } from '/wasm/js/hooklab.js';
import { makeT } from '/web/src/i18n.js';
import { headsForPage } from '/web/src/worker/heads.js';
import { renderHeadsOverview } from '/web/src/panels/heads-overview.js';
import { renderHeadGrid } from '/web/src/panels/heads-grid.js';
const lab = await HookLab.load('/build/ckpt/mid/');
window.picked = [];
window.show = (opts, lang, score) => {
  const hs = headsForPage(lab, opts);
  const t = makeT(lang), fmt = (x) => x.toFixed(3);
  renderHeadsOverview(document.getElementById('ov'), { ...hs, score, t, fmt, onPick: (c) => window.picked.push(c) });
  if (hs.baseline.pattern)
    renderHeadGrid(document.getElementById('grid'), { layer: opts.pattern, tokens: hs.baseline.token_strings,
      baseline: hs.baseline.pattern, intervened: hs.intervened?.pattern, scores: hs, t, fmt });
  return hs;
};
window.ready = true;
</script></body></html>`;

let context, srv, profile, page;
const errors = [];

before(async () => {
  assert.ok(existsSync(join(REPO, 'wasm/dist/hooklab.wasm')), 'wasm/dist is missing: run wasm/build.sh');
  assert.ok(existsSync(join(REPO, 'build/ckpt/mid/model.safetensors')), 'build/ckpt/mid is missing');
  srv = await startServer({ root: REPO, extraRoutes: { '/heads-panels.html': { type: 'text/html; charset=utf-8', body: HARNESS } } });
  profile = mkdtempSync(join(tmpdir(), 'hooklab-heads-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, viewport: { width: 1400, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${srv.url}heads-panels.html`);
  await page.waitForFunction(() => window.ready === true, null, { timeout: 60000 });
});

after(async () => {
  await context?.close();
  await srv?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

test('overview: block x head grids, strongest heads, a 144-row table, click picks a head', async () => {
  const iv = [{ kind: 'zero_head_k', layer: 9, head: 2 }];
  const hs = await page.evaluate((iv) => window.show({ repeat: 8, seed: '1', pattern: 9, interventions: iv }, 'en', 'first_token'), iv);
  const ov = page.locator('#ov');
  assert.equal(await ov.locator('canvas').count(), 2);
  const box = await ov.locator('canvas').first().boundingBox();
  assert.ok(box.width > 12 * 22 && box.height > 12 * 22, JSON.stringify(box));
  assert.match(await ov.locator('figcaption').first().textContent(), /^Highest: L\d+H\d+ \(/);
  const rows = ov.locator('table tbody tr');
  assert.equal(await rows.count(), 144);
  // Row 9.2: the zeroed key's head, baseline → intervened as the engine gave them.
  const cells = await rows.nth(9 * 12 + 2).locator('th, td').allTextContents();
  assert.deepEqual(cells, ['L9H2', hs.baseline.first_token[9][2].toFixed(3), hs.intervened.first_token[9][2].toFixed(3),
    (hs.intervened.first_token[9][2] - hs.baseline.first_token[9][2]).toFixed(3)]);
  // Block 3, head 5 of the intervened grid (22-px cells after a 34 x 40 margin).
  await ov.locator('canvas').nth(1).click({ position: { x: 34 + 5 * 22 + 11, y: 40 + 3 * 22 + 11 } });
  assert.deepEqual(await page.evaluate(() => window.picked.at(-1)), { layer: 3, head: 5 });

  const grid = page.locator('#grid');
  assert.match(await grid.locator('h3').textContent(), /Block 9/);
  assert.equal(await grid.locator('figure').count(), 12);
  assert.equal(await grid.locator('canvas').count(), 24);
  assert.match(await grid.locator('figcaption').nth(2).textContent(), /first-token score [\d.]+ → [\d.]+/);
  assert.equal(await grid.locator('figure').nth(0).locator('table tbody tr').count(), 17);
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, 'heads-panels.png'), fullPage: true });
  assert.deepEqual(errors, []);
});

test('Vietnamese labels; no repeated token: the overview says why there is no induction score', async () => {
  await page.evaluate(() => window.show({ repeat: 5, seed: '2' }, 'vi', 'induction'));
  assert.match(await page.locator('#ov p.caption').first().textContent(), /^điểm induction:/);
  assert.equal(await page.locator('#ov canvas').count(), 1);  // no intervention: the baseline only
  await page.evaluate(() => window.show({ prompt: 'One two three' }, 'en', 'induction'));
  assert.match(await page.locator('#ov').textContent(), /No token repeats in this input/);
  assert.equal(await page.locator('#ov canvas').count(), 0);
  assert.deepEqual(errors, []);
});

// Installed before the page's scripts: counts the page's requests to its engine worker by type.
function countRequests() {
  const W = window.Worker;
  window.__sent = {};
  window.Worker = class extends W {
    postMessage(msg, ...rest) {
      window.__sent[msg?.type] = (window.__sent[msg?.type] ?? 0) + 1;
      return super.postMessage(msg, ...rest);
    }
  };
}

test('page: a closed heads panel asks the worker nothing; opening it shows the engine\'s scores, once per state', async () => {
  const env = await launch();
  try {
    const page = await env.context.newPage();
    const errs = [];
    page.on('console', (m) => { if (m.type() === 'error') errs.push(m.text()); });
    page.on('pageerror', (e) => errs.push(String(e)));
    await page.addInitScript(countRequests);
    await page.goto(`${env.url}index.html?lang=en&ex1=9.2`);
    await waitForRun(page);
    const sent = () => page.evaluate(() => ({ ...window.__sent }));
    const panel = page.locator('#heads-section');
    assert.equal(await panel.evaluate((d) => d.open), false, 'the panel starts closed');
    // Another run (an exercise switched on) with the panel closed: still no heads request.
    await page.locator('#ex3-on').check();
    await waitForRun(page);
    let n = await sent();
    assert.ok(n.run >= 2, JSON.stringify(n));
    assert.equal(n.heads, undefined, `no heads request while closed: ${JSON.stringify(n)}`);
    assert.equal(await page.locator('#heads-overview table').count(), 0);

    // Opened: one request; the table holds the engine's scores for the page's input.
    await page.locator('#heads-section > summary').click();
    await page.locator('#heads-overview table tbody tr').first().waitFor({ state: 'attached' });
    assert.equal((await sent()).heads, 1);
    const ex = await page.evaluate(() => window.hooklab.exportObject());
    const lab = await HookLab.load(join(REPO, 'web/dist/models/default/'));
    const base = lab.heads({ prompt: ex.prompt }), int = lab.heads({ prompt: ex.prompt, interventions: ex.interventions });
    lab.dispose();
    assert.equal(ex.interventions.length, 2);
    const rows = await page.locator('#heads-overview table tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    assert.equal(rows.length, base.induction.length * base.induction[0].length);
    const num = (s) => { const x = Number(s.replace(/,/g, '').replace('\u2212', '-')); return Number.isFinite(x) ? x : null; };
    for (const [bh, b, i] of rows) {
      const [l, h] = bh.match(/^L(\d+)H(\d+)$/).slice(1).map(Number);
      for (const [shown, want] of [[num(b), base.induction[l][h]], [num(i), int.induction[l][h]]]) {
        if (want === null) assert.equal(shown, null, bh);
        else assert.ok(Math.abs(shown - want) <= 1e-3, `${bh}: ${shown} vs ${want}`);
      }
    }

    // Closed and reopened on the same state: nothing asked again.
    await page.locator('#heads-section > summary').click();
    await page.locator('#heads-section > summary').click();
    await page.waitForTimeout(300);
    assert.equal((await sent()).heads, 1);
    // A new run while closed asks nothing; reopening asks once for the new state.
    await page.locator('#heads-section > summary').click();
    await page.locator('#ex3-on').uncheck();
    await waitForRun(page);
    assert.equal((await sent()).heads, 1);
    await page.locator('#heads-section > summary').click();
    await page.waitForFunction(() => window.__sent.heads === 2);
    assert.deepEqual(errs, []);
  } finally {
    await env.close();
  }
});

test('page: the heads view and the Generate panel show their code (HF / TransformerLens / nnsight tabs) for the current state', async () => {
  const env = await launch();
  try {
    const page = await env.context.newPage();
    const errs = [];
    page.on('pageerror', (e) => errs.push(String(e)));
    await page.goto(`${env.url}index.html?lang=en&ex3=9,0.1`);
    await waitForRun(page);
    // The Generate panel's fold: greedy, with the page's exercise as the code panel's HF hook.
    await page.locator('.gen-code > summary').click();
    // The fold fills its code on the 'toggle' event, which the browser fires in a later task.
    await page.waitForFunction(() => document.getElementById('gen-code').textContent !== '');
    const gen = page.locator('#gen-code');
    assert.match(await gen.textContent(), /def generate\(interventions\):[\s\S]*intervened = generate\(\[\(blocks\[9\], scale_block_0\)\]\)/);
    await page.locator('.gen-code [data-tab="tl"]').click();
    assert.match(await gen.textContent(), /model\.run_with_hooks\(torch\.tensor\(\[ids\]\)/);
    await page.locator('.gen-code [data-tab="nn"]').click();
    assert.match(await gen.textContent(), /model\.trace\(torch\.tensor\(\[ids\]\)\)/);
    // The heads view's fold: the repeated tokens are the ids the engine drew.
    await page.locator('#heads-section > summary').click();
    await page.locator('#heads-input').selectOption('repeat');
    await page.locator('#heads-overview table tbody tr').first().waitFor({ state: 'attached' });
    await page.locator('.heads-code > summary').click();
    await page.locator('.heads-code [data-tab="tl"]').click();
    const lab = await HookLab.load(join(REPO, 'web/dist/models/default/'));
    const want = lab.heads({ repeat: 20, seed: '0' }).tokens;
    lab.dispose();
    await page.waitForFunction(() => /^ids = \[/m.test(document.getElementById('heads-code').textContent));
    const code = await page.locator('#heads-code').textContent();
    assert.equal(code.match(/^ids = \[(.*)\]$/m)[1], want.join(', '));
    assert.match(code, /model\.run_with_cache\(tokens/);
    assert.match(code, /\("blocks\.9\.hook_resid_post", scale_0\)/);
    assert.deepEqual(errs, []);
  } finally {
    await env.close();
  }
});
