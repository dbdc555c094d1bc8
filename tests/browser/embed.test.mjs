// Course pages: ?embed=1, the <gpt2-hooklab> element, and the postMessage API's origin
// and shape checks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, waitForRun, shot } from './helpers.mjs';
import { startServer } from './server.mjs';

let env, other, course, allowedLab;

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
after(async () => { await env?.close(); await other?.close(); await course?.close(); await allowedLab?.close(); });

// A course page on its own origin whose script listens from the start: every event the
// element fires is kept in window.events.
const COURSE = (labUrl) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Course</title>
<script type="module" src="${labUrl}hooklab-element.js"></script></head>
<body><gpt2-hooklab id="lab" lang="vi" ex3="9,0.1" prompt="The jury said" src="${labUrl}index.html"></gpt2-hooklab>
<script>
  window.events = [];
  for (const t of ['hooklab-state', 'hooklab-result']) document.getElementById('lab').addEventListener(t, (e) => window.events.push({ type: t, detail: e.detail }));
</script></body></html>`;

async function coursePage(url) {
  const page = await env.context.newPage();
  const errors = [], warnings = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); if (m.type() === 'warning') warnings.push(m.text()); });
  await page.goto(url);
  return { page, errors, warnings };
}

test('a course page on another origin listed in embed-origins.json: first state event, attribute changes, getResult', async () => {
  // Two servers: the course site, and a lab whose embed-origins.json allows it.
  const courseRoutes = { '/favicon.ico': { type: 'image/x-icon', body: '' } }; // else Chromium logs its 404
  course = await startServer({ extraRoutes: courseRoutes });
  const courseOrigin = new URL(course.url).origin;
  allowedLab = await startServer({ extraRoutes: { '/embed-origins.json': { type: 'application/json', body: JSON.stringify({ allowedOrigins: [courseOrigin] }) } } });
  assert.notEqual(new URL(allowedLab.url).origin, courseOrigin);
  courseRoutes['/chapter5.html'] = { type: 'text/html', body: COURSE(allowedLab.url) };
  const { page, errors, warnings } = await coursePage(`${course.url}chapter5.html`);
  const frame = await labFrame(page);
  await waitForFrame(frame);
  // The first hooklab-state, sent while the lab was still loading its allow-list, arrived.
  await page.waitForFunction(() => window.events.some((e) => e.type === 'hooklab-state'), null, { timeout: 10000 });
  const first = await page.evaluate(() => window.events.find((e) => e.type === 'hooklab-state').detail);
  assert.equal(first.lang, 'vi');
  assert.equal(first.ex3, '9,0.1');
  assert.equal(await page.evaluate(() => document.getElementById('lab').state.ex3), '9,0.1');
  // Attribute change → the lab re-runs → a hooklab-result event.
  const got = page.evaluate(() => new Promise((r) => document.getElementById('lab').addEventListener('hooklab-result', (e) => r(e.detail), { once: true })));
  await page.evaluate(() => document.getElementById('lab').setAttribute('ex4', '9,10'));
  const detail = await got;
  assert.equal(detail.interventions.filter((iv) => iv.kind === 'scale_hidden').length, 2);
  await waitForFrame(frame);
  const res = await page.evaluate(() => document.getElementById('lab').getResult({ timeout: 20000 }));
  assert.equal(res.baseline.resid_std.length, res.model.n_layer);
  assert.equal(res.interventions.length, 2);
  assert.deepEqual(warnings.filter((w) => /embed-origins/.test(w)), []);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a course page on an origin not in embed-origins.json: a console warning naming it, getResult() rejects saying why', async () => {
  const { page, warnings } = await coursePage(`${other.url}host.html`); // the lab is on env.url
  await labFrame(page);
  const otherOrigin = new URL(other.url).origin;
  const msg = await page.evaluate(() => document.getElementById('lab').getResult({ timeout: 1500 }).then(() => 'resolved', (e) => e.message));
  assert.match(msg, /no answer from the lab/);
  assert.ok(msg.includes(otherOrigin), msg);
  assert.ok(msg.includes(`${env.url}embed-origins.json`), msg);
  const w = warnings.find((x) => x.includes('embed-origins.json'));
  assert.ok(w, `a console warning, got: ${JSON.stringify(warnings)}`);
  assert.ok(w.includes(otherOrigin), w);
  assert.ok(w.includes(`${env.url}embed-origins.json`), w);
  assert.equal(await page.evaluate(() => document.getElementById('lab').state), null); // no event reached it
  await page.close();
});

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

test('<gpt2-hooklab> surfaces the lab\'s hooklab:error as a hooklab-error event', async () => {
  const page = await env.context.newPage();
  await page.route('**/host.html', (route) => route.fulfill({ contentType: 'text/html', body: HOST('') }));
  await page.goto(`${env.url}host.html`);
  const frame = await labFrame(page);
  const got = page.evaluate(() => new Promise((r) => document.getElementById('lab').addEventListener('hooklab-error', (e) => r(e.detail), { once: true })));
  // A value the lab cannot use: refused by the frame, which says which field and what it expects.
  await page.evaluate(() => document.getElementById('lab').setAttribute('ex3', 'banana'));
  const detail = await Promise.race([got, page.waitForTimeout(10000).then(() => 'no hooklab-error event within 10 s')]);
  assert.equal(typeof detail, 'object', String(detail));
  assert.match(detail.message, /ex3/);
  assert.match(detail.message, /banana/);
  assert.equal(detail.fields?.[0]?.key, 'ex3');
  assert.equal(detail.fields[0].value, 'banana');
  // The field keeps its value.
  assert.equal((await frame.evaluate(() => window.hooklab.state)).ex.ex3.factor, 0.1);
  await page.close();
});
