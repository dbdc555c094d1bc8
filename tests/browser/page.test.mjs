// The page in Chromium, on the embedded default model: load, each exercise, the charts'
// numbers against the native engine, the tuple explorer, URL state, language, errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, truncateSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { launch, openPage, waitForRun, shot, nativeRun, nativeTolerance, assertCurve, close, REPO, textMatching } from './helpers.mjs';
import { klTolerance } from '../tolerance.mjs';
import { tempDir } from '../temp-dir.mjs';

const MODEL_DIR = join(REPO, 'web/dist/models/default');
const cfg = JSON.parse(readFileSync(join(MODEL_DIR, 'config.json'), 'utf8'));
let env;

before(async () => {
  env = await launch();
});
after(async () => { await env?.close(); });

const chartData = (page, key) => page.evaluate((k) => window.hooklab.chartData(k), key);

test('loads on the default model, labelled as what it is, with no console errors', async () => {
  const { page, errors } = await openPage(env, '?lang=en');
  const info = await page.locator('#model-info').textContent();
  assert.match(info, new RegExp(cfg.hooklab?.name ? cfg.hooklab.name.replace(/[×]/g, '.') : 'random'));
  assert.match(info, /NOT GPT-2 small|random/);
  assert.match(info, /Parameters/);
  assert.match(await page.locator('#status').textContent(), /No exercise is on/);
  assert.equal(await page.locator('#error').isHidden(), true);
  await shot(page, '01-default-loaded');
  assert.deepEqual(errors, []);
  await page.close();
});

test('each exercise toggles from the keyboard-operable controls and re-runs', async () => {
  const { page, errors } = await openPage(env, '?lang=en');
  for (const [ex, section] of [['ex1', '#attn-section'], ['ex2', '#mlp-section'], ['ex3', null], ['ex4', null]]) {
    await page.locator(`#${ex}-on`).focus();
    await page.keyboard.press('Space');
    await waitForRun(page);
    const st = await page.evaluate(() => window.hooklab.state);
    assert.equal(st.ex[ex].on, true, `${ex} on`);
    assert.match(page.url(), new RegExp(`${ex}=`));
    if (section) assert.equal(await page.locator(section).isVisible(), true, `${section} visible`);
    const exp = await page.evaluate(() => window.hooklab.exportObject());
    assert.equal(exp.interventions.length, 1);
    await shot(page, `02-${ex}-on`);
    await page.locator(`#${ex}-on`).press('Space');
    await waitForRun(page);
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test("the charts' numbers are the engine's (JSON export vs the native CLI)", async () => {
  const prompt = 'The jury said that the city';
  const q = `?lang=en&prompt=${encodeURIComponent(prompt)}&ex1=9.2&ex2=9,10,1,7&ex3=9,0.1`;
  const { page, errors } = await openPage(env, q);
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#export-json').click()]);
  const exp = JSON.parse(readFileSync(await download.path(), 'utf8'));
  assert.equal(exp.prompt, prompt);
  assert.deepEqual(exp.interventions, [
    { kind: 'zero_head_k', layer: 9, head: 2 },
    { kind: 'noise_even_neurons', layer: 9, mean: 10, std: 1, seed: 7 },
    { kind: 'scale_hidden', layer: 9, factor: 0.1 },
  ]);
  const capture = ['blocks.9.attn.hook_pattern', 'blocks.9.mlp.hook_post'];
  const nb = nativeRun(MODEL_DIR, prompt, [], { capture });
  const ni = nativeRun(MODEL_DIR, prompt, exp.interventions, { capture });
  for (const [mine, ref, name] of [[exp.baseline, nb, 'baseline'], [exp.intervened, ni, 'intervened']]) {
    assert.deepEqual(mine.tokens, ref.tokens);
    // (b) page (wasm) vs native CLI: tolerance derived from the native run's scales.
    const tol = nativeTolerance(ref);
    for (const k of ['resid_std', 'hidden_std']) assertCurve(mine[k], ref[k], tol, `${name} ${k}`);
    assert.deepEqual(mine.top.map((x) => x.id), ref.top.map((x) => x.id));
    // (b) page (wasm) vs native CLI: a probability, 2 logit_abs p.
    mine.top.forEach((x, i) => assert.ok(Math.abs(x.prob - ref.top[i].prob) <= tol.prob(ref.top[i].prob), `${name} top[${i}].prob ${x.prob} vs ${ref.top[i].prob}`));
  }
  // What the charts draw is exactly what the export holds.
  const resid = await chartData(page, 'resid');
  const hf = await chartData(page, 'hf');
  assert.deepEqual(resid, [exp.baseline.resid_std, exp.intervened.resid_std]);
  assert.deepEqual(hf, [exp.baseline.hidden_std, exp.intervened.hidden_std]);
  // The ablated head is uniform over the causal prefix.
  const pat = exp.intervened.captures['blocks.9.attn.hook_pattern'];
  const T = pat.shape[1];
  for (let qi = 0; qi < T; qi++) assert.ok(Math.abs(pat.data[(2 * T + qi) * T] - 1 / (qi + 1)) < 1e-5);
  // The data tables behind the charts hold the same numbers.
  const rows = await page.locator('#fig-resid table tbody tr').count();
  assert.equal(rows, cfg.n_layer);
  // The code panel is exactly this experiment, the chapter's way.
  const code = await page.locator('#code').textContent();
  assert.match(code, /k\[\.\.\., 2 \* d_head:\(2 \+ 1\) \* d_head\] = 0/);
  assert.match(code, /\(blocks\[9\]\.attn\.c_attn, zero_head_k_0\)/);
  assert.match(code, /torch\.normal\(10\.0, 1\.0/);
  assert.match(code, /\(blocks\[9\]\.mlp\.act, noise_even_1\)/);
  assert.match(code, /return \(output\[0\]\.mul\(0\.1\),\) \+ output\[1:\]/);
  await page.locator('#tab-hf').focus();
  await page.keyboard.press('ArrowRight');
  const tlRun = /intervened = run\(\[\("blocks\.9\.attn\.hook_k", zero_k_0\), \("blocks\.9\.mlp\.hook_post", noise_even_1\), \("blocks\.9\.hook_resid_post", scale_2\)\]\)/;
  assert.match(await textMatching(page, '#code', tlRun), tlRun);
  // The nnsight tab (ArrowRight again): the same interventions as edits at their places, its
  // label and comments in the page's language.
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.locator('#tab-nn').getAttribute('aria-selected'), 'true');
  assert.equal(await page.locator('#tab-nn').textContent(), 'nnsight trace');
  const nnRun = /at\(9, "c_attn", zero_head_k_0\),\n    at\(9, "act", noise_even_1\),\n    at\(9, "output", scale_block_2\),/;
  assert.match(await textMatching(page, '#code', nnRun), nnRun);
  assert.match(await page.locator('#code').textContent(), /remote=True/);
  await page.locator('#lang').selectOption('vi');
  assert.equal(await page.locator('#tab-nn').textContent(), 'trace của nnsight');
  assert.match(await textMatching(page, '#code', /Trên NDIF/), /Bài 1: đặt Key của head 2 trong khối 9 về 0/);
  await page.locator('#lang').selectOption('en');
  await page.locator('#tab-hf').click();
  // CSV export.
  const [csv] = await Promise.all([page.waitForEvent('download'), page.locator('#export-csv').click()]);
  const text = readFileSync(await csv.path(), 'utf8');
  assert.match(text, /^table,index,label,baseline,intervened\n/);
  const line = text.split('\n').find((l) => l.startsWith('resid_std,9,'));
  assert.ok(close(Number(line.split(',')[4]), exp.intervened.resid_std[9], 1e-12));
  await shot(page, '03-combined-exercises');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the tuple explorer shows the real shapes of the run', async () => {
  const { page } = await openPage(env, '?lang=en&prompt=Hello%20world&ex1=4.0');
  const T = (await page.evaluate(() => window.hooklab.exportObject())).baseline.tokens.length;
  const shape0 = new RegExp(`output\\[0\\]\\.shape\\s+# torch\\.Size\\(\\[1, ${T}, ${cfg.n_embd}\\]\\)`);
  let text = await textMatching(page, '#tuple', shape0);
  assert.match(text, shape0);
  assert.match(text, /len\(output\) == 2\n[^]*len\(output\) == 1\n/); // with present (older 4.x), without (later 4.x)
  await page.locator('#tuple-attn').check();
  text = await textMatching(page, '#tuple', /len\(output\) == 3\n/);
  assert.match(text, /len\(output\) == 3\n[^]*len\(output\) == 2\n/);
  assert.match(text, new RegExp(`output\\[2\\]\\.shape\\s+# torch\\.Size\\(\\[1, ${cfg.n_head}, ${T}, ${T}\\]\\)`));
  await page.locator('#tuple-tf').selectOption('5');
  const shape5 = new RegExp(`output\\[0\\]\\.shape\\s+# torch\\.Size\\(\\[${T}, ${cfg.n_embd}\\]\\)`);
  text = await textMatching(page, '#tuple', shape5);
  assert.match(text, shape5);
  await page.locator('#tuple-section').screenshot({ path: join(REPO, 'test-results/04-tuple-v5.png') });
  await page.close();
});

test('URL state round trip', async () => {
  const { page } = await openPage(env, '?lang=en');
  await page.locator('#prompt').fill('A cat sat on the');
  await page.locator('#ex2-on').check();
  await page.locator('#ex2-mean').fill('5');
  await page.locator('#ex2-std').fill('2');
  await page.locator('#ex4-on').check();
  await page.locator('#ex4-factor').fill('3');
  await page.locator('#scale').selectOption('log');
  await page.locator('#lang').selectOption('vi');
  await waitForRun(page);
  const url = page.url();
  const state = await page.evaluate(() => window.hooklab.state);
  await page.close();
  const u = new URL(url);
  assert.equal(u.searchParams.get('ex2'), '9,5,2,0');
  assert.equal(u.searchParams.get('ex4'), '9,3');
  const { page: p2 } = await openPage(env, u.search);
  assert.deepEqual(await p2.evaluate(() => window.hooklab.state), state);
  assert.equal(await p2.locator('#prompt').inputValue(), 'A cat sat on the');
  assert.equal(await p2.locator('#ex2-mean').inputValue(), '5');
  assert.equal(await p2.locator('#ex4-on').isChecked(), true);
  assert.equal(await p2.locator('#scale').inputValue(), 'log');
  assert.equal(await p2.evaluate(() => document.documentElement.lang), 'vi');
  await shot(p2, '05-url-roundtrip-vi-log');
  await p2.close();
});

test('language: from the browser, switchable, in the URL', async () => {
  const ctx = env.context;
  const { page, errors } = await openPage(env, '?lang=vi&ex3=9,0.1');
  assert.match(await page.locator('#std-section h2').textContent(), /Độ lệch chuẩn/);
  assert.match(await page.locator('#std-caption').textContent(), /LayerNorm/);
  await shot(page, '06-vietnamese');
  await page.locator('#lang').selectOption('en');
  assert.match(await page.locator('#std-section h2').textContent(), /Standard deviation/);
  assert.equal(new URL(page.url()).searchParams.get('lang'), 'en');
  assert.deepEqual(errors, []);
  await page.close();
  // No lang in the URL: the browser's language decides.
  const p = await ctx.newPage();
  await p.addInitScript(() => Object.defineProperty(navigator, 'languages', { get: () => ['vi-VN', 'vi'] }));
  await p.goto(`${env.url}index.html`);
  await waitForRun(p);
  assert.equal(new URL(p.url()).searchParams.get('lang'), 'vi');
  await p.close();
});

test('errors are readable and the page stays usable', async () => {
  const { page, errors } = await openPage(env, '?lang=en');
  // A malformed model: a truncated model.safetensors.
  const dir = tempDir('hooklab-bad-');
  for (const f of ['config.json', 'vocab.json', 'merges.txt']) writeFileSync(join(dir, f), readFileSync(join(MODEL_DIR, f)));
  writeFileSync(join(dir, 'model.safetensors'), readFileSync(join(MODEL_DIR, 'model.safetensors')).subarray(0, 5000));
  await page.locator('input[name=model][value=local]').check();
  await page.locator('#files').setInputFiles(['config.json', 'model.safetensors', 'vocab.json', 'merges.txt'].map((f) => join(dir, f)));
  await page.locator('#error').waitFor({ state: 'visible' });
  const msg = await page.locator('#error').textContent();
  assert.match(msg, /safetensors|truncated|file/i);
  await shot(page, '07-malformed-model');
  // Still usable: the previous model is selected again and an exercise runs.
  assert.equal(await page.locator('input[name=model][value=default]').isChecked(), true);
  await page.locator('#ex3-on').check();
  await waitForRun(page);
  assert.equal(await page.locator('#error').isHidden(), true);
  assert.equal((await page.evaluate(() => window.hooklab.exportObject())).interventions.length, 1);

  // A model too big for the browser engine: refused from its config.json, before the
  // weights are read, with the memory it would need (the engine's one size limit).
  const big = mkdtempSync(join(tmpdir(), 'hooklab-big-'));
  for (const f of ['vocab.json', 'merges.txt']) writeFileSync(join(big, f), readFileSync(join(MODEL_DIR, f)));
  writeFileSync(join(big, 'config.json'), JSON.stringify({ ...cfg, n_layer: 48, n_embd: 1600, n_head: 25, vocab_size: 50257, n_positions: 1024 }));
  writeFileSync(join(big, 'model.safetensors'), '');
  truncateSync(join(big, 'model.safetensors'), 2 * 2 ** 30);
  await page.locator('input[name=model][value=local]').check();
  await page.locator('#files').setInputFiles(['config.json', 'model.safetensors', 'vocab.json', 'merges.txt'].map((f) => join(big, f)));
  await page.waitForFunction(() => /too large: it needs \d+ MB/.test(document.querySelector('#error').textContent), null, { timeout: 60000 });
  await shot(page, '07b-model-too-big');
  rmSync(big, { recursive: true, force: true });
  assert.equal(await page.locator('input[name=model][value=default]').isChecked(), true);
  await page.locator('#ex3-factor').fill('0.5');
  await waitForRun(page);
  assert.equal(await page.locator('#error').isHidden(), true);

  // A prompt over the context length.
  await page.locator('#prompt').fill('word '.repeat(cfg.n_positions + 10));
  await page.locator('#error').waitFor({ state: 'visible' });
  assert.match(await page.locator('#error').textContent(), /context/);
  await page.waitForFunction(() => /^\d+ tokens/.test(document.querySelector('#token-count').textContent) && !/^14 /.test(document.querySelector('#token-count').textContent));
  await shot(page, '08-prompt-too-long');
  await page.locator('#prompt').fill('Back to a short prompt');
  await waitForRun(page);
  assert.equal(await page.locator('#error').isHidden(), true);

  // NaN/Inf after a huge factor: marked, not drawn.
  await page.locator('#ex3-factor').fill('1e38');
  await waitForRun(page);
  await page.locator('#nonfinite').waitFor({ state: 'visible' });
  assert.match(await page.locator('#nonfinite').textContent(), /blocks\.\d+\./);
  const resid = await chartData(page, 'resid');
  assert.ok(resid[1].some((v) => v === null), 'non-finite points are gaps');
  assert.ok(!resid[1].some((v) => typeof v === 'number' && !Number.isFinite(v)));
  await shot(page, '09-nonfinite');

  // An out-of-range head: refused next to its field, never sent to the engine.
  await page.locator('#ex1-on').check();
  await page.locator('#ex1-head').fill('99');
  await page.locator('#ex1-head-err').waitFor({ state: 'visible' });
  assert.match(await page.locator('#ex1-head-err').textContent(), /0 to 11/);
  assert.equal(await page.locator('#error').isHidden(), true);
  await page.locator('#ex1-head').fill('2');
  await waitForRun(page);
  assert.deepEqual(errors, []);
  await page.close();
});

test('predict, then reveal', async () => {
  const { page } = await openPage(env, '?lang=en&ex3=9,0.1&predict=1');
  assert.equal(await page.locator('#result-body').isHidden(), true);
  const qs = page.locator('#questions fieldset');
  assert.ok((await qs.count()) >= 2);
  await qs.nth(0).locator('input[value=yes]').check();
  await page.locator('#reveal').click();
  assert.equal(await page.locator('#result-body').isVisible(), true);
  assert.match(await qs.nth(0).textContent(), /Actual: (Yes|No)/);
  await shot(page, '10-predict-revealed');
  await page.close();
});

test('local files load; rapid edits leave only the newest result', async () => {
  const { page, errors } = await openPage(env, '?lang=en');
  await page.locator('input[name=model][value=local]').check();
  assert.equal(await page.locator('#drop').isVisible(), true);
  await page.locator('#files').setInputFiles(['config.json', 'model.safetensors', 'vocab.json', 'merges.txt'].map((f) => join(MODEL_DIR, f)));
  await page.waitForFunction(() => /loaded from your files/.test(document.querySelector('#model-info').textContent), null, { timeout: 60000 });
  await waitForRun(page);
  // Type fast: every keystroke schedules a run; stale ones are dropped.
  await page.locator('#ex3-on').check();
  await page.locator('#prompt').fill('');
  await page.locator('#prompt').pressSequentially('The old man walked', { delay: 15 });
  await waitForRun(page);
  const exp = await page.evaluate(() => window.hooklab.exportObject());
  assert.equal(exp.prompt, 'The old man walked');
  assert.equal(exp.model.id, 'local');
  await shot(page, '15-local-files');
  assert.deepEqual(errors, []);
  await page.close();
});

test('logit lens: per-layer KL computed by the engine, 0 before the intervention, the final KL at the end', async () => {
  const { page, errors } = await openPage(env, '?lang=en&ex3=6,0.1&lens=1');
  await page.waitForFunction(() => window.hooklab.lensData(), null, { timeout: 120000 });
  const layers = await page.evaluate(() => window.hooklab.lensData());
  assert.equal(layers.length, cfg.n_layer);
  // (c) one build: the two readings are the same bits before the intervened block, KL exactly 0.
  for (let i = 0; i < 6; i++) assert.equal(layers[i].kl, 0, `layer ${i}: ${layers[i].kl}`);
  assert.ok(layers[6].kl > 0);
  // The last block's reading is the output: its KL is the final KL, computed here from
  // the native CLI's logits (the page no longer receives the logits at all).
  const exp = await page.evaluate(() => window.hooklab.exportObject());
  const lp = (l) => { const m = Math.max(...l); const z = Math.log(l.reduce((a, x) => a + Math.exp(x - m), 0)) + m; return l.map((x) => x - z); };
  const nb = nativeRun(MODEL_DIR, exp.prompt), ni = nativeRun(MODEL_DIR, exp.prompt, exp.interventions);
  const a = lp(nb.logits_last), b = lp(ni.logits_last);
  const kl = a.reduce((s, x, i) => s + Math.exp(x) * (x - b[i]), 0);
  // (b) page (wasm) vs native CLI: the KL's tolerance from the two native runs' derived logit tolerances.
  const klTol = klTolerance(nativeTolerance(nb), nativeTolerance(ni), nb.logits_last, ni.logits_last);
  assert.ok(Math.abs(layers[cfg.n_layer - 1].kl - kl) <= klTol, `${layers[cfg.n_layer - 1].kl} vs ${kl}, tolerance ${klTol}`);
  assert.equal(await page.locator('#fig-lens').isVisible(), true);
  await page.locator('#top-section').screenshot({ path: join(REPO, 'test-results/16-logit-lens.png') });
  assert.deepEqual(errors, []);
  await page.close();
});

test('honours prefers-reduced-motion', async () => {
  const page = await env.context.newPage();
  await page.emulateMedia({ reducedMotion: 'reduce' });
  await page.goto(`${env.url}index.html?lang=en&ex4=9,10`);
  await waitForRun(page);
  assert.equal(await page.evaluate(() => window.hooklab.chartAnimation('resid')), false);
  await page.close();
});
