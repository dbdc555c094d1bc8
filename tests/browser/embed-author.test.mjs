// Issue #28, "every experiment embeddable and readable" and "author controls": a course page
// on another origin embeds a patching experiment through <gpt2-hooklab> attributes, locked,
// with chosen views, no model picker, sized to its content; it reads the sweep through
// getResult, changes pclean through set-state, and a typo'd key is refused with a suggestion.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, shot } from './helpers.mjs';
import { startServer } from './server.mjs';

let env, course, lab;
const routes = { '/favicon.ico': { type: 'image/x-icon', body: '' } };

// Every event the element fires is kept in window.events, from the start.
const PAGE = (labUrl, attrs) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Course</title>
<script type="module" src="${labUrl}hooklab-element.js"></script></head>
<body><h1>Bài 3 — patching</h1><p>Above the lab.</p>
<gpt2-hooklab id="lab" src="${labUrl}index.html" ${attrs}></gpt2-hooklab>
<p id="below">Below the lab.</p>
<script>
  window.events = [];
  for (const t of ['hooklab-state', 'hooklab-result', 'hooklab-error']) document.getElementById('lab').addEventListener(t, (e) => window.events.push({ type: t, detail: e.detail }));
</script></body></html>`;

const esc = (s) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
const PATCH_ATTRS = `lang="en" prompt="The jury said" ex1="9.2" pclean="${esc('When the man came home, he')}" pcorr="${esc('When the men came home, they')}"
  pans="${esc(' was')}" pwrong="${esc(' were')}" phook="attn_out" pmetric="logit_diff" autorun="patch" locked="ex1,prompt"
  views="std,patch" picker="hidden" height="auto"`;

before(async () => {
  env = await launch();
  course = await startServer({ extraRoutes: routes });
  const courseOrigin = new URL(course.url).origin;
  lab = await startServer({ extraRoutes: { '/embed-origins.json': { type: 'application/json', body: JSON.stringify({ allowedOrigins: [courseOrigin] }) } } });
  assert.notEqual(new URL(lab.url).origin, courseOrigin);
});
after(async () => { await env?.close(); await course?.close(); await lab?.close(); });

async function open(name, attrs) {
  routes[`/${name}.html`] = { type: 'text/html', body: PAGE(lab.url, attrs) };
  const page = await env.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(`${course.url}${name}.html`);
  await page.waitForFunction(() => document.querySelector('gpt2-hooklab')?.shadowRoot?.querySelector('iframe')?.src);
  const handle = await page.evaluateHandle(() => document.querySelector('gpt2-hooklab').shadowRoot.querySelector('iframe'));
  const frame = await handle.asElement().contentFrame();
  await frame.waitForFunction(() => window.hooklab?.ready && !document.body.classList.contains('busy'), null, { timeout: 60000 });
  return { page, frame, errors };
}

const idle = async (frame) => {
  await frame.waitForTimeout(400);
  await frame.waitForFunction(() => !document.body.classList.contains('busy') && !document.querySelector('#patch-run')?.disabled, null, { timeout: 60000 });
};

test('a locked patching experiment from attributes: autorun, getResult with the sweep, views, no picker, auto height, set-state pclean', async () => {
  const { page, frame, errors } = await open('patching', PATCH_ATTRS);
  // The patching keys as attributes reached the lab.
  const st = await frame.evaluate(() => window.hooklab.state);
  assert.deepEqual([st.patch.clean, st.patch.corrupted, st.patch.answer, st.patch.wrong, st.patch.hook, st.patch.metric],
    ['When the man came home, he', 'When the men came home, they', ' was', ' were', 'attn_out', 'logit_diff']);
  assert.deepEqual([st.autorun, st.locked, st.views, st.picker], [['patch'], ['ex1', 'prompt'], ['std', 'patch'], 'hidden']);

  // autorun: no click, and getResult waits for the sweep, which it carries in the export format.
  const res = await page.evaluate(() => document.getElementById('lab').getResult({ timeout: 60000 }));
  assert.equal(res.format, 'hooklab-export');
  assert.equal(res.v, 1);
  assert.ok(res.patching, `a patching result, got views ${JSON.stringify(res.views)}`);
  assert.equal(res.patching.clean, 'When the man came home, he');
  assert.equal(res.patching.hook, 'attn_out');
  assert.equal(res.patching.sweep.by, 'position');
  assert.equal(res.patching.sweep.normalized.length, res.model.n_layer);
  assert.ok(res.patching.attribution, 'direct logit attribution of the clean prompt: ' + await frame.evaluate(() => ['patch-dla-err', 'patch-general-err', 'patch-status'].map((id) => document.getElementById(id).textContent).join(' / ')));
  assert.ok(res.views.includes('patching'), JSON.stringify(res.views));
  assert.deepEqual(res.pending, []);
  assert.equal(res.prompt, 'The jury said');
  // The broadcast hooklab-result carried it too (v: 1 on the wire: the element got it).
  await page.waitForFunction(() => window.events.some((e) => e.type === 'hooklab-result' && e.detail.patching), null, { timeout: 10000 });

  // views="std,patch": the others are hidden; the patching view is first in the compact embed.
  assert.equal(await frame.locator('#std-section').isVisible(), true);
  assert.equal(await frame.locator('#patch-section').isVisible(), true);
  for (const id of ['#top-section', '#stats-section', '#heads-section', '#generate-section', '#intro']) assert.equal(await frame.locator(id).isVisible(), false, id);
  const [patchTop, stdTop] = await frame.evaluate(() => ['patch-section', 'std-section'].map((id) => document.getElementById(id).getBoundingClientRect().top));
  assert.ok(patchTop < stdTop, `patching first: ${patchTop} < ${stdTop}`);
  assert.equal(await frame.locator('#fig-patch').isVisible(), true);

  // picker="hidden": no model picker, even with the controls unfolded.
  await frame.click('#controls-toggle');
  assert.equal(await frame.locator('#prompt').isVisible(), true);
  assert.equal(await frame.locator('input[name=model]').first().isVisible(), false);
  assert.equal(await frame.locator('#model-panel').isVisible(), false);

  // height="auto": the iframe is as tall as the lab's page (not the 720px default), and follows it.
  const fits = () => page.evaluate(() => {
    const f = document.querySelector('gpt2-hooklab').shadowRoot.querySelector('iframe');
    return [f.getBoundingClientRect().height, f.contentDocument ? null : 'cross-origin'];
  });
  const docH = () => frame.evaluate(() => Math.ceil(document.documentElement.getBoundingClientRect().height));
  // The lab's page keeps growing while the sweep's views render, and the frame follows a
  // frame later: wait until the two agree (within 2 px) rather than reading the first change.
  const settles = async (what) => {
    let h, d;
    for (const end = Date.now() + 15000; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
      [[h], d] = [await fits(), await docH()];
      if (Math.abs(h - d) <= 2) return h;
    }
    assert.fail(`iframe ${h} px, lab page ${d} px${what}`);
  };
  await page.waitForFunction(() => document.querySelector('gpt2-hooklab').shadowRoot.querySelector('iframe').getBoundingClientRect().height !== 720, null, { timeout: 10000 });
  let h = await settles('');
  await frame.click('#controls-toggle'); // fold again: the page shrinks, the frame follows
  await page.waitForFunction((prev) => document.querySelector('gpt2-hooklab').shadowRoot.querySelector('iframe').getBoundingClientRect().height < prev - 50, h, { timeout: 10000 });
  h = await settles(' after folding');

  // set-state {pclean} (an attribute change is one): applied, and autorun sweeps the new form.
  await page.evaluate(() => document.getElementById('lab').setAttribute('pclean', 'When the woman came home, she'));
  await frame.waitForFunction(() => window.hooklab.state.patch.clean === 'When the woman came home, she', null, { timeout: 10000 });
  await page.evaluate(() => document.getElementById('lab').setState({ pwrong: ' are' }));
  await frame.waitForFunction(() => window.hooklab.state.patch.wrong === ' are', null, { timeout: 10000 });
  await idle(frame);
  const res2 = await page.evaluate(() => document.getElementById('lab').getResult({ timeout: 60000 }));
  assert.equal(res2.patching.clean, 'When the woman came home, she');
  assert.equal(res2.patching.wrong, ' are');
  assert.deepEqual((await page.evaluate(() => window.events.filter((e) => e.type === 'hooklab-error'))), []);
  await shot(page, '28-embed-patching-locked');
  assert.deepEqual(errors, []);
  await page.close();
});

test('locked keys: the learner\'s edits and Reset do not change them, getResult returns the author\'s values; the author can', async () => {
  const { page, frame, errors } = await open('locked', 'lang="en" prompt="The jury said" ex3="9,0.1" ex4="9,10" locked="ex3,prompt" views="std,top"');
  await frame.click('#controls-toggle');
  assert.equal(await frame.locator('#prompt').isDisabled(), true);
  assert.equal(await frame.locator('#ex3-factor').isDisabled(), true);
  assert.equal(await frame.locator('#ex3-on').isDisabled(), true);
  assert.equal(await frame.locator('#ex4-factor').isDisabled(), false, 'an unlocked key stays editable');
  assert.match(await frame.locator('#locked-note').textContent(), /ex3, prompt/);
  // A learner who gets past the disabled fields (devtools, a script): the author's values stay.
  await frame.evaluate(() => {
    const set = (id, v) => { const el = document.getElementById(id); el.disabled = false; el.value = v; el.dispatchEvent(new Event('input', { bubbles: true })); };
    set('prompt', 'A learner typed this');
    set('ex3-factor', '5');
    set('ex4-factor', '2'); // not locked: applies
  });
  await idle(frame);
  let st = await frame.evaluate(() => window.hooklab.state);
  assert.equal(st.prompt, 'The jury said');
  assert.equal(st.ex.ex3.factor, 0.1);
  assert.equal(st.ex.ex4.factor, 2);
  assert.equal(await frame.locator('#prompt').inputValue(), 'The jury said');
  // Reset the experiment: ex4 goes, the locked ex3 and prompt stay.
  await frame.click('#reset');
  await idle(frame);
  st = await frame.evaluate(() => window.hooklab.state);
  assert.deepEqual([st.prompt, st.ex.ex3.on, st.ex.ex3.factor, st.ex.ex4.on], ['The jury said', true, 0.1, false]);
  let res = await page.evaluate(() => document.getElementById('lab').getResult({ timeout: 30000 }));
  assert.equal(res.prompt, 'The jury said');
  assert.deepEqual(res.interventions, [{ kind: 'scale_hidden', layer: 9, factor: 0.1 }]);
  // The author (the course page) can change a locked key.
  await page.evaluate(() => document.getElementById('lab').setAttribute('ex3', '9,0.5'));
  await frame.waitForFunction(() => window.hooklab.state.ex.ex3.factor === 0.5, null, { timeout: 10000 });
  await idle(frame);
  res = await page.evaluate(() => document.getElementById('lab').getResult({ timeout: 30000 }));
  assert.deepEqual(res.interventions, [{ kind: 'scale_hidden', layer: 9, factor: 0.5 }]);
  assert.equal(await frame.locator('#ex3-factor').inputValue(), '0.5');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a typo\'d attribute or set-state key is refused with the nearest key; wrong types are named', async () => {
  const { page, frame, errors } = await open('typo', 'lang="en" pcleen="When the boy came home, he" ex3="9,0.1"');
  await page.waitForFunction(() => window.events.some((e) => e.type === 'hooklab-error'), null, { timeout: 10000 });
  const first = await page.evaluate(() => window.events.find((e) => e.type === 'hooklab-error').detail);
  assert.match(first.message, /unknown key pcleen \(did you mean "pclean"\?\)/);
  assert.equal(first.fields[0].key, 'pcleen');
  assert.equal(first.fields[0].suggestion, 'pclean');
  assert.equal((await frame.evaluate(() => window.hooklab.state)).patch.clean, null, 'the typo did nothing');
  // set-state: a typo'd key and a wrong type, each refused whole with its reason.
  const errs = async (state) => {
    const n = await page.evaluate(() => window.events.filter((e) => e.type === 'hooklab-error').length);
    await page.evaluate((s) => document.getElementById('lab').setState(s), state);
    await page.waitForFunction((k) => window.events.filter((e) => e.type === 'hooklab-error').length > k, n, { timeout: 10000 });
    return page.evaluate(() => window.events.filter((e) => e.type === 'hooklab-error').at(-1).detail.message);
  };
  assert.match(await errs({ phok: 'z' }), /unknown state key phok \(did you mean "phook"\?\)/);
  assert.match(await errs({ ex3: true }), /bad value for ex3: true; expected "L,factor"/);
  assert.match(await errs({ views: 'std,lenz' }), /views: "std,lenz" cannot be used; expected the views shown/);
  assert.equal((await frame.evaluate(() => window.hooklab.state)).patch.hook, 'resid_pre');
  assert.deepEqual(errors, []);
  await page.close();
});
