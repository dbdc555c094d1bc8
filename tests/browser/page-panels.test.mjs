// Issue #10 items 7, 11, 12, 14, 17 in Chromium: the compensation caption only where it is
// defined, exports that name their context and carry every number, the empty state of a hub
// model not yet downloaded, local models in the URL, and the new controls and charts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch, openPage, waitForRun, shot, close, REPO } from './helpers.mjs';

const MODEL_DIR = join(REPO, 'web/dist/models/default');
const cfg = JSON.parse(readFileSync(join(MODEL_DIR, 'config.json'), 'utf8'));
let env;
before(async () => { env = await launch(); });
after(async () => { await env?.close(); });

const caption = (page) => page.locator('#std-caption').textContent();

test('compensation: a share for the network only where it is defined, else the reason', async () => {
  const { page, errors } = await openPage(env, '?lang=en&ex3=5,0.1');
  assert.match(await caption(page), /the later blocks themselves did -?[\d.]+% and ln_f|did not undo|went past/);
  // The three cases.
  for (const [q, why] of [['ex3=5,0.1&ex4=9,10', /different blocks/], ['ex3=9,0.1&ex4=9,10', /multiply to ×1/], ['ex2=9,10,1,0&ex3=9,0.1&ex4=9,10', /other exercises are on/]]) {
    await page.goto(`${env.url}index.html?lang=en&${q}`);
    await waitForRun(page);
    const c = await caption(page);
    assert.match(c, why, q);
    assert.doesNotMatch(c, /\d%/, `${q}: no percentage`);
  }
  // Predict mode asks lesson 1's questions (lessons/chapter.md): these interventions are none of
  // its experiments, so it asks nothing and never claims "undid −21%" (the truth's reason,
  // 'mixed', is tests/node/web-analysis.test.mjs's).
  await page.goto(`${env.url}index.html?lang=en&ex2=9,10,1,0&ex3=9,0.1&predict=1`);
  await waitForRun(page);
  await page.locator('#reveal').click();
  const q = await page.locator('#questions').textContent();
  assert.equal(await page.locator('#questions fieldset').count(), 0);
  assert.match(q, /Lesson 1 .* asks nothing about these interventions/);
  assert.doesNotMatch(q, /undid −|undid -/);
  assert.deepEqual(errors, []);
  await page.close();
});

// PNG iTXt chunks → {keyword: text}
function pngText(buf) {
  const out = {};
  for (let o = 8; o < buf.length;) {
    const len = buf.readUInt32BE(o), type = buf.toString('latin1', o + 4, o + 8);
    if (type === 'iTXt') {
      const d = buf.subarray(o + 8, o + 8 + len);
      const k = d.indexOf(0);
      let p = k + 3;
      p = d.indexOf(0, p) + 1;
      p = d.indexOf(0, p) + 1;
      out[d.toString('latin1', 0, k)] = d.toString('utf8', p);
    }
    o += 12 + len;
  }
  return { text: out, width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

test('exports name model, prompt, interventions and date; the CSV and JSON carry every number shown', async () => {
  const prompt = 'The jury said that the city';
  const { page, errors } = await openPage(env, `?lang=en&prompt=${encodeURIComponent(prompt)}&ex1=9.2&ex2=9,10,1,7&ex3=9,0.1&lens=1`);
  await page.waitForFunction(() => window.hooklab.lensData(), null, { timeout: 120000 });
  const save = async (sel) => {
    const [d] = await Promise.all([page.waitForEvent('download'), page.locator(sel).click()]);
    return readFileSync(await d.path());
  };
  // One chart's PNG: a header above the chart, and the same facts in text chunks.
  const canvasH = await page.evaluate(() => document.querySelector('#fig-resid canvas').height);
  const png = pngText(await save('#fig-resid .png-btn'));
  assert.ok(png.height > canvasH + 60, `${png.height} vs chart ${canvasH}`);
  assert.match(png.text.Title, /Residual stream/);
  assert.match(png.text.Model, new RegExp(`${cfg.hooklab.name}.*not GPT-2 small`));
  assert.equal(png.text.Prompt, JSON.stringify(prompt));
  assert.match(png.text.Interventions, /zero the Key of head 2 in block 9; N\(10, 1\) noise .* block 9, seed 7; block 9 output × 0\.1/);
  assert.ok(Math.abs(Date.parse(png.text['Creation Time']) - Date.now()) < 600000);
  const hf = pngText(await save('#fig-hf .png-btn'));
  assert.notEqual(hf.text.Title, png.text.Title, 'the two std charts can be told apart');
  const all = pngText(await save('#export-png'));
  assert.equal(all.text.Prompt, JSON.stringify(prompt));
  // JSON: the logit lens, the date, the model's name.
  const exp = JSON.parse(await save('#export-json'));
  assert.equal(exp.logit_lens.length, cfg.n_layer);
  assert.equal(exp.model.name, cfg.hooklab.name);
  assert.ok(exp.date);
  // CSV: context rows, KL, logit lens, attention, MLP, hook statistics.
  const csv = (await save('#export-csv')).toString().split('\n');
  assert.equal(csv[0], 'table,index,label,baseline,intervened');
  assert.match(csv[1], new RegExp(`^meta,0,model,${cfg.hooklab.name}`));
  assert.equal(csv[2], `meta,1,prompt,${prompt},`);
  for (const t of ['kl_final', 'logit_lens_kl', 'logit_lens_top1_token', 'capture blocks.9.attn.hook_pattern', 'capture blocks.9.mlp.hook_post', 'stats hook_resid_post std', 'next_token_prob'])
    assert.ok(csv.some((l) => l.startsWith(`${t},`)), t);
  const T = exp.baseline.tokens.length;
  assert.equal(csv.filter((l) => l.startsWith('capture blocks.9.attn.hook_pattern,')).length, cfg.n_head * T * T);
  const kl = csv.find((l) => l.startsWith(`logit_lens_kl,${cfg.n_layer - 1},`)).split(',')[3];
  assert.ok(close(Number(kl), exp.logit_lens[cfg.n_layer - 1].kl, 1e-12));
  assert.deepEqual(errors, []);
  await page.close();
});

test('a hub model not downloaded yet: what will be fetched, its size, a clear Load button, no dead panels', async () => {
  const { page, errors } = await openPage(env, '?lang=en&model=gpt2&ex3=9,0.1', { waitResult: false });
  await page.locator('#empty-state').waitFor({ state: 'visible' });
  const text = await page.locator('#empty-text').textContent();
  assert.match(text, /GPT-2 small/);
  assert.match(text, /550 MB/);
  assert.match(text, /huggingface\.co/);
  assert.match(text, /model\.safetensors/);
  const btn = page.locator('#load-btn');
  assert.equal(await btn.isVisible(), true);
  assert.match(await btn.textContent(), /Download GPT-2 small \(550 MB\)/);
  assert.ok((await btn.boundingBox()).height >= 36);
  for (const id of ['#export-json', '#export-csv', '#export-png']) assert.equal(await page.locator(id).isDisabled(), true, id);
  assert.equal(await page.locator('#std-section').isVisible(), false);
  assert.equal(await page.locator('#tuple-section').isVisible(), false);
  assert.match(await page.locator('#code').textContent(), /openai-community\/gpt2/);
  await shot(page, 'issue10-hub-empty-state');
  assert.deepEqual(errors, []);
  await page.close();
});

test('local files are in the URL; a link to them asks for the files', async () => {
  const files = ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt'].map((f) => join(MODEL_DIR, f));
  const { page, errors } = await openPage(env, '?lang=en&ex3=9,0.1');
  await page.locator('input[name=model][value=local]').check();
  await page.locator('#files').setInputFiles(files);
  await page.waitForFunction(() => /loaded from your files/.test(document.querySelector('#model-info').textContent), null, { timeout: 60000 });
  await waitForRun(page);
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('model'), 'local');
  await page.close();
  const { page: p2 } = await openPage(env, url.search, { waitResult: false });
  await p2.locator('#empty-state').waitFor({ state: 'visible' });
  assert.match(await p2.locator('#empty-text').textContent(), /local files.*Choose its four files/);
  assert.equal(await p2.locator('input[name=model][value=local]').isChecked(), true);
  assert.equal(await p2.locator('#drop').isVisible(), true);
  await p2.locator('#files').setInputFiles(files);
  await waitForRun(p2);
  assert.equal((await p2.evaluate(() => window.hooklab.exportObject())).model.id, 'local');
  assert.equal(await p2.locator('#empty-state').isHidden(), true);
  assert.deepEqual(errors, []);
  await p2.close();
});

// Std (N-1) per position, computed here independently of the page.
function stdPerPosition(cap, attn) {
  const [a, b] = cap.shape;
  const T = attn ? b : a;
  return Array.from({ length: T }, (_, q) => {
    const v = [];
    if (attn) for (let h = 0; h < a; h++) for (let k = 0; k <= q; k++) v.push(cap.data[(h * T + q) * T + k]);
    else { const w = cap.data.length / T; for (let j = 0; j < w; j++) v.push(cap.data[q * w + j]); }
    const m = v.reduce((s, x) => s + x, 0) / v.length;
    return Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - 1));
  });
}

test('top-k control, reset, the intro, the MLP heading, any hook statistic per layer and per position', async () => {
  const { page, errors } = await openPage(env, '?lang=en&ex2=9,10,1,0&ex3=9,0.1');
  assert.equal(await page.locator('#intro').isVisible(), true);
  assert.match(await page.locator('#intro').textContent(), /How to read these charts/);
  assert.match(await page.locator('#mlp-heading').textContent(), /Exercise 2: the MLP neurons of block 9/);
  // Top-k.
  await page.locator('#topk').fill('3');
  await waitForRun(page);
  assert.equal(new URL(page.url()).searchParams.get('topk'), '3');
  const top = await page.evaluate(() => window.hooklab.chartData('top'));
  assert.ok(top[0].length >= 3 && top[0].length <= 6, `${top[0].length} rows`);
  // Hook statistics: the chart is the run's stats.
  let exp = await page.evaluate(() => window.hooklab.exportObject());
  assert.deepEqual((await page.evaluate(() => window.hooklab.chartData('stats')))[0], exp.baseline.stats.hook_resid_post.std);
  await page.locator('#stat-hook').selectOption('attn.hook_pattern');
  await page.locator('#stat-kind').selectOption('max');
  await page.locator('#stat-layer').fill('3');
  await waitForRun(page);
  exp = await page.evaluate(() => window.hooklab.exportObject());
  const stats = await page.evaluate(() => window.hooklab.chartData('stats'));
  assert.deepEqual(stats, [exp.baseline.stats['attn.hook_pattern'].max, exp.intervened.stats['attn.hook_pattern'].max]);
  const u = new URL(page.url()).searchParams;
  assert.deepEqual([u.get('hook'), u.get('stat'), u.get('hl')], ['attn.hook_pattern', 'max', '3']);
  // Per position: the std of the captured hook at each position.
  const pos = await page.evaluate(() => window.hooklab.chartData('pos'));
  const want = stdPerPosition(exp.baseline.captures['blocks.3.attn.hook_pattern'], true);
  pos[0].forEach((v, q) => assert.ok(close(v, want[q], 1e-5), `pos ${q}: ${v} vs ${want[q]}`));
  await page.locator('#stat-hook').selectOption('mlp.hook_post');
  await waitForRun(page);
  exp = await page.evaluate(() => window.hooklab.exportObject());
  const pos2 = await page.evaluate(() => window.hooklab.chartData('pos'));
  const want2 = stdPerPosition(exp.intervened.captures['blocks.3.mlp.hook_post'], false);
  pos2[1].forEach((v, q) => assert.ok(close(v, want2[q], 1e-5)));
  await page.locator('#stats-section').screenshot({ path: join(REPO, 'test-results/issue10-hook-stats.png') });
  // Reset: back to the defaults, the model kept.
  await page.locator('#reset').click();
  await waitForRun(page);
  const q = new URL(page.url()).searchParams;
  assert.deepEqual([...q.keys()].sort(), ['lang', 'model', 'prompt']);
  assert.equal(await page.locator('#ex3-on').isChecked(), false);
  assert.equal(await page.locator('#topk').inputValue(), '10');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a chart off screen is redrawn when it scrolls into view; reads and exports get the current data', async () => {
  const { page, errors } = await openPage(env, '?lang=en&ex3=5,0.1');
  await page.emulateMedia({ reducedMotion: 'reduce' }); // redraws at once, no animation frames
  const canvas = page.locator('#fig-stats canvas');
  const pixels = () => canvas.evaluate((c) => c.toDataURL());
  const toTop = () => page.evaluate(() => window.scrollTo(0, 0));
  await toTop();
  assert.ok(await canvas.evaluate((c) => c.getBoundingClientRect().top > innerHeight), 'the stats chart starts below the fold');
  await page.waitForTimeout(300); // the IntersectionObserver's first verdict
  const before = await pixels();
  await page.locator('#ex3-on').uncheck();
  await toTop();
  await waitForRun(page);
  assert.equal(await pixels(), before, 'off screen: not redrawn by the run');
  await canvas.scrollIntoViewIfNeeded();
  await page.waitForFunction((b) => document.querySelector('#fig-stats canvas').toDataURL() !== b, before, { timeout: 5000 });
  let [b, i] = await page.evaluate(() => window.hooklab.chartData('stats'));
  assert.deepEqual(i, b, 'no intervention: the intervened curve is the baseline');
  // Off screen again: a read draws the pending result first.
  await toTop();
  await page.waitForTimeout(300);
  await page.locator('#ex3-on').check();
  await toTop();
  await waitForRun(page);
  [b, i] = await page.evaluate(() => window.hooklab.chartData('stats'));
  assert.notDeepEqual(i, b, 'the read sees the intervened run');
  const exp = await page.evaluate(() => window.hooklab.exportObject());
  const { hook, stat } = await page.evaluate(() => window.hooklab.state);
  assert.deepEqual(i, Array.from(exp.intervened.stats[hook in exp.intervened.stats ? hook : 'hook_resid_post'][stat]));
  assert.deepEqual(errors, []);
  await page.close();
});

test('a run updates the charts in place: each dataset keeps its Chart.js controller, and shows the new data', async () => {
  const { page, errors } = await openPage(env, '?lang=en&ex3=5,0.1');
  await page.emulateMedia({ reducedMotion: 'reduce' });
  const keys = ['resid', 'hf', 'top'];
  // Controllers built anew on each run were most of a toggle's Chart.js time.
  await page.evaluate((ks) => {
    window.__ctl = Object.fromEntries(ks.map((k) => { const c = window.hooklab.chart(k); return [k, c.data.datasets.map((_, d) => c.getDatasetMeta(d).controller)]; }));
  }, keys);
  const before = await page.evaluate(() => window.hooklab.chartData('resid'));
  await page.locator('#ex3-on').uncheck();
  await waitForRun(page);
  const kept = await page.evaluate((ks) => ks.map((k) => { const c = window.hooklab.chart(k); return c.data.datasets.every((_, d) => c.getDatasetMeta(d).controller === window.__ctl[k][d]); }), keys);
  assert.deepEqual(kept, keys.map(() => true), keys.join(', '));
  const [b, i] = await page.evaluate(() => window.hooklab.chartData('resid'));
  assert.deepEqual(b, before[0], 'the baseline is kept');
  assert.notDeepEqual(i, before[1], 'the intervened curve is the new run');
  assert.deepEqual(i, b, 'no intervention: the intervened curve is the baseline');
  // The drawn elements follow the data: a point per value, at the new value.
  const y = await page.evaluate(() => { const c = window.hooklab.chart('resid'); return c.getDatasetMeta(1).data.map((p) => c.scales.y.getValueForPixel(p.y)); });
  y.forEach((v, k) => assert.ok(Math.abs(v - i[k]) <= 1e-6 * Math.max(1, Math.abs(i[k])), `point ${k}: ${v} vs ${i[k]}`));
  assert.deepEqual(errors, []);
  await page.close();
});

test('toggling an exercise does not move the page below the next-token chart, whose bars keep their thickness', async () => {
  // On the default model, exercise 3 at block 9 lists 17 tokens (the union of both top-10
  // lists) and exercises 3 and 4 together (x0.1 then x10) list 10.
  const { page, errors } = await openPage(env, '?lang=en&ex3=9,0.1');
  await page.emulateMedia({ reducedMotion: 'reduce' });
  const measure = () => page.evaluate(() => {
    const next = document.querySelector('#top-section').nextElementSibling;
    const c = window.hooklab.chart('top');
    return {
      box: document.querySelector('#fig-top .canvas-box').getBoundingClientRect().height,
      below: next.getBoundingClientRect().top + scrollY,
      rows: c.data.labels.length,
      bars: c.data.datasets.flatMap((_, d) => c.getDatasetMeta(d).data.map((b) => Math.round(b.height))),
    };
  });
  const states = [await measure()];
  for (const on of [true, false]) {
    await page.locator('#ex4-on').setChecked(on);
    await waitForRun(page);
    states.push(await measure());
  }
  assert.notEqual(states[0].rows, states[1].rows, 'the two states list different numbers of tokens');
  for (const s of states.slice(1)) {
    assert.equal(s.box, states[0].box, JSON.stringify(states));
    assert.equal(s.below, states[0].below, JSON.stringify(states));
  }
  const thickness = new Set(states.flatMap((s) => s.bars));
  assert.equal(thickness.size, 1, `bar thickness: ${[...thickness]}`);
  assert.deepEqual(errors, []);
  await page.close();
});
