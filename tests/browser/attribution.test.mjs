// Attribution patching and gradient × input in the Patching view (issue #26, page), in Chromium
// on the real WebAssembly engine and the embedded model: the estimate's data table equals the
// native CLI's `hooklab patch --method attribution`, and gradient × input's equals
// `hooklab gradients`, each within the tolerance derived from the arithmetic (tests/tolerance.mjs,
// tools/golden_compare.py's docstring: estimate_abs and input_x_gradient_abs, computed here from
// the native runs' values and gradients as tools/make_goldens.py computes them for the goldens);
// the correlation shown equals the one computed from the two maps' tables; export; the
// TransformerLens code compiles; the method switch round-trips through the URL; Vietnamese;
// keyboard; no horizontal scroll at 390 px.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch, openPage, shot, nativeRun, shownNumber, REPO, NATIVE, pageStrings } from './helpers.mjs';
import { EMBEDDED_PAIR } from '../../web/src/panels/patch-data.js';
import { ATTRIBUTION_SITE } from '../../web/src/codegen-gradients.js';
import { deriveGradient, gradientTolerance, inputXGradientAbs, scalesOf, maxAbs } from '../tolerance.mjs';

const STRINGS = await pageStrings();

const MODEL = join(REPO, 'checkpoints/default');
const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const ivArgs = (ivs) => ivs.flatMap((iv) => ['--intervene', JSON.stringify(iv)]);
const native = (args) => JSON.parse(execFileSync(NATIVE, args, { maxBuffer: 1 << 30 }).toString());

function nativeAttribution({ clean, corrupted, answer, wrong }, hook, ivs = []) {
  return native(['patch', '--model', MODEL, '--clean', clean, '--corrupted', corrupted, '--answer', answer, '--wrong', wrong,
    '--hook', hook, '--method', 'attribution', ...ivArgs(ivs)]);
}
const nativeGradients = (prompt, { answer, wrong }, hooks, ivs = []) =>
  native(['gradients', '--model', MODEL, '--prompt', prompt, '--answer', answer, '--wrong', wrong, ...hooks.flatMap((h) => ['--hook', h]), ...ivArgs(ivs)]);

// The slice norms of a [T, d] or [T, H, dh] array (flat): per position over d, or per head over (T, dh).
function sliceNorms(data, shape, byHead) {
  const out = new Array(byHead ? shape[1] : shape[0]).fill(0);
  const inner = shape.slice(1).reduce((a, b) => a * b, 1);
  data.forEach((v, i) => {
    const p = Math.floor(i / inner);
    const k = byHead ? Math.floor((i % inner) / shape[2]) : p;
    out[k] += v * v;
  });
  return out.map(Math.sqrt);
}

// The tolerance of attribution patching's estimates (tools/make_goldens.py attribution_case,
// tools/golden_compare.py): derive_gradient's record from the two runs' scales, plus estimate_abs
// = 2 logit_abs + the largest over the slices of activation_rel (max|clean| + max|corrupted|)
// ||g||_slice + gradient_rel max|g| ||clean - corrupted||_slice, from the native runs' values at
// every block's hook of the family and the corrupted run's gradients there.
function attributionTolerance(pair, hook, ivs = []) {
  const names = Array.from({ length: 12 }, (_, l) => `blocks.${l}.${ATTRIBUTION_SITE[hook]}`);
  const [c, k] = [pair.clean, pair.corrupted].map((p) => nativeRun(MODEL, p, ivs, { topk: 1, logits: false, capture: names }));
  const g = nativeGradients(pair.corrupted, pair, names, ivs);
  const [s1, l1] = scalesOf(c.stats), [s2, l2] = scalesOf(k.stats);
  const rec = deriveGradient(c.model, c.tokens.length, Math.max(s1, s2), Math.max(l1, l2));
  let worst = 0;
  for (const n of names) {
    const cv = c.captures[n].data, kv = k.captures[n].data, gv = g.gradients[n].data, shape = c.captures[n].shape;
    const act = rec.activation_rel * (maxAbs(cv) + maxAbs(kv)), grad = rec.gradient_rel * maxAbs(gv);
    const gn = sliceNorms(gv, shape, hook === 'z'), dn = sliceNorms(cv.map((v, i) => v - kv[i]), shape, hook === 'z');
    gn.forEach((x, i) => { worst = Math.max(worst, act * x + grad * dn[i]); });
  }
  rec.estimate_abs = 2 * rec.logit_abs + worst;
  return gradientTolerance(rec);
}

// Gradient × input's tolerance (tests/tolerance.mjs inputXGradientAbs): the clean run's record,
// its embeddings and the gradient at blocks.0.hook_resid_pre.
function ixgTolerance(prompt, pair, ivs = []) {
  const run = nativeRun(MODEL, prompt, ivs, { topk: 1, logits: false, capture: ['hook_embed', 'hook_pos_embed'] });
  const g = nativeGradients(prompt, pair, ['blocks.0.hook_resid_pre'], ivs);
  const rec = deriveGradient(run.model, run.tokens.length, ...scalesOf(run.stats));
  const x = run.captures.hook_embed.data.map((v, i) => v + run.captures.hook_pos_embed.data[i]);
  rec.input_x_gradient_abs = inputXGradientAbs(rec, g.gradients['blocks.0.hook_resid_pre'].data, x, run.model.n_embd);
  return { tol: gradientTolerance(rec), want: g };
}

// A heat-map figure's data table: {cols, rows: [[shown text]]}.
async function readTable(page, sel) {
  return page.evaluate((s) => {
    const table = document.querySelector(`${s} table`);
    const cols = [...table.querySelectorAll('thead th')].map((th) => th.textContent).slice(1);
    const rows = [...table.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent));
    return { cols, rows };
  }, sel);
}

// got: shown texts (each within its tolerance plus its display rounding) or numbers.
function assertMatrix(got, want, tolOf, what) {
  assert.equal(got.length, want.length, `${what}: rows`);
  want.forEach((row, l) => {
    assert.equal(got[l].length, row.length, `${what}: row ${l} columns`);
    row.forEach((w, i) => {
      const [v, half] = typeof got[l][i] === 'string' ? shownNumber(got[l][i]) : [got[l][i], 0];
      const tol = tolOf(w) + half;
      assert.ok(Math.abs(v - w) <= tol, `${what}[${l}][${i}]: page ${got[l][i]} vs native ${w}, tolerance ${tol}`);
    });
  });
}

function pearson(xs, ys) {
  const n = xs.length, mx = xs.reduce((a, b) => a + b) / n, my = ys.reduce((a, b) => a + b) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) { sxy += (xs[i] - mx) * (ys[i] - my); sxx += (xs[i] - mx) ** 2; syy += (ys[i] - my) ** 2; }
  return sxy / Math.sqrt(sxx * syy);
}

// The correlation shown against the one computed from the two tables' shown numbers: within the
// shown r's rounding plus how far the tables' rounding can move r (to first order: Σ |∂r/∂v| ×
// half a unit of v's last shown digit, the partial derivatives by central differences), twice.
function assertCorrelation(shownR, exactRows, attrRows) {
  const [xs, hx] = [exactRows.flat().map(shownNumber).map((p) => p[0]), exactRows.flat().map(shownNumber).map((p) => p[1])];
  const [ys, hy] = [attrRows.flat().map(shownNumber).map((p) => p[0]), attrRows.flat().map(shownNumber).map((p) => p[1])];
  const r = pearson(xs, ys);
  let spread = 0;
  for (const [v, h, other, first] of [[xs, hx, ys, true], [ys, hy, xs, false]]) {
    v.forEach((_, i) => {
      const e = 1e-6, up = [...v], dn = [...v];
      up[i] += e;
      dn[i] -= e;
      const d = (first ? pearson(up, other) - pearson(dn, other) : pearson(other, up) - pearson(other, dn)) / (2 * e);
      spread += Math.abs(d) * h[i];
    });
  }
  const [got, half] = shownNumber(shownR);
  const bound = half + 2 * spread;
  assert.ok(Math.abs(got - r) <= bound, `correlation shown ${shownR} vs ${r} from the tables, bound ${bound}`);
  return r;
}

// The code shown is Python that compiles (run as shown by the author against TransformerLens 3.9:
// equal to the native CLI within 2e-6; here, with no torch, its syntax).
function assertPython(code, what) {
  const r = spawnSync(PY, ['-c', 'import sys, ast; ast.parse(sys.stdin.read())'], { input: code, encoding: 'utf8' });
  assert.equal(r.status, 0, `${what}: ${r.stderr}`);
}

const corrOf = async (page) => (await page.locator('#patch-attr-corr').textContent()).match(/over the (\d+) slices \((.+)\): r = (\S+)\.$/);

let env;
before(async () => { env = await launch(); });
after(async () => { await env?.close(); });

test('attribution patching equals the native CLI beside the exact map; correlation, scatter, gradient × input, export, code, URL', async () => {
  const { page, errors } = await openPage(env, '?lang=en');
  await page.locator('#patch-section').scrollIntoViewIfNeeded();
  assert.equal(await page.locator('#patch-method').inputValue(), 'exact');
  // The exact sweep first: the attribution parts stay hidden in exact mode.
  await page.locator('#patch-run').click();
  await page.locator('#fig-patch table').waitFor({ state: 'attached', timeout: 60000 });
  await page.locator('#fig-ixg table').waitFor({ state: 'attached', timeout: 60000 });
  assert.equal(await page.locator('#patch-attr').isHidden(), true);
  assert.equal(await page.locator('#fig-patch-attr').isHidden(), true);
  assert.equal(await page.locator('#attr-code-wrap').isHidden(), true);

  // The switch, from the keyboard: Tab from the metric reaches it.
  await page.locator('#patch-metric').focus();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'patch-method');
  await page.locator('#patch-method').selectOption('attribution');
  assert.equal(new URL(page.url()).searchParams.get('pmethod'), 'attribution');
  assert.equal(await page.locator('#patch-attr').isVisible(), true);
  assert.match(await page.locator('#patch-summary').textContent(), /Choose "attribution patching" above and run it/);
  await page.locator('#patch-run').click();
  await page.locator('#fig-patch-attr table').waitFor({ state: 'attached', timeout: 60000 });
  assert.match(await page.locator('#patch-summary').textContent(), /Attribution patching: 2 forwards and 1 backward in \d+ ms, however many slices \(84 here\)\. The exact sweep of the same slices: [\d.]+ full-forward equivalents/);

  // (b) page (wasm) vs native CLI: the estimate, with the tolerance derived from the native runs' values and gradients.
  const want = nativeAttribution(EMBEDDED_PAIR, 'resid_pre');
  const tol = attributionTolerance(EMBEDDED_PAIR, 'resid_pre');
  const D = want.clean_logit_diff - want.corrupted_logit_diff;
  const attrT = await readTable(page, '#fig-patch-attr');
  assert.equal(attrT.cols.length, want.clean_tokens.length);
  assert.match(attrT.cols[6], /6 " they" ← " he"/);
  assertMatrix(attrT.rows, want.normalized, (n) => tol.estimateNormalized(n, D), 'attribution normalized');
  assert.match(await page.locator('#fig-patch-attr .fig-title').textContent(), /^Attribution patching \(estimate\)\. normalised logit difference: block × position \(resid_pre\)$/);
  assert.match(await page.locator('#fig-patch .fig-title').textContent(), /^Exact patching\. /);
  // Side by side at 1400 px.
  const [bx, ba] = await Promise.all(['#fig-patch', '#fig-patch-attr'].map((s) => page.locator(s).boundingBox()));
  assert.ok(Math.abs(bx.y - ba.y) < 2 && ba.x > bx.x + bx.width - 1, `side by side: ${JSON.stringify([bx, ba])}`);

  // The correlation shown equals Pearson's r of the two tables.
  const exactT = await readTable(page, '#fig-patch');
  let m = await corrOf(page);
  assert.ok(m, await page.locator('#patch-attr-corr').textContent());
  assert.equal(Number(m[1]), 84);
  assert.equal(m[2], 'normalised logit difference');
  const rShown = m[3];
  const rNorm = assertCorrelation(rShown, exactT.rows, attrT.rows);
  assert.ok(rNorm > 0.9, `r = ${rNorm}`);

  // The other metric: the estimate's logit difference, and its correlation.
  await page.locator('#patch-metric').selectOption('logit_diff');
  const attrLd = await readTable(page, '#fig-patch-attr');
  assertMatrix(attrLd.rows, want.logit_diff, () => tol.estimate(), 'attribution logit_diff');
  m = await corrOf(page);
  assert.equal(m[2], 'logit difference');
  assertCorrelation(m[3], (await readTable(page, '#fig-patch')).rows, attrLd.rows);
  await page.locator('#patch-metric').selectOption('normalized');

  // The scatter: one point per slice, its data table (built when opened).
  const scatter = page.locator('#fig-patch-scatter');
  assert.equal(await scatter.isVisible(), true);
  assert.ok((await scatter.locator('canvas').boundingBox()).width > 100);
  await scatter.locator('summary').click();
  await scatter.locator('table tbody tr').nth(83).waitFor({ state: 'attached' });
  assert.equal(await scatter.locator('table tbody tr').count(), 84);
  assert.match(await scatter.locator('table tbody tr').nth(6).textContent(), /^block 0, 6 " they" ← " he"/);
  assert.match(await page.locator('#patch-attr').textContent(), /linear \(first-order Taylor\) estimate at the corrupted run.*attention saturates.*LayerNorm.*Nanda 2023.*Syed, Rager and Conmy \(2023.*one clean forward, one corrupted forward and one backward/s);

  // Export: JSON (the estimate, the exact sweep and the two correlations) and CSV.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.locator('#patch-attr-export-json').click()]);
  const exp = JSON.parse(readFileSync(await dl.path(), 'utf8'));
  assert.equal(exp.method, 'attribution');
  assert.equal(exp.clean, EMBEDDED_PAIR.clean);
  assert.equal(exp.model.id, 'default');
  assert.deepEqual(exp.interventions, []);
  assert.equal(exp.sweep.backwards, 1);
  // (b) page (wasm) vs native CLI: the exported estimate, no display rounding.
  assertMatrix(exp.sweep.normalized, want.normalized, (n) => tol.estimateNormalized(n, D), 'exported estimate');
  assert.equal(exp.exact.hook, 'resid_pre');
  const [rv, rhalf] = shownNumber(rShown);
  assert.ok(Math.abs(exp.correlation.normalized - rv) <= rhalf, `the exported correlation ${exp.correlation.normalized}, shown ${rShown}`);
  const [dlc] = await Promise.all([page.waitForEvent('download'), page.locator('#patch-attr-export-csv').click()]);
  const csv = readFileSync(await dlc.path(), 'utf8').trim().split('\n');
  assert.ok(csv.includes('# method: "attribution"'));
  const header = csv.find((l) => !l.startsWith('#'));
  assert.equal(header, 'layer,position,clean_token,corrupted_token,logit_diff,normalized,exact_logit_diff,exact_normalized');
  assert.equal(csv.length - csv.indexOf(header) - 1, 84);

  // Gradient × input of the clean prompt against `hooklab gradients`.
  const { tol: gtol, want: gw } = ixgTolerance(EMBEDDED_PAIR.clean, EMBEDDED_PAIR);
  const ixg = await readTable(page, '#fig-ixg');
  assert.deepEqual(ixg.cols, ['token', 'gradient × input']);
  assert.deepEqual(ixg.rows.map((r) => r[0]), gw.token_strings.map((s) => JSON.stringify(s)));
  // (b) page (wasm) vs native CLI: input_x_gradient, its derived absolute bound plus the display rounding.
  assertMatrix(ixg.rows.map((r) => [r[1]]), gw.input_x_gradient.map((v) => [v]), () => gtol.inputXGradient(), 'input_x_gradient');
  const toks = page.locator('#fig-ixg .ixg-tok');
  assert.equal(await toks.count(), 7);
  // The shading: the largest |value| gets the full colour of its sign (orange above 0, blue below).
  const ixv = gw.input_x_gradient;
  const top = ixv.reduce((b, v, i) => (Math.abs(v) > Math.abs(ixv[b]) ? i : b), 0);
  assert.equal(await toks.nth(top).evaluate((e) => e.style.background), ixv[top] > 0 ? 'rgb(179, 88, 6)' : 'rgb(33, 102, 172)');
  // The readout, from the keyboard: the engine's value at the focused position (3 significant digits shown).
  const readout = async (p, tok) => {
    const text = await page.locator('#fig-ixg .pmap-readout').textContent();
    const head = `Position ${p}, ${JSON.stringify(tok)}: `;
    assert.ok(text.startsWith(head), text);
    const shown = text.slice(head.length).split(/\s/)[0];
    const x = Number(shown.replace('\u2212', '-'));
    assert.ok(Math.abs(x - ixv[p]) <= Math.abs(ixv[p]) * 5e-3 + 1e-6, `position ${p}: shown ${shown}, engine ${ixv[p]}`);
  };
  await page.locator('#fig-ixg .ixg-tokens').focus();
  await readout(6, ' he');
  await page.keyboard.press('ArrowLeft');
  await readout(5, ',');
  assert.match(await page.locator('#fig-ixg .ixg-legend').textContent(), /lowers answer − wrong.*raises answer − wrong/);
  const [dlg] = await Promise.all([page.waitForEvent('download'), page.locator('#patch-ixg-export-json').click()]);
  const gexp = JSON.parse(readFileSync(await dlg.path(), 'utf8'));
  assert.equal(gexp.prompt, EMBEDDED_PAIR.clean);
  assertMatrix(gexp.gradients.input_x_gradient.map((v) => [v]), gw.input_x_gradient.map((v) => [v]), () => gtol.inputXGradient(), 'exported input_x_gradient');
  const [dlgc] = await Promise.all([page.waitForEvent('download'), page.locator('#patch-ixg-export-csv').click()]);
  assert.ok(readFileSync(await dlgc.path(), 'utf8').includes(`\nposition,token,token_id,input_x_gradient\n0,When,${gw.tokens[0]},`));

  // The TransformerLens code of both.
  const attrCode = await page.locator('#attr-code').textContent();
  assert.match(attrCode, /model\.add_hook\(name, save_grad, "bwd"\)/);
  assert.match(attrCode, /names = \[f"blocks\.\{l\}\.hook_resid_pre" for l in range\(model\.cfg\.n_layers\)\]/);
  assert.match(attrCode, /clean_tokens = model\.to_tokens\("When the man came home, he", prepend_bos=False\)/);
  const ixgCode = await page.locator('#ixg-code').textContent();
  assert.match(ixgCode, /act\["hook_embed"\] \* grad\["hook_embed"\] \+ act\["hook_pos_embed"\] \* grad\["hook_pos_embed"\]/);
  assertPython(attrCode, 'attribution code');
  assertPython(ixgCode, 'gradient × input code');
  await shot(page, 'attribution-1400');

  // Back to exact: the estimate hides, the exact map stays; the URL drops the key.
  await page.locator('#patch-method').selectOption('exact');
  assert.equal(new URL(page.url()).searchParams.get('pmethod'), null);
  assert.equal(await page.locator('#fig-patch-attr').isHidden(), true);
  assert.equal(await page.locator('#fig-patch').isVisible(), true);

  // The URL brings the method back; a value the page cannot use is announced and replaced.
  await page.goto(`${env.url}index.html?lang=en&pmethod=attribution&phook=z`);
  await page.locator('#patch-method').waitFor();
  await page.waitForFunction(() => window.hooklab?.ready);
  assert.equal(await page.locator('#patch-method').inputValue(), 'attribution');
  assert.equal(await page.locator('#patch-hook').inputValue(), 'z');
  assert.equal(await page.locator('#patch-attr').isVisible(), true);
  // By head: the estimate (alone, no exact sweep yet) against the CLI.
  await page.locator('#patch-section').scrollIntoViewIfNeeded();
  await page.locator('#patch-run').click();
  await page.locator('#fig-patch-attr table').waitFor({ state: 'attached', timeout: 60000 });
  assert.equal(await page.locator('#fig-patch').isHidden(), true);
  assert.match(await page.locator('#patch-attr-note').textContent(), /Run the exact sweep of this form too/);
  const wz = nativeAttribution(EMBEDDED_PAIR, 'z');
  const zt = await readTable(page, '#fig-patch-attr');
  assert.equal(zt.cols[0], 'head 0');
  const ztol = attributionTolerance(EMBEDDED_PAIR, 'z');
  // (b) page (wasm) vs native CLI: the per-head estimate.
  assertMatrix(zt.rows, wz.normalized, (n) => ztol.estimateNormalized(n, wz.clean_logit_diff - wz.corrupted_logit_diff), 'z normalized');
  assert.match(await page.locator('#attr-code').textContent(), /\.sum\(dim=\(0, 2\)\)/);
  await page.goto(`${env.url}index.html?lang=en&pmethod=taylor`);
  await page.waitForFunction(() => window.hooklab?.ready);
  assert.match(await page.locator('#url-note').textContent(), /pmethod=taylor/);
  assert.equal(await page.locator('#patch-method').inputValue(), 'exact');
  assert.equal(new URL(page.url()).searchParams.get('pmethod'), null);
  assert.deepEqual(errors, []);
  await page.close();
});

// English words of the UI (page-i18n.test.mjs's rule): in the English strings and in no Vietnamese one.
const letters = (s) => s.toLowerCase().match(/\p{L}{3,}/gu) || [];
const viWords = new Set(Object.values(STRINGS.vi).flatMap(letters));
const EN_WORDS = new Set(Object.values(STRINGS.en).flatMap(letters).filter((w) => !viWords.has(w)));

test('with the page\'s interventions, in Vietnamese: the estimate and gradient × input equal the CLI; no English', async () => {
  const ivs = [{ kind: 'zero_head_k', layer: 5, head: 2 }];
  const { page, errors } = await openPage(env, '?lang=en&ex1=5.2&phook=attn_out');
  await page.locator('#patch-section').scrollIntoViewIfNeeded();
  await page.locator('#patch-run').click();
  await page.locator('#fig-patch table').waitFor({ state: 'attached', timeout: 60000 });
  await page.locator('#patch-method').selectOption('attribution');
  await page.locator('#patch-run').click();
  await page.locator('#fig-patch-attr table').waitFor({ state: 'attached', timeout: 60000 });
  const want = nativeAttribution(EMBEDDED_PAIR, 'attn_out', ivs);
  const tol = attributionTolerance(EMBEDDED_PAIR, 'attn_out', ivs);
  // (b) page (wasm) vs native CLI, the exercise applied to both runs.
  assertMatrix((await readTable(page, '#fig-patch-attr')).rows, want.normalized,
    (n) => tol.estimateNormalized(n, want.clean_logit_diff - want.corrupted_logit_diff), 'attn_out with ex1');
  const { tol: gtol, want: gw } = ixgTolerance(EMBEDDED_PAIR.clean, EMBEDDED_PAIR, ivs);
  // (b) page (wasm) vs native CLI: gradient × input with the exercise.
  assertMatrix((await readTable(page, '#fig-ixg')).rows.map((r) => [r[1]]), gw.input_x_gradient.map((v) => [v]), () => gtol.inputXGradient(), 'input_x_gradient with ex1');
  assert.match(await page.locator('#attr-code').textContent(), /k = k\.clone\(\)\n {4}k\[:, :, 2, :\] = 0\n {4}return k\nmodel\.add_hook\("blocks\.5\.attn\.hook_k", zero_k_0, is_permanent=True\)/);

  await page.locator('#lang').selectOption('vi');
  assert.equal(await page.locator('#patch-method option[value=attribution]').textContent(), 'vá quy kết (attribution patching): ước lượng bậc một');
  assert.equal(await page.locator('#patch-attr-title').textContent(), 'Vá quy kết bên cạnh lượt quét chính xác');
  assert.match(await page.locator('#patch-attr-corr').textContent(), /^Hệ số tương quan Pearson giữa ước lượng và giá trị chính xác trên 84 lát cắt \(hiệu logit đã chuẩn hóa\): r = 0,\d+\.$/);
  assert.match(await page.locator('#patch-attr').textContent(), /Vì sao chúng khác nhau: vá quy kết thay mỗi lần chạy có vá bằng một ước lượng tuyến tính/);
  assert.match(await page.locator('#fig-patch-attr .fig-title').textContent(), /^Vá quy kết \(ước lượng\)\. hiệu logit đã chuẩn hóa: khối × vị trí \(attn_out\)$/);
  assert.equal(await page.locator('#patch-ixg-title').textContent(), 'Gradient × đầu vào của câu sạch');
  assert.match(await page.locator('#patch-summary').textContent(), /^Hiệu logit của câu sạch [-−\d,]+, câu hỏng [-−\d,]+\. Vá quy kết: 2 lượt xuôi và 1 lượt ngược/);
  await page.locator('#fig-ixg .ixg-tokens').focus();
  assert.match(await page.locator('#fig-ixg .pmap-readout').textContent(), /^Vị trí 6, " he": [-−]?\d+,\d+/);
  assert.match(await page.locator('#attr-code').textContent(), /# 2\. Lần chạy câu hỏng, xuôi rồi ngược/);
  assertPython(await page.locator('#attr-code').textContent(), 'attribution code (vi)');
  assertPython(await page.locator('#ixg-code').textContent(), 'gradient × input code (vi)');
  // No English UI text in the view (prompt tokens, code and quoted tokens are not UI text).
  const text = await page.evaluate(() => {
    const skip = (el) => el.closest('pre, textarea, select#patch-answer-pick, select#patch-wrong-pick, .ixg-tokens, [hidden]');
    const out = [];
    const root = document.querySelector('#patch-section');
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!el || skip(el) || !el.getClientRects().length || !n.textContent.trim()) continue;
      out.push(n.textContent);
    }
    for (const el of root.querySelectorAll('[aria-label]')) if (!skip(el)) out.push(el.getAttribute('aria-label'));
    for (const o of root.querySelectorAll('select:not(#patch-answer-pick):not(#patch-wrong-pick) option')) out.push(o.textContent);
    return out.join('\n');
  });
  const prose = text.replace(/"[^"\n]*"|“[^”\n]*”/g, ' ').replace(/\b[\w.]*(hook_|ln_|attn\.|mlp\.)[\w.]*/g, ' ');
  assert.deepEqual([...new Set(letters(prose).filter((w) => EN_WORDS.has(w)))], [], 'English words in the Vietnamese view');
  await shot(page, 'attribution-vi');
  assert.deepEqual(errors, []);
  await page.close();
});

test('phone width: both maps, the scatter and the tokens fit, no horizontal scroll', async () => {
  const page = await env.context.newPage();
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${env.url}index.html?lang=en`);
  await page.waitForFunction(() => window.hooklab?.ready, null, { timeout: 60000 });
  await page.locator('#patch-run').click();
  await page.locator('#fig-patch table').waitFor({ state: 'attached', timeout: 60000 });
  await page.locator('#patch-method').selectOption('attribution');
  await page.locator('#patch-run').click();
  await page.locator('#fig-patch-attr table').waitFor({ state: 'attached', timeout: 60000 });
  await page.locator('#fig-patch-scatter').scrollIntoViewIfNeeded();
  await page.waitForTimeout(300);
  const over = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.equal(over, 0, 'horizontal scroll at 390 px');
  for (const sel of ['#fig-patch canvas', '#fig-patch-attr canvas', '#fig-patch-scatter canvas', '#fig-ixg .ixg-tokens', '#fig-ixg .ixg-legend']) {
    const b = await page.locator(sel).boundingBox();
    assert.ok(b && b.x >= 0 && b.x + b.width <= 390, `${sel}: ${JSON.stringify(b)}`);
  }
  // Stacked: the estimate below the exact map.
  const [bx, ba] = await Promise.all(['#fig-patch', '#fig-patch-attr'].map((s) => page.locator(s).boundingBox()));
  assert.ok(ba.y >= bx.y + bx.height - 1, 'stacked');
  await page.locator('#patch-section').scrollIntoViewIfNeeded();
  await shot(page, 'attribution-390');
  await page.close();
});
