// lab.heads() and `hooklab heads` on the WebAssembly engine: every head's scores equal the
// PyTorch reference (tests/golden/heads__mid.json, from tools/reference.py's hooks) within
// the golden's derived tolerance (tests/tolerance.mjs), the node CLI prints what the native CLI
// prints, and bad input is one clear error.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { HookLab, HookLabError } from '../../wasm/js/hooklab.js';
import { derivedTolerance, goldenTolerance } from '../tolerance.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NATIVE = join(ROOT, 'build/hooklab');
const MID = join(ROOT, 'build/ckpt/mid');
const CLI = join(ROOT, 'wasm/js/cli.js');
const GOLDEN = JSON.parse(readFileSync(join(ROOT, 'tests/golden/heads__mid.json'), 'utf8')).cases;
const KEYS = ['induction', 'previous_token', 'first_token'];

// Every score within `tol` (absolute: a head score averages attention probabilities, scale 1).
function closeScores(got, want, tol, what) {
  assert.deepEqual(got.tokens, want.tokens, `${what}: tokens`);
  assert.deepEqual(got.token_strings, want.token_strings, `${what}: token_strings`);
  for (const k of KEYS) {
    assert.equal(got[k].length, want[k].length, `${what}: ${k} layers`);
    want[k].forEach((row, l) => {
      assert.equal(got[k][l].length, row.length, `${what}: ${k}[${l}] heads`);
      row.forEach((w, h) => {
        const g = got[k][l][h];
        if (w === null) return assert.equal(g, null, `${what}: ${k}[${l}][${h}]`);
        assert.ok(Math.abs(g - w) <= tol, `${what}: ${k}[${l}][${h}]: wasm ${g} vs reference ${w}, tolerance ${tol}`);
      });
    });
  }
}

let lab;
before(async () => { lab = await HookLab.load(MID); });
after(() => lab?.dispose());

test('every head\'s scores equal the PyTorch reference within its tolerance (mid, prompt and --repeat, clean and intervened)', () => {
  assert.ok(GOLDEN.length >= 4);
  for (const c of GOLDEN) {
    const opts = { interventions: c.interventions };
    if ('prompt' in c) opts.prompt = c.prompt;
    else Object.assign(opts, { repeat: c.repeat, seed: c.seed });
    const got = lab.heads(opts);
    // (a) wasm vs the PyTorch reference: the golden case's own tolerance record.
    closeScores(got, c, goldenTolerance(c.tolerance).headScore(), JSON.stringify(opts).slice(0, 120));
    assert.equal(got.interventions.length, c.interventions.length);
  }
});

test('pattern: the scored patterns of one block, those lab.run captures', () => {
  const prompt = 'The cat sat on the mat. The cat sat';
  const interventions = [{ kind: 'zero_head_k', layer: 4, head: 1 }];
  const got = lab.heads({ prompt, interventions, pattern: 4 }).pattern;
  const want = lab.run(prompt, { interventions, capture: ['blocks.4.attn.hook_pattern'] }).captures['blocks.4.attn.hook_pattern'];
  assert.equal(got.layer, 4);
  assert.deepEqual(got.shape, want.shape);
  // Both cross the wasm boundary as Float32Arrays, not JSON numbers.
  assert.ok(got.data instanceof Float32Array);
  assert.deepEqual(got.data, want.data);
  assert.equal(lab.heads({ prompt }).pattern, undefined);
});

test('a 64-bit seed is exact as a string or a BigInt', () => {
  const big = GOLDEN.find((c) => c.seed === '18446744073709551615');
  assert.ok(big);
  assert.deepEqual(lab.heads({ repeat: big.repeat, seed: 2n ** 64n - 1n }).tokens, big.tokens);
  assert.throws(() => lab.heads({ repeat: 5, seed: 2 ** 64 }), /pass it as a string or a BigInt/);
});

test('the API refuses bad input with a HookLabError and stays usable', () => {
  const cases = [
    [{}, /exactly one/],
    [{ prompt: 'x', repeat: 3, seed: 1 }, /exactly one/],
    [{ repeat: 3 }, /needs --seed/],
    [{ prompt: 'x', seed: 1 }, /seed only goes with/],
    [{ repeat: 64, seed: 1 }, /between 1 and 63/],
    [{ repeat: 0, seed: 1 }, /between 1 and 63/],
    [{ repeat: 2.5, seed: 1 }, /repeat must be a positive integer/],
    [{ repeat: 3, seed: -1 }, /seed must be an integer/],
    [{ repeat: 3, seed: 1.5 }, /seed must be an integer/],
    [{ repeat: 3, seed: '18446744073709551616' }, /seed must be an integer/],
    [{ prompt: 7 }, /prompt must be a string/],
    [{ prompt: 'x', interventions: [{ kind: 'scale_hidden', layer: 12, factor: 2 }] }, /layer 12 is out of range/],
    [{ prompt: '' }, /prompt is empty/],
    [{ prompt: 'x', pattern: 12 }, /pattern block 12 is out of range/],
    [{ prompt: 'x', pattern: 1.5 }, /pattern must be a block number/],
  ];
  for (const [opts, re] of cases) {
    assert.throws(() => lab.heads(opts), (e) => e instanceof HookLabError && re.test(e.message), JSON.stringify(opts));
  }
  assert.equal(lab.heads({ prompt: 'Hello' }).first_token.length, 12);
});

function cli(bin, args) {
  const argv = bin === 'node' ? [CLI, ...args] : args;
  return spawnSync(bin === 'node' ? process.execPath : NATIVE, argv, { encoding: 'utf8', maxBuffer: 1 << 26 });
}

// The node CLI against the native CLI: two builds of one engine whose sums differ in order. A
// head score (or one attention probability of the pattern) may differ by activation_rel
// (tests/tolerance.mjs), derived from the model, the token count and the run's score scale: the
// native run of the same prompt and interventions. `hooklab run` takes text, not the --repeat
// input's ids, so that case is one of the golden's (heads__mid.json): its record gives the
// same input's score scale.
test('the node CLI prints the native CLI\'s JSON', { skip: !existsSync(NATIVE) && 'build/hooklab not built' }, () => {
  const prompt = 'The cat sat on the mat. The cat', iv = { kind: 'zero_head_k', layer: 9, head: 2 };
  const repeat = GOLDEN.find((c) => c.repeat === 63 && c.seed === '18446744073709551615' && !c.interventions.length);
  assert.ok(repeat);
  for (const [args, tolOf] of [
    [['--prompt', prompt, '--intervene', JSON.stringify(iv)], (want) => {
      const run = JSON.parse(cli('native', ['run', '--model', MID, '--prompt', prompt, '--intervene', JSON.stringify(iv)]).stdout);
      assert.deepEqual(run.tokens, want.tokens);
      return derivedTolerance(run.model, run.tokens.length, run.stats);
    }],
    [['--repeat', '63', '--seed', repeat.seed, '--pattern', '9'], (want) => {
      assert.deepEqual(repeat.tokens, want.tokens);
      return goldenTolerance(repeat.tolerance);
    }],
  ]) {
    const full = ['heads', '--model', MID, ...args];
    const n = cli('node', full), c = cli('native', full);
    assert.equal(n.status, 0, n.stderr);
    assert.equal(c.status, 0, c.stderr);
    const got = JSON.parse(n.stdout), want = JSON.parse(c.stdout);
    assert.deepEqual(Object.keys(got), Object.keys(want));
    assert.deepEqual(got.interventions, want.interventions);
    const tol = tolOf(want).headScore();
    // (b) wasm vs native: tolerance derived from the run's score scale and token count.
    closeScores(got, want, tol, args.join(' '));
    if (want.pattern) {
      assert.deepEqual(got.pattern.shape, want.pattern.shape);
      // (b) wasm vs native: an attention probability, as a head score.
      got.pattern.data.forEach((x, i) => assert.ok(Math.abs(x - want.pattern.data[i]) <= tol, `pattern[${i}]: ${x} vs ${want.pattern.data[i]}, tolerance ${tol}`));
    }
  }
  assert.ok(JSON.parse(cli('native', ['heads', '--model', MID, '--prompt', 'x', '--pattern', '0']).stdout).pattern);
});

test('the node CLI\'s errors: exit 1, one line on stderr, nothing on stdout (as natively)', () => {
  const bins = existsSync(NATIVE) ? ['node', 'native'] : ['node'];
  for (const [args, re] of [
    [[], /exactly one/],
    [['--repeat', '3'], /needs --seed/],
    [['--repeat', '64', '--seed', '1'], /between 1 and 63/],
    [['--repeat', '-3', '--seed', '1'], /needs a positive integer/],
    [['--repeat', '3', '--seed', 'x'], /seed must be an integer/],
    [['--prompt', 'x', '--seed', '1'], /seed only goes with/],
    [['--prompt', 'x', '--intervene', '{"kind":'], /not valid JSON/],
    [['--prompt', 'x', '--topk', '3'], /unknown option/],
  ]) {
    for (const bin of bins) {
      const r = cli(bin, ['heads', '--model', MID, ...args]);
      const what = `${bin} heads ${args.join(' ')}`;
      assert.notEqual(r.status, 0, what);
      assert.equal(r.stdout, '', what);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, `${what}: ${r.stderr}`);
      assert.match(r.stderr, re, what);
    }
  }
});
