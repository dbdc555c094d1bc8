// Hub models: the download from https://huggingface.co/<repo>/resolve/main/ (answered
// here by Playwright routing with a small local checkpoint: no network), one progress bar,
// Cache Storage ("loaded from cache" on the next visit), the clear-cache button.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { launch, waitForRun, shot, REPO } from './helpers.mjs';

// Stands in for openai-community/gpt2 (a GPT-2-architecture checkpoint; tiny so it is quick).
const FAKE = existsSync(join(REPO, 'build/ckpt/mid/model.safetensors')) ? join(REPO, 'build/ckpt/mid') : join(REPO, 'web/dist/models/default');
let env;
const hits = [];

before(async () => {
  env = await launch();
  await env.context.route('https://huggingface.co/**', (route) => {
    const url = route.request().url();
    hits.push(url);
    const m = url.match(/^https:\/\/huggingface\.co\/openai-community\/gpt2\/resolve\/main\/(config\.json|model\.safetensors|vocab\.json|merges\.txt)$/);
    if (!m) return route.fulfill({ status: 404, body: 'not found' });
    const body = readFileSync(join(FAKE, m[1]));
    return route.fulfill({ status: 200, body, headers: { 'content-type': 'application/octet-stream', 'content-length': String(body.length), 'access-control-allow-origin': '*' } });
  });
});
after(async () => { await env?.close(); });

test('GPT-2 from the hub: download with progress, then from the cache, then cleared', async () => {
  const page = await env.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(`${env.url}index.html?lang=en`);
  await waitForRun(page);
  await page.locator('input[name=model][value=gpt2]').check();
  await page.locator('#load-btn').waitFor({ state: 'visible' });
  await page.locator('#load-btn').click();
  await page.waitForFunction(() => /downloaded/.test(document.querySelector('#model-info').textContent), null, { timeout: 60000 });
  await waitForRun(page);
  assert.ok(hits.length >= 4, `hub requests: ${hits.length}`);
  assert.match(await page.locator('#model-info').textContent(), /WebText/);
  assert.match(page.url(), /model=gpt2/);
  await shot(page, '13-hub-downloaded');

  // Second visit: straight from Cache Storage, no hub request.
  const before = hits.length;
  await page.goto(`${env.url}index.html?lang=en&model=gpt2`);
  await page.waitForFunction(() => /loaded from cache/.test(document.querySelector('#model-info').textContent), null, { timeout: 60000 });
  await waitForRun(page);
  assert.equal(hits.length, before);
  await shot(page, '14-hub-from-cache');

  // Clear: the next visit needs the Load button again.
  await page.locator('#clear-cache').click();
  await page.waitForFunction(() => /removed/.test(document.querySelector('#status').textContent));
  await page.goto(`${env.url}index.html?lang=en&model=gpt2`);
  await page.locator('#load-btn').waitFor({ state: 'visible' });
  assert.deepEqual(errors, []);
  await page.close();
});
