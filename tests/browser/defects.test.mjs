// Issue #25 C: the defects a new user found, each checked in Chromium on the built page:
// the logit lens's text, the local-files message, the heads overview's scale, axes and
// notation and the readable thumbnails, a neutral new builder row, postMessage to the
// parent's origin only, set-state values refused with a reason, the Patching form checked
// as it is typed (old results dimmed), "Hook point" in Vietnamese, and the compact embed
// with a chart on the first screen.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, waitForRun, shot } from './helpers.mjs';
import { startServer } from './server.mjs';

let env;
const servers = [];
before(async () => { env = await launch(); });
after(async () => { await env?.close(); for (const s of servers) await s.close(); });

test('1. logit lens: computed in the run\'s own forward, and the caption says why ×0.1 at block 9 reads KL ≈ 0 there (en, vi)', async () => {
  const { page, errors } = await openPage(env, '?lang=en&ex3=9,0.1&lens=1');
  await page.waitForFunction(() => window.hooklab.lensData(), null, { timeout: 60000 });
  const toggle = await page.locator('label.lens-toggle').textContent();
  assert.doesNotMatch(toggle, /extra forward passes/);
  assert.match(toggle, /read in the run’s own forward pass, no extra passes/);
  await page.locator('#fig-lens').scrollIntoViewIfNeeded();
  await page.waitForFunction(() => /ln_f/.test(document.querySelector('#fig-lens .fig-cap')?.textContent ?? ''));
  const cap = await page.locator('#fig-lens .fig-cap').textContent();
  assert.doesNotMatch(cap, /repeated|set to zero/);
  assert.match(cap, /within the run’s own forward pass: no extra passes/);
  assert.match(cap, /×0\.1 at block 9\) reads KL ≈ 0 at that very block: ln_f undoes the scale/);
  // What the caption says is what the engine gives.
  const lens = await page.evaluate(() => window.hooklab.lensData());
  assert.ok(lens[9].kl < 1e-3, `KL at block 9: ${lens[9].kl}`);
  assert.ok(lens[10].kl > 0.1 && lens[11].kl > 0.1, `KL after block 9: ${lens[10].kl}, ${lens[11].kl}`);
  await page.locator('#lang').selectOption('vi');
  assert.match(await page.locator('label.lens-toggle').textContent(), /không thêm lượt nào/);
  assert.match(await page.locator('#fig-lens .fig-cap').textContent(), /×0,1 ở khối 9\) cho KL ≈ 0 ngay tại khối đó: ln_f đã xoá mất hệ số/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('2. local files: choosing them asks for the files; "this link" only when a link named them (en, vi)', async () => {
  for (const [lang, chose, link] of [['en', /^Choose the four files of a GPT-2 model from your computer/, /^This link uses a model from local files/], ['vi', /^Hãy chọn bốn tệp của một mô hình GPT-2 trên máy của bạn/, /^Liên kết này dùng một mô hình từ tệp trên máy/]]) {
    const { page, errors } = await openPage(env, `?lang=${lang}`);
    await page.locator('input[name=model][value=local]').check();
    await page.locator('#empty-state').waitFor({ state: 'visible' });
    const text = await page.locator('#empty-text').textContent();
    assert.match(text, chose);
    assert.doesNotMatch(text, link);
    // A link that names local files says so.
    await page.goto(`${env.url}index.html?lang=${lang}&model=local`);
    await page.locator('#empty-state').waitFor({ state: 'visible' });
    assert.match(await page.locator('#empty-text').textContent(), link);
    // ... until the reader chooses a model themselves.
    await page.locator('input[name=model][value=default]').check();
    await waitForRun(page);
    await page.locator('input[name=model][value=local]').check();
    assert.match(await page.locator('#empty-text').textContent(), chose);
    assert.deepEqual(errors, []);
    await page.close();
  }
});

// The overview canvas's pixels (CSS px = device px here): [r, g, b] at (x, y).
const pixel = (canvas, x, y) => canvas.evaluate((c, [x, y]) => {
  const k = c.width / parseFloat(c.style.width);
  return [...c.getContext('2d').getImageData(Math.round(x * k), Math.round(y * k), 1, 1).data].slice(0, 3);
}, [x, y]);
const inked = (canvas, x0, y0, x1, y1) => canvas.evaluate((c, r) => {
  const k = c.width / parseFloat(c.style.width);
  const d = c.getContext('2d').getImageData(Math.round(r[0] * k), Math.round(r[1] * k), Math.round((r[2] - r[0]) * k), Math.round((r[3] - r[1]) * k)).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] < 150 && d[i + 1] < 150 && d[i + 2] < 150) n++;
  return n;
}, [x0, y0, x1, y1]);

test('3. heads overview: a colour scale, axis titles, L4H9 notation explained once (no decimal comma in Vietnamese); thumbnails without unreadable labels', async () => {
  const { page, errors } = await openPage(env, '?lang=vi&ex1=5.3&heads=previous_token,5');
  const ov = page.locator('#heads-overview');
  await ov.locator('canvas').first().waitFor();
  const canvas = ov.locator('canvas').first();
  // 12 × 12 cells of 22 px after a 34 × 40 margin, then the colour bar (x 308..318): 1 at the top, 0 at the bottom.
  assert.equal(await canvas.evaluate((c) => parseFloat(c.style.width)), 34 + 12 * 22 + 46);
  assert.deepEqual(await pixel(canvas, 313, 41), [8, 48, 107]);
  const bottom = await pixel(canvas, 313, 40 + 12 * 22 - 2);
  assert.ok(bottom.every((v) => v > 240), `bar bottom ${bottom}`);
  // Axis titles: ink left of the block numbers (the rotated "khối") and above the head numbers ("head →").
  assert.ok(await inked(canvas, 2, 40 + 100, 15, 40 + 164) > 10, 'block axis title');
  assert.ok(await inked(canvas, 34 + 12 * 22 - 45, 6, 34 + 12 * 22, 19) > 10, 'head axis title');
  const text = await page.locator('#heads-section').textContent();
  assert.match(await ov.locator('p.caption').nth(1).textContent(), /^Màu: điểm số, từ 0 \(trắng\) đến 1 \(xanh đậm\)/);
  // The notation: LbHh everywhere, explained in the note; no "5.3" / "5,3" for a head.
  assert.match(await page.locator('#heads-look').textContent(), /L4H9 nghĩa là khối 4, head 9/);
  assert.match(await ov.locator('figcaption').first().textContent(), /^Cao nhất: L\d+H\d+ \(\d,\d+\), L\d+H\d+ \(/);
  const heads = await ov.locator('table tbody tr th').allTextContents();
  assert.equal(heads.length, 144);
  assert.ok(heads.every((h, i) => h === `L${Math.floor(i / 12)}H${i % 12}`), heads.slice(0, 3).join(' '));
  assert.match(await ov.locator('table thead th').first().textContent(), /^head \(L = khối, H = head\)$/);
  assert.doesNotMatch(text, /\b\d+\.\d+ \(\d/);
  // Thumbnails: no token labels drawn; the cell under the pointer is read out with its tokens.
  const grid = page.locator('#heads-grid');
  const thumb = grid.locator('canvas').first();
  const w = await thumb.evaluate((c) => parseFloat(c.style.width));
  assert.ok(w <= 210, `thumbnail ${w} px`);
  assert.match(await grid.locator('p.caption').first().textContent(), /^Hàng: vị trí query, cột: vị trí key/);
  await thumb.scrollIntoViewIfNeeded();
  const box = await thumb.boundingBox();
  await page.mouse.move(box.x + box.width * 0.9, box.y + box.height * 0.95);
  const read = await grid.locator('.pmap-readout').first().textContent();
  assert.match(read, /^head 0 — Baseline: query \d+ ".*" → key \d+ ".*": \d/);
  assert.equal(await thumb.getAttribute('title'), read);
  await page.locator('#heads-section').scrollIntoViewIfNeeded();
  await shot(page, 'issue25-heads-overview-vi');
  assert.deepEqual(errors, []);
  await page.close();
});

test('4. "Add a row" adds a neutral row: the intervened run does not change', async () => {
  const { page, errors } = await openPage(env, '?lang=en&ex3=9,0.5');
  const before = await page.evaluate(() => window.hooklab.exportObject());
  await page.locator('#iv-add').click();
  await page.locator('#iv-0-factor').waitFor();
  await waitForRun(page);
  assert.equal(await page.locator('#iv-0-kind').inputValue(), 'scale');
  assert.equal(await page.locator('#iv-0-factor').inputValue(), '1');
  const after = await page.evaluate(() => window.hooklab.exportObject());
  assert.deepEqual(after.interventions, [...before.interventions, { kind: 'scale', hook: 'blocks.0.hook_resid_post', factor: 1 }]);
  assert.deepEqual(after.intervened.resid_std, before.intervened.resid_std);
  assert.deepEqual(after.intervened.top.map((x) => x.id), before.intervened.top.map((x) => x.id));
  // A second row copies the first one's hook, neutral too.
  await page.locator('#iv-0-layer').fill('4');
  await waitForRun(page);
  await page.locator('#iv-add').click();
  await waitForRun(page);
  const third = await page.evaluate(() => window.hooklab.exportObject());
  assert.deepEqual(third.interventions.at(-1), { kind: 'scale', hook: 'blocks.4.hook_resid_post', factor: 1 });
  assert.deepEqual(third.intervened.resid_std, before.intervened.resid_std);
  assert.deepEqual(errors, []);
  await page.close();
});

// A course page on its own origin, embedding the lab from a lab server that allows it.
async function allowedCourse(labTag) {
  const courseRoutes = { '/favicon.ico': { type: 'image/x-icon', body: '' } };
  const course = await startServer({ extraRoutes: courseRoutes });
  const lab = await startServer({ extraRoutes: { '/embed-origins.json': { type: 'application/json', body: JSON.stringify({ allowedOrigins: [new URL(course.url).origin] }) } } });
  servers.push(course, lab);
  courseRoutes['/chapter.html'] = { type: 'text/html', body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Course</title>
<script type="module" src="${lab.url}hooklab-element.js"></script></head>
<body>${labTag(lab.url)}
<script>window.events = []; document.getElementById('lab').addEventListener('hooklab-state', (e) => window.events.push(e.detail));</script></body></html>` };
  return { url: `${course.url}chapter.html`, lab };
}

async function labFrame(page) {
  await page.waitForFunction(() => document.querySelector('gpt2-hooklab')?.shadowRoot?.querySelector('iframe')?.src);
  const el = await page.evaluateHandle(() => document.querySelector('gpt2-hooklab').shadowRoot.querySelector('iframe'));
  const frame = await el.asElement().contentFrame();
  await frame.waitForFunction(() => window.hooklab?.ready && !document.body.classList.contains('busy'), null, { timeout: 60000 });
  return frame;
}

test('5. embedded on another, allowed origin: no "target origin does not match" errors; the events still arrive', async () => {
  const { url } = await allowedCourse((lab) => `<gpt2-hooklab id="lab" lang="en" ex3="9,0.1" src="${lab}index.html"></gpt2-hooklab>`);
  const page = await env.context.newPage();
  const logs = [];
  // Such errors come from the browser itself (not console.error): read them from its log.
  const cdp = await env.context.newCDPSession(page);
  await cdp.send('Log.enable');
  cdp.on('Log.entryAdded', ({ entry }) => logs.push(entry.text));
  await cdp.send('Runtime.enable');
  cdp.on('Runtime.consoleAPICalled', (e) => { if (e.type === 'error') logs.push(e.args.map((a) => a.value).join(' ')); });
  await page.goto(url);
  const frame = await labFrame(page);
  await page.evaluate(() => document.getElementById('lab').setAttribute('ex4', '9,10'));
  await page.waitForTimeout(400);
  await frame.waitForFunction(() => window.hooklab.state.ex.ex4.on && !document.body.classList.contains('busy'), null, { timeout: 60000 });
  await page.waitForTimeout(500);
  assert.ok(await page.evaluate(() => window.events.length) >= 2, 'hooklab-state events reached the course page');
  assert.equal(await page.evaluate(() => window.events.at(-1).ex4), '9,10');
  assert.deepEqual(logs.filter((l) => /postMessage|target origin/i.test(l)), []);
  await page.close();
});

test('6. set-state with a value the lab cannot use: hooklab:error naming the field and what it expects; the rest applies', async () => {
  const { page, errors } = await openPage(env, '?lang=en');
  const ask = (state) => page.evaluate(async (state) => {
    const out = [];
    const h = (e) => { if (e.data?.type === 'hooklab:error' || e.data?.type === 'hooklab:state') out.push(e.data); };
    window.addEventListener('message', h);
    window.postMessage({ type: 'hooklab:set-state', state, id: 'q' }, location.origin);
    await new Promise((r) => setTimeout(r, 400));
    window.removeEventListener('message', h);
    return out;
  }, state);
  let r = await ask({ ex3: 'banana' });
  const err = r.find((m) => m.type === 'hooklab:error');
  assert.ok(err, JSON.stringify(r));
  assert.equal(err.id, 'q');
  assert.match(err.error, /^ex3: "banana" cannot be used; expected "L,factor" \(block and factor, e\.g\. "9,0\.1"\), or null to switch exercise 3 off$/);
  assert.deepEqual(err.fields.map((f) => f.key), ['ex3']);
  await waitForRun(page);
  assert.equal((await page.evaluate(() => window.hooklab.state)).ex.ex3.on, false, 'the refused value is not applied');
  // Mixed: the good field applies, the bad one is named.
  r = await ask({ ex4: '9,10', lang: 'fr', topk: 0 });
  const e2 = r.find((m) => m.type === 'hooklab:error');
  assert.match(e2.error, /lang: "fr" cannot be used; expected "en" or "vi"/);
  assert.match(e2.error, /topk: 0 cannot be used; expected a whole number from 1 to 50/);
  await waitForRun(page);
  const st = await page.evaluate(() => window.hooklab.state);
  assert.equal(st.ex.ex4.on, true);
  assert.equal(st.lang, 'en');
  assert.equal(st.topk, 10);
  // A block this model does not have.
  r = await ask({ ex1: '50.2' });
  assert.match(r.find((m) => m.type === 'hooklab:error').error, /^ex1: "50\.2" cannot be used \(block: A whole number from 0 to 11\.\); expected "L\.H"/);
  assert.equal((await page.evaluate(() => window.hooklab.state)).ex.ex1.on, false);
  assert.deepEqual(errors, []);
  await page.close();
});

test('7. patching form: a two-token answer and a length mismatch are flagged as you type; old results dim until Run', async () => {
  const { page, errors } = await openPage(env, '?lang=en');
  await page.locator('#patch-section').scrollIntoViewIfNeeded();
  await page.locator('#patch-run').click();
  await page.locator('#fig-patch table').waitFor({ state: 'attached', timeout: 60000 });
  assert.equal(await page.locator('#fig-patch').evaluate((e) => e.classList.contains('stale')), false);
  // Typed, not run: the answer's error appears next to it.
  await page.locator('#patch-answer').fill(' Marylandia');
  await page.locator('#patch-answer-err').waitFor({ state: 'visible', timeout: 5000 });
  assert.match(await page.locator('#patch-answer-err').textContent(), /The answer token " Marylandia" is 3 tokens \(" Mary" \(#3027\) \+ "land" \(#967\) \+ "ia" \(#734\)\): it must be exactly one token/);
  assert.equal(await page.locator('#patch-answer').getAttribute('aria-invalid'), 'true');
  await page.locator('#patch-corrupted').fill('When the men came home');
  await page.locator('#patch-prompts-err').waitFor({ state: 'visible', timeout: 5000 });
  assert.match(await page.locator('#patch-prompts-err').textContent(), /The clean prompt is 7 tokens and the corrupted prompt is 5/);
  // The last sweep no longer matches the form: dimmed, and said.
  for (const id of ['#fig-patch', '#patch-dla', '#patch-summary']) assert.equal(await page.locator(id).evaluate((e) => e.classList.contains('stale')), true, id);
  assert.match(await page.locator('#patch-stale').textContent(), /The form has changed since this sweep/);
  // Fixed as typed: the errors go; back to the swept inputs: no longer dimmed.
  await page.locator('#patch-answer').fill(' was');
  await page.locator('#patch-corrupted').fill('When the men came home, they');
  await page.waitForFunction(() => document.querySelector('#patch-answer-err').hidden && document.querySelector('#patch-prompts-err').hidden, null, { timeout: 5000 });
  assert.equal(await page.locator('#fig-patch').evaluate((e) => e.classList.contains('stale')), false);
  assert.equal(await page.locator('#patch-stale').isHidden(), true);
  // Another answer, then Run: the new sweep is not dimmed.
  await page.locator('#patch-answer').fill(' is');
  await page.waitForFunction(() => document.querySelector('#fig-patch').classList.contains('stale'));
  await page.locator('#patch-run').click();
  await page.waitForFunction(() => !document.querySelector('#fig-patch').classList.contains('stale') && !document.querySelector('#patch-run').disabled, null, { timeout: 60000 });
  // Vietnamese, as typed.
  await page.locator('#lang').selectOption('vi');
  await page.locator('#patch-wrong').fill(' were not');
  await page.locator('#patch-wrong-err').waitFor({ state: 'visible', timeout: 5000 });
  assert.match(await page.locator('#patch-wrong-err').textContent(), /^Token sai " were not" gồm 2 token/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('8. "Hook point" is Vietnamese in Vietnamese', async () => {
  const { page, errors } = await openPage(env, '?lang=vi');
  const label = await page.locator('#stat-hook').evaluate((s) => s.closest('label').querySelector('span').textContent);
  assert.equal(label, 'Điểm hook');
  assert.doesNotMatch(await page.locator('#stats-section').textContent(), /hook point/i);
  await page.locator('#iv-add').click();
  await page.locator('#iv-0-hook').waitFor();
  assert.equal(await page.locator('#iv-0-hook').evaluate((s) => s.closest('label').querySelector('span').textContent), 'Điểm hook');
  assert.deepEqual(errors, []);
  await page.close();
});

test('9. compact embed: results first, controls folded behind a button, a chart on the first screen at 700 and 1100 px', async () => {
  const { url } = await allowedCourse((lab) => `<gpt2-hooklab id="lab" ex3="9,0.1" height="800px" src="${lab}index.html"></gpt2-hooklab>`);
  for (const width of [700, 1100]) {
    const page = await env.context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.setViewportSize({ width, height: 900 });
    await page.goto(url);
    const frame = await labFrame(page);
    const frameBox = await page.locator('gpt2-hooklab').boundingBox();
    assert.ok(Math.abs(frameBox.height - 800) < 2, `frame ${frameBox.height} px high`);
    // Inside the frame: the first chart is within its 800 px, wholly.
    const chart = await frame.locator('#fig-resid canvas').boundingBox();
    assert.ok(chart && chart.y >= 0 && chart.y + chart.height <= 800, `${width}: first chart at ${JSON.stringify(chart)}`);
    assert.equal(await frame.locator('#controls').isVisible(), false);
    const toggle = frame.locator('#controls-toggle');
    assert.equal(await toggle.isVisible(), true);
    assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
    assert.equal(await toggle.textContent(), 'Show the controls');
    await page.screenshot({ path: `test-results/issue25-embed-${width}.png` });
    await toggle.click();
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    assert.equal(await frame.locator('#ex3-on').isVisible(), true);
    assert.equal(await frame.locator('#ex3-on').isChecked(), true);
    assert.equal(await toggle.textContent(), 'Hide the controls');
    await toggle.click();
    assert.equal(await frame.locator('#controls').isVisible(), false);
    assert.deepEqual(errors, []);
    await page.close();
  }
  // The full page is unchanged: controls shown, no button.
  const { page } = await openPage(env, '?lang=en');
  assert.equal(await page.locator('#controls').isVisible(), true);
  assert.equal(await page.locator('#controls-toggle').isVisible(), false);
  await page.close();
});
