// Issue #28's "done when", in one course page: on another origin, a patching experiment and the
// induction lesson embedded side by side, each locked; the course page reads their numbers
// (getResult: the sweep; the heads the lesson is about), and each model is downloaded once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from './helpers.mjs';
import { startServer } from './server.mjs';

const esc = (s) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
const PATCHING = `id="patching" lang="en" pclean="${esc('When the man came home, he')}" pcorr="${esc('When the men came home, they')}"
  pans="${esc(' was')}" pwrong="${esc(' were')}" phook="resid_pre" autorun="patch" locked="pclean,pcorr,pans,pwrong,phook,model"
  views="patch" picker="hidden" height="600px"`;
const LESSON = `id="lesson" lang="vi" model="induction" lesson="induction" heads="induction,1" repeat="20,0" autorun="heads"
  locked="model,lesson,heads,repeat" views="heads" picker="hidden" height="600px"`;
const COURSE = (lab) => `<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Khoá học</title>
<script type="module" src="${lab}hooklab-element.js"></script></head><body>
<gpt2-hooklab src="${lab}index.html" ${PATCHING}></gpt2-hooklab>
<gpt2-hooklab src="${lab}index.html" ${LESSON}></gpt2-hooklab>
</body></html>`;

let env, lab, course;
const served = [];
const courseRoutes = { '/favicon.ico': { type: 'image/x-icon', body: '' } };
before(async () => {
  env = await launch();
  course = await startServer({ extraRoutes: courseRoutes });
  // The lab allows the course's origin (embed-origins.json), as a course author configures it.
  const allowed = { allowedOrigins: [new URL(course.url).origin] };
  lab = await startServer({ onServed: (r) => served.push(r), extraRoutes: { '/embed-origins.json': { type: 'application/json', body: JSON.stringify(allowed) } } });
  assert.notEqual(new URL(lab.url).origin, new URL(course.url).origin);
  courseRoutes['/course.html'] = { type: 'text/html', body: COURSE(lab.url) };
});
after(async () => { await env?.close(); await course?.close(); await lab?.close(); });

test('a patching experiment and the induction lesson on a course page: locked, read, each model downloaded once', async () => {
  const page = await env.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  try {
    await page.goto(`${course.url}course.html`);
    const read = (id) => page.evaluate((i) => document.getElementById(i).getResult({ timeout: 120000 }), id);
    const [sweep, lesson] = await Promise.all([read('patching'), read('lesson')]);

    // The patching experiment: the author's pair, its sweep in the export format.
    assert.equal(sweep.v, 1);
    assert.equal(sweep.patching.clean, 'When the man came home, he');
    assert.equal(sweep.patching.hook, 'resid_pre');
    const { logit_diff: rows, clean_logit_diff: clean, corrupted_logit_diff: corrupted } = sweep.patching.sweep;
    assert.equal(rows.length, sweep.patching.model.n_layer);
    assert.ok(rows.flat().every(Number.isFinite));
    assert.ok(clean > corrupted, JSON.stringify([clean, corrupted]));

    // The lesson: the lesson model's heads on repeated random tokens, its induction heads in block 1.
    assert.match(lesson.model.name, /HookLab-Induction/, JSON.stringify(lesson.model));
    const ind = lesson.heads.baseline.induction;
    const best = Math.max(...ind[1].filter(Number.isFinite));
    assert.ok(best >= 0.5, `best induction score in block 1: ${best}`);
    assert.ok(Math.max(...ind[0].filter(Number.isFinite)) < 0.5, 'no induction head in block 0');

    // Locked: the model's radios are disabled; a change that reaches the handler anyway (a script
    // in the frame) is undone, and no other model is loaded behind the author's back.
    const frames = page.frames().filter((f) => f.url().includes('/index.html'));
    const lessonFrame = (await Promise.all(frames.map(async (f) => ((await f.evaluate(() => window.hooklab?.state?.model)) === 'induction' ? f : null)))).find(Boolean);
    assert.ok(lessonFrame, 'the lesson frame');
    const locked = await lessonFrame.evaluate(() => window.hooklab.state.locked);
    for (const k of ['model', 'lesson', 'heads', 'repeat']) assert.ok(locked.includes(k), `${k} locked: ${locked}`);
    await lessonFrame.evaluate(() => { const r = document.querySelector('input[name=model][value=default]'); if (r) { r.checked = true; r.dispatchEvent(new Event('change', { bubbles: true })); } });
    await lessonFrame.waitForTimeout(500);
    assert.equal(await lessonFrame.evaluate(() => window.hooklab.state.model), 'induction', 'the locked model is the author\'s');
    const again = await read('lesson');
    assert.match(again.model.name, /HookLab-Induction/, 'the locked model stays the author\'s');

    // One download per model: each embed's model.safetensors sent once.
    for (const m of ['default', 'induction']) {
      const gets = served.filter((r) => r.method === 'GET' && r.path === `/models/${m}/model.safetensors` && r.status === 200);
      assert.equal(gets.length, 1, `${m}: ${JSON.stringify(gets)}`);
    }
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});
