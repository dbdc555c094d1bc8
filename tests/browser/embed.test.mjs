// Course pages: ?embed=1, the <gpt2-hooklab> element, and the postMessage API's origin
// and shape checks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, waitForRun, shot } from './helpers.mjs';
import { startServer } from './server.mjs';

let env, other;

const HOST = (src) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Course page</title>
<script type="module" src="${src}hooklab-element.js"></script></head>
<body><h1>Chương 5 — a course page</h1>
<gpt2-hooklab id="lab" lang="vi" ex3="9,0.1" prompt="The jury said" height="900px" ${src ? `src="${src}index.html"` : ''}></gpt2-hooklab>
</body></html>`;

before(async () => {
  env = await launch();
  // A second origin (another port) for the cross-origin checks.
  other = await startServer({ extraRoutes: { '/host.html': { type: 'text/html', body: HOST(env.url) } } });
});
after(async () => { await env?.close(); await other?.close(); });

async function labFrame(page) {
  const handle = await page.waitForSelector('gpt2-hooklab');
  await page.waitForFunction(() => document.querySelector('gpt2-hooklab')?.shadowRoot?.querySelector('iframe')?.src);
  const el = await handle.evaluateHandle((e) => e.shadowRoot.querySelector('iframe'));
  const frame = await (await el.asElement()).contentFrame();
  await frame.waitForFunction(() => window.hooklab?.ready && !document.body.classList.contains('busy'), null, { timeout: 60000 });
  return frame;
}

test('embed=1 is a compact layout without the code, tuple and export panels', async () => {
  const { page, errors } = await openPage(env, '?embed=1&lang=en&ex4=9,10');
  assert.equal(await page.locator('#code-section').isHidden(), true);
  assert.equal(await page.locator('#export-section').isHidden(), true);
  assert.equal(await page.locator('#fig-resid canvas').isVisible(), true);
  assert.equal(await page.locator('#open-full').isVisible(), true);
  assert.doesNotMatch(await page.locator('#open-full').getAttribute('href'), /embed=1/);
  await page.setViewportSize({ width: 800, height: 900 });
  await shot(page, '11-embed');
  assert.deepEqual(errors, []);
  await page.close();
});

test('<gpt2-hooklab> takes its state from attributes and follows attribute changes', async () => {
  const page = await env.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.route('**/host.html', (route) => route.fulfill({ contentType: 'text/html', body: HOST('') }));
  await page.goto(`${env.url}host.html`);
  const frame = await labFrame(page);
  let st = await frame.evaluate(() => window.hooklab.state);
  assert.equal(st.lang, 'vi');
  assert.equal(st.embed, true);
  assert.equal(st.prompt, 'The jury said');
  assert.equal(st.ex.ex3.on, true);
  assert.equal(st.ex.ex3.factor, 0.1);
  // Attribute change → postMessage → re-run, and a hooklab-result event on the element.
  const got = page.evaluate(() => new Promise((r) => document.getElementById('lab').addEventListener('hooklab-result', (e) => r(e.detail), { once: true })));
  await page.evaluate(() => document.getElementById('lab').setAttribute('ex1', '9.2'));
  const detail = await got;
  assert.ok(detail.interventions.some((iv) => iv.kind === 'zero_head_k'));
  await waitForFrame(frame);
  st = await frame.evaluate(() => window.hooklab.state);
  assert.equal(st.ex.ex1.on, true);
  // getResult() over postMessage gives the full export.
  const res = await page.evaluate(() => document.getElementById('lab').getResult());
  assert.equal(res.baseline.resid_std.length, res.model.n_layer);
  await shot(page, '12-custom-element');
  assert.deepEqual(errors, []);
  await page.close();
});

async function waitForFrame(frame) {
  await frame.waitForTimeout(400);
  await frame.waitForFunction(() => !document.body.classList.contains('busy'), null, { timeout: 60000 });
}

test('postMessage: other origins are ignored, malformed messages refused', async () => {
  const page = await env.context.newPage();
  await page.goto(`${other.url}host.html`); // the lab is on env.url: a different origin
  const frame = await labFrame(page);
  const before = await frame.evaluate(() => window.hooklab.state);
  // The element's own setState from a non-allow-listed origin: ignored.
  await page.evaluate(() => document.getElementById('lab').setState({ ex2: '9,10,1,0', prompt: 'pwned' }));
  await page.waitForTimeout(800);
  assert.deepEqual(await frame.evaluate(() => window.hooklab.state), before);
  await page.close();

  // Same origin, but malformed: refused with an error reply, state unchanged.
  const { page: p2 } = await openPage(env, '?lang=en');
  const replies = await p2.evaluate(async () => {
    const out = [];
    window.addEventListener('message', (e) => out.push(e.data));
    const send = (m) => window.postMessage(m, location.origin);
    send({ type: 'hooklab:set-state', state: { evil: 'x' } });
    send({ type: 'hooklab:set-state', state: { prompt: { nested: 1 } } });
    send({ type: 'hooklab:get-state' });
    await new Promise((r) => setTimeout(r, 300));
    return out.filter((m) => m && m.type && m.type !== 'hooklab:set-state' && m.type !== 'hooklab:get-state');
  });
  assert.equal(replies.filter((m) => m.type === 'hooklab:error').length, 2);
  const stateReply = replies.find((m) => m.type === 'hooklab:state');
  assert.equal(stateReply.state.lang, 'en');
  // A well-formed one from this origin is applied.
  await p2.evaluate(() => window.postMessage({ type: 'hooklab:set-state', state: { ex4: '9,10' } }, location.origin));
  await waitForRun(p2);
  assert.equal((await p2.evaluate(() => window.hooklab.state)).ex.ex4.on, true);
  await p2.close();
});
