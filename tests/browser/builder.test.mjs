// Issue #12, sections 2 and 3 on the page, in Chromium: the intervention builder's rows
// (built with the controls, reordered, one switched off) give the native CLI's numbers for
// the same JSON, survive in the URL, refuse bad values next to the field in Vietnamese; the
// heads panel shows every head's pattern and the block × head scores, for the prompt and for
// the repeated random tokens, equal to `hooklab heads`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { launch, openPage, waitForRun, textMatching, shot, nativeRun, nativeTolerance, assertCurve, shownNumber, REPO, NATIVE } from './helpers.mjs';

const MODEL_DIR = join(REPO, 'web/dist/models/default');
let env;
before(async () => {
  assert.ok(existsSync(NATIVE), `${NATIVE} is missing: build the native CLI`);
  env = await launch();
});
after(async () => { await env?.close(); });

// Sets a row's field by its id and lets the page read it.
async function setField(page, id, value) {
  const el = page.locator(`#${id}`);
  if (await el.evaluate((e) => e.tagName === 'SELECT')) await el.selectOption(value);
  else await el.fill(value);
}

test('builder: rows built with the controls give the CLI\'s numbers, in order after the exercises', async () => {
  const { page, errors } = await openPage(env, '?lang=en&ex3=9,0.5');
  await page.locator('#iv-add').click();
  await page.locator('#iv-0-hook option[value="attn.hook_z"]').waitFor({ state: 'attached' }); // the engine's table arrived
  // Only hooks from the engine's table, attn.hook_qkv (engine-only) among them.
  const names = await page.locator('#iv-0-hook option').evaluateAll((os) => os.map((o) => o.value));
  assert.ok(names.includes('attn.hook_qkv') && names.includes('logits') && names.length >= 20, names.join(' '));
  await setField(page, 'iv-0-hook', 'attn.hook_z');
  await setField(page, 'iv-0-layer', '3');
  await setField(page, 'iv-0-kind', 'scale');
  await setField(page, 'iv-0-factor', '0');
  await setField(page, 'iv-0-heads-mode', 'list');
  await setField(page, 'iv-0-heads', '1,5');
  await page.locator('#iv-add').click();
  await setField(page, 'iv-1-hook', 'hook_resid_post');
  await setField(page, 'iv-1-layer', '5');
  await setField(page, 'iv-1-kind', 'add');
  await setField(page, 'iv-1-value', '0.5');
  await setField(page, 'iv-1-positions-mode', 'range');
  await setField(page, 'iv-1-positions', '1:4');
  await page.locator('#iv-add').click();
  await setField(page, 'iv-2-hook', 'mlp.hook_post');
  await setField(page, 'iv-2-layer', '2');
  await setField(page, 'iv-2-kind', 'noise');
  await setField(page, 'iv-2-mean', '1');
  await setField(page, 'iv-2-std', '2');
  await setField(page, 'iv-2-seed', '7');
  await setField(page, 'iv-2-positions-mode', 'all'); // a new row starts as a copy of the last one
  await setField(page, 'iv-2-features-mode', 'even');
  // Reorder (the noise row to the top: noise, z, add) and switch the z row off.
  await page.locator('#iv-rows .iv-row[data-i="2"] button[data-act=up]').click();
  await page.locator('#iv-rows .iv-row[data-i="1"] button[data-act=up]').click();
  await page.locator('#iv-1-on').uncheck();
  await waitForRun(page);
  const ex = await page.evaluate(() => window.hooklab.exportObject());
  const want = [
    { kind: 'scale_hidden', layer: 9, factor: 0.5 },
    { kind: 'noise', hook: 'blocks.2.mlp.hook_post', mean: 1, std: 2, seed: 7, features: 'even' },
    { kind: 'scale', hook: 'blocks.3.attn.hook_z', factor: 0, heads: [1, 5] },
  ];
  const add = { kind: 'add', hook: 'blocks.5.hook_resid_post', value: 0.5, positions: { range: [1, 4] } };
  assert.deepEqual(ex.interventions, [want[0], want[1], add]);
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('iv'), 'blocks.2.mlp.hook_post noise=1,2,7 feat=even;blocks.3.attn.hook_z scale=0 heads=1,5 off;blocks.5.hook_resid_post add=0.5 pos=1:4');
  // The CLI on the same JSON (the page's interventions as exported).
  const cli = nativeRun(MODEL_DIR, ex.prompt, ex.interventions);
  // (b) page (wasm) vs native CLI: tolerance derived from the native run's scales.
  const tol = nativeTolerance(cli);
  for (const k of ['resid_std', 'hidden_std']) assertCurve(ex.intervened[k], cli[k], tol, k);
  if (ex.intervened.top[0].id === cli.top[0].id) // ids may swap only on a near-tie
    assert.ok(Math.abs(ex.intervened.top[0].prob - cli.top[0].prob) <= tol.prob(cli.top[0].prob), `top[0].prob: page ${ex.intervened.top[0].prob} vs CLI ${cli.top[0].prob}`);
  // Switched back on: the third row runs too, and again equals the CLI.
  await page.locator('#iv-1-on').check();
  await waitForRun(page);
  const ex2 = await page.evaluate(() => window.hooklab.exportObject());
  assert.deepEqual(ex2.interventions, [...want, add]);
  const cli2 = nativeRun(MODEL_DIR, ex2.prompt, ex2.interventions);
  // (b) page (wasm) vs native CLI: tolerance derived from the native run's scales.
  assertCurve(ex2.intervened.resid_std, cli2.resid_std, nativeTolerance(cli2), 'resid_std');
  assert.notDeepEqual(ex2.intervened.resid_std, ex.intervened.resid_std);
  // The code panel shows the rows as hooks (written once it is on screen).
  await page.locator('#code-section').scrollIntoViewIfNeeded();
  const hfRow = /blocks\[3\]\.attn\.c_proj, row_\d+, "pre"/;
  assert.match(await textMatching(page, '#code', hfRow, 5000), hfRow);
  await page.locator('#tab-tl').click();
  assert.match(await page.locator('#code').textContent(), /\("blocks\.3\.attn\.hook_z", row_\d+\)/);
  // Delete a row.
  await page.locator('#iv-rows .iv-row[data-i="0"] button[data-act=del]').click();
  await waitForRun(page);
  assert.equal((await page.evaluate(() => window.hooklab.exportObject())).interventions.length, 3);
  await shot(page, 'issue12-builder-1400');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'no horizontal scroll at 390 px');
  await shot(page, 'issue12-builder-390');
  await page.setViewportSize({ width: 1400, height: 1000 });
  assert.deepEqual(errors, []);
  await page.close();
});

// #24: the chapter's exercises are presets of builder rows. Moving an exercise that is on
// into the builder switches it off and puts its row first: the run is the same, bit for bit;
// an exercise that is off gives a row switched off. In Vietnamese after a language switch.
test('builder: an exercise becomes its row (same run); one that is off gives a row switched off', async () => {
  const { page, errors } = await openPage(env, '?lang=en&ex1=9.2&ex2=9,10,1,0&ex3=9,0.1');
  const before = await page.evaluate(() => window.hooklab.exportObject());
  assert.deepEqual(before.interventions.map((iv) => iv.kind), ['zero_head_k', 'noise_even_neurons', 'scale_hidden']);
  const move = async (n) => {
    await page.locator('#iv-preset').selectOption(String(n));
    await page.locator('#iv-preset-add').click();
    await waitForRun(page);
  };
  await move(1);
  await move(2);
  await move(3);
  const after = await page.evaluate(() => window.hooklab.exportObject());
  // The rows, first the last moved: each exercise as the engine runs it, at its hook point.
  assert.deepEqual(after.interventions, [
    { kind: 'scale', hook: 'blocks.9.hook_resid_post', factor: 0.1 },
    { kind: 'noise', hook: 'blocks.9.mlp.hook_post', mean: 10, std: 1, seed: 0, features: 'even' },
    { kind: 'zero', hook: 'blocks.9.attn.hook_qkv', features: { range: [224, 240] } },
  ]);
  for (const k of ['ex1', 'ex2', 'ex3']) assert.equal(await page.locator(`#${k}-on`).isChecked(), false, k);
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('ex1'), null);
  assert.equal(url.searchParams.get('iv'), 'blocks.9.hook_resid_post scale=0.1;blocks.9.mlp.hook_post noise=10,1,0 feat=even;blocks.9.attn.hook_qkv zero feat=224:240');
  // The same run: every number of the intervened result (wasm, the same engine): no tolerance.
  for (const k of ['resid_std', 'hidden_std', 'top']) assert.deepEqual(after.intervened[k], before.intervened[k], k);
  assert.match(await page.locator('#iv-preset-note').textContent(), /^Exercise 3 is now row 1: the same intervention/);
  // An exercise that is off: its row comes switched off, and the run does not change.
  await page.locator('#lang').selectOption('vi');
  assert.match(await page.locator('#iv-preset-note').textContent(), /^Bài tập 3 giờ là dòng 1/);
  assert.equal(await page.locator('#iv-preset-add').textContent(), 'Thêm thành một dòng');
  await page.locator('#iv-preset').selectOption('4');
  await page.locator('#iv-preset-add').click();
  await page.waitForTimeout(400);
  assert.equal(await page.locator('#iv-0-on').isChecked(), false);
  assert.match(new URL(page.url()).searchParams.get('iv'), /^blocks\.9\.hook_resid_post scale=10 off;/);
  assert.match(await page.locator('#iv-preset-note').textContent(), /^Dòng 1 là bài tập 4 .* đang tắt/);
  assert.deepEqual((await page.evaluate(() => window.hooklab.exportObject())).intervened.resid_std, before.intervened.resid_std);
  assert.deepEqual(errors, []);
  await page.close();
});

test('builder: a link\'s rows come back; bad rows and bad fields are refused (Vietnamese)', async () => {
  const iv = 'blocks.1.attn.hook_pattern scale=0 heads=0:2 pos=odd;nonsense row;hook_embed zero pos=0';
  const { page, errors } = await openPage(env, `?lang=vi&iv=${encodeURIComponent(iv)}`);
  await page.locator('#iv-1-hook option[value="hook_embed"]').waitFor({ state: 'attached' });
  assert.equal(await page.locator('#iv-rows .iv-row').count(), 2);
  assert.match(await page.locator('#url-note').textContent(), /nonsense row/);
  assert.equal(await page.locator('#iv-0-heads').inputValue(), '0:2');
  const ex = await page.evaluate(() => window.hooklab.exportObject());
  assert.deepEqual(ex.interventions[0], { kind: 'scale', hook: 'blocks.1.attn.hook_pattern', factor: 0, positions: 'odd', heads: { range: [0, 2] } });
  const cli = nativeRun(MODEL_DIR, ex.prompt, ex.interventions);
  // (b) page (wasm) vs native CLI: tolerance derived from the native run's scales.
  assertCurve(ex.intervened.resid_std, cli.resid_std, nativeTolerance(cli), 'resid_std');
  // A bad range, a head out of range and a block out of range: told next to the field, in
  // Vietnamese; the run waits and the URL keeps the last valid row.
  const before = new URL(page.url()).searchParams.get('iv');
  await setField(page, 'iv-0-heads', '3:1');
  await page.locator('#iv-0-heads-err').waitFor({ state: 'visible' });
  assert.match(await page.locator('#iv-0-heads-err').textContent(), /Khoảng a:b cần/);
  await setField(page, 'iv-0-heads-mode', 'list');
  await setField(page, 'iv-0-heads', '0,99');
  assert.match(await page.locator('#iv-0-heads-err').textContent(), /Mỗi chỉ số phải từ/);
  await setField(page, 'iv-0-layer', '50');
  assert.match(await page.locator('#iv-0-layer-err').textContent(), /Cần một số nguyên từ 0 đến \d+/);
  assert.equal(await page.locator('#iv-0-layer').getAttribute('aria-invalid'), 'true');
  assert.equal(new URL(page.url()).searchParams.get('iv'), before);
  assert.match(await page.locator('#status').textContent(), /\S/);
  // A hook without a head axis has no heads selector.
  await setField(page, 'iv-0-layer', '1');
  await setField(page, 'iv-0-heads', '0');
  await setField(page, 'iv-0-hook', 'hook_resid_post');
  assert.equal(await page.locator('#iv-0-heads-mode').count(), 0);
  await waitForRun(page);
  assert.deepEqual((await page.evaluate(() => window.hooklab.exportObject())).interventions[0], { kind: 'scale', hook: 'blocks.1.hook_resid_post', factor: 0, positions: 'odd' });
  await shot(page, 'issue12-builder-vi');
  assert.deepEqual(errors, []);
  await page.close();
});

// hooklab heads on the CLI.
function nativeHeads(args, interventions = []) {
  const a = ['heads', '--model', MODEL_DIR, ...args];
  for (const iv of interventions) a.push('--intervene', JSON.stringify(iv));
  return JSON.parse(execFileSync(NATIVE, a, { maxBuffer: 1 << 28 }).toString());
}

test('heads: every head\'s pattern for a block, the block × head scores with tables, the repeated tokens; equal to the CLI', async () => {
  const { page, errors } = await openPage(env, '?lang=en&ex1=2.1&heads=previous_token,2');
  await page.locator('#heads-grid canvas').first().waitFor();
  const cfg = await page.evaluate(() => window.hooklab.exportObject().model);
  // Every head, baseline and intervened.
  assert.equal(await page.locator('#heads-grid figure').count(), cfg.n_head);
  assert.equal(await page.locator('#heads-grid canvas').count(), 2 * cfg.n_head);
  assert.match(await page.locator('#heads-grid h3').textContent(), /Block 2/);
  // The overview's table: one row per head, the CLI's scores.
  const prompt = await page.locator('#prompt').inputValue();
  const base = nativeHeads(['--prompt', prompt]);
  const int = nativeHeads(['--prompt', prompt], [{ kind: 'zero_head_k', layer: 2, head: 1 }]);
  const rows = await page.locator('#heads-overview table tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  assert.equal(rows.length, cfg.n_layer * cfg.n_head);
  const num = (s) => Number(s.replace(/,/g, ''));
  // (b) page (wasm) vs native CLI: a head score within activation_rel, derived from the native
  // runs of the same prompt (baseline and intervened), plus the shown number's rounding.
  const scoreTol = nativeTolerance(nativeRun(MODEL_DIR, prompt, [], { topk: 1, logits: false }),
    nativeRun(MODEL_DIR, prompt, [{ kind: 'zero_head_k', layer: 2, head: 1 }], { topk: 1, logits: false })).headScore();
  for (const [bh, b, i] of rows) {
    const [l, h] = bh.match(/^L(\d+)H(\d+)$/).slice(1).map(Number);
    for (const [text, want, what] of [[b, base.previous_token[l][h], 'baseline'], [i, int.previous_token[l][h], 'intervened']]) {
      const [shown, half] = shownNumber(text);
      assert.ok(Math.abs(shown - want) <= scoreTol + half, `${bh} ${what} ${text} vs ${want}, tolerance ${scoreTol} + ${half}`);
    }
  }
  // Tokens label the axes: each head's data table has the prompt's tokens as columns.
  const head0 = await page.locator('#heads-grid figure').first().locator('table thead th').allTextContents();
  assert.equal(head0.length, base.tokens.length + 1);
  // The repeated random tokens, in the URL, scored like the CLI's --repeat R --seed S.
  await page.locator('#heads-input').selectOption('repeat');
  await page.locator('#heads-r').fill('6');
  await page.locator('#heads-seed').fill('42');
  await page.locator('#heads-score').selectOption('induction');
  await page.waitForFunction(() => document.querySelector('#heads-status').textContent.includes('6 random tokens'));
  await page.waitForFunction(() => document.querySelectorAll('#heads-grid figure table thead th').length > 0 && document.querySelector('#heads-grid figure table thead th:last-child').textContent.startsWith('12 '));
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('repeat'), '6,42');
  assert.equal(url.searchParams.get('heads'), 'induction,2');
  const rep = nativeHeads(['--repeat', '6', '--seed', '42']);
  const rrows = await page.locator('#heads-overview table tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  for (const [bh, b] of rrows) {
    const [l, h] = bh.match(/^L(\d+)H(\d+)$/).slice(1).map(Number);
    assert.ok(Math.abs(num(b) - rep.induction[l][h]) < 1e-3 + 5e-4 * Math.abs(rep.induction[l][h]), `${bh} induction ${b} vs ${rep.induction[l][h]}`);
  }
  // A bad R is refused next to the field; clicking a cell of the overview picks that block.
  await page.locator('#heads-r').fill('0');
  assert.match(await page.locator('#heads-r-err').textContent(), /A whole number from 1 to \d+/);
  await page.locator('#heads-r').fill('6');
  const canvas = page.locator('#heads-overview canvas').first();
  await canvas.click({ position: { x: 34 + 22 * 0 + 5, y: 40 + 22 * 4 + 5 } }); // block 4, head 0
  await page.waitForFunction(() => document.querySelector('#heads-grid h3')?.textContent.includes('Block 4'));
  assert.equal(new URL(page.url()).searchParams.get('heads'), 'induction,4');
  await shot(page, 'issue12-heads-1400');
  // Vietnamese, and the narrow screen.
  await page.locator('#lang').selectOption('vi');
  await page.waitForFunction(() => document.querySelector('#heads-grid h3')?.textContent.includes('Khối 4'));
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'no horizontal scroll at 390 px');
  await shot(page, 'issue12-heads-390');
  // The link reloads the same view.
  const link = page.url();
  await page.goto(link);
  await waitForRun(page);
  await page.waitForFunction(() => document.querySelector('#heads-grid h3')?.textContent.includes('Khối 4'));
  assert.equal(await page.locator('#heads-input').inputValue(), 'repeat');
  assert.deepEqual(errors, []);
  await page.close();
});
