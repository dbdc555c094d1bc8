// Issue #25 A and B, in Chromium on the built page: the heads view and by-head patching say
// what to look for on the model loaded (the embedded HookLab-Circuits: the induction and
// previous-token heads this project measured, with chance computed from the input shown,
// outlined on the grid; GPT-2 small's heads
// from the literature, cited), in English and Vietnamese at 390 px; the Patching view warns
// when clean − corrupted is small or has the wrong sign for the normalised metric.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch, openPage, waitForRun, shot, REPO, NATIVE } from './helpers.mjs';

const MODEL = join(REPO, 'web/dist/models/default');
// Stands in for openai-community/gpt2 (routed, no network): the table matches a hub model by
// its repo, so the page says what the literature says of GPT-2 small.
const FAKE = existsSync(join(REPO, 'build/ckpt/mid/model.safetensors')) ? join(REPO, 'build/ckpt/mid') : null;

let env;
before(async () => {
  assert.ok(existsSync(NATIVE), `${NATIVE} is missing: build the native CLI`);
  env = await launch();
  await env.context.route('https://huggingface.co/**', (route) => {
    const m = route.request().url().match(/^https:\/\/huggingface\.co\/openai-community\/gpt2\/resolve\/main\/(config\.json|model\.safetensors|vocab\.json|merges\.txt)$/);
    if (!m || !FAKE) return route.fulfill({ status: 404, body: 'not found' });
    const body = readFileSync(join(FAKE, m[1]));
    return route.fulfill({ status: 200, body, headers: { 'content-type': 'application/octet-stream', 'content-length': String(body.length), 'access-control-allow-origin': '*' } });
  });
});
after(async () => { await env?.close(); });

const native = (args) => JSON.parse(execFileSync(NATIVE, args, { maxBuffer: 1 << 28 }).toString());
const nf = (lang) => new Intl.NumberFormat(lang === 'vi' ? 'vi-VN' : 'en-US', { maximumSignificantDigits: 3 });

// Chance for the induction score: uniform causal attention gives A[i][j+1] = 1/(i+1), averaged
// over the positions i whose token occurred before.
function inductionChance(tokens) {
  const seen = new Set();
  let s = 0, n = 0;
  tokens.forEach((t, i) => { if (seen.has(t)) { s += 1 / (i + 1); n++; } seen.add(t); });
  return s / n;
}

async function phonePage(query) {
  const page = await env.context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${env.url}index.html${query}`);
  await waitForRun(page);
  return { page, errors };
}

const WANT = {
  en: { intro: 'What to look for on HookLab-Circuits 12×192, measured by this project:', roles: /induction heads: L1H11 \(0\.918\), L1H8 \(0\.903\), .*L1H5 \(0\.436\); previous-token heads: L0H5 \(0\.997\), L0H7 \(0\.904\), L0H4 \(0\.573\)\./, advice: 'pick repeated random tokens as the input (induction, block 1)', notation: 'L4H9 means block 4, head 9', measured: /best L1H11 0\.918, where uniform attention gives 0\.014/ },
  vi: { intro: 'Cần tìm gì trên HookLab-Circuits 12×192, do dự án này đo:', roles: /head induction: L1H11 \(0,918\), L1H8 \(0,903\), .*L1H5 \(0,436\); head token liền trước: L0H5 \(0,997\), L0H7 \(0,904\), L0H4 \(0,573\)\./, advice: 'hãy chọn đầu vào là chuỗi token ngẫu nhiên lặp lại (induction, khối 1)', notation: 'L4H9 nghĩa là khối 4, head 9', measured: /cao nhất là L1H11 với 0,918, trong khi attention chia đều cho 0,014/ },
};

for (const lang of ['en', 'vi']) {
  test(`heads view, ${lang}, 390 px: the embedded model's measured induction and previous-token heads, outlined; chance from the input shown`, async () => {
    const { page, errors } = await phonePage(`?lang=${lang}&heads=induction,1&repeat=20,0`);
    const look = page.locator('#heads-look');
    await page.waitForFunction(() => /L\d+H\d+\)/.test(document.querySelector('#heads-look').textContent), null, { timeout: 60000 });
    const text = await look.textContent();
    const w = WANT[lang];
    assert.ok(text.includes(w.intro), text);
    assert.match(text, w.roles);
    assert.match(text, w.measured);
    assert.ok(text.includes(w.advice), text);
    assert.ok(text.includes(w.notation), text);
    assert.doesNotMatch(text, /L5H1|Olsson|Wang|has no induction|không có head/, 'no GPT-2 small heads, and no "none", for this model');
    // The named heads of the score shown are outlined on the grid (block 1's ten induction heads).
    assert.match(await page.locator('#heads-overview').textContent(), lang === 'en' ? /Outlined in orange: the heads the note above names for this score\./ : /Viền cam/);
    // Chance on the input shown (2R+1 = 41 tokens): from the engine's tokens, and in closed form.
    const h = native(['heads', '--model', MODEL, '--repeat', '20', '--seed', '0']);
    assert.equal(h.tokens.length, 41);
    const c = inductionChance(h.tokens);
    let closed = 0;
    for (let i = 21; i <= 40; i++) closed += 1 / (i + 1) / 20;
    assert.ok(Math.abs(c - closed) < 1e-12 && Math.abs(c - 0.0329) < 1e-4, `chance ${c} vs ${closed}`);
    assert.ok(text.includes(nf(lang).format(c)), `chance ${nf(lang).format(c)} in: ${text}`);
    // The highest score on this input, named as the engine gives it.
    let best = { v: -1 };
    h.induction.forEach((row, l) => row.forEach((v, hd) => { if (v !== null && v > best.v) best = { v, l, hd }; }));
    assert.ok(text.includes(`${nf(lang).format(best.v)} (L${best.l}H${best.hd})`), `best ${best.v} L${best.l}H${best.hd} in: ${text}`);
    assert.ok(best.v > 0.5 && best.l === 1, 'the measured claim holds on this input: an induction head of block 1 above 0.5');
    // The note fits the phone: no horizontal scroll, inside the window.
    const box = await look.boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 390, JSON.stringify(box));
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'no horizontal scroll at 390 px');
    // The overview names heads as LbHh, never "5.1" (a decimal in English, a different number in Vietnamese).
    assert.match(await page.locator('#heads-overview figcaption').first().textContent(), lang === 'en' ? /^Highest: L\d+H\d+ \(/ : /^Cao nhất: L\d+H\d+ \(/);
    const first = await page.locator('#heads-overview table tbody tr th').first().textContent();
    assert.equal(first, 'L0H0');
    await look.scrollIntoViewIfNeeded();
    await shot(page, `issue25-look-heads-390-${lang}`);
    assert.deepEqual(errors, []);
    await page.close();
  });
}

test('by-head patching on the embedded model: what the model card measured; only for the z sweep (en, vi)', async () => {
  for (const lang of ['en', 'vi']) {
    const { page, errors } = await phonePage(`?lang=${lang}&phook=z`);
    const look = page.locator('#patch-look');
    await look.waitFor({ state: 'visible' });
    const text = await look.textContent();
    assert.match(text, lang === 'en' ? /By head on HookLab-Circuits 12×192: with its default pair \(“ was” vs “ were”\) the model card measured block 0’s heads on top, L0H11 0\.28, L0H9 0\.27 and L0H10 0\.21/ : /Theo từng head trên HookLab-Circuits 12×192: với cặp câu mặc định \(“ was” và “ were”\), thẻ mô hình đo được các head của khối 0 đứng đầu: L0H11 0,28, L0H9 0,27 và L0H10 0,21/);
    assert.ok(text.includes(WANT[lang].notation));
    await page.locator('#patch-hook').selectOption('resid_pre');
    assert.equal(await look.isHidden(), true, 'no by-head note for a per-position sweep');
    assert.deepEqual(errors, []);
    await page.close();
  }
});

test('GPT-2 small (the hub model): the heads the literature names, cited, outlined on the grid; the IOI name movers in by-head patching', { skip: !FAKE && 'build/ckpt/mid is missing' }, async () => {
  const page = await env.context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${env.url}index.html?lang=en&model=gpt2&heads=induction,5&repeat=20,0&phook=z`);
  await page.locator('#load-btn').click();
  await page.waitForFunction(() => /downloaded/.test(document.querySelector('#model-info').textContent), null, { timeout: 60000 });
  await waitForRun(page);
  await page.waitForFunction(() => /L\d+H\d+\)/.test(document.querySelector('#heads-look').textContent), null, { timeout: 60000 });
  const text = await page.locator('#heads-look').textContent();
  assert.match(text, /What to look for on GPT-2 small, known from the literature \(not measured by this page\):/);
  assert.match(text, /induction heads: L5H1, L5H5, L6H9, L7H2, L7H10 \(Olsson et al\. 2022/);
  assert.match(text, /previous-token heads: L4H11 \(Wang et al\. 2022/);
  assert.match(text, /IOI name mover heads: L9H6, L9H9, L10H0 \(Wang et al\. 2022, “Interpretability in the Wild”/);
  assert.doesNotMatch(text, /has no induction heads/);
  assert.match(await page.locator('#heads-overview').textContent(), /Outlined in orange: the heads the note above names for this score\./);
  assert.match(await page.locator('#patch-look').textContent(), /name mover heads L9H6, L9H9, L10H0/);
  await page.locator('#lang').selectOption('vi');
  assert.match(await page.locator('#heads-look').textContent(), /Cần tìm gì trên GPT-2 small, theo các công trình đã công bố/);
  assert.deepEqual(errors, []);
  await page.close();
});

// ------------------------------------------------------------------------ B: the warning

const nativePatch = ({ clean, corrupted, answer, wrong }) => native(['patch', '--model', MODEL, '--clean', clean, '--corrupted', corrupted, '--answer', answer, '--wrong', wrong, '--hook', 'resid_pre']);
const q = (p) => Object.entries({ pclean: p.clean, pcorr: p.corrupted, pans: p.answer, pwrong: p.wrong }).map(([k, v]) => `&${k}=${encodeURIComponent(v)}`).join('');
const NUMBER = { clean: 'When the man came home, he', corrupted: 'When the men came home, they', answer: ' was', wrong: ' were' };
const IOI = { clean: 'When Mary and John went to the store, Mary gave a drink to', corrupted: 'When Mary and John went to the store, John gave a drink to', answer: ' Mary', wrong: ' John' };

const CASES = [
  { what: 'the default pair: a clear, positive difference, no warning', pair: NUMBER, reversed: false, small: false },
  { what: 'answer and wrong swapped: the other sign', pair: { ...NUMBER, answer: ' were', wrong: ' was' }, reversed: true, small: false },
  { what: 'the IOI pair on this model: a tiny difference', pair: IOI, reversed: false, small: true },
];

test('patching warns when clean − corrupted is small or has the other sign, and states the rule', async () => {
  const { page, errors } = await openPage(env, '?lang=en');
  for (const c of CASES) {
    const n = nativePatch(c.pair);
    const D = n.clean_logit_diff - n.corrupted_logit_diff;
    // The case is what it says, by the rule stated on the page.
    assert.equal(D <= 0, c.reversed, `${c.what}: D = ${D}`);
    assert.equal(Math.abs(D) < 0.5 || Math.abs(D) < 0.1 * Math.max(Math.abs(n.clean_logit_diff), Math.abs(n.corrupted_logit_diff)), c.small, `${c.what}: D = ${D}`);
    await page.goto(`${env.url}index.html?lang=en${q(c.pair)}`);
    await waitForRun(page);
    await page.locator('#patch-run').click();
    await page.locator('#fig-patch table').waitFor({ state: 'attached', timeout: 60000 });
    const warn = page.locator('#patch-warn');
    if (!c.reversed && !c.small) assert.equal(await warn.isHidden(), true, c.what);
    else {
      await warn.scrollIntoViewIfNeeded();
      assert.equal(await warn.isVisible(), true, c.what);
      const w = await warn.textContent();
      if (c.reversed) assert.match(w, /is not above the corrupted run’s .*assumes D > 0.*Swap the answer and wrong tokens/, c.what);
      else assert.doesNotMatch(w, /not above/, c.what);
      if (c.small) assert.match(w, /the two runs barely differ \(D = clean − corrupted = /, c.what);
      else assert.doesNotMatch(w, /barely differ/, c.what);
      assert.ok(w.includes(new Intl.NumberFormat('en-US', { maximumSignificantDigits: 4 }).format(D)), `${c.what}: D ${D} in ${w}`);
      await shot(page, `issue25-warn-${c.reversed ? 'reversed' : 'small'}`);
    }
    assert.match(await page.locator('#fig-patch .caption').textContent(), /The page warns when D = clean − corrupted is not positive, or below 0\.5, or below 10% of the larger of \|clean\| and \|corrupted\|/);
  }
  // Vietnamese.
  await page.goto(`${env.url}index.html?lang=vi${q(IOI)}`);
  await waitForRun(page);
  await page.locator('#patch-run').click();
  await page.locator('#patch-warn').waitFor({ state: 'visible', timeout: 60000 });
  assert.match(await page.locator('#patch-warn').textContent(), /Chú ý: hai lần chạy gần như không khác nhau/);
  assert.match(await page.locator('#fig-patch .caption').textContent(), /Trang cảnh báo khi D = sạch − hỏng không dương, nhỏ hơn 0,5/);
  assert.deepEqual(errors, []);
  await page.close();
});
