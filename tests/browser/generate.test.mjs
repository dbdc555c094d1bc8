// Generation in Chromium (issue #12): the JS API in a real browser (wasm/js/hooklab.js
// loaded as a module, the checkpoint over HTTP) gives the native engine's tokens, greedy
// and seeded sampling, with the exercises and noise; the cached decode equals recomputing
// the sequence every step; an AbortSignal stops between tokens (the browser's event-loop
// yield, not node's).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startServer, REPO, NATIVE } from './server.mjs';
import { CHROMIUM } from './helpers.mjs';
import { generationTolerances } from '../tolerance.mjs';

const PROMPT = 'When Mary and John went to the store, John gave a drink to';
const MODEL = 'build/ckpt/mid';
const CASES = [
  [[], {}],
  [[{ kind: 'zero_head_k', layer: 9, head: 2 }], { temperature: 0.9, topK: 40, topP: 0.95, seed: 1234 }],
  [[{ kind: 'noise_even_neurons', layer: 9, mean: 10, std: 1, seed: 3 }], {}],
  [[{ kind: 'noise_even_neurons', layer: 9, mean: 10, std: 1, seed: 3 }], { temperature: 0.9, topK: 40, topP: 0.95, seed: 7 }],
  [[{ kind: 'scale_hidden', layer: 9, factor: 10 }], { temperature: 1.2, seed: 99 }],
  [[{ kind: 'noise', hook: 'blocks.3.attn.hook_attn_scores', std: 2, heads: [1, 5], seed: 11 }], { temperature: 0.8, seed: 5 }],
];
const RECOMPUTE = { kind: 'scale', hook: 'blocks.0.hook_resid_pre', factor: 1, positions: [-1] };

let srv, context, profile;
before(async () => {
  srv = await startServer({ root: REPO, extraRoutes: { '/gen.html': { type: 'text/html', body: '<!doctype html><title>gen</title>' } } });
  profile = mkdtempSync(join(tmpdir(), 'hooklab-chromium-'));
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] });
});
after(async () => {
  await context?.close();
  await srv?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

function native(ivs, s) {
  const args = ['generate', '--model', join(REPO, MODEL), '--prompt', PROMPT, '--max-new-tokens', '10'];
  if (s.temperature !== undefined) args.push('--temperature', String(s.temperature));
  if (s.topK !== undefined) args.push('--top-k', String(s.topK));
  if (s.topP !== undefined) args.push('--top-p', String(s.topP));
  if (s.seed !== undefined) args.push('--seed', String(s.seed));
  for (const iv of ivs) args.push('--intervene', JSON.stringify(iv));
  return JSON.parse(execFileSync(NATIVE, args).toString());
}

// Chromium's wasm engine against the native CLI: two builds of one engine whose sums differ in
// order, so step k's probability p (of the raw logits) may differ by 2 logit_abs p, the record
// derived from step k's own forward run natively (tests/tolerance.mjs's generationTolerances).
function nativeRunOf(ivs) {
  const run = (text, list) => {
    const args = ['run', '--model', join(REPO, MODEL), '--prompt', text];
    for (const iv of list) args.push('--intervene', JSON.stringify(iv));
    try { return JSON.parse(execFileSync(NATIVE, args, { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 26 }).toString()); } catch { return null; }
  };
  return (text, accepted) => run(text, accepted ? ivs.filter((iv) => run(text, [iv])) : ivs);
}

test('Chromium: generation equals the native engine and the full recompute; abort stops it', async () => {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${srv.url}gen.html`);
  const got = await page.evaluate(async ({ prompt, model, cases, recompute }) => {
    const { HookLab } = await import('/wasm/js/hooklab.js');
    const lab = await HookLab.load(`/${model}/`);
    const out = [];
    for (const [ivs, s] of cases) {
      const streamed = [];
      const r = await lab.generate(prompt, { maxNewTokens: 10, interventions: ivs, ...s, onToken: (t) => streamed.push(t.id) });
      const naive = await lab.generate(prompt, { maxNewTokens: 10, interventions: [...ivs, recompute], ...s });
      out.push({ r, naive, streamed });
    }
    const ac = new AbortController();
    let seen = 0;
    let aborted = '';
    try {
      await lab.generate(prompt, { maxNewTokens: 50, signal: ac.signal, onToken: () => { if (++seen === 3) ac.abort(); } });
    } catch (e) {
      aborted = e.name;
    }
    lab.dispose();
    return { out, aborted, seen };
  }, { prompt: PROMPT, model: MODEL, cases: CASES, recompute: RECOMPUTE });

  CASES.forEach(([ivs, s], i) => {
    const what = `${JSON.stringify(ivs)} ${JSON.stringify(s)}`;
    const { r, naive, streamed } = got.out[i];
    const want = native(ivs, s);
    assert.deepEqual(r.new_tokens, want.new_tokens, `${what}: Chromium vs native`);
    assert.equal(r.stopped, want.stopped, what);
    const tols = generationTolerances(want, PROMPT, nativeRunOf(ivs));
    // (b) Chromium (wasm) vs native CLI: tolerance derived from the native runs' scales.
    r.steps.forEach((st, k) => assert.ok(Math.abs(st.prob - want.steps[k].prob) <= tols[k](want.steps[k].prob), `${what} step ${k}: prob ${st.prob} vs ${want.steps[k].prob}`));
    assert.equal(r.kv_cache, true, what);
    assert.equal(naive.kv_cache, false, what);
    assert.deepEqual(naive.new_tokens, r.new_tokens, `${what}: cache vs recompute`);
    assert.deepEqual(streamed, r.new_tokens, `${what}: onToken`);
  });
  assert.equal(got.aborted, 'AbortError');
  assert.equal(got.seen, 3);
  assert.deepEqual(errors, []);
  await page.close();
});
