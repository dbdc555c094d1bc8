// Gradients of the logit difference and attribution patching in the WebAssembly engine (issue
// #26): lab.gradients against PyTorch autograd (tests/golden/<ckpt>__gradients.json) and against
// the native CLI; the node CLI prints the native CLI's gradients and patch --method attribution
// JSON; lab.patch({method: 'attribution'}) against the reference's estimates; bad input is the
// same clear error everywhere.
//
// Tolerances (tests/tolerance.mjs, tools/golden_compare.py's docstring): a gradient is read
// against the largest |gradient| of its hook (gradient_rel of it), input x gradient and an
// attribution estimate against the absolute bounds the golden's record carries. The goldens'
// records are derived for any two correct float32 implementations of the run, so they serve for
// wasm against native too; a run with no golden derives its record from the native run's scales.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { HookLab, HookLabError } from '../../wasm/js/hooklab.js';
import { deriveGradient, gradientTolerance, inputXGradientAbs, maxAbs, scalesOf } from '../tolerance.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NATIVE = join(ROOT, 'build/hooklab');
const CKPT = join(ROOT, 'build/ckpt');
const CLI = join(ROOT, 'wasm/js/cli.js');

const golden = (name) => JSON.parse(readFileSync(join(ROOT, `tests/golden/${name}__gradients.json`), 'utf8'));
const json = (bin, args) => JSON.parse(bin === 'node' ? execFileSync('node', [CLI, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 })
  : execFileSync(NATIVE, args, { encoding: 'utf8', maxBuffer: 1 << 28 }));
const ivArgs = (ivs) => ivs.flatMap((iv) => ['--intervene', typeof iv === 'string' ? iv : JSON.stringify(iv)]);

// |a - b| <= tolOf(b) over nested arrays (and typed arrays); reports the worst element only.
function within(got, want, tolOf, what) {
  const a = Array.from(got).flat(Infinity), b = Array.from(want).flat(Infinity);
  assert.equal(a.length, b.length, `${what}: length`);
  let worst = -1, at = -1;
  for (let i = 0; i < b.length; ++i) {
    const excess = Math.abs(a[i] - b[i]) - tolOf(b[i]);
    if (!(excess <= 0) && (worst < 0 || !(excess <= worst))) { worst = excess; at = i; }
  }
  if (at >= 0) assert.fail(`${what}[${at}]: ${a[at]} vs ${b[at]}, tolerance ${tolOf(b[at])}`);
}

// A gradients result (JS API: Float32Arrays; CLI JSON: arrays) against a wanted one whose
// gradients are under `key` ("gradient" in the goldens, "data" in the CLI's JSON).
function checkGradients(got, want, tol, key, what) {
  assert.deepEqual(got.tokens, want.tokens, `${what}: tokens`);
  assert.equal(got.answer_id, want.answer_id);
  assert.equal(got.wrong_id, want.wrong_id);
  within([got.logit_diff], [want.logit_diff], () => tol.logitDiff(), `${what}: logit_diff`);
  assert.deepEqual(Object.keys(got.gradients).sort(), Object.keys(want.gradients).sort(), `${what}: hooks`);
  for (const [hook, w] of Object.entries(want.gradients)) {
    const g = got.gradients[hook];
    assert.deepEqual(g.shape, w.shape, `${what}: ${hook} shape`);
    const scale = maxAbs(Array.from(w[key]));
    assert.ok(scale > 0, `${what}: ${hook} is all 0`);
    within(g.data, w[key], () => tol.gradient(scale), `${what}: ${hook}`);
  }
  within(got.input_x_gradient, want.input_x_gradient, () => tol.inputXGradient(), `${what}: input_x_gradient`);
}

test('lab.gradients matches PyTorch autograd (the goldens), F32 and F16 weights', async () => {
  for (const [name, f16] of [['tiny_f32', false], ['mid', false], ['tiny_f16', true]]) {
    const g = golden(name);
    const lab = await HookLab.load(join(CKPT, name), { f16 });
    try {
      assert.equal(g.gradients.length, 2);
      for (const c of g.gradients) {
        const what = `${name}${f16 ? ' F16' : ''} ${JSON.stringify(c.interventions)}`;
        const got = lab.gradients({ prompt: g.clean, answer: g.answer, wrong: g.wrong, hooks: g.hooks, interventions: c.interventions });
        for (const [hook, e] of Object.entries(got.gradients)) {
          assert.ok(e.data instanceof Float32Array, `${hook}: a Float32Array`);
          assert.equal(e.data.length, e.shape.reduce((x, y) => x * y, 1), `${hook}: size`);
        }
        assert.equal(got.forwards, 1);
        assert.equal(got.backwards, 1);
        assert.ok(got.ms > 0);
        checkGradients(got, c, gradientTolerance(c.tolerance), 'gradient', what);
      }
    } finally {
      lab.dispose();
    }
  }
});

// The native CLI's numbers: the golden's cases (their records), then a run with no golden (its
// record derived from the native run's scales), with general interventions on the attention.
test('lab.gradients and the node CLI print the native CLI\'s gradients', async () => {
  const g = golden('mid');
  const model = join(CKPT, 'mid');
  const lab = await HookLab.load(model);
  try {
    const cases = g.gradients.map((c) => ({ prompt: g.clean, hooks: g.hooks, ivs: c.interventions, tol: gradientTolerance(c.tolerance) }));
    // No golden: its record from the native run (the score and logit scales, the embeddings).
    const prompt = 'The cat sat on the mat. The dog sat on the log. The cat';
    const ivs = [{ kind: 'scale', hook: 'blocks.4.attn.hook_pattern', heads: [1, 3], factor: 0.5 },
      { kind: 'zero', hook: 'blocks.6.attn.hook_q', positions: 'odd' }, { kind: 'add', hook: 'blocks.2.hook_resid_mid', value: 0.1 }];
    const hooks = ['blocks.0.hook_resid_pre', 'blocks.4.attn.hook_attn_scores', 'blocks.4.attn.hook_pattern', 'blocks.6.attn.hook_z',
      'blocks.10.mlp.hook_pre', 'ln_final.hook_normalized', 'logits', 'hook_pos_embed'];
    const run = json('native', ['run', '--model', model, '--prompt', prompt, '--capture', 'hook_embed', '--capture', 'hook_pos_embed', ...ivArgs(ivs)]);
    const rec = deriveGradient(run.model, run.tokens.length, ...scalesOf(run.stats));
    const natRun = json('native', ['gradients', '--model', model, '--prompt', prompt, '--answer', ' cat', '--wrong', ' dog', ...hooks.flatMap((h) => ['--hook', h]), ...ivArgs(ivs)]);
    const x = run.captures.hook_embed.data.map((v, i) => v + run.captures.hook_pos_embed.data[i]);
    rec.input_x_gradient_abs = inputXGradientAbs(rec, natRun.gradients['blocks.0.hook_resid_pre'].data, x, run.model.n_embd);
    cases.push({ prompt, hooks, ivs, tol: gradientTolerance(rec), answer: ' cat', wrong: ' dog' });

    for (const c of cases) {
      const what = `${c.prompt.slice(0, 12)}... ${JSON.stringify(c.ivs)}`;
      const args = ['gradients', '--model', model, '--prompt', c.prompt, '--answer', c.answer ?? g.answer, '--wrong', c.wrong ?? g.wrong,
        ...c.hooks.flatMap((h) => ['--hook', h]), ...ivArgs(c.ivs)];
      const nat = json('native', args);
      const node = json('node', args);
      // The same JSON: keys (in the same order), ids, strings and counts exact, floats within tolerance.
      assert.deepEqual(Object.keys(node), Object.keys(nat), `${what}: keys`);
      for (const k of ['tokens', 'token_strings', 'answer', 'wrong', 'answer_id', 'wrong_id', 'interventions', 'forwards', 'backwards'])
        assert.deepEqual(node[k], nat[k], `${what}: ${k}`);
      for (const [hook, e] of Object.entries(nat.gradients)) assert.deepEqual(Object.keys(node.gradients[hook]), Object.keys(e), hook);
      checkGradients(node, nat, c.tol, 'data', `node CLI ${what}`);
      const api = lab.gradients({ prompt: c.prompt, answer: c.answer ?? g.answer, wrong: c.wrong ?? g.wrong, hooks: c.hooks, interventions: c.ivs });
      checkGradients(api, nat, c.tol, 'data', `lab.gradients ${what}`);
      assert.deepEqual(api.interventions, nat.interventions);
    }
    // The semantics the docs state, in wasm: the logits' gradient is +1 / -1, a zeroed slice passes 0.
    const lg = lab.gradients({ prompt: g.clean, answer: '#337', wrong: '#1757', hooks: 'logits' }).gradients.logits;
    assert.deepEqual(lg.shape, [1, lab.config.vocab_size]);
    assert.equal(lg.data[337], 1);
    assert.equal(lg.data[1757], -1);
    assert.equal(lg.data.reduce((s, v) => s + Math.abs(v), 0), 2);
    const zeroed = lab.gradients({ prompt: g.clean, answer: g.answer, wrong: g.wrong, hooks: ['blocks.3.mlp.hook_pre'],
      interventions: [{ kind: 'zero', hook: 'blocks.3.mlp.hook_post' }] });
    assert.ok(zeroed.gradients['blocks.3.mlp.hook_pre'].data.every((v) => v === 0));
    // No hooks: the logit difference and input x gradient only.
    const bare = lab.gradients({ prompt: g.clean, answer: g.answer, wrong: g.wrong });
    assert.deepEqual(bare.gradients, {});
    assert.equal(bare.input_x_gradient.length, bare.tokens.length);
  } finally {
    lab.dispose();
  }
});

test('lab.patch({method: "attribution"}) matches the reference\'s attribution patching; the node CLI prints the native JSON', async () => {
  const g = golden('mid');
  const model = join(CKPT, 'mid');
  const lab = await HookLab.load(model);
  try {
    assert.equal(g.attribution.length, 8);
    for (const c of g.attribution) {
      const what = `${c.hook} ${JSON.stringify(c.interventions)}`;
      const tol = gradientTolerance(c.tolerance);
      const seen = [];
      const got = await lab.patch({ clean: g.clean, corrupted: g.corrupted, answer: g.answer, wrong: g.wrong, hook: c.hook,
        interventions: c.interventions, method: 'attribution', onProgress: (p) => seen.push(p) });
      assert.equal(got.method, 'attribution');
      assert.equal(got.by, c.by);
      assert.deepEqual(got.clean_tokens, c.clean_tokens);
      assert.deepEqual(got.corrupted_tokens, c.corrupted_tokens);
      assert.equal(got.forwards, 2);
      assert.equal(got.backwards, 1);
      assert.ok(got.forwards + got.backwards <= 4, 'at most 4 passes');
      assert.deepEqual(seen.map((p) => [p.done, p.total]), [[12, 12]], `${what}: one progress report, at the end`);
      within([got.clean_logit_diff, got.corrupted_logit_diff], [c.clean_logit_diff, c.corrupted_logit_diff], () => tol.logitDiff(), `${what}: clean/corrupted`);
      within(got.logit_diff, c.logit_diff, () => tol.estimate(), `${what}: logit_diff`);
      const D = c.clean_logit_diff - c.corrupted_logit_diff;
      within(got.normalized, c.normalized, (n) => tol.estimateNormalized(n, D), `${what}: normalized`);
    }
    // The default is the exact sweep, whose JSON is unchanged; the attribution JSON is patch's plus method and backwards.
    const base = { clean: g.clean, corrupted: g.corrupted, answer: g.answer, wrong: g.wrong, hook: 'resid_pre' };
    const exact = await lab.patch(base);
    assert.equal(exact.method, undefined);
    assert.deepEqual(await lab.patch({ ...base, method: 'exact' }).then(({ ms, ...r }) => r), (({ ms, ...r }) => r)(exact));
    const attr = await lab.patch({ ...base, method: 'attribution' });
    assert.deepEqual(Object.keys(attr).sort(), [...Object.keys(exact), 'method', 'backwards'].sort());

    // Both CLIs: patch --method attribution, the golden's case with interventions (its record).
    const c = g.attribution.find((x) => x.hook === 'z' && x.interventions.length);
    const tol = gradientTolerance(c.tolerance);
    const args = ['patch', '--model', model, '--clean', g.clean, '--corrupted', g.corrupted, '--answer', g.answer, '--wrong', g.wrong,
      '--hook', 'z', '--method', 'attribution', ...ivArgs(c.interventions)];
    const nat = json('native', args), node = json('node', args);
    assert.deepEqual(Object.keys(node), Object.keys(nat));
    const D = nat.clean_logit_diff - nat.corrupted_logit_diff;
    for (const k of Object.keys(nat)) {
      if (k === 'ms') continue;
      if (k === 'clean_logit_diff' || k === 'corrupted_logit_diff') within([node[k]], [nat[k]], () => tol.logitDiff(), k);
      else if (k === 'logit_diff') within(node[k], nat[k], () => tol.estimate(), k);
      else if (k === 'normalized') within(node[k], nat[k], (n) => tol.estimateNormalized(n, D), k);
      else assert.deepEqual(node[k], nat[k], k);
    }
  } finally {
    lab.dispose();
  }
});

test('bad input: the same clear errors in the JS API and both CLIs', async () => {
  const g = golden('mid');
  const model = join(CKPT, 'mid');
  const lab = await HookLab.load(model);
  const is = (re) => (e) => e instanceof HookLabError && re.test(e.message);
  try {
    const base = { prompt: g.clean, answer: g.answer, wrong: g.wrong };
    assert.throws(() => lab.gradients({ ...base, hooks: ['blocks.8.hook_resid_pree'] }),
      is(/^unknown hook point "blocks\.8\.hook_resid_pree"; did you mean "blocks\.8\.hook_resid_pre"\?$/));
    assert.throws(() => lab.gradients({ ...base, hooks: ['blocks.12.hook_resid_pre'] }), is(/out of range/));
    assert.throws(() => lab.gradients({ ...base, answer: ' Marybeth', hooks: ['hook_embed'] }), is(/answer " Marybeth" is \d tokens, .* \+ .*it must be exactly one token/));
    assert.throws(() => lab.gradients({ ...base, hooks: [3] }), is(/^gradients: hooks: expected hook names$/));
    assert.throws(() => lab.gradients({ ...base, prompt: undefined }), is(/^prompt is required/));
    assert.throws(() => lab.gradients({ ...base, prompt: '' }), is(/empty/));
    const pair = { clean: g.clean, corrupted: g.corrupted, answer: g.answer, wrong: g.wrong, method: 'attribution' };
    await assert.rejects(lab.patch({ ...pair, corrupted: 'When John and Mary went to the store' }),
      is(/^the clean prompt is 16 tokens and the corrupted prompt is 9: patching needs the same number of tokens/));
    await assert.rejects(lab.patch({ ...pair, answer: ' Marybeth' }), is(/answer " Marybeth" is \d tokens/));
    await assert.rejects(lab.patch({ ...pair, hook: 'mlp_in' }), is(/mlp_in/));
    await assert.rejects(lab.patch({ ...pair, method: 'approx' }), is(/^patch: method must be 'exact' or 'attribution', got "approx"$/));
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(lab.patch({ ...pair, signal: ac.signal }), (e) => e.name === 'AbortError');
    assert.ok(lab.gradients({ ...base, hooks: 'hook_embed' }).gradients.hook_embed, 'the lab stays usable');
  } finally {
    lab.dispose();
  }

  // Both CLIs: one line on stderr, exit 1, nothing on stdout, the same line.
  const grad = ['gradients', '--model', model, '--prompt', g.clean, '--answer', g.answer, '--wrong', g.wrong];
  const patch = ['patch', '--model', model, '--clean', g.clean, '--corrupted', g.corrupted, '--answer', g.answer, '--wrong', g.wrong,
    '--hook', 'resid_pre', '--method', 'attribution'];
  const cases = [
    [[...grad, '--hook', 'blocks.8.hook_resid_pree'], /^hooklab: unknown hook point "blocks\.8\.hook_resid_pree"; did you mean "blocks\.8\.hook_resid_pre"\?$/],
    [[...grad.slice(0, 5), '--answer', ' Marybeth', '--wrong', g.wrong, '--hook', 'hook_embed'], /answer " Marybeth" is \d tokens/],
    [[...patch.slice(0, 6), 'When John and Mary went to the store', ...patch.slice(7)], /the clean prompt is 16 tokens and the corrupted prompt is 9/],
    [[...patch.slice(0, 8), ' Marybeth', ...patch.slice(9)], /answer " Marybeth" is \d tokens/],
    [grad, /^hooklab: --hook NAME is required/],
    [[...grad.slice(0, 7), '--hook', 'hook_embed'], /^hooklab: --answer and --wrong are required/],
    [[...patch.slice(0, -1), 'approx'], /^hooklab: option --method needs exact or attribution, got "approx"$/],
    [[...grad, '--hook', 'hook_embed', '--by', 'head'], /^hooklab: unknown option --by for hooklab gradients \(an option of hooklab patch\)/],
  ];
  for (const [args, re] of cases) {
    const lines = [[NATIVE], [process.execPath, CLI]].map(([bin, ...pre]) => {
      const r = spawnSync(bin, [...pre, ...args], { encoding: 'utf8' });
      const what = `${bin === NATIVE ? 'native' : 'node'} ${args.slice(3).join(' ')}`;
      assert.equal(r.status, 1, what);
      assert.equal(r.stdout, '', what);
      assert.equal(r.stderr.split('\n').length, 2, `${what}: ${r.stderr}`);
      assert.match(r.stderr.trimEnd(), re, what);
      return r.stderr;
    });
    assert.equal(lines[1], lines[0], args.join(' '));
  }
});
