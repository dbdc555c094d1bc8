// The Generate panel (web/src/panels/, issue #12) in Chromium, outside the page: a harness
// page mounts it over the page's EngineClient and a module worker that serves the protocol's
// 'generate' request with worker/dispatch.js, worker/generate.js and the wasm engine, as
// worker/engine-worker.js does. Streams both continuations with the native
// engine's tokens (generated together: both stream at once), tints by probability, stops on request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startServer, REPO, NATIVE } from './server.mjs';
import { CHROMIUM } from './helpers.mjs';

const PROMPT = 'The jury said that the city of Atlanta had a';
const MODEL = 'checkpoints/default';
const IVS = [{ kind: 'scale_hidden', layer: 9, factor: 10 }];

const WORKER = `import { HookLab } from '/wasm/js/hooklab.js';
import { createDispatcher } from '/web/src/worker/dispatch.js';
import { generate } from '/web/src/worker/generate.js';
const ready = HookLab.load('/${MODEL}/');
const dispatch = createDispatcher({ generate: async (args, ctx) => generate(await ready, args, ctx) });
self.onmessage = (ev) => dispatch(ev.data);`;
const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>generate panel</title>
<style>:root{--border:#ccc;--muted:#666}</style></head><body><section id="gen"></section>
<script type="module">
import { mountGeneratePanel } from '/web/src/panels/generate-panel.js';
import { genStateFromParams } from '/web/src/generate-state.js';
import { EngineClient } from '/web/src/worker-api.js';
const client = new EngineClient({ worker: new Worker('/gen-worker.js', { type: 'module' }) });
window.panel = mountGeneratePanel(document.getElementById('gen'), { client, lang: 'en',
  settings: genStateFromParams(new URLSearchParams(location.search)),
  getInput: () => ({ prompt: ${JSON.stringify(PROMPT)}, interventions: ${JSON.stringify(IVS)} }),
  onSettings: (s) => { window.lastSettings = s; } });
</script></body></html>`;

let srv, context, profile;
before(async () => {
  srv = await startServer({ root: REPO, extraRoutes: {
    '/gen-panel.html': { type: 'text/html', body: PAGE }, '/gen-worker.js': { type: 'text/javascript', body: WORKER },
    '/favicon.ico': { type: 'image/x-icon', body: '' } } });
  profile = mkdtempSync(join(tmpdir(), 'hooklab-chromium-'));
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] });
});
after(async () => {
  await context?.close();
  await srv?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

const native = (ivs, n) => JSON.parse(execFileSync(NATIVE, ['generate', '--model', join(REPO, MODEL), '--prompt', PROMPT,
  '--max-new-tokens', String(n), ...ivs.flatMap((iv) => ['--intervene', JSON.stringify(iv)])]).toString());

test('the Generate panel streams the baseline and the intervened continuation, tinted, and stops', async () => {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(`${srv.url}gen-panel.html?gn=12`);
  assert.equal(await page.locator('.gen-controls input').first().inputValue(), '12');  // URL state
  await page.click('.gen-go');
  await page.waitForFunction(() => [...document.querySelectorAll('.gen-why')].every((e) => e.textContent), null, { timeout: 60000 });
  for (const [which, ivs] of [['baseline', []], ['intervened', IVS]]) {
    const want = native(ivs, 12);
    const toks = await page.locator(`.gen-${which} .gen-tok`).allTextContents();
    assert.deepEqual(toks, want.steps.map((s) => s.token), which);
    const shades = await page.locator(`.gen-${which} .gen-tok`).evaluateAll((es) => es.map((e) => Number(/, ([0-9.]+)\)$/.exec(e.style.background)[1])));
    want.steps.forEach((s, i) => assert.ok(Math.abs(shades[i] - (0.08 + 0.62 * s.prob)) < 5e-3, `${which} token ${i} shade` /* 8-bit alpha */));
    assert.match(await page.locator(`.gen-${which} .gen-why`).textContent(), want.stopped === 'length' ? /token limit/ : /the model wrote <\|endoftext\|>/, want.stopped);
  }
  assert.notDeepEqual(native([], 12).new_tokens, native(IVS, 12).new_tokens);  // the two columns differ

  // Stop after the first streamed tokens: the status says so and the button comes back.
  await page.fill('.gen-controls input >> nth=0', '120');
  await page.locator('.gen-controls input >> nth=0').dispatchEvent('change');
  assert.equal(await page.evaluate(() => window.lastSettings.maxNewTokens), 120);
  await page.click('.gen-go');
  await page.waitForFunction(() => document.querySelectorAll('.gen-baseline .gen-tok').length >= 2);
  await page.click('.gen-stop');
  await page.waitForFunction(() => !document.querySelector('.gen-go').disabled, null, { timeout: 60000 });
  const n = await page.locator('.gen-baseline .gen-tok').count();
  assert.ok(n < 118, `stopped after ${n} tokens`);
  // The two continuations are generated together (one forward per step), so both streamed, up
  // to where one wrote <|endoftext|> (the intervened one does, at its 8th token, on the default).
  assert.equal(await page.locator('.gen-intervened .gen-tok').count(), Math.min(n, native(IVS, 120).steps.length));
  assert.match(await page.locator('p[aria-live]').textContent(), /stopped/);
  assert.deepEqual(errors, []);
  await page.close();
});
