// One download (#28): a course page on another origin with two <gpt2-hooklab> embeds, loaded
// and then reloaded, makes the lab's server send model.safetensors once in all. The page keeps
// the embedded model in Cache Storage keyed by content (files.json's sha256, web/build.sh),
// and a lock makes the second embed wait for the first one's copy. Checked against a server
// with validators (`npm start`'s handler) and against one without (a host that sends no ETag
// or Last-Modified: only Cache Storage can save the download there); plus the validators
// themselves (304 to If-None-Match and If-Modified-Since).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from './helpers.mjs';
import { startServer } from './server.mjs';

const WEIGHTS = '/models/default/model.safetensors';
let env;
before(async () => { env = await launch(); });
after(async () => { await env?.close(); });

const COURSE = (lab) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Course</title>
<script type="module" src="${lab}hooklab-element.js"></script></head><body>
<gpt2-hooklab lang="en" ex3="9,0.1" src="${lab}index.html" height="500px"></gpt2-hooklab>
<gpt2-hooklab lang="en" ex4="9,10" src="${lab}index.html" height="500px"></gpt2-hooklab>
</body></html>`;

async function labsReady(page) {
  await page.waitForFunction(() => document.querySelectorAll('gpt2-hooklab').length === 2);
  const deadline = Date.now() + 180000;
  for (;;) {
    const frames = page.frames().filter((f) => f.url().includes('/index.html'));
    if (frames.length === 2) {
      const ready = await Promise.all(frames.map((f) => f.evaluate(() => !!window.hooklab?.ready).catch(() => false)));
      if (ready.every(Boolean)) return frames;
    }
    if (Date.now() > deadline) throw new Error('the two embeds did not load their model within 180 s');
    await page.waitForTimeout(250);
  }
}

for (const validators of [true, false]) {
  test(`two embeds, loaded twice: model.safetensors is sent once (a server ${validators ? 'with' : 'without'} validators)`, async () => {
    const served = [];
    const lab = await startServer({ validators, onServed: (r) => served.push(r) });
    const course = await startServer({ extraRoutes: { '/course.html': { type: 'text/html', body: COURSE(lab.url) }, '/favicon.ico': { type: 'image/x-icon', body: '' } } });
    const page = await env.context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    try {
      await page.goto(`${course.url}course.html`);
      await labsReady(page);
      await page.reload();
      await labsReady(page);
      const gets = served.filter((r) => r.method === 'GET' && r.path === WEIGHTS);
      const full = gets.filter((r) => r.status === 200).length;
      assert.equal(full, 1, `full downloads of ${WEIGHTS} over two loads of a two-embed page: ${JSON.stringify(gets)}`);
      assert.ok(gets.every((r) => r.status === 200 || r.status === 304), JSON.stringify(gets));
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
      await course.close();
      await lab.close();  // the next case's lab is another origin: another, empty Cache Storage
    }
  });
}

test('npm start\'s handler sends validators and answers 304', async () => {
  const srv = await startServer();
  try {
    const url = `${srv.url}${WEIGHTS.slice(1)}`;
    const first = await fetch(url, { method: 'HEAD' });
    assert.equal(first.status, 200);
    const etag = first.headers.get('etag');
    const lastModified = first.headers.get('last-modified');
    assert.ok(etag && lastModified, 'ETag and Last-Modified');
    assert.equal(first.headers.get('cache-control'), 'no-cache');
    const byTag = await fetch(url, { headers: { 'if-none-match': etag } });
    assert.equal(byTag.status, 304);
    assert.equal((await byTag.arrayBuffer()).byteLength, 0);
    assert.equal((await fetch(url, { headers: { 'if-modified-since': lastModified } })).status, 304);
    const changed = await fetch(url, { headers: { 'if-none-match': '"other"' } });
    assert.equal(changed.status, 200);
    await changed.body.cancel();
  } finally {
    await srv.close();
  }
});
