// The threaded wasm build (hooklab-mt) against the single-threaded one: the same run JSON,
// byte for byte, with 1, 2 and 3 threads (the GEMMs are split by output panels, and every
// output keeps its summation order); how the build is chosen; and that idle pool workers
// neither keep node alive nor outlive dispose().
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { HookLab, HookLabError } from '../../wasm/js/hooklab.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// The embedded default model (HookLab-Circuits 12x192, committed): at ~100 tokens every GEMM
// is large enough to be split over the threads (the lm_head is split at any length).
const MODEL = join(ROOT, 'checkpoints/default');
const PROMPT = 'The quick brown fox jumps over the lazy dog. '.repeat(6) + 'Then the dog wakes up and';
const OPTS = {
  logits: true,
  topk: 20,
  capture: ['blocks.3.attn.hook_pattern', 'blocks.7.mlp.hook_post', 'blocks.11.hook_resid_post'],
  interventions: [{ kind: 'zero_head_k', layer: 9, head: 2 }, { kind: 'noise_even_neurons', layer: 4, mean: 1, std: 2, seed: 5 }],
};

for (const f16 of [false, true]) {
  test(`threaded runs give the single-threaded build's JSON byte for byte (${f16 ? 'F16' : 'F32'} weights)`, async () => {
    const texts = [];
    for (const threads of [1, 2, 3]) {
      const lab = await HookLab.load(MODEL, { threads, f16 });
      try {
        assert.equal(lab.threads, threads);
        texts.push(lab.runJSON(PROMPT, OPTS));
        // A short prompt too: T < 4 takes other kernel paths (and, for F16, no widening pass).
        texts.push(lab.runJSON('Hi', OPTS));
      } finally {
        lab.dispose();
      }
    }
    assert.ok(JSON.parse(texts[0]).tokens.length > 90);
    assert.equal(texts[2], texts[0], '2 threads vs 1');
    assert.equal(texts[4], texts[0], '3 threads vs 1');
    assert.equal(texts[3], texts[1], 'short prompt, 2 threads vs 1');
    assert.equal(texts[5], texts[1], 'short prompt, 3 threads vs 1');
  });
}

test('the default is the hardware\'s threads, at most 8; bad counts are clear errors', async () => {
  const lab = await HookLab.load(MODEL);
  try {
    assert.equal(lab.threads, Math.min(availableParallelism(), 8));
    assert.equal(typeof lab.run('Hello').top[0].token, 'string');
  } finally {
    lab.dispose();
  }
  for (const bad of [0, -1, 1.5, 257, '2', null]) {
    await assert.rejects(HookLab.load(MODEL, { threads: bad }), (e) => e instanceof HookLabError && /threads must be an integer from 1 to 256/.test(e.message), String(bad));
  }
  assert.throws(() => lab.threads, /disposed/);
});

test('idle pool workers do not keep node alive, with or without dispose()', () => {
  for (const dispose of [false, true]) {
    const script = `import { HookLab } from ${JSON.stringify(join(ROOT, 'wasm/js/hooklab.js'))};
      const lab = await HookLab.load(${JSON.stringify(MODEL)}, { threads: 3 });
      lab.run('Hello world');
      ${dispose ? 'lab.dispose();' : ''}
      console.log('done', ${dispose ? 1 : 'lab.threads'});`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60000 });
    assert.equal(r.error, undefined, `node did not exit: ${r.error}`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), dispose ? 'done 1' : 'done 3');
  }
});

// Attention is split by (segment, head): a patching sweep (one block's runs are the segments
// of one pass, each resuming the corrupted run) and a long prompt whose every attention
// hook is captured give the same numbers at 1, 2 and 3 threads.
const PAIR = { clean: 'When Mary and John went to the big store, John gave a drink to',
  corrupted: 'When Mary and John went to the big store, Mary gave a drink to', answer: ' Mary', wrong: ' John' };
const LONG = 'The quick brown fox jumps over the lazy dog. '.repeat(7); // 113 tokens of the 128

test('patching sweeps and attention-heavy runs are identical at 1, 2 and 3 threads', async () => {
  const texts = [];
  for (const threads of [1, 2, 3]) {
    const lab = await HookLab.load(MODEL, { threads });
    try {
      const parts = [];
      for (const hook of ['resid_pre', 'z']) {
        const { ms, ...r } = await lab.patch({ ...PAIR, hook });
        assert.equal(typeof ms, 'number');
        parts.push(JSON.stringify(r));
      }
      const capture = [];
      for (let l = 0; l < 12; l += 5) capture.push(`blocks.${l}.attn.hook_attn_scores`, `blocks.${l}.attn.hook_pattern`, `blocks.${l}.attn.hook_z`);
      parts.push(lab.runJSON(LONG, { logits: true, topk: 5, capture }));
      texts.push(parts);
    }
    finally {
      lab.dispose();
    }
  }
  assert.ok(JSON.parse(texts[0][2]).tokens.length >= 100);
  for (const k of [0, 1, 2]) {
    assert.equal(texts[1][k], texts[0][k], `part ${k}: 2 threads vs 1`);
    assert.equal(texts[2][k], texts[0][k], `part ${k}: 3 threads vs 1`);
  }
});

test('the node CLI takes --threads for a sweep and a bench; a bad count is a clear error', () => {
  const cli = (...args) => spawnSync(process.execPath, [join(ROOT, 'wasm/js/cli.js'), ...args], { encoding: 'utf8', timeout: 120000 });
  const patchArgs = ['patch', '--model', MODEL, '--clean', PAIR.clean, '--corrupted', PAIR.corrupted, '--answer', PAIR.answer,
    '--wrong', PAIR.wrong, '--hook', 'resid_pre'];
  const outs = [1, 2].map((t) => {
    const r = cli(...patchArgs, '--threads', String(t));
    assert.equal(r.status, 0, r.stderr);
    const { ms, ...rest } = JSON.parse(r.stdout);
    return JSON.stringify(rest);
  });
  assert.equal(outs[1], outs[0]);
  const bench = cli('bench', '--model', MODEL, '--prompt', 'Hello world', '--iters', '1', '--threads', '2');
  assert.equal(bench.status, 0, bench.stderr);
  assert.equal(JSON.parse(bench.stdout).threads, 2);
  for (const bad of ['0', 'two', '-1']) {
    const r = cli(...patchArgs, '--threads', bad);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /threads must be an integer from 1 to 256|--threads needs a non-negative integer/, bad);
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  }
});
