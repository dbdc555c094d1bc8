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
import { derivedTolerance, goldenTolerance } from '../tolerance.mjs';

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

// |a - b| <= tolOf(b), over nested arrays: the quantity's tolerance (tests/tolerance.mjs) at
// the reference value b, as tests/native/test_patching.cpp's check_abs.
function within(got, want, tolOf, what) {
  if (Array.isArray(want)) {
    assert.equal(got.length, want.length, `${what}: length`);
    want.forEach((w, i) => within(got[i], w, tolOf, `${what}[${i}]`));
    return;
  }
  const tol = tolOf(want);
  assert.ok(Math.abs(got - want) <= tol, `${what}: wasm ${got} vs ${want}, tolerance ${tol}`);
}

// The tolerances of a patch or attribute JSON's floats, by key (tools/golden_compare.py's rules):
// logit differences and attribution components 2 logit_abs, normalized values by their
// denominator D = clean - corrupted logit difference.
function floatRules(tol, D) {
  return {
    clean_logit_diff: () => tol.logitDiff(),
    corrupted_logit_diff: () => tol.logitDiff(),
    logit_diff: () => tol.logitDiff(),
    components: () => tol.logitDiff(),
    normalized: (n) => tol.normalized(n, D),
  };
}

async function compareWithReference(name, f16) {
  const lab = await HookLab.load(join(CKPT, name), { f16 });
  const g = golden(name);
  const tol = goldenTolerance(g.tolerance);
  assert.equal(g.patch.length, 8);
  try {
    for (const c of g.patch) {
      const what = `${name}${f16 ? ' F16' : ''} ${c.hook} ${JSON.stringify(c.interventions)}`;
      const got = await lab.patch({ clean: g.clean, corrupted: g.corrupted, answer: g.answer, wrong: g.wrong,
        hook: c.hook, interventions: c.interventions });
      assert.deepEqual(got.clean_tokens, c.clean_tokens);
      assert.equal(got.by, c.by);
      // (a) wasm vs the PyTorch reference: the golden's own tolerance record.
      const rule = floatRules(tol, c.clean_logit_diff - c.corrupted_logit_diff);
      for (const k of ['clean_logit_diff', 'corrupted_logit_diff', 'logit_diff', 'normalized']) within(got[k], c[k], rule[k], `${what} ${k}`);
    }
    for (const c of g.attribute) {
      const what = `${name}${f16 ? ' F16' : ''} attribution ${JSON.stringify(c.interventions)}`;
      const got = lab.attribute({ prompt: g.clean, answer: g.answer, wrong: g.wrong, interventions: c.interventions });
      assert.deepEqual(got.components.map((x) => x.name), c.components.map((x) => x.name));
      // (a) wasm vs the PyTorch reference: the golden's own tolerance record.
      within(got.components.map((x) => x.value), c.components.map((x) => x.value), () => tol.logitDiff(), what);
      within(got.logit_diff, c.logit_diff, () => tol.logitDiff(), `${what} logit_diff`);
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

// The node CLI against the native CLI: two builds of one engine whose sums differ in order. The
// tolerance is derived (tests/tolerance.mjs, as tools/make_goldens.py does for the patching
// goldens) from the model, the prompt's token count and the largest scales of the native runs
// of the prompts the command runs (clean and corrupted, with its interventions).
test('the node CLI prints the native CLI\'s patch and attribute JSON', () => {
  const g = golden('tiny_f32');
  const model = join(CKPT, 'tiny_f32');
  const iv = JSON.stringify(g.patch[7].interventions[0]);
  const cases = [
    [['patch', '--model', model, '--clean', g.clean, '--corrupted', g.corrupted, '--answer', g.answer,
      '--wrong', g.wrong, '--hook', 'z', '--intervene', iv], [g.clean, g.corrupted], [iv]],
    [['attribute', '--model', model, '--prompt', g.clean, '--answer', g.answer, '--wrong', g.wrong], [g.clean], []],
  ];
  for (const [args, prompts, ivs] of cases) {
    const js = JSON.parse(execFileSync('node', [CLI, ...args], { encoding: 'utf8' }));
    const nat = JSON.parse(execFileSync(NATIVE, args, { encoding: 'utf8' }));
    assert.deepEqual(Object.keys(js), Object.keys(nat));
    const runs = prompts.map((p) => JSON.parse(execFileSync(NATIVE, ['run', '--model', model, '--prompt', p, ...ivs.flatMap((x) => ['--intervene', x])], { encoding: 'utf8' })));
    const tol = derivedTolerance(runs[0].model, runs[0].tokens.length, ...runs.map((r) => r.stats));
    const rule = floatRules(tol, nat.clean_logit_diff - nat.corrupted_logit_diff);
    for (const k of Object.keys(nat)) {
      if (k === 'ms') continue;
      // (b) wasm vs native: tolerance derived from the native runs' scales.
      if (k === 'components') within(js[k].map((x) => x.value), nat[k].map((x) => x.value), rule[k], k);
      else if (k in rule) within(js[k], nat[k], rule[k], k);
      // Ids, tokens, counts (forwards: the work in full-forward equivalents, the same formula
      // in both builds), names: exact.
      else assert.deepEqual(js[k], nat[k], k);
    }
  }
  const bad = spawnSync('node', [CLI, 'patch', '--model', join(CKPT, 'tiny_f32'), '--clean', 'a b', '--corrupted', 'a',
    '--answer', '#1', '--wrong', '#2', '--hook', 'resid_pre'], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /^hooklab: the clean prompt is 2 tokens and the corrupted prompt is 1/);
});
