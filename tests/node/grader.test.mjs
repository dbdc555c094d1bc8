// Grader conveniences, TransformerLens-shaped (issue #28): runWithCache's ActivationCache,
// every position's logits and loss, weights by TransformerLens's names, `set` with a tensor,
// patching metrics; and hooklab.d.ts against the runtime objects these add.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { ActivationCache, HookLab, HookLabError, OPTION_KEYS } from '../../wasm/js/hooklab.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MID = join(ROOT, 'build/ckpt/mid');
const PAIR = JSON.parse(readFileSync(join(ROOT, 'tests/golden/mid__patching.json'), 'utf8'));
const A = Number(PAIR.answer.slice(1)), W = Number(PAIR.wrong.slice(1));
const P = 'The cat sat on the mat. The cat sat on the';

let lab;
before(async () => { lab = await HookLab.load(MID); });
after(() => lab?.dispose());

const refused = (...res) => (e) => {
  assert.ok(e instanceof HookLabError, `not a HookLabError: ${e}`);
  for (const re of res) assert.match(e.message, re);
  return true;
};
const maxDiff = (a, b) => {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; ++i) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
};

// ---------------------------------------------------------------- hooklab.d.ts against the runtime

const DTS = readFileSync(join(ROOT, 'wasm/js/hooklab.d.ts'), 'utf8');
// The members of `export (interface|class) name { ... }` at depth one: fields and methods.
function members(kind, name) {
  const at = DTS.search(new RegExp(`export ${kind} ${name}\\b[^{]*\\{`));
  assert.ok(at >= 0, `${kind} ${name} missing from hooklab.d.ts`);
  const open = DTS.indexOf('{', at);
  let depth = 0, end = open;
  const top = [];
  for (let i = open; i < DTS.length; ++i) {
    if (DTS[i] === '{') ++depth;
    if (DTS[i] === '}' && --depth === 0) { end = i; break; }
  }
  // Drop comments, then keep the lines at the body's own indentation.
  const body = DTS.slice(open + 1, end).replace(/\/\*[\s\S]*?\*\//g, '');
  for (const m of body.matchAll(/^ {2}(?:static )?(?:readonly )?(\w+)\??[:(]/gm)) top.push(m[1]);
  return [...new Set(top)];
}
const sorted = (xs) => [...xs].sort();
const publicKeys = (obj) => Object.keys(obj).filter((k) => !k.startsWith('_'));
const methodsOf = (cls) => Object.getOwnPropertyNames(cls.prototype).filter((k) => k !== 'constructor' && !k.startsWith('_'));

test('hooklab.d.ts documents exactly the runtime members of what the grader API adds', () => {
  const cache = lab.runWithCache(P, { hooks: ['resid_post'] });
  assert.ok(cache instanceof ActivationCache);
  // ActivationCache: its fields and methods, no more, no fewer.
  assert.deepEqual(sorted(members('class', 'ActivationCache')), sorted([...publicKeys(cache), ...methodsOf(ActivationCache)]));
  // Tensor: what get() and weight() return.
  assert.deepEqual(sorted(members('interface', 'Tensor')), sorted(Object.keys(cache.get('resid_post', 0))));
  assert.deepEqual(sorted(members('interface', 'Tensor')), sorted(Object.keys(lab.weight('W_U'))));
  // runWithCache's options: the table's.
  assert.deepEqual(sorted(members('interface', 'RunWithCacheOptions')), ['hooks']);
  assert.deepEqual(sorted(OPTION_KEYS.runWithCache), sorted(['hooks', ...members('interface', 'RunOptions').filter((k) => k !== 'capture')]));
  // HookLab's new methods are documented, and exist.
  const documented = members('class', 'HookLab');
  for (const m of ['runWithCache', 'weight', 'weightNames']) {
    assert.ok(documented.includes(m), `HookLab.${m} not in hooklab.d.ts`);
    assert.equal(typeof HookLab.prototype[m], 'function', `HookLab.${m} missing at runtime`);
  }
  // Every documented HookLab method or field exists at runtime, and every public method is documented.
  const runtime = [...methodsOf(HookLab), ...publicKeys(lab), ...Object.getOwnPropertyNames(HookLab).filter((k) => !['length', 'name', 'prototype'].includes(k))];
  for (const m of documented) assert.ok(runtime.includes(m), `HookLab.${m} documented, missing at runtime`);
  for (const m of methodsOf(HookLab)) assert.ok(documented.includes(m), `HookLab.${m} at runtime, not in hooklab.d.ts`);
  // RunResult's fields with logits 'all', and PatchResult's with a metric.
  const run = members('interface', 'RunResult');
  const all = lab.run(P, { logits: 'all', logitLens: true, capture: 'hook_embed' });
  for (const k of Object.keys(all)) assert.ok(run.includes(k), `RunResult.${k} not in hooklab.d.ts`);
  for (const k of ['logits_all', 'token_loss']) assert.ok(k in all, `RunResult.${k} missing with logits 'all'`);
  assert.ok(members('interface', 'PatchOptions').includes('metric'));
  assert.ok(members('interface', 'PatchResult').includes('metric'));
});

// ---------------------------------------------------------------- runWithCache

test('runWithCache: TransformerLens\'s cache lookups', () => {
  const L = lab.config.n_layer;
  const cache = lab.runWithCache(P);
  // Every hook point of every block, by default, in firing order.
  const names = cache.names();
  assert.equal(names.length, 4 + 16 * L);
  assert.deepEqual(names.slice(0, 3), ['hook_embed', 'hook_pos_embed', 'blocks.0.hook_resid_pre']);
  assert.equal(names.at(-1), 'logits');
  const r9 = cache.get('resid_post', 9);
  assert.equal(r9.name, 'blocks.9.hook_resid_post');
  assert.deepEqual(r9.shape, [cache.run.tokens.length, lab.config.n_embd]);
  assert.ok(r9.data instanceof Float32Array);
  assert.equal(cache.get('blocks.9.hook_resid_post').data, r9.data);
  assert.equal(cache.get('resid_post', -3).data, r9.data);
  assert.equal(cache.get('hook_resid_post', 9).data, r9.data);
  // The run's own numbers: a capture of the same hook.
  assert.deepEqual(cache.get('z', 4).data, lab.run(P, { capture: 'blocks.4.attn.hook_z' }).captures['blocks.4.attn.hook_z'].data);
  assert.equal(cache.get('pattern', 2).name, 'blocks.2.attn.hook_pattern');
  assert.equal(cache.get('post', 2).name, 'blocks.2.mlp.hook_post');
  assert.equal(cache.get('ln1', 2).name, 'blocks.2.ln1.hook_normalized');
  assert.equal(cache.get('embed').name, 'hook_embed');
  assert.equal(cache.get('ln_final').name, 'ln_final.hook_normalized');
  assert.equal(cache.run.captures, undefined);
  assert.equal(cache.run.top.length, 10);
  // Which hooks: names over every block, full names, a filter.
  const some = lab.runWithCache(P, { hooks: ['resid_post', 'blocks.3.attn.hook_pattern'] });
  assert.equal(some.names().length, L + 1);
  assert.ok(some.has('pattern', 3) && !some.has('pattern', 4));
  const filtered = lab.runWithCache(P, { hooks: (n) => n.endsWith('hook_z') });
  assert.equal(filtered.names().length, L);
  // With interventions: the cache is of the intervened run.
  const iv = { kind: 'zero', hook: 'blocks.2.hook_mlp_out' };
  assert.ok(lab.runWithCache(P, { hooks: 'mlp_out', interventions: [iv] }).get('mlp_out', 2).data.every((x) => x === 0));
  // Refused, with a did-you-mean.
  assert.throws(() => cache.get('resid_pots', 9), refused(/unknown hook "resid_pots" \(did you mean "resid_post"\?\)/));
  assert.throws(() => cache.get('resid_post'), refused(/give the block/));
  assert.throws(() => cache.get('resid_post', L), refused(/block 12 is out of range/));
  assert.throws(() => cache.get('embed', 1), refused(/not a hook of a block/));
  assert.throws(() => some.get('pattern', 4), refused(/blocks.4.attn.hook_pattern was not cached/));
  assert.throws(() => lab.runWithCache(P, { hook: ['resid_post'] }), refused(/unknown option "hook" \(did you mean "hooks"\?\)/));
  assert.throws(() => lab.runWithCache(P, { capture: ['resid_post'] }), refused(/unknown option "capture"/));
  assert.throws(() => lab.runWithCache(P, { hooks: ['resid_pst'] }), refused(/did you mean "resid_post"/));
});

// ---------------------------------------------------------------- every position's logits

test('logits: \'all\': [T, V] logits and the per-token loss of heads()', () => {
  const iv = { kind: 'zero_head_k', layer: 4, head: 1 };
  const r = lab.run(P, { logits: 'all', interventions: [iv] });
  const T = r.tokens.length, V = lab.config.vocab_size;
  assert.deepEqual(r.logits_all.shape, [T, V]);
  assert.ok(r.logits_all.data instanceof Float32Array);
  assert.deepEqual(r.logits_all.data.subarray((T - 1) * V), r.logits_last);
  const last = lab.run(P, { logits: true, interventions: [iv] });
  assert.ok(maxDiff(r.logits_last, last.logits_last) < 1e-4);
  assert.equal(last.logits_all, undefined);
  assert.equal(last.token_loss, undefined);
  const h = lab.heads({ prompt: P, interventions: [iv] });
  assert.equal(r.token_loss.length, T - 1);
  r.token_loss.forEach((x, t) => assert.ok(Math.abs(x - h.token_loss[t]) < 1e-5, `token_loss[${t}]`));
  // The loss is -log softmax at the next token.
  const row = r.logits_all.data.subarray(0, V);
  const mx = Math.max(...row);
  const lse = mx + Math.log(row.reduce((s, x) => s + Math.exp(x - mx), 0));
  assert.ok(Math.abs(r.token_loss[0] - (lse - row[r.tokens[1]])) < 1e-4);
  // compare() and runJSON take it too; strict values.
  assert.deepEqual(lab.compare(P, { logits: 'all', interventions: [iv] }).intervened.logits_all.shape, [T, V]);
  assert.equal(JSON.parse(lab.runJSON(P, { logits: 'all' })).logits_all.length, T);
  assert.throws(() => lab.run(P, { logits: 'every' }), refused(/logits must be true, false or 'all'/));
});

// ---------------------------------------------------------------- weights

test('weight(): TransformerLens\'s names and shapes, and they reproduce the activations', () => {
  const { n_layer: L, n_head: H, n_embd: C, d_head: D, d_mlp: M, vocab_size: V, n_positions: N } = lab.config;
  const shapes = {
    W_E: [V, C], 'embed.W_E': [V, C], W_pos: [N, C], W_U: [C, V], b_U: [V], 'blocks.3.attn.W_Q': [H, C, D], 'blocks.3.attn.W_O': [H, D, C],
    'blocks.3.attn.b_K': [H, D], 'blocks.3.attn.b_O': [C], 'blocks.3.mlp.W_in': [C, M], 'blocks.3.mlp.W_out': [M, C],
    'blocks.3.ln1.w': [C], 'ln_final.b': [C], W_O: [L, H, D, C], W_in: [L, C, M],
  };
  for (const [name, shape] of Object.entries(shapes)) {
    const w = lab.weight(name);
    assert.deepEqual(w.shape, shape, name);
    assert.equal(w.data.length, shape.reduce((a, b) => a * b, 1), name);
  }
  assert.ok(lab.weightNames().includes('blocks.0.attn.W_O'));
  assert.equal(lab.weightNames().length, 2 + 16 * L + 4 + 4 + 12);
  const WE = lab.weight('W_E').data, WU = lab.weight('W_U').data;
  for (const [v, i] of [[0, 0], [5, 7], [V - 1, C - 1]]) assert.equal(WE[v * C + i], WU[i * V + v]);
  // A copy: writing to it changes nothing.
  const b = lab.weight('blocks.0.attn.b_O');
  const before = b.data[0];
  b.data[0] = 1e6;
  assert.equal(lab.weight('blocks.0.attn.b_O').data[0], before);
  // q = ln1(x) . W_Q[h] + b_Q[h] at block 2, from the cache.
  const cache = lab.runWithCache(P, { hooks: ['blocks.2.ln1.hook_normalized', 'blocks.2.attn.hook_q'] });
  const x = cache.get('ln1', 2).data, q = cache.get('q', 2).data, T = cache.run.tokens.length;
  const WQ = lab.weight('blocks.2.attn.W_Q').data, bQ = lab.weight('blocks.2.attn.b_Q').data;
  let err = 0;
  for (let t = 0; t < T; ++t)
    for (let h = 0; h < H; ++h)
      for (let d = 0; d < D; ++d) {
        let s = bQ[h * D + d];
        for (let i = 0; i < C; ++i) s += x[t * C + i] * WQ[(h * C + i) * D + d];
        err = Math.max(err, Math.abs(s - q[(t * H + h) * D + d]));
      }
  assert.ok(err < 1e-3, `q from W_Q: ${err}`);
  assert.throws(() => lab.weight('blocks.3.attn.WO'), refused(/did you mean "blocks.3.attn.W_O"\?/));
  assert.throws(() => lab.weight('blocks.40.attn.W_O'), refused(/out of range/));
  assert.throws(() => lab.weight(3), refused(/must be a string/));
});

// ---------------------------------------------------------------- set with a tensor

test('set with a tensor: a cached activation patched into another run', async () => {
  const hook = 'blocks.5.hook_resid_post';
  const clean = lab.runWithCache(PAIR.clean, { hooks: [hook], logits: true });
  const act = clean.get(hook);
  const C = lab.config.n_embd, T = act.shape[0];
  // The whole residual: the corrupted run continues as the clean one, bit for bit.
  const whole = lab.run(PAIR.corrupted, { logits: true, interventions: [{ kind: 'set', hook, value: act.data }] });
  assert.deepEqual(whole.logits_last, clean.run.logits_last);
  assert.deepEqual(whole.interventions[0].value, { tensor_size: T * C });
  // The last position: the whole tensor (selected elements at their own index) or the slice alone.
  const a = lab.run(PAIR.corrupted, { logits: true, interventions: [{ kind: 'set', hook, positions: [-1], value: act.data }] });
  const b = lab.run(PAIR.corrupted, { logits: true, interventions: [{ kind: 'set', hook, positions: [-1], value: act.data.slice((T - 1) * C) }] });
  assert.deepEqual(a.logits_last, b.logits_last);
  assert.notDeepEqual(a.logits_last, clean.run.logits_last);
  // A plain (nested) array works as well.
  const rows = Array.from({ length: T }, (_, t) => Array.from(act.data.subarray(t * C, (t + 1) * C)));
  assert.deepEqual(lab.run(PAIR.corrupted, { logits: true, interventions: [{ kind: 'set', hook, value: rows }] }).logits_last, whole.logits_last);
  // It is what patching measures: patch()'s resid_pre entry [L][p] is the corrupted run with the
  // clean blocks.L.hook_resid_pre set at position p.
  const sweep = await lab.patch({ clean: PAIR.clean, corrupted: PAIR.corrupted, answer: PAIR.answer, wrong: PAIR.wrong, hook: 'resid_pre' });
  const pre = lab.runWithCache(PAIR.clean, { hooks: 'resid_pre' });
  for (const [L, p] of [[3, 1], [7, T - 1]]) {
    const r = lab.run(PAIR.corrupted, { logits: true, interventions: [{ kind: 'set', hook: `blocks.${L}.hook_resid_pre`, positions: [p], value: pre.get('resid_pre', L).data }] });
    assert.ok(Math.abs(r.logits_last[A] - r.logits_last[W] - sweep.logit_diff[L][p]) < 1e-3, `[${L}][${p}]`);
  }
  // compare() keys its kept runs on the tensor's values.
  const c1 = lab.compare(PAIR.corrupted, { interventions: [{ kind: 'set', hook, value: act.data }] });
  const other = act.data.map((x) => x * 0.5);
  const c2 = lab.compare(PAIR.corrupted, { interventions: [{ kind: 'set', hook, value: other }] });
  assert.equal(c2.reused, false);
  assert.notDeepEqual(c1.intervened.top, c2.intervened.top);
  // Refused: a wrong size, a tensor in generation, a tensor for add.
  assert.throws(() => lab.run(PAIR.corrupted, { interventions: [{ kind: 'set', hook, value: new Float32Array(7) }] }),
    refused(/the tensor has 7 values/, new RegExp(`\\[${T}, ${C}\\]`)));
  await assert.rejects(lab.generate(PAIR.clean, { maxNewTokens: 2, interventions: [{ kind: 'set', hook, positions: [0], value: act.data.slice(0, C) }] }),
    refused(/generation grows the sequence/));
  assert.throws(() => lab.run(P, { interventions: [{ kind: 'add', hook, value: [1, 2] }] }), refused(/"value" must be a finite number/));
});

// ---------------------------------------------------------------- patching metrics

test('patch metrics: prob, logprob, loss of the answer; the default unchanged', async () => {
  const base = { clean: PAIR.clean, corrupted: PAIR.corrupted, answer: PAIR.answer, wrong: PAIR.wrong, hook: 'attn_out' };
  const strip = ({ ms, ...r }) => r;
  const dflt = await lab.patch(base);
  assert.deepEqual(strip(await lab.patch({ ...base, metric: 'logit_diff' })), strip(dflt));
  assert.equal(dflt.metric, undefined);
  const by = {};
  for (const metric of ['prob', 'logprob', 'loss']) {
    const rows = [];
    by[metric] = await lab.patch({ ...base, metric, onProgress: ({ row }) => row && rows.push(row) });
    assert.equal(by[metric].metric, metric);
    assert.equal(by[metric].logit_diff, undefined);
    assert.deepEqual(rows, by[metric][metric]);
  }
  const clean = lab.run(PAIR.clean, { logits: true }).logits_last;
  const mx = Math.max(...clean);
  const lse = mx + Math.log(clean.reduce((s, x) => s + Math.exp(x - mx), 0));
  assert.ok(Math.abs(by.logprob.clean_logprob - (clean[A] - lse)) < 1e-4);
  by.logprob.logprob.forEach((row, l) => row.forEach((lp, p) => {
    assert.ok(Math.abs(by.prob.prob[l][p] - Math.exp(lp)) < 1e-9);
    assert.equal(by.loss.loss[l][p], -lp);
  }));
  // No wrong token needed for these.
  const { wrong, ...noWrong } = base;
  const nw = await lab.patch({ ...noWrong, metric: 'prob' });
  assert.equal(nw.wrong_id, undefined);
  assert.deepEqual(nw.prob, by.prob.prob);
  await assert.rejects(lab.patch(noWrong), refused(/wrong is required/));
  await assert.rejects(lab.patch({ ...base, metric: 'probs' }), refused(/metric must be/, /did you mean 'prob'\?/));
  await assert.rejects(lab.patch({ ...base, metric: 'loss', method: 'attribution' }), refused(/logit difference only/));
});
