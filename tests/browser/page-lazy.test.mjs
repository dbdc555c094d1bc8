// Issue 14 (speed): after a run the page rebuilds only what the reader sees. A panel off
// screen, or a data table in a closed <details>, is left as it was on a toggle, and shows
// the current run once scrolled into view or opened; the exports still get the current run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, waitForRun } from './helpers.mjs';

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
