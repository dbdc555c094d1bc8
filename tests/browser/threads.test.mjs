// Threads in Chromium: served cross-origin isolated (as `npm start` serves it), the engine
// runs its threaded build in a module Web Worker (as the page does) and gives the very
// JSON of the single-threaded fallback, which a page that is not isolated gets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage } from './helpers.mjs';
import { startServer } from './server.mjs';

// A page that loads the engine in a module worker and reports what it ran on.
const ROUTES = {
  '/threads-test.html': { type: 'text/html', body: `<!doctype html><meta charset="utf-8"><title>threads</title><link rel="icon" href="data:,">
<script type="module">
  const w = new Worker('threads-worker.js' + location.search, { type: 'module' });
  window.result = new Promise((res) => { w.onmessage = (e) => res(e.data); w.onerror = (e) => res({ error: e.message }); });
</script>` },
  '/threads-worker.js': { type: 'text/javascript', body: `
import { HookLab } from './engine/js/hooklab.js';
const q = new URLSearchParams(location.search);
try {
  const lab = await HookLab.load(new URL('models/default/', location.href).href, q.has('threads') ? { threads: Number(q.get('threads')) } : {});
  const prompt = 'The quick brown fox jumps over the lazy dog. '.repeat(6) + 'Then';
  const json = lab.runJSON(prompt, { logits: true, capture: ['blocks.1.attn.hook_pattern'], interventions: [{ kind: 'zero_head_k', layer: 1, head: 0 }] });
  postMessage({ threads: lab.threads, isolated: self.crossOriginIsolated, cores: navigator.hardwareConcurrency, json });
  lab.dispose();
} catch (e) {
  postMessage({ error: String(e && e.stack || e) });
}` },
};

let env, isolated, plain;
before(async () => {
  env = await launch();
  isolated = await startServer({ extraRoutes: ROUTES });
  plain = await startServer({ extraRoutes: ROUTES, isolated: false });
});
after(async () => { await env?.close(); await isolated?.close(); await plain?.close(); });

async function engineRun(base, query = '') {
  const page = await env.context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${base}threads-test.html${query}`);
  const r = await page.evaluate(() => window.result);
  await page.close();
  assert.equal(r.error, undefined, r.error);
  assert.deepEqual(errors, []);
  return r;
}

test('isolated: the threaded build, same JSON as the fallback of a page that is not isolated', async () => {
  const fallback = await engineRun(plain.url);
  assert.equal(fallback.isolated, false);
  assert.equal(fallback.threads, 1);
  const def = await engineRun(isolated.url);
  assert.equal(def.isolated, true);
  assert.equal(def.threads, Math.min(def.cores, 8), 'default: the hardware\'s threads, at most 8');
  const three = await engineRun(isolated.url, '?threads=3');
  assert.equal(three.threads, 3);
  assert.equal(three.json, fallback.json);
  assert.equal(def.json, fallback.json);
  // Asking for threads where the page cannot have them is not an error: one thread.
  assert.equal((await engineRun(plain.url, '?threads=3')).threads, 1);
});

test('the page itself, served isolated, runs without errors', async () => {
  const { page, errors } = await openPage(env, '?lang=en');
  assert.equal(await page.evaluate(() => self.crossOriginIsolated), true);
  assert.deepEqual(errors, []);
  await page.close();
});
