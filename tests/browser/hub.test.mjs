// Hub models: the download from https://huggingface.co/<repo>/resolve/main/ (answered
// here by Playwright routing with a small local checkpoint: no network), one progress bar,
// Cache Storage ("loaded from cache" on the next visit), the clear-cache button.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { launch, waitForRun, textMatching, shot, REPO } from './helpers.mjs';
import { startServer } from './server.mjs';
import { startHub } from '../node/hub-server.mjs';
import { HookLab } from '../../wasm/js/hooklab.js';

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

// The engine in a module worker of a cross-origin-isolated page (COOP/COEP, as `npm start`
// serves it), loading from the imitation hub on another origin: CORS requests, the LFS
// redirect, a dropped connection resumed with Range, and Cache Storage.
const ROUTES = {
  '/hub-test.html': { type: 'text/html', body: `<!doctype html><meta charset="utf-8"><title>hub</title><link rel="icon" href="data:,">
<script type="module">
  const w = new Worker('hub-worker.js' + location.search, { type: 'module' });
  window.result = new Promise((res) => { w.onmessage = (e) => res(e.data); w.onerror = (e) => res({ error: e.message }); });
</script>` },
  '/hub-worker.js': { type: 'text/javascript', body: `
import { HookLab } from './engine/js/hooklab.js';
const base = new URLSearchParams(location.search).get('base');
try {
  const cache = await caches.open('hub-test');
  const runs = [];
  for (let i = 0; i < 2; i++) {
    const progress = [];
    const lab = await HookLab.load(base, { cache, threads: 1, onProgress: (p) => progress.push(p) });
    runs.push({ json: lab.runJSON('The quick brown fox', { topk: 5 }), fromCache: lab.fromCache, last: progress.at(-1) });
    lab.dispose();
  }
  postMessage({ isolated: self.crossOriginIsolated, runs, cached: (await cache.keys()).length });
} catch (e) {
  postMessage({ error: String(e && e.stack || e) });
}` },
};

test('cross-origin isolated page: the engine loads from a hub on another origin (CORS), resumes a drop, then reads Cache Storage', async () => {
  const hub = await startHub({ 'test-org/tiny-gpt2': FAKE }, { dropAfterBytes: 200000 });
  const srv = await startServer({ extraRoutes: ROUTES });
  try {
    const page = await env.context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const base = `${hub.base}/test-org/tiny-gpt2/resolve/main/`;
    await page.goto(`${srv.url}hub-test.html?base=${encodeURIComponent(base)}`);
    const r = await page.evaluate(() => window.result);
    await page.close();
    assert.equal(r.error, undefined, r.error);
    assert.deepEqual(errors, []);
    assert.equal(r.isolated, true);
    // The hub drops the connection after 200000 bytes. Chromium may report the error before
    // handing the last buffered bytes to the stream, so the resume starts where the reader
    // really got to: anywhere in (0, 200000], never from the start and never past the drop.
    const cdn = hub.log.filter((e) => e.method === 'GET' && e.path.startsWith('/cdn/')).map((e) => e.range);
    assert.equal(cdn.length, 2, JSON.stringify(hub.log));
    assert.equal(cdn[0], null);
    const from = Number(/^bytes=(\d+)-$/.exec(cdn[1] ?? '')?.[1]);
    assert.ok(from > 0 && from <= 200000, `resumed with ${cdn[1]}`);
    // Only the weights are asked with a HEAD (for a sha256); the small files' GETs start at once.
    const heads = hub.log.filter((e) => e.method === 'HEAD' && !e.path.startsWith('/cdn/')).map((e) => e.path.split('/').pop());
    assert.deepEqual([...new Set(heads)], ['model.safetensors'], JSON.stringify(hub.log));
    assert.deepEqual(r.runs.map((x) => [x.fromCache, x.last]), [[false, 1], [true, 1]]);
    assert.equal(r.cached, 4);
    const lab = await HookLab.load(FAKE, { threads: 1 });
    const want = lab.runJSON('The quick brown fox', { topk: 5 });
    lab.dispose();
    assert.equal(r.runs[0].json, want);
    assert.equal(r.runs[1].json, want);
  } finally {
    await srv.close();
    await hub.close();
  }
});

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
  assert.match(await textMatching(page, '#model-info', /downloaded/, 60000), /downloaded/);
  await waitForRun(page);
  assert.ok(hits.length >= 4, `hub requests: ${hits.length}`);
  assert.match(await page.locator('#model-info').textContent(), /WebText/);
  assert.match(page.url(), /model=gpt2/);
  await shot(page, '13-hub-downloaded');

  // Second visit: straight from Cache Storage, no hub request.
  const before = hits.length;
  await page.goto(`${env.url}index.html?lang=en&model=gpt2`);
  assert.match(await textMatching(page, '#model-info', /loaded from cache/, 60000), /loaded from cache/);
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
