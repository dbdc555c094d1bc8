// The JS API inside a module Web Worker in Chromium (what the page does): load from a
// base URL with progress, run an exercise, get the same numbers as in node, and a
// failing run that leaves the worker's engine usable.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { HookLab } from '../../wasm/js/hooklab.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const PROMPT = 'The quick brown fox jumps over the lazy dog';
const IV = { kind: 'zero_head_k', layer: 1, head: 2 };
const CAP = 'blocks.1.attn.hook_pattern';

const WORKER = `
import { HookLab, transferables } from '/wasm/js/hooklab.js';
self.onmessage = async () => {
  try {
    const progress = [];
    const lab = await HookLab.load(new URL('/build/ckpt/tiny_f32/', self.location.href).href, { onProgress: (p) => progress.push(p) });
    let error = null;
    try { lab.run('x', { interventions: [{ kind: 'zero_head_k', layer: 1, head: 99 }] }); } catch (e) { error = e instanceof Error ? e.message : 'not an Error'; }
    const out = lab.run(${JSON.stringify(PROMPT)}, { interventions: [${JSON.stringify(IV)}], topk: 3, capture: [${JSON.stringify(CAP)}] });
    const transfer = transferables(out);
    self.postMessage({ out, progress, error, kernel: lab.kernel }, transfer);
    // Transferred, not copied: the worker's array is detached.
    self.postMessage({ detached: out.captures[${JSON.stringify(CAP)}].data.length === 0 && transfer.length === 1 });
    lab.dispose();
  } catch (e) {
    self.postMessage({ fatal: String(e && e.stack || e) });
  }
};`;
const PAGE = `<!doctype html><script type="module">
const w = new Worker('/worker.js', { type: 'module' });
const got = [];
window.result = new Promise((resolve) => {
  w.onmessage = (e) => {
    got.push(e.data);
    if (e.data.fatal) resolve(e.data);
    if (got.length < 2) return;
    // Page side: the capture arrives as a Float32Array; plain arrays for the comparison.
    const r = got[0], c = r.out.captures[${JSON.stringify('blocks.1.attn.hook_pattern')}];
    r.f32 = c.data instanceof Float32Array;
    c.data = Array.from(c.data);
    r.detached = got[1].detached;
    resolve(r);
  };
  w.onerror = (e) => resolve({ fatal: e.message });
});
w.postMessage('go');
</script>`;
const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

test('the engine runs inside a module Web Worker (Chromium)', async () => {
  const { chromium } = await import('playwright-core');
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (path === '/') { res.writeHead(200, { 'content-type': 'text/html' }); return res.end(PAGE); }
    if (path === '/worker.js') { res.writeHead(200, { 'content-type': 'text/javascript' }); return res.end(WORKER); }
    const f = normalize(join(ROOT, path));
    if (!f.startsWith(ROOT) || !existsSync(f) || !statSync(f).isFile()) { res.writeHead(404); return res.end(); }
    const body = readFileSync(f);
    res.writeHead(200, { 'content-type': TYPES[extname(f)] || 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    const r = await page.evaluate(() => window.result);
    assert.equal(r.fatal, undefined, r.fatal);
    assert.equal(r.kernel, 'simd128-4x8');
    assert.match(r.error, /head 99 is out of range/);
    assert.equal(r.progress.at(-1), 1);
    assert.equal(r.f32, true);
    assert.equal(r.detached, true);
    const lab = await HookLab.load(join(ROOT, 'build/ckpt/tiny_f32'));
    const want = lab.run(PROMPT, { interventions: [IV], topk: 3, capture: [CAP] });
    want.captures[CAP].data = Array.from(want.captures[CAP].data);
    assert.deepEqual(r.out, want);
    lab.dispose();
  } finally {
    await browser.close();
    server.close();
  }
});
