// Issue #28, "Lessons as files", in Chromium on the built page: lesson=chapter renders lesson 1
// (lessons/chapter.md) in Vietnamese and English, its experiment buttons put the page in
// their state, and a question's reveal says the truth `npx hooklab check` computes in node for
// the same lesson (the same experiment state, the same truth table, the same engine).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { launch, waitForRun, REPO } from './helpers.mjs';
import { parseLesson } from '../../web/src/lesson-file.js';

let env, node;
const lesson = parseLesson(readFileSync(join(REPO, 'lessons/chapter.md'), 'utf8'));
before(async () => {
  env = await launch();
  // The node checker's truths for lesson 1 (no answers: every question reported).
  const empty = join(mkdtempSync(join(tmpdir(), 'lesson-file-')), 'none.json');
  writeFileSync(empty, '{}');
  const r = spawnSync(process.execPath, [join(REPO, 'wasm/js/cli.js'), 'check', join(REPO, 'lessons/chapter.md'), empty, '--json', '--model', join(REPO, 'web/dist/models/default')], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stderr);
  node = Object.fromEntries(JSON.parse(r.stdout).questions.map((q) => [q.id, q.truth]));
});
after(async () => { await env?.close(); });

test('lesson=chapter renders lesson 1 in vi and en; a reveal says the node checker\'s truth for the same state', async () => {
  const page = await env.context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  try {
    await page.goto(`${env.url}index.html?lang=vi&lesson=chapter`);
    await waitForRun(page);
    const sec = page.locator('#lesson-file');
    assert.equal(await sec.isVisible(), true);
    assert.equal((await sec.locator('h2.lesson-title').textContent()).trim(), lesson.title.vi);
    const text = await sec.innerText();
    assert.match(text, /Làm im lặng một head attention/);
    assert.match(text, /Mở thí nghiệm này trên trang/);
    assert.doesNotMatch(text, /Silence one attention head/, 'one language at a time');
    const q = lesson.questions.find((x) => x.id === 'shrink-recover');
    assert.equal((await sec.locator('[data-q="shrink-recover"] legend').textContent()).trim(), q.text.vi);
    assert.equal(await page.evaluate(() => window.hooklab.state.ex.ex3.on), false, 'the page starts without the experiment');

    // Predict, then reveal: the reveal runs the question's experiment in the page (ex3 = 9,0.1).
    const wrong = node['shrink-recover'] === 'yes' ? 'no' : 'yes';
    await sec.locator(`[data-q="shrink-recover"] input[value="${wrong}"]`).check();
    await sec.locator('[data-reveal="shrink-recover"]').click();
    await page.waitForSelector('[data-q="shrink-recover"] .lesson-truth', { timeout: 60000 });
    assert.equal(await sec.locator('[data-q="shrink-recover"] .lesson-truth').getAttribute('data-truth'), node['shrink-recover']);
    assert.match(await sec.locator('[data-q="shrink-recover"] .verdict').textContent(), /✗ Dự đoán của bạn chưa đúng\./);
    const st = await page.evaluate(() => window.hooklab.state);
    assert.deepEqual([st.ex.ex3.on, st.ex.ex3.layer, st.ex.ex3.factor, st.ex.ex1.on], [true, 9, 0.1, false], 'the page is in the experiment\'s state');
    assert.equal(new URL(page.url()).searchParams.get('ex3'), '9,0.1');

    // English: the same lesson, the revealed truth kept; another experiment, another truth.
    await page.locator('#lang').selectOption('en');
    assert.equal((await sec.locator('h2.lesson-title').textContent()).trim(), lesson.title.en);
    assert.match(await sec.innerText(), /Silence one attention head/);
    assert.equal((await sec.locator('[data-q="uniform"] legend').textContent()).trim(), lesson.questions.find((x) => x.id === 'uniform').text.en);
    assert.equal(await sec.locator('[data-q="shrink-recover"] .lesson-truth').getAttribute('data-truth'), node['shrink-recover']);
    await sec.locator(`[data-q="uniform"] input[value="${node.uniform}"]`).check();
    await sec.locator('[data-reveal="uniform"]').click();
    await page.waitForSelector('[data-q="uniform"] .lesson-truth', { timeout: 60000 });
    assert.equal(await sec.locator('[data-q="uniform"] .lesson-truth').getAttribute('data-truth'), node.uniform);
    assert.match(await sec.locator('[data-q="uniform"] .verdict').textContent(), /✓ Your guess held\./);
    assert.equal(await page.evaluate(() => window.hooklab.state.ex.ex1.on), true);
    // The experiment buttons open their state too.
    await sec.locator('[data-experiment="grow"] button').click();
    await page.waitForFunction(() => window.hooklab.state.ex.ex4.on && !window.hooklab.state.ex.ex1.on);
    assert.deepEqual(await page.evaluate(() => window.hooklab.lessonFile().truths), { 'shrink-recover': node['shrink-recover'], uniform: node.uniform });
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

test('a lesson file on the page\'s origin opens from a link (lesson=lessons/induction.md); a missing one is said', async () => {
  const empty = join(mkdtempSync(join(tmpdir(), 'lesson-file-')), 'none.json');
  writeFileSync(empty, '{}');
  const r = spawnSync(process.execPath, [join(REPO, 'wasm/js/cli.js'), 'check', join(REPO, 'lessons/induction.md'), empty, '--json', '--model', join(REPO, 'web/dist/models/induction')], { encoding: 'utf8' });
  const want = Object.fromEntries(JSON.parse(r.stdout).questions.map((q) => [q.id, q.truth]));
  const two = parseLesson(readFileSync(join(REPO, 'lessons/induction.md'), 'utf8'));
  const page = await env.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  try {
    await page.goto(`${env.url}index.html?lang=vi&lesson=lessons/induction.md`);
    const sec = page.locator('#lesson-file');
    await page.waitForSelector('#lesson-file h2.lesson-title', { timeout: 30000 });
    assert.equal((await sec.locator('h2.lesson-title').textContent()).trim(), two.title.vi);
    assert.equal((await sec.locator('[data-q="halves"] legend').textContent()).trim(), two.questions[0].text.vi);
    await sec.locator('[data-q="halves"] input[value="higher"]').check();
    await sec.locator('[data-reveal="halves"]').click();
    await page.waitForSelector('[data-q="halves"] .lesson-truth', { timeout: 120000 });
    assert.equal(await sec.locator('[data-q="halves"] .lesson-truth').getAttribute('data-truth'), want.halves);
    assert.equal(await page.evaluate(() => window.hooklab.state.model), 'induction', 'the reveal ran on the lesson\'s model');
    await sec.locator('#lf-induction-block').fill(want['induction-block']);
    await sec.locator('#lf-induction-block').dispatchEvent('change');
    await sec.locator('[data-reveal="induction-block"]').click();
    await page.waitForSelector('[data-q="induction-block"] .lesson-truth', { timeout: 120000 });
    assert.equal(await sec.locator('[data-q="induction-block"] .lesson-truth').getAttribute('data-truth'), want['induction-block']);
    assert.match(await sec.locator('[data-q="induction-block"] .verdict').textContent(), /^✓/);

    await page.goto(`${env.url}index.html?lang=en&lesson=lessons/nope.md`);
    await page.waitForSelector('#lesson-file .error', { timeout: 30000 });
    assert.match(await sec.locator('.error').textContent(), /The lesson "lessons\/nope\.md" could not be read: HTTP 404/);
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

// Issue #28's leftovers 1 and 2: set-state {lesson} after load opens, switches and (null)
// closes the lesson; predict mode asks lesson 1's questions from lessons/chapter.md (the one
// place they are written), and not a second time beside the open lesson.
test('set-state {lesson} opens, switches and closes a lesson; predict mode asks lesson 1\'s questions from its file, once', async () => {
  const page = await env.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  const setState = (state) => page.evaluate(async (state) => {
    const out = [];
    const h = (e) => { if (e.data?.type === 'hooklab:error') out.push(e.data.error); };
    window.addEventListener('message', h);
    window.postMessage({ type: 'hooklab:set-state', state, v: 1 }, location.origin);
    await new Promise((r) => setTimeout(r, 300));
    window.removeEventListener('message', h);
    return out;
  }, state);
  try {
    await page.goto(`${env.url}index.html?lang=en&ex3=9,0.1&predict=1`);
    await waitForRun(page);
    const sec = page.locator('#lesson-file');
    assert.equal(await sec.isHidden(), true, 'no lesson at load');
    // Predict mode: the questions of lesson 1 whose experiment is this state (shrink), worded by the file.
    const shrink = lesson.questions.filter((q) => q.experiment === 'shrink');
    assert.deepEqual(await page.locator('#questions fieldset legend').allTextContents(), shrink.map((q) => q.text.en));
    await page.locator('#questions [data-q="shrink-recover"] input[value=yes]').check();
    await page.locator('#reveal').click();
    await page.waitForFunction(() => /Actual:/.test(document.querySelector('#questions [data-q="shrink-recover"]').textContent));
    const said = await page.locator('#questions [data-q="shrink-recover"]').textContent();
    assert.match(said, new RegExp(`Actual: ${node['shrink-recover'] === 'yes' ? 'Yes' : 'No'}`), 'the node checker\'s truth');
    assert.match(said, /the later blocks undid [\d.]+%/);

    // set-state {lesson: 'chapter'}: lesson 1 opens without a reload; its questions are not repeated below.
    assert.deepEqual(await setState({ lesson: 'chapter' }), []);
    await page.waitForSelector('#lesson-file h2.lesson-title');
    assert.equal((await sec.locator('h2.lesson-title').textContent()).trim(), lesson.title.en);
    assert.equal(await page.evaluate(() => window.hooklab.state.lesson), 'chapter');
    assert.equal(new URL(page.url()).searchParams.get('lesson'), 'chapter');
    assert.equal(await page.locator('#questions fieldset').count(), 0, 'lesson 1\'s questions once, in the lesson');
    assert.equal(await page.evaluate(() => window.hooklab.lessonFile().id), 'chapter');

    // Switched to lesson 2, the guided path: the lesson file closes, the path opens.
    assert.deepEqual(await setState({ lesson: 'induction' }), []);
    await page.waitForFunction(() => document.querySelector('#lesson-section').open);
    assert.equal(await sec.isHidden(), true);
    assert.equal(await page.evaluate(() => window.hooklab.lessonFile()), null);
    // A lesson file by its link, then lesson 1 again.
    assert.deepEqual(await setState({ lesson: 'lessons/chapter.md' }), []);
    await page.waitForSelector('#lesson-file h2.lesson-title', { timeout: 30000 });
    assert.equal(await page.evaluate(() => document.querySelector('#lesson-section').open), false, 'the guided path closed');
    assert.equal(await page.evaluate(() => window.hooklab.state.lesson), 'lessons/chapter.md');
    // A bad value is refused, naming the key; the lesson stays.
    const bad = await setState({ lesson: 'https://elsewhere.example/x.md' });
    assert.match(bad.join('\n'), /lesson/);
    assert.equal(await sec.isVisible(), true);
    // null closes it.
    assert.deepEqual(await setState({ lesson: null }), []);
    await page.waitForFunction(() => document.querySelector('#lesson-file').hidden);
    assert.equal(await page.evaluate(() => window.hooklab.state.lesson ?? null), null);
    assert.equal(new URL(page.url()).searchParams.get('lesson'), null);
    assert.equal(await page.evaluate(() => document.querySelector('#lesson-section').open), false);
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});
