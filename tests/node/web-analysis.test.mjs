// The page's pure number logic (web/src/analysis.js): the compensation caption's figures and
// when they are withheld, the quiz truths, per-position std, the CSV, typed-array inputs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compensationReport, quizTruths, positionStd, toCsv, headMatrix, finiteRange } from '../../web/src/analysis.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
// The engine's hook table (lab.hooks()), for the captures' layouts; null without the wasm build.
const TABLE = existsSync(join(REPO, 'wasm/dist/hooklab.wasm')) ? await (async () => {
  const { HookLab } = await import('../../wasm/js/hooklab.js');
  const lab = await HookLab.load(join(REPO, 'build/ckpt/mid'));
  try { return lab.hooks(1); } finally { lab.dispose(); }
})() : null;
const NO_WASM = 'wasm engine not built (npm run build:wasm)';

// A fake 4-block run: resid_std per block, hidden_std = [emb, blocks 0..2, ln_f].
const run = (resid, lnf, extra = {}) => ({
  resid_std: resid, hidden_std: [1, ...resid.slice(0, -1), lnf],
  top: [{ id: 1, token: 'a', prob: 0.5 }, { id: 2, token: 'b', prob: 0.3 }], logits_last: [2, 1.5, 0], ...extra,
});
const base = run([1, 2, 4, 8], 3);
const scale = (layer, factor) => ({ kind: 'scale_hidden', layer, factor });

test('one scaling: what the later blocks undid and what ln_f removed, on a log scale', () => {
  // ×0.1 at block 1; the last block is back to ×0.5; ln_f to ×1.
  const int = run([1, 0.2, 1, 4], 3);
  const c = compensationReport([scale(1, 0.1)], base, int);
  assert.equal(c.reason, null);
  assert.equal(c.layer, 1);
  assert.ok(Math.abs(c.rL - 0.1) < 1e-12);
  assert.ok(Math.abs(c.net - 100 * (1 - Math.log(0.5) / Math.log(0.1))) < 1e-9);
  assert.ok(Math.abs(c.lnf - 100 * (Math.log(0.5) / Math.log(0.1))) < 1e-9);
  // Amplified: the network moved further away (net < 0), not "undid -x%".
  const amp = compensationReport([scale(1, 0.1)], base, run([1, 0.2, 0.2, 0.4], 3));
  assert.ok(amp.net < 0);
});

test('no figure where the network\'s share is not defined, with the reason', () => {
  const int = run([1, 0.2, 1, 4], 3);
  assert.equal(compensationReport([], base, int), null);
  // The cases: two scalings at different blocks; both at one block cancelling;
  // noise at the same block.
  assert.equal(compensationReport([scale(1, 0.1), scale(2, 10)], base, int).reason, 'twoBlocks');
  assert.equal(compensationReport([scale(1, 0.1), scale(1, 10)], base, run([1, 2, 4, 8], 3)).reason, 'cancel');
  const noise = { kind: 'noise_even_neurons', layer: 1, mean: 10, std: 1, seed: 0 };
  assert.equal(compensationReport([noise, scale(1, 0.1)], base, int).reason, 'mixed');
  assert.equal(compensationReport([scale(1, 0)], base, run([1, 0, 0, 0], 3)).reason, 'zero');
  assert.equal(compensationReport([scale(1, 1e38)], base, run([1, null, null, null], null)).reason, 'nonfinite');
  assert.equal(compensationReport([scale(3, 10)], base, run([1, 2, 4, 80], 3)).reason, 'lastBlock');
  assert.equal(compensationReport([scale(1, 0.1), scale(2, 10)], base, int).net, null);
  // Same block, product not 1: defined, relative to the product.
  const c = compensationReport([scale(1, 0.1), scale(1, 0.5)], base, run([1, 0.1, 1, 4], 3));
  assert.ok(Math.abs(c.factor - 0.05) < 1e-15);
  assert.equal(c.reason, null);
});

test('quiz truths come from the run, null where undefined', () => {
  const int = run([1, 0.2, 1, 4], 3.01, { top: [{ id: 2, token: 'b', prob: 0.6 }] });
  const ex = { ex1: { on: false } };
  const qs = quizTruths([scale(1, 0.1)], ex, base, int);
  const by = Object.fromEntries(qs.map((q) => [q.id, q]));
  assert.equal(by.recover.truth, true); // net = 70%
  assert.equal(by.hf1.truth, true);
  assert.equal(by.top1.truth, true);
  assert.deepEqual(by.recover.vars, { l: 1, f: 0.1 });
  const two = Object.fromEntries(quizTruths([scale(1, 0.1), scale(2, 10)], ex, base, int).map((q) => [q.id, q]));
  assert.equal(two.recover.truth, null);
  assert.equal(two.recover.reason, 'twoBlocks');
  // Another exercise on besides the scaling: no figure, the reason instead (the page's predict
  // mode asks lesson 1's questions only for its experiments; tests/browser/page-panels.test.mjs).
  const noise = { kind: 'add_noise', layer: 9, mean: 10, std: 1, seed: 0 };
  const mixed = Object.fromEntries(quizTruths([noise, scale(1, 0.1)], ex, base, int).map((q) => [q.id, q]));
  assert.equal(mixed.recover.truth, null);
  assert.equal(mixed.recover.reason, 'mixed');
  // Uniform head: a [H=1, T=2, T=2] pattern.
  const pat = { shape: [1, 2, 2], data: new Float32Array([1, 0, 0.5, 0.5]) };
  const zk = { kind: 'zero_head_k', layer: 0, head: 0 };
  const u = quizTruths([zk], { ex1: { on: true, layer: 0, head: 0 } }, base, { ...base, captures: { 'blocks.0.attn.hook_pattern': pat } });
  assert.equal(u.find((q) => q.id === 'uniform').truth, true);
  assert.equal(u.find((q) => q.id === 'top1').truth, false);
});

// The hooks' layouts come from the engine's hook table (lab.hooks()).
test('per-position std: [T, d] rows and attention patterns over the visible keys', (t) => {
  if (!TABLE) return t.skip(NO_WASM);
  const entry = (n) => TABLE.find((h) => h.name === n);
  const cap = { shape: [2, 3], data: new Float32Array([1, 2, 3, 5, 5, 5]) };
  assert.deepEqual(positionStd(cap, entry('blocks.{i}.hook_resid_post')), [1, 0]);
  // [H=2, T=2, T=2]: position 0 sees only key 0 (2 values), position 1 keys 0 and 1 (4 values).
  const pat = { shape: [2, 2, 2], data: [1, 0, 0.25, 0.75, 1, 0, 0.75, 0.25] };
  for (const n of ['blocks.{i}.attn.hook_pattern', 'blocks.{i}.attn.hook_attn_scores']) {
    const s = positionStd(pat, entry(n));
    assert.equal(s[0], 0);
    assert.ok(Math.abs(s[1] - Math.sqrt((4 * 0.25 ** 2) / 3)) < 1e-12);
  }
  // [T=2, H=1, d=2]: q/k/v/z have their positions first too.
  assert.deepEqual(positionStd({ shape: [2, 1, 2], data: [0, 2, 1, 1] }, entry('blocks.{i}.attn.hook_z')), [Math.SQRT2, 0]);
  assert.deepEqual(positionStd({ shape: [1, 2], data: [NaN, 1] }, entry('hook_embed')), [null]);
});

test('typed arrays in, plain numbers out', () => {
  const m = headMatrix({ shape: [1, 2, 2], data: new Float32Array([1, 0, 0.5, 0.5]) }, 0);
  assert.ok(Array.isArray(m[0]));
  assert.deepEqual(finiteRange(new Float32Array([3, -2]), [NaN, 7]), { lo: -2, hi: 7 });
  assert.equal(finiteRange([NaN]), null);
});

test('the CSV names model, prompt, interventions and date and carries every shown number', (t) => {
  if (!TABLE) return t.skip(NO_WASM);
  const pat = { shape: [1, 2, 2], data: new Float32Array([1, 0, 0.5, 0.5]) };
  const b = { ...base, stats: { hook_resid_post: { std: [1, 2, 4, 8] } }, captures: { 'blocks.0.attn.hook_pattern': pat } };
  const i = { ...run([1, 0.2, 1, 4], 3), stats: { hook_resid_post: { std: [1, 0.2, 1, 4] } }, captures: { 'blocks.0.attn.hook_pattern': pat } };
  const exp = { model: { name: 'Tiny, "quoted"' }, prompt: 'a,b', interventions: [scale(1, 0.1)], date: '2026-11-27T00:00:00.000Z', topk: 2,
    baseline: b, intervened: i,
    compare: { kl: 0.125, top: [{ id: 1, token: 'a', pBase: 0.5, pInt: 0.25, delta: -0.25 }, { id: 2, token: 'b', pBase: 0.25, pInt: 0.5, delta: 0.25 }] },
    logit_lens: [{ layer: 0, kl: 0.25, topBase: { token: 'a', prob: 0.5 }, topInt: { token: 'b', prob: 0.4 } }] };
  const csv = toCsv(exp, TABLE);
  const lines = csv.trim().split('\n');
  assert.equal(lines[0], 'table,index,label,baseline,intervened');
  assert.equal(lines[1], 'meta,0,model,"Tiny, ""quoted""",');
  assert.equal(lines[2], 'meta,1,prompt,"a,b",');
  assert.match(lines[3], /^meta,2,interventions,"\[\{""kind"":""scale_hidden""/);
  assert.equal(lines[4], 'meta,3,date,2026-11-27T00:00:00.000Z,');
  assert.ok(lines.includes('resid_std,1,block 1,2,0.2'));
  assert.ok(lines.includes('logit_lens_kl,0,block 0,0.25,'));
  assert.ok(lines.includes('logit_lens_top1_token,0,block 0,a,b'));
  assert.ok(lines.includes('stats hook_resid_post std,3,block 3,8,4'));
  assert.ok(lines.includes('capture blocks.0.attn.hook_pattern,2,0 1 0,0.5,0.5'));
  assert.ok(lines.some((l) => l.startsWith('position_std blocks.0.attn.hook_pattern,1,position 1,')));
  assert.ok(lines.includes('kl_final,0,KL(baseline||intervened) nats,0.125,'));
  assert.ok(lines.includes('next_token_prob,1,b,0.25,0.5'));
  assert.equal(lines.filter((l) => l.startsWith('next_token_prob')).length, 2);
});

// The engine's error messages, mapped to the page's i18n keys (web/src/errors.js).
import { describeError } from '../../web/src/errors.js';
import { STRINGS } from '../../web/src/i18n.js';

test('engine errors map to translated keys with their numbers; unknown ones keep the raw text', () => {
  const cases = [
    ['the prompt is empty: type at least one character', 'errPromptEmpty', {}],
    ["the prompt is 140 tokens long but this model's context is 128", 'errPromptLong', { n: '140', ctx: '128' }],
    ['capture blocks.50.attn.hook_pattern: layer out of range (0..11)', 'errLayer', { l: '50', max: '11' }],
    ['intervention: layer 12 is out of range (the model has blocks 0..11)', 'errLayer', { l: '12', max: '11' }],
    ['intervention: head 99 is out of range (the model has heads 0..11)', 'errHead', { h: '99', max: '11' }],
    ['model.safetensors is 2.00 GiB: too big for the browser engine (a wasm32 heap holds at most 4 GiB; limit 1.8 GiB)', 'errTooBig', { size: '2.00 GiB' }],
    ['model.safetensors is truncated: the header says 9 bytes but the file has 5', 'errTruncated', {}],
    ['config.json: missing "n_layer"', 'errConfig', {}],
    ['https://huggingface.co/x/model.safetensors: not found (HTTP 404)', 'errHttp', { status: '404' }],
    ['https://huggingface.co/x/config.json: download failed (Failed to fetch); offline, or blocked?', 'errDownload', {}],
    ['model.safetensors: missing tensor "h.0.ln_1.weight"', 'errSafetensors', {}],
    ['https://huggingface.co/x/: download failed (Failed to fetch); offline, or blocked?', 'errDownload', {}],
    ['intervention: "factor" must be a finite number, got null', 'errNotFinite', {}],
  ];
  for (const [msg, key, vars] of cases) {
    const e = describeError(msg);
    assert.equal(e.key, key, msg);
    assert.deepEqual(e.vars, vars, msg);
    assert.equal(e.raw, msg);
    assert.ok(STRINGS.en[key] && STRINGS.vi[key], `${key} in both languages`);
  }
  assert.equal(describeError('something new went wrong').key, 'errEngine');
});
