// Shared setup for the browser tests: Debian's Chromium through playwright-core, a fresh
// profile, the page's own static server, console-error collection and screenshots.
import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { startServer, hasWasmEngine, REPO, NATIVE } from './server.mjs';
import { derivedTolerance, maxAbs } from '../tolerance.mjs';

export const SHOTS = join(REPO, 'test-results');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export { REPO, NATIVE, hasWasmEngine };

// The page's whole string table: i18n.js's own strings and every *-strings.js file's, which
// join it when they load (the page loads them all with their panels).
export async function pageStrings() {
  for (const dir of ['web/src', 'web/src/panels'])
    for (const f of readdirSync(join(REPO, dir)).filter((n) => n.endsWith('-strings.js'))) await import(pathToFileURL(join(REPO, dir, f)).href);
  return (await import(pathToFileURL(join(REPO, 'web/src/i18n.js')).href)).STRINGS;
}

export async function launch() {
  if (!existsSync(join(REPO, 'web/dist/index.html'))) throw new Error('web/dist is missing: run "bash tools/build.sh web" first');
  if (!hasWasmEngine()) throw new Error('web/dist has no WebAssembly engine: run "bash tools/build.sh wasm" then "bash tools/build.sh web"');
  const profile = mkdtempSync(join(tmpdir(), 'hooklab-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 1000 },
    acceptDownloads: true,
  });
  const srv = await startServer();
  mkdirSync(SHOTS, { recursive: true });
  return {
    context,
    url: srv.url,
    async close() {
      await context.close();
      await srv.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

// A page that records console errors and uncaught exceptions.
export async function openPage(env, query = '', { waitResult = true } = {}) {
  const page = await env.context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${env.url}index.html${query}`);
  if (waitResult) await waitForRun(page);
  return { page, errors };
}

// The text of `selector` once it matches `re`, or as it is after `timeout` (for the
// assertion to show). A panel off screen draws when it scrolls into view, a frame after
// the click that scrolled it there.
export async function textMatching(page, selector, re, timeout = 10000) {
  await page.waitForFunction(([s, src, flags]) => new RegExp(src, flags).test(document.querySelector(s)?.textContent ?? ''),
    [selector, re.source, re.flags], { timeout }).catch(() => {});
  return page.locator(selector).textContent();
}

// Waits until the page has a result for its current state and is idle.
export async function waitForRun(page, timeout = 60000) {
  await page.waitForFunction(() => window.hooklab?.ready && !document.body.classList.contains('busy'), null, { timeout });
  // Let a debounced re-run start and finish, if one is pending.
  await page.waitForTimeout(350);
  await page.waitForFunction(() => !document.body.classList.contains('busy'), null, { timeout });
}

export async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

// The engine's numbers for the same experiment, from the native CLI.
export function nativeRun(modelDir, prompt, interventions = [], { topk = 10, capture = [], logits = true } = {}) {
  const args = ['run', '--model', modelDir, '--prompt', prompt, '--topk', String(topk)];
  for (const iv of interventions) args.push('--intervene', JSON.stringify(iv));
  for (const c of capture) args.push('--capture', c);
  if (logits) args.push('--logits');
  return JSON.parse(execFileSync(NATIVE, args, { maxBuffer: 1 << 30 }).toString());
}

// The page's numbers (the wasm engine in Chromium) against native CLI runs: two builds of one
// engine whose sums differ in order (Eigen natively, simd128 kernels in wasm). No golden: the
// tolerance is derived (tests/tolerance.mjs, tools/golden_compare.py's formula) from the model,
// the token count and the native runs' own scales (several when a result depends on several).
export function nativeTolerance(...runs) {
  return derivedTolerance(runs[0].model, runs[0].tokens.length, ...runs.map((r) => r.stats));
}

// A curve (resid_std, hidden_std) within the tolerance: activation_rel times its largest value.
export function assertCurve(got, want, tol, what) {
  assert.equal(got.length, want.length, `${what}: length`);
  const bound = tol.activation(maxAbs(want));
  got.forEach((x, i) => assert.ok(Math.abs(x - want[i]) <= bound, `${what}[${i}]: page ${x} vs native ${want[i]}, tolerance ${bound}`));
}

// A number as the page shows it (English format: thousands commas, U+2212 minus) and half a
// unit of its last shown digit (its display rounding, a hair wider for the decimal's binary
// representation): [value, half].
export function shownNumber(text) {
  const t = String(text).trim().replace(/,/g, '').replace('\u2212', '-');
  const m = t.match(/^[-+]?\d*(?:\.(\d*))?(?:e([-+]?\d+))?$/i);
  return [Number(t), m ? 0.5 * 10 ** (Number(m[2] ?? 0) - (m[1] ?? '').length) * (1 + 1e-12) : NaN];
}

export function close(a, b, rel = 1e-4) {
  if (a === null || b === null) return a === b;
  return Math.abs(a - b) <= rel * Math.max(1, Math.abs(a), Math.abs(b));
}
