// Issue #27 in Chromium: the model panel's switch that loads the model with TransformerLens's
// weight processing (fold_ln, center_writing_weights, center_unembed, fold_value_biases, as
// HookedTransformer.from_pretrained does), its label in the model info, the numbers it changes
// and those it keeps, the export, the TransformerLens code, and the `process` URL key.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { launch, openPage, waitForRun, shot, REPO } from './helpers.mjs';
import { derivedTolerance } from '../tolerance.mjs';

let env;
before(async () => { env = await launch(); });
after(async () => { await env?.close(); });

const exported = (page) => page.evaluate(() => window.hooklab.exportObject());
const ALL = ['fold_ln', 'center_writing_weights', 'center_unembed', 'fold_value_biases'];

test('the processing switch reloads the model processed: label, hook_resid_pre centred, the output kept, URL', async () => {
  const { page, errors } = await openPage(env, '?lang=en&ex3=9,0.1&hook=hook_resid_pre&hl=3');
  // Off by default: HuggingFace's weights, said so.
  assert.equal(await page.locator('#process-tl').isChecked(), false);
  assert.match(await page.locator('#model-weights').textContent(), /HuggingFace's, unprocessed/);
  assert.equal(await page.locator('#model-weights-changes').count(), 0);
  const hf = await exported(page);
  assert.equal(hf.model.processing, null);
  assert.equal(new URL(page.url()).searchParams.get('process'), null);

  await page.locator('#process-tl').check();
  await page.waitForFunction(() => window.hooklab.exportObject()?.model.processing?.fold_ln === true, null, { timeout: 60000 });
  await waitForRun(page);
  const tl = await exported(page);
  assert.deepEqual(Object.keys(tl.model.processing).filter((k) => tl.model.processing[k]).sort(), [...ALL].sort());
  assert.equal(new URL(page.url()).searchParams.get('process'), 'tl');
  assert.equal((await page.evaluate(() => window.hooklab.state)).process, 'tl');

  // The label: processed as from_pretrained does, with the four, and what that changes.
  const label = await page.locator('#model-weights').textContent();
  assert.match(label, /processed as TransformerLens's from_pretrained does/);
  for (const k of ALL) assert.ok(label.includes(k), `${k} in the label: ${label}`);
  const changes = await page.locator('#model-weights-changes').textContent();
  assert.match(changes, /hook_resid_pre/);
  assert.match(changes, /Unchanged: probabilities, KL, top-k/);

  // hook_resid_pre: centre_writing_weights makes every write to the residual stream mean-free over
  // d_model, so each block's mean over the hook's values is 0 (float32 sums of ~10-wide values),
  // where HF's weights give means far from it.
  const mHf = hf.baseline.stats.hook_resid_pre.mean, mTl = tl.baseline.stats.hook_resid_pre.mean;
  assert.ok(mHf.some((x) => Math.abs(x) > 1e-2), `HF's hook_resid_pre means: ${mHf}`);
  const scale = Math.max(...tl.baseline.stats.hook_resid_pre.std);
  for (const [i, x] of mTl.entries()) assert.ok(Math.abs(x) <= 1e-5 * scale, `processed hook_resid_pre mean of block ${i}: ${x}`);
  // The last hidden_std entry: ln_final's output is (x - mean) / scale after fold_ln (std ~ 1).
  assert.ok(Math.abs(tl.baseline.hidden_std.at(-1) - 1) < 0.01, `ln_final std ${tl.baseline.hidden_std.at(-1)}`);
  assert.ok(Math.abs(hf.baseline.hidden_std.at(-1) - 1) > 0.05, `HF ln_f std ${hf.baseline.hidden_std.at(-1)}`);
  // ... and the std caption no longer speaks of ln_f's learned gain and bias.
  // (Off screen the panel keeps its last draw until it is seen, lazy.js: the switch sits below it.)
  await page.locator('#std-caption').scrollIntoViewIfNeeded();
  await page.waitForFunction(() => /gain folded into the unembedding|no gain or bias left/.test(document.getElementById('std-caption').textContent), null, { timeout: 5000 }).catch(() => {});
  const caption = await page.locator('#std-caption').textContent();
  assert.match(caption, /gain folded into the unembedding|no gain or bias left/, caption);

  // The output is kept: the same top tokens, their probabilities within the derived tolerance
  // of two float32 computations (tests/tolerance.mjs), baseline and intervened, and the KL.
  const tol = derivedTolerance(tl.baseline.model, tl.baseline.tokens.length, hf.baseline.stats, tl.baseline.stats, hf.intervened.stats, tl.intervened.stats);
  assert.equal(tl.compare.top.length, hf.compare.top.length);
  for (const [i, r] of hf.compare.top.entries()) {
    const s = tl.compare.top[i];
    assert.equal(s.token, r.token, `top[${i}]`);
    assert.ok(Math.abs(s.pBase - r.pBase) <= 2 * tol.prob(r.pBase), `top[${i}] P baseline ${s.pBase} vs ${r.pBase}`);
    assert.ok(Math.abs(s.pInt - r.pInt) <= 2 * tol.prob(r.pInt), `top[${i}] P intervened ${s.pInt} vs ${r.pInt}`);
  }
  assert.ok(Math.abs(tl.compare.kl - hf.compare.kl) <= 1e-3 * Math.max(1, hf.compare.kl), `KL ${tl.compare.kl} vs ${hf.compare.kl}`);

  // The TransformerLens code loads the model the way these numbers were computed.
  await page.locator('#code-section').scrollIntoViewIfNeeded();
  await page.locator('#tab-tl').click();
  await page.waitForFunction(() => /fold_ln=True, center_writing_weights=True/.test(document.querySelector('#code')?.textContent ?? ''), null, { timeout: 10000 });
  await page.locator('#tab-hf').click();
  await page.waitForFunction(() => /this code loads HuggingFace's/.test(document.querySelector('#code')?.textContent ?? ''), null, { timeout: 10000 });
  await shot(page, 'processing-on');

  // Off again: HF's weights, the label back.
  await page.locator('#process-tl').uncheck();
  await page.waitForFunction(() => window.hooklab.exportObject()?.model.processing === null, null, { timeout: 60000 });
  await waitForRun(page);
  assert.match(await page.locator('#model-weights').textContent(), /HuggingFace's, unprocessed/);
  assert.equal(new URL(page.url()).searchParams.get('process'), null);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the process key: a link with process=tl opens processed, in Vietnamese too; a bad value is refused', async () => {
  const { page, errors } = await openPage(env, '?lang=vi&process=tl');
  assert.equal(await page.locator('#process-tl').isChecked(), true);
  assert.equal((await exported(page)).model.processing.center_unembed, true);
  assert.match(await page.locator('#model-weights').textContent(), /đã xử lý như from_pretrained của TransformerLens: fold_ln, center_writing_weights, center_unembed, fold_value_biases/);
  assert.match(await page.locator('[data-i18n=processToggle]').textContent(), /Xử lý trọng số như TransformerLens/);
  assert.equal(new URL(page.url()).searchParams.get('process'), 'tl');
  // Reset keeps the weights (not an experiment), as it keeps the model.
  await page.locator('#reset').click();
  await waitForRun(page);
  assert.equal((await page.evaluate(() => window.hooklab.state)).process, 'tl');
  assert.deepEqual(errors, []);

  await page.goto(`${env.url}index.html?lang=en&process=yes`);
  await waitForRun(page);
  assert.equal((await page.evaluate(() => window.hooklab.state)).process, 'none');
  assert.equal(await page.locator('#process-tl').isChecked(), false);
  assert.match(await page.locator('#url-note').textContent(), /process=yes/);
  assert.equal((await exported(page)).model.processing, null);
  // set-state (a course page): {process: 'tl'} reloads processed, {process: null} back to HF's.
  await page.evaluate(() => window.postMessage({ type: 'hooklab:set-state', state: { process: 'tl' } }, location.origin));
  await page.waitForFunction(() => window.hooklab.exportObject()?.model.processing?.fold_ln === true, null, { timeout: 60000 });
  assert.equal(await page.locator('#process-tl').isChecked(), true);
  await page.evaluate(() => window.postMessage({ type: 'hooklab:set-state', state: { process: null } }, location.origin));
  await page.waitForFunction(() => window.hooklab.exportObject()?.model.processing === null, null, { timeout: 60000 });
  assert.equal((await page.evaluate(() => window.hooklab.state)).process, 'none');
  await page.close();
});

test('local files: the switch loads the dropped files again, processed, and back', async () => {
  const files = ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt'].map((f) => join(REPO, 'web/dist/models/default', f));
  const { page, errors } = await openPage(env, '?lang=en');
  await page.locator('input[name=model][value=local]').check();
  await page.locator('#files').setInputFiles(files);
  await page.waitForFunction(() => /loaded from your files/.test(document.querySelector('#model-info').textContent), null, { timeout: 60000 });
  await waitForRun(page);
  assert.equal((await exported(page)).model.processing, null);
  await page.locator('#process-tl').check();
  await page.waitForFunction(() => window.hooklab.exportObject()?.model.processing?.fold_value_biases === true, null, { timeout: 60000 });
  await waitForRun(page);
  const o = await exported(page);
  assert.equal(o.model.id, 'local');
  assert.match(await page.locator('#model-info').textContent(), /loaded from your files/);
  assert.match(await page.locator('#model-weights').textContent(), /processed as TransformerLens's from_pretrained does/);
  const u = new URL(page.url());
  assert.deepEqual([u.searchParams.get('model'), u.searchParams.get('process')], ['local', 'tl']);
  assert.deepEqual(errors, []);
  await page.close();
});
