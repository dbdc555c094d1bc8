// Generation in the WebAssembly engine (issue #12): the KV-cache decode gives the tokens
// of recomputing the whole sequence every step (the exercises and general interventions,
// noise included; greedy and seeded sampling); the same tokens as the native engine;
// onToken streams, an AbortSignal stops; generateCompare makes the baseline and the
// intervened continuation together, each as generate() gives it; the node CLI prints the
// native CLI's JSON (generate and generate --compare) and rejects bad values with one line.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { HookLab } from '../../wasm/js/hooklab.js';
import { generationTolerances } from '../tolerance.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NATIVE = join(ROOT, 'build/hooklab');
const MODEL = join(ROOT, 'build/ckpt/mid');
const CLI = join(ROOT, 'wasm/js/cli.js');
const PROMPT = 'When Mary and John went to the store, John gave a drink to';

const CASES = [
  [],
  [{ kind: 'zero_head_k', layer: 9, head: 2 }],
  [{ kind: 'noise_even_neurons', layer: 9, mean: 10, std: 1, seed: 3 }],
  [{ kind: 'scale_hidden', layer: 9, factor: 0.1 }],
  [{ kind: 'scale_hidden', layer: 9, factor: 10 }],
  [{ kind: 'noise', hook: 'blocks.3.attn.hook_attn_scores', std: 2, heads: [1, 5], seed: 11 }],
  [{ kind: 'noise', hook: 'blocks.5.attn.hook_z', mean: 0.5, std: 1, heads: 'even', positions: 'odd' },
    { kind: 'add', hook: 'blocks.2.hook_resid_pre', value: 3, positions: { range: [16, 20] } }],
];
const SAMPLING = [{}, { temperature: 0.9, topK: 40, topP: 0.95, seed: 1234 }];
// Scaling the residual at the last position by 1 changes nothing, but a position counted
// from the end moves as the sequence grows, so the engine recomputes the whole sequence
// at every step: the naive way, in the same engine.
const RECOMPUTE = { kind: 'scale', hook: 'blocks.0.hook_resid_pre', factor: 1, positions: [-1] };

// The same tokens, and each step's probability within `tolOf(p, step)` (absolute) of want's p.
// By default 1e-4 relative: two generations within the wasm build whose sums differ in order
// (not bit-identical: a decoded row against the cache, a batch of two variants).
function sameSteps(got, want, what, tolOf = (p) => 1e-4 * p) {
  assert.deepEqual(got.steps.map((s) => s.id), want.steps.map((s) => s.id), `${what}: tokens`);
  got.steps.forEach((s, i) => {
    const p = want.steps[i].prob, tol = tolOf(p, i);
    assert.ok(Math.abs(s.prob - p) <= tol, `${what} step ${i}: prob ${s.prob} vs ${p}, tolerance ${tol}`);
  });
  assert.equal(got.stopped, want.stopped, `${what}: stopped`);
}

// The native CLI's generation against the wasm engine's: two builds of one engine whose sums
// differ in order, so step k's probability p (of the raw logits, whatever the sampler) may differ
// by 2 logit_abs p, the record derived from step k's own forward run natively (tests/tolerance.mjs's
// generationTolerances: `hooklab run` takes text, so steps whose ids do not come back from their
// text, or whose interventions it refuses, take the other steps' largest scales).
function runNative(prompt, ivs) {
  const args = ['run', '--model', MODEL, '--prompt', prompt];
  for (const iv of ivs) args.push('--intervene', JSON.stringify(iv));
  const r = spawnSync(NATIVE, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  return r.status === 0 ? JSON.parse(r.stdout) : null;
}

function nativeProbTolerances(want, ivs) {
  return generationTolerances(want, PROMPT, (text, accepted) => runNative(text, accepted ? ivs.filter((iv) => runNative(text, [iv])) : ivs));
}

function native(args) {
  const r = spawnSync(NATIVE, ['generate', '--model', MODEL, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const cliArgs = (ivs, s) => ['--prompt', PROMPT, '--max-new-tokens', '12',
  ...(s.temperature !== undefined ? ['--temperature', String(s.temperature), '--top-k', String(s.topK), '--top-p', String(s.topP),
    '--seed', String(s.seed)] : []), ...ivs.flatMap((iv) => ['--intervene', JSON.stringify(iv)])];

test('the cached decode equals recomputing the sequence every step, and the native engine', async () => {
  const lab = await HookLab.load(MODEL);
  try {
    for (const ivs of CASES)
      for (const s of SAMPLING) {
        const what = `${JSON.stringify(ivs)} ${JSON.stringify(s)}`;
        const got = await lab.generate(PROMPT, { maxNewTokens: 12, interventions: ivs, ...s });
        assert.equal(got.kv_cache, true, what);
        assert.equal(got.steps.length, 12, what);
        const naive = await lab.generate(PROMPT, { maxNewTokens: 12, interventions: [...ivs, RECOMPUTE], ...s });
        assert.equal(naive.kv_cache, false, what);
        // (c) one build, cache vs recompute: not bit-identical (summed in another order), 1e-4 relative kept.
        sameSteps(got, naive, `${what} cache vs recompute`);
        const nat = native(cliArgs(ivs, s)), tols = nativeProbTolerances(nat, ivs);
        // (b) wasm vs native: tolerance derived from the native runs' scales.
        sameSteps(got, nat, `${what} wasm vs native`, (p, k) => tols[k](p));
      }
  } finally {
    lab.dispose();
  }
});

test('onToken streams every token in order; an AbortSignal stops between tokens', async () => {
  const lab = await HookLab.load(MODEL);
  try {
    const seen = [];
    const r = await lab.generate(PROMPT, { maxNewTokens: 5, onToken: (t) => seen.push(t) });
    assert.deepEqual(seen.map((t) => t.index), [0, 1, 2, 3, 4]);
    assert.deepEqual(seen.map(({ id, token, prob }) => ({ id, token, prob })), r.steps);
    assert.equal(r.stopped, 'length');
    assert.equal(r.text, lab.decode(r.new_tokens));

    const ac = new AbortController();
    const got = [];
    await assert.rejects(lab.generate(PROMPT, { maxNewTokens: 50, signal: ac.signal,
      onToken: (t) => { got.push(t); if (t.index === 1) ac.abort(); } }), { name: 'AbortError' });
    assert.equal(got.length, 2);
    // The engine is free again, and gives the same tokens.
    const again = await lab.generate(PROMPT, { maxNewTokens: 2 });
    assert.deepEqual(again.new_tokens, r.new_tokens.slice(0, 2));
    // Two at once: the later one replaces the earlier, which says so instead of mixing tokens.
    const [first, second] = await Promise.allSettled([lab.generate(PROMPT, { maxNewTokens: 4 }), lab.generate(PROMPT, { maxNewTokens: 3 })]);
    assert.match(String(first.reason), /replaced/);
    assert.deepEqual(second.value.new_tokens, r.new_tokens.slice(0, 3));
    await assert.rejects(lab.generate(PROMPT, { maxNewTokens: 0 }), /at least 1/);
    await assert.rejects(lab.generate(PROMPT, { maxNewTokens: 2, temperature: NaN }), /temperature/);
    await assert.rejects(lab.generate(PROMPT, { maxNewTokens: 2.5 }), /integer/);
    await assert.rejects(lab.generate(PROMPT, { maxNewTokens: 2, seed: -1 }), /seed/);
  } finally {
    lab.dispose();
  }
});

test('generate stops at <|endoftext|> and at the context, and says which', async () => {
  const lab = await HookLab.load(MODEL);
  try {
    const eos = lab.config.vocab_size - 1;  // make_checkpoint.py puts <|endoftext|> last
    assert.equal(lab.decode([eos]), '<|endoftext|>');
    const r = await lab.generate(PROMPT, { maxNewTokens: 8, interventions: [{ kind: 'add', hook: 'logits', value: 1000, features: [eos] }] });
    assert.deepEqual([r.stopped, r.new_tokens, r.text], ['endoftext', [eos], '']);
    const long = ' word'.repeat(126);
    const c = await lab.generate(long, { maxNewTokens: 8 });
    assert.deepEqual([c.stopped, c.prompt_tokens.length + c.new_tokens.length], ['context', lab.config.n_positions]);
  } finally {
    lab.dispose();
  }
});

test('generateCompare: the baseline and the intervened continuation together, each as generate() gives it', async () => {
  const lab = await HookLab.load(MODEL);
  try {
    const eos = lab.config.vocab_size - 1;
    // Pushed to the top from the first step: the intervened continuation stops at once while
    // the baseline goes on alone.
    const stopNow = [{ kind: 'add', hook: 'logits', value: 1000, features: [eos] }];
    for (const ivs of [CASES[1], CASES[2], CASES[4], CASES[6], stopNow])
      for (const s of SAMPLING) {
        const what = `${JSON.stringify(ivs)} ${JSON.stringify(s)}`;
        const seen = { baseline: [], intervened: [] };
        const r = await lab.generateCompare(PROMPT, { maxNewTokens: 12, interventions: ivs, ...s,
          onToken: (which, t) => seen[which].push(t) });
        assert.deepEqual(Object.keys(r), ['baseline', 'intervened'], what);
        const base = await lab.generate(PROMPT, { maxNewTokens: 12, ...s });
        const int = await lab.generate(PROMPT, { maxNewTokens: 12, interventions: ivs, ...s });
        // (c) one build, a batch of two vs one: not bit-identical, 1e-4 relative kept.
        sameSteps(r.baseline, base, `${what} baseline`);
        sameSteps(r.intervened, int, `${what} intervened`);
        assert.deepEqual(r.intervened.interventions, int.interventions, what);
        for (const which of ['baseline', 'intervened'])
          assert.deepEqual(seen[which].map(({ id, token, prob, index }) => ({ id, token, prob, index })),
            r[which].steps.map((st, index) => ({ ...st, index })), `${what} ${which} streamed`);
      }
    const early = await lab.generateCompare(PROMPT, { maxNewTokens: 6, interventions: stopNow });
    assert.deepEqual([early.intervened.stopped, early.intervened.new_tokens, early.baseline.stopped, early.baseline.new_tokens.length],
      ['endoftext', [eos], 'length', 6]);

    // Both stream at once, and an AbortSignal stops them between steps.
    const ac = new AbortController();
    const order = [];
    await assert.rejects(lab.generateCompare(PROMPT, { maxNewTokens: 50, interventions: CASES[4], signal: ac.signal,
      onToken: (which, t) => { order.push(`${which} ${t.index}`); if (t.index === 1 && which === 'intervened') ac.abort(); } }),
    { name: 'AbortError' });
    assert.deepEqual(order, ['baseline 0', 'intervened 0', 'baseline 1', 'intervened 1']);
    await assert.rejects(lab.generateCompare(PROMPT, { maxNewTokens: 0 }), /at least 1/);
    await assert.rejects(lab.generateCompare(PROMPT, { maxNewTokens: 2, interventions: [{ kind: 'zero_head_k', layer: 99, head: 0 }] }),
      /layer 99/);
  } finally {
    lab.dispose();
  }
});

test('generate --compare: the node CLI prints the native CLI\'s JSON', () => {
  const args = [...cliArgs([CASES[3][0]], SAMPLING[1]), '--compare'];
  const r = spawnSync(process.execPath, [CLI, 'generate', '--model', MODEL, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const wasm = JSON.parse(r.stdout), nat = native(args);
  assert.deepEqual(Object.keys(wasm), ['baseline', 'intervened']);
  assert.deepEqual(Object.keys(nat), ['baseline', 'intervened']);
  for (const which of ['baseline', 'intervened']) {
    assert.deepEqual(Object.keys(wasm[which]), Object.keys(nat[which]), which);
    // (b) wasm vs native: tolerance derived from the native runs' scales.
    const tols = nativeProbTolerances(nat[which], which === 'baseline' ? [] : [CASES[3][0]]);
    sameSteps(wasm[which], nat[which], `node CLI vs native CLI, ${which}`, (p, k) => tols[k](p));
    assert.equal(wasm[which].text, nat[which].text, which);
  }
  assert.deepEqual(nat.intervened.new_tokens, native(cliArgs([CASES[3][0]], SAMPLING[1])).new_tokens);
  assert.equal(nat.baseline.interventions.length, 0);
});

test('the node CLI prints the native CLI\'s generate JSON; bad values are one line and a non-zero exit', () => {
  const args = cliArgs([CASES[2][0]], SAMPLING[1]);
  const r = spawnSync(process.execPath, [CLI, 'generate', '--model', MODEL, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const wasm = JSON.parse(r.stdout), nat = native(args);
  assert.deepEqual(Object.keys(wasm), Object.keys(nat));
  // (b) wasm vs native: tolerance derived from the native runs' scales.
  const tols = nativeProbTolerances(nat, [CASES[2][0]]);
  sameSteps(wasm, nat, 'node CLI vs native CLI', (p, k) => tols[k](p));
  assert.equal(wasm.text, nat.text);

  const bad = [
    [['--max-new-tokens', '0'], /at least 1/],
    [['--max-new-tokens', '4', '--temperature', '-1'], /temperature/],
    [['--max-new-tokens', '4', '--temperature', 'nan'], /temperature/],
    [['--max-new-tokens', '4', '--top-p', '0'], /top-p/],
    [['--max-new-tokens', '4', '--top-p', '1.5'], /top-p/],
    [['--max-new-tokens', '4', '--top-k', '-1'], /top-k/],
    [['--max-new-tokens', '4', '--seed', 'x'], /seed/],
    [[], /max-new-tokens/],
  ];
  for (const [extra, want] of bad)
    for (const cmd of [[process.execPath, CLI], [NATIVE]]) {
      const e = spawnSync(cmd[0], [...cmd.slice(1), 'generate', '--model', MODEL, '--prompt', PROMPT, ...extra], { encoding: 'utf8' });
      const what = `${cmd.at(-1)} ${extra.join(' ')}`;
      assert.notEqual(e.status, 0, what);
      assert.equal(e.stdout, '', what);
      assert.equal(e.stderr.trim().split('\n').length, 1, `${what}: ${e.stderr}`);
      assert.match(e.stderr, want, what);
    }
});
