// Activation patching and direct logit attribution in the WebAssembly engine (issue #11):
// the reference's TransformerLens-way sweeps (tests/golden/<ckpt>__patching.json) for every
// hook family, F32 and F16, with and without interventions; progress and cancel; the node
// CLI prints the native CLI's JSON; bad input is a clear error.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { HookLab, HookLabError } from '../../wasm/js/hooklab.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NATIVE = join(ROOT, 'build/hooklab');
const CKPT = join(ROOT, 'build/ckpt');
const CLI = join(ROOT, 'wasm/js/cli.js');

const golden = (name) => JSON.parse(readFileSync(join(ROOT, `tests/golden/${name}__patching.json`), 'utf8'));

// |a - b| <= rel * max(|b|, floor), over nested arrays.
function close(got, want, rel, floor, what) {
  if (Array.isArray(want)) {
    assert.equal(got.length, want.length, `${what}: length`);
    want.forEach((w, i) => close(got[i], w, rel, floor, `${what}[${i}]`));
    return;
  }
  assert.ok(Math.abs(got - want) <= rel * Math.max(Math.abs(want), floor), `${what}: wasm ${got} vs ${want}`);
}

const maxAbs = (a) => Math.max(...a.flat(2).map(Math.abs));

async function compareWithReference(name, f16) {
  const lab = await HookLab.load(join(CKPT, name), { f16 });
  const g = golden(name);
  assert.equal(g.patch.length, 8);
  try {
    for (const c of g.patch) {
      const what = `${name}${f16 ? ' F16' : ''} ${c.hook} ${JSON.stringify(c.interventions)}`;
      const got = await lab.patch({ clean: g.clean, corrupted: g.corrupted, answer: g.answer, wrong: g.wrong,
        hook: c.hook, interventions: c.interventions });
      assert.deepEqual(got.clean_tokens, c.clean_tokens);
      assert.equal(got.by, c.by);
      const spread = Math.abs(c.clean_logit_diff - c.corrupted_logit_diff);
      close([got.clean_logit_diff, got.corrupted_logit_diff], [c.clean_logit_diff, c.corrupted_logit_diff], 1e-4, spread, what);
      close(got.logit_diff, c.logit_diff, 1e-4, spread, `${what} logit_diff`);
      close(got.normalized, c.normalized, 1e-4, 1, `${what} normalized`);
    }
    for (const c of g.attribute) {
      const what = `${name}${f16 ? ' F16' : ''} attribution ${JSON.stringify(c.interventions)}`;
      const got = lab.attribute({ prompt: g.clean, answer: g.answer, wrong: g.wrong, interventions: c.interventions });
      assert.deepEqual(got.components.map((x) => x.name), c.components.map((x) => x.name));
      const want = c.components.map((x) => x.value);
      close(got.components.map((x) => x.value), want, 1e-4, maxAbs(want), what);
      const sum = got.components.reduce((a, x) => a + x.value, 0);
      close(sum, got.logit_diff, 1e-5, 0, `${what}: sum of components vs logit diff`);
    }
  } finally {
    lab.dispose();
  }
}

test('patching and attribution match the PyTorch reference, F32', async () => {
  await compareWithReference('tiny_f32', false);
  await compareWithReference('mid', false);
});

test('patching and attribution match the PyTorch reference, F16 weights', async () => {
  await compareWithReference('tiny_f16', true);
});

test('a sweep reports progress per block, can be cancelled, and the engine stays usable', async () => {
  const lab = await HookLab.load(join(CKPT, 'mid'));
  const g = golden('mid');
  const opts = { clean: g.clean, corrupted: g.corrupted, answer: g.answer, wrong: g.wrong, hook: 'resid_pre' };
  try {
    const seen = [];
    const full = await lab.patch({ ...opts, onProgress: (p) => seen.push(p) });
    assert.deepEqual(seen.map((p) => p.done), [...Array(lab.config.n_layer + 1).keys()]);
    assert.deepEqual(seen.at(-1).row, full.logit_diff.at(-1));
    assert.ok(full.forwards <= 0.35 * lab.config.n_layer * full.clean_tokens.length, `forwards ${full.forwards}`);

    const ac = new AbortController();
    let calls = 0;
    await assert.rejects(
      lab.patch({ ...opts, signal: ac.signal, onProgress: (p) => { calls++; if (p.done === 2) ac.abort(); } }),
      (e) => e.name === 'AbortError');
    assert.equal(calls, 3, 'stops right after the block during which it was cancelled');
    const again = await lab.patch(opts);
    assert.deepEqual(again.logit_diff, full.logit_diff);
  } finally {
    lab.dispose();
  }
});

test('bad input: different lengths, a token that splits, residual-stream interventions in attribution', async () => {
  const lab = await HookLab.load(join(CKPT, 'mid'));
  const g = golden('mid');
  try {
    const nc = lab.tokenize(g.clean).length;
    await assert.rejects(lab.patch({ clean: g.clean, corrupted: 'When John', answer: g.answer, wrong: g.wrong, hook: 'z' }),
      (e) => e instanceof HookLabError && e.message.includes(`${nc} tokens`) && e.message.includes('2:'));
    await assert.rejects(lab.patch({ clean: g.clean, corrupted: g.corrupted, answer: ' Marybeth', wrong: g.wrong }),
      (e) => e instanceof HookLabError && /answer " Marybeth" is \d tokens, .* \+ /.test(e.message));
    assert.throws(() => lab.attribute({ prompt: g.clean, answer: g.answer, wrong: g.wrong,
      interventions: [{ kind: 'scale_hidden', layer: 2, factor: 3 }] }),
    (e) => e instanceof HookLabError && e.message.includes('residual stream') && e.message.includes('not defined'));
    assert.throws(() => lab.attribute({ prompt: g.clean, wrong: g.wrong }), /answer is required/);
  } finally {
    lab.dispose();
  }
});

test('the node CLI prints the native CLI\'s patch and attribute JSON', () => {
  const g = golden('tiny_f32');
  const iv = JSON.stringify(g.patch[7].interventions[0]);
  const cases = [
    ['patch', '--model', join(CKPT, 'tiny_f32'), '--clean', g.clean, '--corrupted', g.corrupted, '--answer', g.answer,
      '--wrong', g.wrong, '--hook', 'z', '--intervene', iv],
    ['attribute', '--model', join(CKPT, 'tiny_f32'), '--prompt', g.clean, '--answer', g.answer, '--wrong', g.wrong],
  ];
  for (const args of cases) {
    const js = JSON.parse(execFileSync('node', [CLI, ...args], { encoding: 'utf8' }));
    const nat = JSON.parse(execFileSync(NATIVE, args, { encoding: 'utf8' }));
    assert.deepEqual(Object.keys(js), Object.keys(nat));
    // The metric's own scale is the floor (normalised values: 1).
    const scale = nat.components ? maxAbs(nat.components.map((x) => x.value)) : Math.abs(nat.clean_logit_diff - nat.corrupted_logit_diff);
    for (const k of Object.keys(nat)) {
      if (k === 'ms') continue;
      if (k === 'components') close(js[k].map((x) => x.value), nat[k].map((x) => x.value), 1e-5, scale, k);
      else if (k.endsWith('_id') || k.endsWith('tokens')) assert.deepEqual(js[k], nat[k], k);
      // normalized divides a logit difference by (clean - corrupted), small on this random
      // tiny model: the two engines' float32 summation orders differ by up to ~2e-5 there.
      else if (k === 'normalized') close(js[k], nat[k], 1e-4, 1, k);
      else if (typeof nat[k] === 'number' || Array.isArray(nat[k]) && typeof nat[k].flat(2)[0] === 'number') close(js[k], nat[k], 1e-5, scale, k);
      else assert.deepEqual(js[k], nat[k], k);
    }
  }
  const bad = spawnSync('node', [CLI, 'patch', '--model', join(CKPT, 'tiny_f32'), '--clean', 'a b', '--corrupted', 'a',
    '--answer', '#1', '--wrong', '#2', '--hook', 'resid_pre'], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /^hooklab: the clean prompt is 2 tokens and the corrupted prompt is 1/);
});
