// The Patching view (issue #11, page) in Chromium on the real WebAssembly engine and the
// embedded model: a sweep whose heat-map data table equals the native CLI's `hooklab patch`
// (within the tolerance derived from the arithmetic, tests/tolerance.mjs), a cancelled sweep, the z and attribution maps, export, URL state, the engine
// errors next to their fields, and the layout at 1400 and 390 px.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch, openPage, waitForRun, shot, nativeRun, nativeTolerance, shownNumber, REPO, NATIVE } from './helpers.mjs';
import { EMBEDDED_PAIR } from '../../web/src/panels/patch-data.js';

const MODEL = join(REPO, 'checkpoints/default');

function nativePatch({ clean, corrupted, answer, wrong }, hook, interventions = []) {
  const args = ['patch', '--model', MODEL, '--clean', clean, '--corrupted', corrupted, '--answer', answer, '--wrong', wrong, '--hook', hook];
  for (const iv of interventions) args.push('--intervene', JSON.stringify(iv));
  return JSON.parse(execFileSync(NATIVE, args).toString());
}

function nativeAttribute({ clean, answer, wrong }) {
  return JSON.parse(execFileSync(NATIVE, ['attribute', '--model', MODEL, '--prompt', clean, '--answer', answer, '--wrong', wrong]).toString());
}

// The data table of a heat-map figure: {cols, rows: [[shown text]]} (English number format).
async function readTable(page, figId) {
  return page.evaluate((id) => {
    const table = document.querySelector(`#${id} table`);
    const cols = [...table.querySelectorAll('thead th')].map((th) => th.textContent).slice(1);
    const rows = [...table.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent));
    return { cols, rows };
  }, figId);
}

// The page (the wasm engine in Chromium) against the native CLI: two builds of one engine whose
// sums differ in order. The tolerance is derived (tests/tolerance.mjs, as tools/make_goldens.py
// does for the patching goldens) from the model, the prompts' token count and the largest scales
// of the native runs of the clean and corrupted prompts with the sweep's interventions.
function patchTolerance({ clean, corrupted }, interventions = []) {
  return nativeTolerance(...[clean, corrupted].map((p) => nativeRun(MODEL, p, interventions, { topk: 1, logits: false })));
}

// Per value: a logit difference (or an attribution component) within 2 logit_abs, a normalized
// value n within 4 logit_abs (1 + |n|) / |D| (D: the native clean - corrupted logit difference).
const logitDiffTol = (tol) => () => tol.logitDiff();
const normalizedTol = (tol, native) => (n) => tol.normalized(n, native.clean_logit_diff - native.corrupted_logit_diff);

// got: the shown texts of a table (each within its tolerance plus its display rounding) or numbers.
function assertMatrix(got, want, tolOf, what) {
  assert.equal(got.length, want.length, `${what}: rows`);
  want.forEach((row, l) => {
    assert.equal(got[l].length, row.length, `${what}: block ${l} columns`);
    row.forEach((w, i) => {
      const [v, half] = typeof got[l][i] === 'string' ? shownNumber(got[l][i]) : [got[l][i], 0];
      const tol = tolOf(w) + half;
      assert.ok(Math.abs(v - w) <= tol, `${what}[${l}][${i}]: page ${got[l][i]} vs native ${w}, tolerance ${tol}`);
    });
  });
}

let env;
before(async () => { env = await launch(); });
after(async () => { await env?.close(); });

test('a sweep equals the native CLI, a second one is cancelled, z and attribution maps, export, URL', async () => {
  const { page, errors } = await openPage(env, '?lang=en');
  assert.equal(await page.locator('#patch-clean').inputValue(), EMBEDDED_PAIR.clean);
  assert.equal(await page.locator('#patch-corrupted').inputValue(), EMBEDDED_PAIR.corrupted);
  // The answer pickers are filled from the clean run's top-k once the view is on screen.
  await page.locator('#patch-section').scrollIntoViewIfNeeded();
  await page.waitForFunction(() => document.querySelectorAll('#patch-answer-pick option').length > 1);
  assert.match(await page.locator('#patch-answer-pick').textContent(), /" was" #329/);

  await page.locator('#patch-run').click();
  await page.locator('#fig-patch table').waitFor({ state: 'attached', timeout: 60000 });
  const native = nativePatch(EMBEDDED_PAIR, 'resid_pre');
  const tol = patchTolerance(EMBEDDED_PAIR);
  let t = await readTable(page, 'fig-patch');
  assert.equal(t.cols.length, native.clean_tokens.length);
  assert.match(t.cols[6], /6 " they" ← " he"/);
  // (b) page (wasm) vs native CLI: tolerance derived from the native runs' scales.
  assertMatrix(t.rows, native.normalized, normalizedTol(tol, native), 'resid_pre normalized');
  await page.locator('#patch-metric').selectOption('logit_diff');
  // (b) page (wasm) vs native CLI: a logit difference.
  assertMatrix((await readTable(page, 'fig-patch')).rows, native.logit_diff, logitDiffTol(tol), 'resid_pre logit_diff');
  assert.equal(new URL(page.url()).searchParams.get('pmetric'), 'logit_diff');
  await page.locator('#patch-metric').selectOption('normalized');

  // The value on keyboard focus: the cursor starts at the last block's last position.
  await page.locator('#fig-patch canvas').focus();
  const focused = (await page.locator('#fig-patch .pmap-readout').textContent()).match(/^Block 11, 6 " they" ← " he": (\S+)$/);
  assert.ok(focused, 'the readout');
  // (b) page (wasm) vs native CLI: a normalized value, plus the readout's rounding.
  assertMatrix([[focused[1]]], [[native.normalized[11][6]]], normalizedTol(tol, native), focused[0]);
  await page.keyboard.press('ArrowLeft');
  assert.match(await page.locator('#fig-patch .pmap-readout').textContent(), /^Block 11, 5 ",":/);

  // Attribution: the per-head table equals the CLI's heads, the components sum to the logit difference.
  const attr = nativeAttribute(EMBEDDED_PAIR);
  const heads = (await readTable(page, 'fig-dla-heads')).rows;
  const byName = Object.fromEntries(attr.components.map((c) => [c.name, c.value]));
  // (b) page (wasm) vs native CLI: attribution components, 2 logit_abs each (the clean run's scales).
  const attrTol = nativeTolerance(nativeRun(MODEL, EMBEDDED_PAIR.clean, [], { topk: 1, logits: false }));
  assertMatrix(heads, heads.map((row, l) => row.map((_, h) => byName[`blocks.${l}.attn.head.${h}`])), logitDiffTol(attrTol), 'attribution heads');
  const sum = (await page.locator('#fig-dla-layers .fig-cap').textContent()).match(/^The (\d+) components sum to (-?[\d.]+); the logit difference is (-?[\d.]+)\.$/);
  assert.ok(sum, 'the attribution caption');
  assert.equal(Number(sum[1]), attr.components.length);
  // (b) page (wasm) vs native CLI: the page's sum of components and its logit difference, 2 logit_abs plus the caption's rounding.
  assertMatrix([[sum[2], sum[3]]], [[attr.logit_diff, attr.logit_diff]], logitDiffTol(attrTol), sum[0]);

  // Export names the experiment.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.locator('#patch-export-json').click()]);
  const exp = JSON.parse(readFileSync(await dl.path(), 'utf8'));
  assert.equal(exp.clean, EMBEDDED_PAIR.clean);
  assert.equal(exp.hook, 'resid_pre');
  assert.equal(exp.model.id, 'default');
  assert.match(exp.model.name, /HookLab-Circuits/);
  assert.deepEqual(exp.interventions, []);
  assert.ok(exp.date);
  // (b) page (wasm) vs native CLI: the exported numbers, no display rounding.
  assertMatrix(exp.sweep.normalized, native.normalized, normalizedTol(tol, native), 'export');
  assert.equal(exp.attribution.components.length, attr.components.length);
  await shot(page, 'patching-1400');

  // A long pair makes a sweep slow enough to cancel; the finished sweep stays shown.
  const long = (s) => Array(12).fill(s).join(' ');
  const before = await readTable(page, 'fig-patch');
  await page.locator('#patch-clean').fill(long(EMBEDDED_PAIR.clean));
  await page.locator('#patch-corrupted').fill(long(EMBEDDED_PAIR.corrupted));
  await page.locator('#patch-run').click();
  await page.locator('#patch-cancel').waitFor({ state: 'visible' });
  await page.waitForFunction(() => document.querySelector('#patch-progress').value > 0, null, { timeout: 60000 });
  assert.match(await page.locator('#patch-progress-text').textContent(), /Block \d+ of 12 done/);
  await page.locator('#patch-cancel').click();
  await page.locator('#patch-status').filter({ hasText: 'Sweep cancelled' }).waitFor({ timeout: 60000 });
  assert.equal(await page.locator('#patch-cancel').isHidden(), true);
  assert.equal(await page.locator('#patch-progress-wrap').isHidden(), true);
  assert.deepEqual(await readTable(page, 'fig-patch'), before, 'the cancelled sweep left the last one shown');

  // z: a block × head map, equal to the CLI.
  await page.locator('#patch-clean').fill(EMBEDDED_PAIR.clean);
  await page.locator('#patch-corrupted').fill(EMBEDDED_PAIR.corrupted);
  await page.locator('#patch-hook').selectOption('z');
  await page.locator('#patch-run').click();
  await page.waitForFunction(() => /block × head/.test(document.querySelector('#fig-patch .fig-title')?.textContent), null, { timeout: 60000 });
  t = await readTable(page, 'fig-patch');
  assert.equal(t.cols[0], 'head 0');
  const nz = nativePatch(EMBEDDED_PAIR, 'z');
  // (b) page (wasm) vs native CLI: tolerance derived from the native runs' scales.
  assertMatrix(t.rows, nz.normalized, normalizedTol(tol, nz), 'z normalized');
  const u = new URL(page.url()).searchParams;
  assert.equal(u.get('phook'), 'z');
  assert.equal(u.get('pclean'), null, 'the default pair is not written into the URL');
  // The URL brings the view back.
  await page.goto(`${env.url}index.html?lang=en&phook=mlp_out&pans=${encodeURIComponent(' had')}`);
  await page.locator('#patch-answer').waitFor();
  assert.equal(await page.locator('#patch-hook').inputValue(), 'mlp_out');
  assert.equal(await page.locator('#patch-answer').inputValue(), ' had');
  assert.deepEqual(errors, []);
  await page.close();
});

test('engine errors are shown next to their fields, in the page language', async () => {
  const { page, errors } = await openPage(env, '?lang=en');
  await page.locator('#patch-corrupted').fill('When the men came home');
  await page.locator('#patch-answer').fill(' Marylandia');
  await page.locator('#patch-run').click();
  await page.locator('#patch-prompts-err').waitFor({ state: 'visible', timeout: 60000 });
  assert.match(await page.locator('#patch-prompts-err').textContent(), /The clean prompt is 7 tokens and the corrupted prompt is 5: patching needs the same number of tokens/);
  assert.equal(await page.locator('#patch-corrupted').getAttribute('aria-invalid'), 'true');
  // The attribution (clean prompt only) runs into the answer first.
  await page.locator('#patch-answer-err').waitFor({ state: 'visible' });
  assert.match(await page.locator('#patch-answer-err').textContent(), /The answer token " Marylandia" is 3 tokens \(" Mary" \(#3027\) \+ "land" \(#967\) \+ "ia" \(#734\)\): it must be exactly one token/);
  // A residual-stream intervention (exercise 3, block 9 × 0.1): the sweep runs, the attribution is refused.
  await page.locator('#ex3-on').check();
  await waitForRun(page);
  await page.locator('#patch-corrupted').fill(EMBEDDED_PAIR.corrupted);
  await page.locator('#patch-answer').fill(' was');
  assert.equal(await page.locator('#patch-prompts-err').isHidden(), true, 'editing a field clears its error');
  await page.locator('#patch-run').click();
  await page.locator('#patch-dla-err').waitFor({ state: 'visible', timeout: 60000 });
  assert.match(await page.locator('#patch-dla-err').textContent(), /not defined with an intervention on the residual stream \(blocks\.9\.hook_resid_post\)/);
  await page.locator('#fig-patch table').waitFor({ state: 'attached' });
  const ex3 = [{ kind: 'scale_hidden', layer: 9, factor: 0.1 }], n3 = nativePatch(EMBEDDED_PAIR, 'resid_pre', ex3);
  // (b) page (wasm) vs native CLI: tolerance derived from the native runs' scales, with the intervention.
  assertMatrix((await readTable(page, 'fig-patch')).rows, n3.normalized, normalizedTol(patchTolerance(EMBEDDED_PAIR, ex3), n3), 'with ex3');
  assert.match(await page.locator('#patch-ivs').textContent(), /block 9 output × 0\.1/);
  assert.match(await page.locator('#patch-code').textContent(), /model\.add_hook\("blocks\.9\.hook_resid_post", scale_0, is_permanent=True\)/);
  // Vietnamese.
  await page.locator('#lang').selectOption('vi');
  assert.match(await page.locator('#patch-dla-err').textContent(), /Không định nghĩa được quy kết logit trực tiếp/);
  await page.locator('#patch-corrupted').fill('When the men came home');
  await page.locator('#patch-run').click();
  await page.locator('#patch-prompts-err').waitFor({ state: 'visible', timeout: 60000 });
  assert.match(await page.locator('#patch-prompts-err').textContent(), /Câu sạch có 7 token còn câu bị làm hỏng có 5/);
  await shot(page, 'patching-errors-vi');
  assert.deepEqual(errors, []);
  await page.close();
});

test('phone width: no horizontal scroll, the maps fit', async () => {
  const page = await env.context.newPage();
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${env.url}index.html?lang=en`);
  await page.waitForFunction(() => window.hooklab?.ready, null, { timeout: 60000 });
  await page.locator('#patch-run').click();
  await page.locator('#fig-dla-heads table').waitFor({ state: 'attached', timeout: 60000 });
  const over = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.equal(over, 0, 'horizontal scroll at 390 px');
  const w = await page.locator('#fig-patch canvas').evaluate((c) => c.getBoundingClientRect().width);
  assert.ok(w <= 390, `heat-map ${w}px wide`);
  await page.locator('#patch-section').scrollIntoViewIfNeeded();
  await shot(page, 'patching-390');
  await page.close();
});
