// Issue 14 (speed): after a run the page rebuilds only what the reader sees. A panel off
// screen, or a data table in a closed <details>, is left as it was on a toggle, and shows
// the current run once scrolled into view or opened; the exports still get the current run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { launch, openPage, waitForRun, REPO } from './helpers.mjs';
import { startServer } from './server.mjs';

let env;
before(async () => { env = await launch(); });
after(async () => { await env?.close(); });

// Resolves after two frames: the IntersectionObserver has answered for what moved.
const frames = (page) => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

test('an off-screen or folded panel is not rebuilt on a toggle, and shows the current run when scrolled into view or opened', async () => {
  const { page, errors } = await openPage(env, '?lang=en&ex3=9,0.1');
  await page.evaluate(() => window.scrollTo(0, 0));
  await frames(page);
  // The code panel is far below the first screen; the std table is folded.
  assert.equal(await page.evaluate(() => document.querySelector('#code-section').getBoundingClientRect().top > innerHeight), true);
  assert.equal(await page.evaluate(() => document.querySelector('#fig-resid details').open), false);
  const codeBefore = await page.locator('#code').textContent();
  assert.doesNotMatch(codeBefore, /mul\(10(\.0)?\)/);

  // Every change the toggle makes to those two parts of the page.
  await page.evaluate(() => {
    window.__mutations = [];
    const mo = new MutationObserver((ms) => { for (const m of ms) window.__mutations.push(m.target.id || m.target.nodeName); });
    for (const sel of ['#code-section', '#fig-resid .table-wrap', '#stats-section'])
      mo.observe(document.querySelector(sel), { subtree: true, childList: true, characterData: true });
    window.__mo = mo;
  });
  await page.locator('#ex4-on').click(); // ×10 at block 9: the code panel gains a hook
  await waitForRun(page);
  await page.evaluate(() => window.scrollTo(0, 0));
  await frames(page);
  const mutations = await page.evaluate(() => { window.__mo.disconnect(); return window.__mutations; });
  assert.deepEqual(mutations, [], 'nothing off screen or folded was rebuilt');
  assert.equal(await page.locator('#code').textContent(), codeBefore);

  // The export is the current run all the same.
  const exp = await page.evaluate(() => window.hooklab.exportObject());
  assert.equal(exp.interventions.length, 2);

  // Opened: the table holds the current run's numbers.
  await page.locator('#fig-resid summary').click();
  await page.waitForFunction((want) => {
    const cells = [...document.querySelectorAll('#fig-resid table tbody tr')].map((tr) => Number(tr.cells[2].textContent.replace(/,/g, '')));
    return cells.length === want.length && cells.every((v, i) => Math.abs(v - want[i]) <= 1e-3 * Math.max(1, Math.abs(want[i])));
  }, exp.intervened.resid_std, { timeout: 5000 });

  // Scrolled into view: the code panel writes the current experiment.
  await page.evaluate(() => document.querySelector('#code-section').scrollIntoView());
  await page.waitForFunction(() => /mul\(10(\.0)?\)/.test(document.querySelector('#code').textContent), null, { timeout: 5000 });
  assert.deepEqual(errors, []);
  await page.close();
});

// lazy.js on its own (web/src/lazy.js in a bare page): a job with a settle delay waits
// until its inputs stop changing, runs only if its element is on screen when measured then
// (the observer's verdict lags when the page moves), and a request job is never forced by
// flushLazy (reading the page must not cost an engine request).
const BARE = `<!doctype html><meta charset="utf-8"><body style="margin:0">
<div id="above" style="height:100px"></div><div id="el" style="height:100px">el</div>
<div style="height:3000px"></div><div id="far" style="height:100px">far</div><div style="height:3000px"></div>
<script type="module">import * as lazy from '/lazy.js'; window.lazy = lazy;</script>`;

test('lazy.js: a settled job waits for its inputs and the page to stop moving; flushLazy does not force a request', async () => {
  const srv = await startServer({ root: join(REPO, 'web/src'), extraRoutes: { '/bare.html': { type: 'text/html; charset=utf-8', body: BARE } } });
  const page = await env.context.newPage();
  try {
    await page.goto(`${srv.url}bare.html`);
    await page.waitForFunction(() => window.lazy);
    // Every run of a job, with where its element was when it ran.
    await page.evaluate(() => {
      window.runs = [];
      const shown = (el) => { const r = el.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight; };
      window.job = (el, name, opts) => lazy.whenVisible(el, [name], () => runs.push(`${name}${shown(el) ? '' : ' off screen'}`), opts);
    });
    const runs = () => page.evaluate(() => window.runs);
    const settle = { settle: 250, request: true };

    // Asked again with the same inputs every 100 ms: the wait is not restarted, so it runs
    // (once) while the calls go on; not at once.
    const early = await page.evaluate(async (opts) => {
      const el = document.getElementById('el');
      job(el, 'a', opts);
      const now = [...runs];
      for (let i = 0; i < 8; i++) { await new Promise((r) => setTimeout(r, 100)); job(el, 'a', opts); }
      return now;
    }, settle);
    assert.deepEqual(early, []);
    assert.deepEqual(await runs(), ['a']);

    // New inputs, and the element pushed off screen just before the delay ends (before the
    // observer can say so): the job waits, and runs once the element is back on screen.
    await page.evaluate((opts) => {
      const el = document.getElementById('el');
      setTimeout(() => { document.getElementById('above').style.height = '2000px'; }, opts.settle);
      job(el, 'b', opts);
    }, settle);
    await page.waitForTimeout(800);
    assert.deepEqual(await runs(), ['a']);
    await page.evaluate(() => document.getElementById('el').scrollIntoView());
    await page.waitForFunction(() => runs.length === 2, null, { timeout: 5000 });
    await page.waitForTimeout(400);
    assert.deepEqual(await runs(), ['a', 'b']);

    // Off screen (the observer has said so, after a first draw there): flushLazy runs a
    // draw, not a request; the request runs when its element comes into view.
    await page.evaluate(() => job(document.getElementById('far'), 'first', {}));
    await frames(page);
    await page.evaluate(() => {
      const far = document.getElementById('far');
      job(far, 'draw', {});
      lazy.flushLazy();
      job(far, 'request', { request: true });
      lazy.flushLazy();
    });
    const drawn = ['a', 'b', 'first off screen', 'draw off screen'];
    assert.deepEqual(await runs(), drawn);
    await page.evaluate(() => document.getElementById('far').scrollIntoView());
    await page.waitForFunction(() => runs.length === 5, null, { timeout: 5000 });
    assert.deepEqual(await runs(), [...drawn, 'request']);
  } finally {
    await page.close();
    await srv.close();
  }
});
