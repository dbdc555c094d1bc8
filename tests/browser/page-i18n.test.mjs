// The page in Vietnamese (issue #10 item 10) and the form's validation (item 9): every
// string a user sees is in the page's language, engine errors included; bad values are
// refused next to their field, the URL stays valid, refused link values are announced.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { launch, openPage, waitForRun, shot, REPO, pageStrings } from './helpers.mjs';
import { MODELS } from '../../web/src/models-page.js';

const STRINGS = await pageStrings();

let env;
before(async () => { env = await launch(); });
after(async () => { await env?.close(); });

// English words of the UI: in the English strings, in no Vietnamese one. Code, prompts,
// token strings (quoted) and the language menu are not UI text.
const letters = (s) => s.toLowerCase().match(/\p{L}{3,}/gu) || [];
const viWords = new Set(Object.values(STRINGS.vi).flatMap(letters));
const EN_WORDS = new Set([...Object.values(STRINGS.en).flatMap(letters), 'missing', 'ready', 'tokens', 'context', 'error', 'package', 'the', 'prompt', 'empty', 'range']
  .filter((w) => !viWords.has(w)));

async function englishOn(page) {
  const text = await page.evaluate(() => {
    const skip = (el) => el.closest('pre, textarea, script, style, #lang, [hidden]');
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!el || skip(el) || !el.getClientRects().length || !n.textContent.trim()) continue;
      if (el.closest('details:not([open])') && !el.closest('summary')) continue;
      out.push(n.textContent);
    }
    for (const el of document.querySelectorAll('[aria-label], [title], [placeholder]')) {
      if (skip(el)) continue;
      for (const a of ['aria-label', 'title', 'placeholder']) if (el.getAttribute(a)) out.push(el.getAttribute(a));
    }
    for (const o of document.querySelectorAll('select:not(#lang) option')) out.push(o.textContent);
    out.push(document.title);
    return out.join('\n');
  });
  const prose = text.replace(/"[^"\n]*"|“[^”\n]*”/g, ' ').replace(/\b[\w.]*(hook_|ln_|attn\.|mlp\.)[\w.]*/g, ' ');
  const PROMPT_WORDS = new Set(letters(await page.locator('#prompt').inputValue()));
  const found = [...new Set(letters(prose).filter((w) => EN_WORDS.has(w) && !PROMPT_WORDS.has(w)))];
  return found;
}

test('Vietnamese: no English UI text, after a run, a language switch, errors and local files', async () => {
  const { page, errors } = await openPage(env, '?lang=en&ex3=9,0.1&predict=1');
  // Switched after the run: the status line and the token count must follow.
  await page.locator('#lang').selectOption('vi');
  assert.deepEqual(await englishOn(page), [], 'after switching to vi');
  await page.locator('#questions fieldset').first().locator('input[value=yes]').check();
  await page.locator('#reveal').click();
  const qtext = await page.locator('#questions').textContent();
  assert.match(qtext, /0,1/);
  assert.doesNotMatch(qtext, /0\.1/);
  assert.deepEqual(await englishOn(page), [], 'predict revealed');
  await shot(page, 'issue10-vi-predict');
  // An engine error: the empty prompt.
  await page.locator('#prompt').fill('');
  await page.locator('#error').waitFor({ state: 'visible' });
  assert.match(await page.locator('#error').textContent(), /Câu đầu vào đang trống/);
  assert.deepEqual(await englishOn(page), [], 'engine error');
  await shot(page, 'issue10-vi-engine-error');
  await page.locator('#prompt').fill('Xin chào');
  await waitForRun(page);
  // Local files, only some of them.
  await page.locator('input[name=model][value=local]').check();
  await page.locator('#files').setInputFiles([join(REPO, 'web/dist/models/default/config.json')]);
  await page.locator('#error').waitFor({ state: 'visible' });
  assert.match(await page.locator('#error').textContent(), /Còn thiếu: model\.safetensors, vocab\.json, merges\.txt/);
  assert.deepEqual(await englishOn(page), [], 'local files');
  // Every panel on.
  await page.goto(`${env.url}index.html?lang=vi&ex1=9.2&ex2=9,10,1,0&ex3=9,0.1&ex4=5,10&lens=1`);
  await waitForRun(page);
  await page.waitForFunction(() => window.hooklab.lensData(), null, { timeout: 120000 });
  assert.deepEqual(await englishOn(page), [], 'all panels');
  await shot(page, 'issue10-vi-all-panels');
  // A hub model not downloaded yet.
  await page.goto(`${env.url}index.html?lang=vi&model=gpt2`);
  await page.locator('#empty-state').waitFor({ state: 'visible' });
  assert.match(await page.locator('#load-btn').textContent(), /Tải GPT-2 small về \(550 MB\)/);
  assert.deepEqual(await englishOn(page), [], 'hub empty state');
  // The picker, built from the registry (web/src/models-page.js): its order, its sizes read from
  // wasm/js/models.js, its labels re-worded by the language switch.
  assert.deepEqual(await page.locator('input[name=model]').evaluateAll((els) => els.map((e) => e.value)), Object.keys(MODELS));
  assert.equal(await page.locator('#model-gpt2-label').textContent(), 'GPT-2 small (124M) từ HuggingFace hub — tải về 550 MB');
  assert.equal(await page.locator('#model-gpt2-medium-label').textContent(), 'GPT-2 medium (355M) từ HuggingFace hub — tải về 1,5 GB');
  await page.locator('#lang').selectOption('en');
  assert.equal(await page.locator('#model-gpt2-medium-label').textContent(), 'GPT-2 medium (355M) from the HuggingFace hub — 1.5 GB download');
  assert.equal(await page.locator('#model-local-label').textContent(), 'Local files…');
  assert.deepEqual(errors, []);
  await page.close();
});

test('bad values are refused next to the field, in the page language; the URL stays valid', async () => {
  const { page, errors } = await openPage(env, '?lang=en&ex3=9,0.1');
  for (const [field, value, msg] of [['ex3-layer', '50', /whole number from 0 to 11/], ['ex3-layer', '-1', /0 to 11/], ['ex3-layer', '2.5', /0 to 11/], ['ex3-factor', 'abc', /“abc” is not a number/], ['ex3-factor', '', /Enter a number/]]) {
    await page.locator(`#${field}`).fill(value);
    await page.locator(`#${field}-err`).waitFor({ state: 'visible' });
    assert.match(await page.locator(`#${field}-err`).textContent(), msg, `${field}=${value}`);
    assert.equal(await page.locator(`#${field}`).getAttribute('aria-invalid'), 'true');
    await page.waitForTimeout(400);
    assert.equal(await page.locator('#error').isHidden(), true, 'no engine error');
    assert.equal(new URL(page.url()).searchParams.get('ex3'), '9,0.1', 'the URL keeps the last valid value');
    await page.locator(`#${field}`).fill(field.endsWith('layer') ? '9' : '0.1');
    await page.locator(`#${field}-err`).waitFor({ state: 'hidden' });
  }
  await page.locator('#ex1-on').check();
  await page.locator('#ex1-head').fill('99');
  assert.match(await page.locator('#ex1-head-err').textContent(), /0 to 11/);
  await shot(page, 'issue10-field-error');
  await page.locator('#lang').selectOption('vi');
  assert.match(await page.locator('#ex1-head-err').textContent(), /số nguyên từ 0 đến 11/);
  await page.locator('#ex1-head').fill('2');
  await waitForRun(page);
  assert.equal(new URL(page.url()).searchParams.get('ex1'), '9.2');
  // The Vietnamese page reads and writes a decimal comma.
  await page.locator('#ex3-factor').fill('0,5');
  await waitForRun(page);
  assert.equal(new URL(page.url()).searchParams.get('ex3'), '9,0.5');
  assert.deepEqual(errors, []);
  await page.close();
});

test('link values the page cannot use are announced and replaced, the URL made valid', async () => {
  const { page } = await openPage(env, '?lang=en&ex3=9,abc&ex4=50,10');
  const note = await page.locator('#url-note').textContent();
  assert.match(note, /ex3=9,abc/);
  assert.match(note, /ex4=50,10/);
  const u = new URL(page.url()).searchParams;
  assert.equal(u.get('ex3'), '9,0.1');
  assert.equal(u.get('ex4'), '9,10');
  assert.equal((await page.evaluate(() => window.hooklab.exportObject())).interventions.length, 2);
  await page.close();
});
