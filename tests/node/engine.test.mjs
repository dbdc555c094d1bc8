// The WebAssembly engine in node: the chapter's four exercises give the native engine's
// numbers (within the tolerance derived from the arithmetic, tests/tolerance.mjs; identical
// noise for the same seed), the node CLI prints what the native CLI prints, and every
// failure (malformed checkpoint, bad intervention, a model too large for wasm memory) is a
// clear JS Error that leaves the engine usable.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, copyFileSync, openSync, readSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { HookLab, HookLabError, transferables } from '../../wasm/js/hooklab.js';
import { tempDir } from '../temp-dir.mjs';
import { derivedTolerance, goldenTolerance, maxAbs } from '../tolerance.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NATIVE = join(ROOT, 'build/hooklab');
const CKPT = join(ROOT, 'build/ckpt');
const CLI = join(ROOT, 'wasm/js/cli.js');
const PROMPT = "The quick brown fox doesn't jump over 12 lazy dogs; it waits, patiently, for the 3rd bell.";

function exercises(L) {
  return {
    clean: [],
    ex1: [{ kind: 'zero_head_k', layer: L, head: 2 }],
    ex2: [{ kind: 'noise_even_neurons', layer: L, mean: 10, std: 1, seed: 3 }],
    ex3: [{ kind: 'scale_hidden', layer: L, factor: 0.1 }],
    ex4: [{ kind: 'scale_hidden', layer: L, factor: 10 }],
  };
}

function native(args) {
  return JSON.parse(execFileSync(NATIVE, args, { encoding: 'utf8', maxBuffer: 1 << 28 }));
}

// |a - b| <= rel * max(|b|, scale): for the checks within one build below (not issue #23's
// cross-implementation comparisons, which use tests/tolerance.mjs).
function close(a, b, rel, scale, what) {
  if (a === null || b === null) return assert.equal(a, b, what);
  assert.ok(Math.abs(a - b) <= rel * Math.max(Math.abs(b), scale), `${what}: ${a} vs ${b}`);
}

// |a - b| <= tol, the tolerance of the quantity (tests/tolerance.mjs); nulls (non-finite) equal.
function within(a, b, tol, what) {
  if (a === null || b === null) return assert.equal(a, b, what);
  assert.ok(Math.abs(a - b) <= tol, `${what}: wasm ${a} vs ${b}, tolerance ${tol}`);
}

// The run's floats against another implementation's (`want`: the native CLI's run, or a
// PyTorch golden) within `tol` (goldenTolerance), each quantity by its rule (tests/native/
// test_exactness.cpp's): curves against their largest value, a layer's mean/std/min/max against
// the largest of the four, a norm against itself, logits absolute, probabilities relative.
function compareFloats(got, want, tol, what) {
  for (const k of ['hidden_std', 'resid_std']) {
    assert.equal(got[k].length, want[k].length, `${what} ${k}`);
    const scale = maxAbs(want[k]);
    got[k].forEach((x, i) => within(x, want[k][i], tol.activation(scale), `${what} ${k}[${i}]`));
  }
  assert.deepEqual(Object.keys(got.stats).sort(), Object.keys(want.stats).sort(), `${what} stats`);
  for (const [hook, w] of Object.entries(want.stats)) {
    for (let l = 0; l < w.std.length; ++l) {
      const row = maxAbs([w.mean[l], w.std[l], w.min[l], w.max[l]]);
      for (const f of ['mean', 'std', 'min', 'max', 'norm']) {
        within(got.stats[hook][f][l], w[f][l], tol.activation(f === 'norm' ? w[f][l] ?? 0 : row), `${what} ${hook}.${f}[${l}]`);
      }
    }
  }
  assert.equal(got.top.length, want.top.length, `${what} top`);
  got.top.forEach((t, i) => {
    const w = want.top[i];
    within(t.logit, w.logit, tol.logit(), `${what} top[${i}].logit`);
    if (t.id !== w.id) return; // ids may swap only on a near-tie, which the logits just checked
    assert.equal(t.token, w.token);
    within(t.prob, w.prob, tol.prob(w.prob), `${what} top[${i}].prob`);
  });
  assert.equal(!!got.logits_last, !!want.logits_last, `${what} logits_last`);
  if (want.logits_last) {
    assert.equal(got.logits_last.length, want.logits_last.length);
    got.logits_last.forEach((x, i) => within(x, want.logits_last[i], tol.logit(), `${what} logits_last[${i}]`));
  }
}

// The wasm engine against the native CLI: two builds of one engine (Eigen natively, the
// simd128 kernels in wasm) whose sums differ in order. No golden: the tolerance is derived
// (tests/tolerance.mjs, as tools/golden_compare.py) from the native run's own scales.
function compareRuns(got, want) {
  assert.deepEqual(got.tokens, want.tokens);
  assert.deepEqual(got.token_strings, want.token_strings);
  assert.deepEqual(got.interventions, want.interventions);
  assert.equal(got.nonfinite, want.nonfinite);
  assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort());
  // (b) wasm vs native: tolerance derived from the native run's config, token count and scales.
  compareFloats(got, want, derivedTolerance(want.model, want.tokens.length, want.stats), 'wasm vs native');
}

let mid;
before(async () => {
  mid = await HookLab.load(join(CKPT, 'mid'));
});

test('the four exercises give the native engine\'s numbers (mid: 12 layers x 12 heads)', () => {
  for (const [name, ivs] of Object.entries(exercises(9))) {
    const got = mid.run(PROMPT, { interventions: ivs, topk: 5, logits: true });
    const args = ['run', '--model', join(CKPT, 'mid'), '--prompt', PROMPT, '--topk', '5', '--logits'];
    for (const iv of ivs) args.push('--intervene', JSON.stringify(iv));
    compareRuns(got, native(args));
    if (name === 'ex3') assert.ok(Math.abs(got.resid_std[9] / mid.run(PROMPT).resid_std[9] - 0.1) < 1e-6);
  }
});

// Prompt lengths 1-9 take every path of the wasm GEMM: 4-row tiles plus 0-3 leftover rows
// (one R x 8 tile each), and for F16 weights the in-register widening used below 4 rows.
test('prompts of 1 to 9 tokens give the native engine\'s numbers, F32 and F16 weights', async () => {
  const mid16 = await HookLab.load(join(CKPT, 'mid'), { f16: true });
  const ids = mid.tokenize(PROMPT);
  for (let n = 1; n <= 9; ++n) {
    const prompt = mid.decode(ids.slice(0, n));
    assert.equal(mid.tokenize(prompt).length, n);
    for (const [lab, flag] of [[mid, []], [mid16, ['--f16']]]) {
      const got = lab.run(prompt, { topk: 5, logits: true });
      compareRuns(got, native(['run', '--model', join(CKPT, 'mid'), '--prompt', prompt, '--topk', '5', '--logits', ...flag]));
    }
  }
  mid16.dispose();
});

test('F16 and BF16 checkpoints agree with the committed PyTorch goldens', async () => {
  for (const ck of ['tiny_f32', 'tiny_f16', 'tiny_bf16']) {
    const lab = await HookLab.load(join(CKPT, ck));
    for (const c of ['clean', 'ex1', 'ex2', 'ex3', 'ex4', 'combo']) {
      const golden = JSON.parse(readFileSync(join(ROOT, `tests/golden/${ck}__${c}.json`), 'utf8'));
      const got = lab.run(golden.prompt, { interventions: golden.interventions, topk: golden.top.length, logits: !!golden.logits_last });
      assert.deepEqual(got.tokens, golden.tokens);
      assert.deepEqual(got.token_strings, golden.token_strings);
      assert.equal(got.interventions.length, golden.interventions.length);
      // (a) wasm vs the PyTorch reference: the golden's own derived tolerance record.
      compareFloats(got, golden, goldenTolerance(golden.tolerance), `${ck}/${c}`);
    }
    lab.dispose();
  }
});

test('identical noise for the same seed, different for another', () => {
  const iv = { kind: 'noise_even_neurons', layer: 3, mean: 10, std: 1, seed: 42 };
  const cap = 'blocks.3.mlp.hook_post';
  const a = mid.run('Hello there', { interventions: [iv], capture: [cap] }).captures[cap].data;
  const b = mid.run('Hello there', { interventions: [iv], capture: [cap] }).captures[cap].data;
  assert.deepEqual(a, b);
  const n = native(['run', '--model', join(CKPT, 'mid'), '--prompt', 'Hello there', '--intervene', JSON.stringify(iv), '--capture', cap]).captures[cap].data;
  // Even neurons are pure noise: bit-identical draws (the noise is computed in double, stored as float).
  for (let i = 0; i < a.length; i += 2) assert.equal(a[i], n[i]);
  const c = mid.run('Hello there', { interventions: [{ ...iv, seed: 43 }], capture: [cap] }).captures[cap].data;
  assert.notDeepEqual(a, c);
});

test('the simd128 F16 widening is exact for all 65536 halves', async () => {
  const { loadModule } = await import('../../wasm/js/hooklab.js');
  const M = await loadModule();
  assert.equal(M.kernel(), 'simd128-4x8');
  assert.equal(M.kernelSelfTest(), 0);
});

// Hook statistics sum in simd128 vectors in wasm: the cases of tests/native/stats_check.h.
test('the simd128 hook statistics equal a long-double reference (the native cases)', async () => {
  const { loadModule } = await import('../../wasm/js/hooklab.js');
  const r = JSON.parse((await loadModule()).statsCheck());
  assert.equal(r.cases, 87);
  assert.equal(r.mismatch, '');
});

// gelu_new and the attention's dot products and sums run on simd128 vectors in wasm; they
// do what the scalar code does in the same order, so the same bits. Here: hook_post against
// gelu_new as the engine writes it (gpt2.cpp), each float operation rounded as C++ rounds
// it, on a real run's hook_pre and on special values set into it.
function geluNew(x) {
  const f = Math.fround;
  const u = f(f(0.7978845608028654) * f(x + f(f(f(f(0.044715) * x) * x) * x)));
  let z = f(2 * u);
  z = z > -87 ? z : -87;
  z = z < 88 ? z : 88;
  const n = f(f(f(z * f(1.44269504)) + 12582912) - 12582912);
  const r = f(f(z - f(n * 0.693359375)) - f(n * f(-2.12194440e-4)));
  let p = f(1 / 5040);
  for (const c of [1 / 720, 1 / 120, 1 / 24, 1 / 6, 0.5, 1, 1]) p = f(f(p * r) + f(c));
  const e = f(p * 2 ** n);
  const t = f(1 - f(2 / f(e + 1)));
  return f(f(0.5 * x) * f(1 + t));
}

test('the MLP\'s GELU gives the bits of the scalar gelu_new, special values included', () => {
  const L = 3, pre = `blocks.${L}.mlp.hook_pre`, post = `blocks.${L}.mlp.hook_post`;
  const r = mid.run(PROMPT, { capture: [pre, post] });
  const x = r.captures[pre].data, y = r.captures[post].data;
  assert.equal(x.length, y.length);
  for (let i = 0; i < x.length; ++i) if (!Object.is(y[i], geluNew(x[i]))) assert.fail(`${pre} = ${x[i]}: ${y[i]}, scalar ${geluNew(x[i])}`);
  const M = x.length / r.tokens.length;
  const special = [0, -0, 1e-30, -1e-30, 3e38, -3e38, 44, 43.5, -87, -88, 1e-3, -5.5, 12.25, -12.25, 1, -1];
  const row = Float32Array.from({ length: M }, (_, i) => special[i % special.length] * (i < special.length ? 1 : 1 + i / M));
  const s = mid.run(PROMPT, { capture: [post], interventions: [{ kind: 'set', hook: pre, positions: [0], value: row }] });
  const got = s.captures[post].data.subarray(0, M);
  for (let i = 0; i < M; ++i) if (!Object.is(got[i], geluNew(row[i]))) assert.fail(`gelu_new(${row[i]}): ${got[i]}, scalar ${geluNew(row[i])}`);
});

// Softmax's exp is straight-line arithmetic (gpt2.cpp exp_softmax): the pattern is the
// softmax of the scores as a hook leaves them, computed here in double, and a term more than
// 87 below its row's largest is exactly 0, as e^z underflows in torch's float softmax.
test('the attention pattern is the softmax of the scores a hook leaves, far terms exactly 0', () => {
  const s = 'blocks.2.attn.hook_attn_scores', p = 'blocks.2.attn.hook_pattern';
  for (const factor of [1, 30, 1e6]) {
    const r = mid.run(PROMPT, { capture: [s, p], interventions: factor === 1 ? [] : [{ kind: 'scale', hook: s, factor }] });
    const [H, T] = r.captures[s].shape, sc = r.captures[s].data, pat = r.captures[p].data;
    let zeros = 0;
    for (let row = 0; row < H * T; ++row) {
      const i = row % T, x = sc.subarray(row * T, row * T + i + 1), mx = Math.max(...x);
      const e = Array.from(x, (v) => Math.exp(v - mx)), sum = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j < T; ++j) {
        const got = pat[row * T + j];
        if (j > i || x[j] - mx < -87) {
          assert.equal(got, 0, `${factor}: row ${row}, key ${j}`);
          zeros += j <= i;
        } else assert.ok(Math.abs(got - e[j] / sum) <= 1e-6 * Math.max(1, e[j] / sum), `${factor}: row ${row}, key ${j}: ${got} vs ${e[j] / sum}`);
      }
    }
    if (factor === 1e6) assert.ok(zeros > H * T, 'scores scaled up leave one term a row');
  }
});

test('tokenize, decode, config', () => {
  const ids = mid.tokenize(PROMPT);
  assert.ok(ids.length > 10 && ids.every(Number.isInteger));
  assert.equal(mid.decode(ids), PROMPT);
  assert.equal(mid.config.n_layer, 12);
  assert.equal(mid.config.n_head, 12);
  assert.equal(mid.config.n_embd, 96);
});

test('an out-of-range intervention is a clear Error and the engine stays usable', () => {
  assert.throws(() => mid.run(PROMPT, { interventions: [{ kind: 'zero_head_k', layer: 9, head: 12 }] }),
    (e) => e instanceof HookLabError && e instanceof Error && /head 12 is out of range/.test(e.message));
  assert.throws(() => mid.run(PROMPT, { interventions: [{ kind: 'scale_hidden', layer: 12, factor: 2 }] }), /layer/);
  assert.throws(() => mid.run(PROMPT, { interventions: ['{"kind":'] }), /not valid JSON/);
  assert.throws(() => mid.run(PROMPT, { capture: ['blocks.1.hook_nothing'] }), /unknown hook point/);
  assert.throws(() => mid.run(''), /prompt is empty/);
  const ok = mid.run(PROMPT, { topk: 3 });
  assert.equal(ok.top.length, 3);
});

function brokenCopy(mutate) {
  const dir = tempDir('hooklab-broken-');
  for (const f of ['config.json', 'vocab.json', 'merges.txt', 'model.safetensors']) copyFileSync(join(CKPT, 'tiny_f32', f), join(dir, f));
  mutate(dir);
  return dir;
}

test('a malformed checkpoint fails with the engine\'s message, and the next load works', async () => {
  const st = readFileSync(join(CKPT, 'tiny_f32', 'model.safetensors'));
  const cases = [
    [(d) => writeFileSync(join(d, 'model.safetensors'), st.subarray(0, 100)), /truncated/],
    [(d) => writeFileSync(join(d, 'model.safetensors'), Buffer.alloc(0)), /empty/],
    [(d) => writeFileSync(join(d, 'model.safetensors'), st.subarray(0, st.length - 10)), /outside|truncated/],
    [(d) => writeFileSync(join(d, 'config.json'), '{"n_layer": 2'), /config.json is not valid JSON/],
    [(d) => {
      const c = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
      writeFileSync(join(d, 'config.json'), JSON.stringify({ ...c, n_layer: 3 }));
    }, /missing tensor "(transformer\.)?h\.2/],
  ];
  for (const [mutate, want] of cases) {
    const dir = brokenCopy(mutate);
    await assert.rejects(HookLab.load(dir), (e) => e instanceof HookLabError && want.test(e.message));
  }
  // The same bytes as four buffers, truncated mid-stream (size unknown to the loader).
  await assert.rejects(HookLab.load({
    config: readFileSync(join(CKPT, 'tiny_f32', 'config.json')),
    weights: new Blob([st.subarray(0, 5000)]),
    vocab: readFileSync(join(CKPT, 'tiny_f32', 'vocab.json')),
    merges: readFileSync(join(CKPT, 'tiny_f32', 'merges.txt')),
  }), /truncated|outside/);
  await assert.rejects(HookLab.load(join(tmpdir(), 'no-such-model')), /cannot open/);
  const lab = await HookLab.load(join(CKPT, 'tiny_f32'));
  assert.ok(lab.run('hello').top.length > 0);
  lab.dispose();
});

test('four ArrayBuffers/Blobs load like the folder, with one progress number', async () => {
  const files = ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt'].map((f) => readFileSync(join(CKPT, 'mid', f)));
  const progress = [];
  const lab = await HookLab.load([files[0].buffer.slice(files[0].byteOffset, files[0].byteOffset + files[0].length),
    new Blob([files[1]]), new Uint8Array(files[2]), files[3]], { onProgress: (p) => progress.push(p) });
  assert.deepEqual(lab.run(PROMPT).hidden_std, mid.run(PROMPT).hidden_std);
  assert.equal(progress.at(-1), 1);
  assert.ok(progress.every((p, i) => p >= 0 && p <= 1 && (i === 0 || p >= progress[i - 1])));
  lab.dispose();
  assert.throws(() => lab.run(PROMPT), /disposed/);
});

test('a base URL laid out like a HuggingFace repo streams in, with one progress number', async () => {
  const { createServer } = await import('node:http');
  const server = createServer((req, res) => {
    const f = join(CKPT, decodeURIComponent(new URL(req.url, 'http://x').pathname));
    if (!existsSync(f)) { res.writeHead(404); res.end(); return; }
    const body = readFileSync(f);
    res.writeHead(200, { 'content-length': body.length });
    // In pieces, as a network would deliver them.
    let o = 0;
    const next = () => { if (o >= body.length) return res.end(); res.write(body.subarray(o, o += 65537), next); };
    next();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    const base = `http://127.0.0.1:${server.address().port}`;
    const progress = [];
    const lab = await HookLab.load(`${base}/mid/`, { onProgress: (p) => progress.push(p) });
    assert.deepEqual(lab.run(PROMPT).hidden_std, mid.run(PROMPT).hidden_std);
    assert.equal(progress.at(-1), 1);
    assert.ok(progress.length > 10 && progress.every((p, i) => i === 0 || p >= progress[i - 1]));
    lab.dispose();
    await assert.rejects(HookLab.load(`${base}/nothing-here`), (e) => e instanceof HookLabError && /HTTP 404/.test(e.message));
  } finally {
    server.close();
  }
});

test('a model too large for wasm memory is refused up front, then a normal load works', async () => {
  const dir = brokenCopy((d) => {
    const c = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
    // GPT-2 XL-ish at F32: ~6 GB of weights, more than a wasm32 module can address.
    writeFileSync(join(d, 'config.json'), JSON.stringify({ ...c, n_layer: 48, n_embd: 1600, n_head: 25, vocab_size: 50257, n_positions: 1024 }));
  });
  const t0 = Date.now();
  await assert.rejects(HookLab.load(dir), (e) => e instanceof HookLabError && /too large/.test(e.message) && /MB/.test(e.message));
  assert.ok(Date.now() - t0 < 5000, 'refused before reading the weights');
  const lab = await HookLab.load(join(CKPT, 'tiny_f32'));
  assert.ok(lab.run('hello').top.length > 0);
  lab.dispose();
});

test('F16 weight storage: half the weight memory, statistics within 1e-3 relative', async () => {
  const lab = await HookLab.load(join(CKPT, 'mid'), { f16: true });
  assert.ok(lab.weightBytes < 0.55 * mid.weightBytes);
  for (const ivs of Object.values(exercises(9))) {
    const a = lab.run(PROMPT, { interventions: ivs }), b = mid.run(PROMPT, { interventions: ivs });
    a.hidden_std.forEach((x, i) => close(x, b.hidden_std[i], 1e-3, 0, `hidden_std[${i}]`));
    for (const [hook, w] of Object.entries(b.stats))
      for (let l = 0; l < w.std.length; ++l) close(a.stats[hook].std[l], w.std[l], 1e-3, 0, `${hook}.std[${l}]`);
  }
  lab.dispose();
});

test('node CLI: byte-identical structure and the native numbers; errors as one line', () => {
  const model = join(CKPT, 'mid');
  const args = ['run', '--model', model, '--prompt', PROMPT, '--topk', '5', '--intervene', '{"kind":"noise_even_neurons","layer":9,"mean":10,"std":1,"seed":3}',
    '--capture', 'blocks.9.attn.hook_pattern'];
  const w = execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.ok(w.endsWith('}\n'));
  compareRuns(JSON.parse(w), native(args));
  const tok = execFileSync(process.execPath, [CLI, 'tokenize', '--model', model, '--text', PROMPT], { encoding: 'utf8' });
  assert.equal(tok, execFileSync(NATIVE, ['tokenize', '--model', model, '--text', PROMPT], { encoding: 'utf8' }));
  for (const bad of [
    ['run', '--model', model, '--prompt', PROMPT, '--intervene', '{"kind":"zero_head_k","layer":9,"head":12}'],
    ['run', '--model', model, '--prompt', PROMPT, '--intervene', '{"kind":'],
    ['run', '--model', join(tmpdir(), 'nowhere'), '--prompt', PROMPT],
    ['run', '--model', model, '--prompt', ''],
    ['run', '--model', model, '--prompt', 'x', '--bogus'],
    ['run', '--model', model, '--prompt', 'x', '--topk', '-1'],
    ['run', '--prompt', 'x'],
  ]) {
    const n = spawnSync(NATIVE, bad, { encoding: 'utf8' });
    const j = spawnSync(process.execPath, [CLI, ...bad], { encoding: 'utf8' });
    assert.equal(j.status, 1, bad.join(' '));
    assert.equal(j.stdout, '');
    assert.equal(j.stderr, n.stderr, bad.join(' '));
  }
});

// A JavaScript engine without simd128 or wasm exception handling: a clear HookLabError
// naming what is missing, not a CompileError about some opcode (simulated in a child
// process whose WebAssembly.validate refuses the matching feature probe).
test('a JavaScript engine lacking simd128 or exception handling gets a clear error', () => {
  const api = new URL('../../wasm/js/hooklab.js', import.meta.url).href;
  for (const [opcode, name] of [[253, 'SIMD \\(simd128\\)'], [25, 'exception handling']]) {
    const script = `const validate = WebAssembly.validate;
      WebAssembly.validate = (b) => !b.includes(${opcode}) && validate(b);
      const { HookLab } = await import(${JSON.stringify(api)});
      try { await HookLab.load(${JSON.stringify(join(CKPT, 'tiny_f32'))}); console.log('loaded'); }
      catch (e) { console.log(e.name + ': ' + e.message); }`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.match(out, new RegExp(`^HookLabError: this JavaScript engine's WebAssembly lacks ${name}, which the engine needs`));
  }
});

// ------------------------------------------------------------- typed results, compare, lens

test('bulk numbers come as Float32Arrays holding exactly the run JSON\'s numbers', () => {
  const cap = ['blocks.9.attn.hook_pattern', 'blocks.2.mlp.hook_post'];
  const ivs = [{ kind: 'zero_head_k', layer: 9, head: 2 }];
  const got = mid.run(PROMPT, { interventions: ivs, logits: true, capture: cap, topk: 4 });
  const text = JSON.parse(mid.runJSON(PROMPT, { interventions: ivs, logits: true, capture: cap, topk: 4 }));
  assert.ok(got.logits_last instanceof Float32Array);
  assert.deepEqual(Array.from(got.logits_last), text.logits_last);
  for (const c of cap) {
    assert.ok(got.captures[c].data instanceof Float32Array, c);
    assert.deepEqual(got.captures[c].shape, text.captures[c].shape);
    assert.deepEqual(Array.from(got.captures[c].data), text.captures[c].data);
  }
  const { logits_last: _l, captures: _c, ...small } = got;
  const { logits_last: _tl, captures: _tc, ...smallText } = text;
  assert.deepEqual(small, smallText);
  // Logits only when asked; the transfer list holds every array's buffer once.
  assert.equal(mid.run(PROMPT).logits_last, undefined);
  assert.equal(transferables(got).length, 3);
});

// KL(P || Q) and probabilities as the page computed them (web/src/analysis.js before the
// engine did it): log-softmax in double over the finite logits.
function logSoftmax(l) {
  let mx = -Infinity;
  for (const x of l) if (Number.isFinite(x) && x > mx) mx = x;
  let z = 0;
  for (const x of l) if (Number.isFinite(x)) z += Math.exp(x - mx);
  const lz = mx + Math.log(z);
  return Array.from(l, (x) => (Number.isFinite(x) ? x - lz : -Infinity));
}
function jsKl(p, q) {
  const lp = logSoftmax(p), lq = logSoftmax(q);
  let kl = 0;
  for (let i = 0; i < lp.length; i++) { const e = Math.exp(lp[i]); if (e > 0) kl += e * (lp[i] - lq[i]); }
  return Math.max(0, kl);
}

test('compare: KL and the top-k comparison computed in the engine, the baseline kept', () => {
  const ivs = [{ kind: 'scale_hidden', layer: 9, factor: 10 }];
  const c = mid.compare(PROMPT, { interventions: ivs, topk: 5 });
  const b = mid.run(PROMPT, { logits: true, topk: 5 }), i = mid.run(PROMPT, { interventions: ivs, logits: true, topk: 5 });
  assert.deepEqual(c.baseline.hidden_std, b.hidden_std);
  assert.deepEqual(c.intervened.hidden_std, i.hidden_std);
  close(c.kl, jsKl(b.logits_last, i.logits_last), 1e-9, 0, 'kl');
  assert.ok(c.kl > 0);
  const lb = logSoftmax(b.logits_last), li = logSoftmax(i.logits_last);
  assert.deepEqual(c.top.slice(0, 5).map((t) => t.id), b.top.map((t) => t.id));
  for (const t of c.top) {
    close(t.pBase, Math.exp(lb[t.id]), 1e-12, 0, `pBase ${t.id}`);
    close(t.pInt, Math.exp(li[t.id]), 1e-12, 0, `pInt ${t.id}`);
  }
  // Another toggle on the same prompt: the same baseline object, not a new run.
  const c2 = mid.compare(PROMPT, { interventions: [{ kind: 'zero_head_k', layer: 3, head: 1 }], topk: 5 });
  assert.equal(c2.baseline, c.baseline);
  // No interventions: the baseline is the intervened run, KL 0.
  const c3 = mid.compare(PROMPT, { topk: 5 });
  assert.equal(c3.intervened, c3.baseline);
  assert.equal(c3.kl, 0);
  // Non-finite logits: KL is not defined.
  assert.equal(mid.compare(PROMPT, { interventions: [{ kind: 'scale_hidden', layer: 9, factor: 1e38 }], topk: 5 }).kl, null);
});

// The page's toggles: lab.compare resumes the intervened run from the kept baseline at
// the first block it touches (the next one, where it touches only a block's output). It
// must be exactly the whole run (and the same at 2 threads).
test('compare: a run resumed from the kept baseline equals the whole run, bit for bit', async () => {
  const L = mid.config.n_layer;
  const cases = [
    [{ kind: 'scale_hidden', layer: 9, factor: 10 }],
    // A block's output: the run enters the next block, that output's hook fired on entry.
    [{ kind: 'scale_hidden', layer: 0, factor: 0.1 }, { kind: 'scale_hidden', layer: 0, factor: 10 }],
    [{ kind: 'scale_hidden', layer: 9, factor: 0.1 }, { kind: 'zero_head_k', layer: 6, head: 2 }],
    [{ kind: 'noise_even_neurons', layer: 3, mean: 10, std: 1, seed: 4 }],
    [{ kind: 'scale', hook: 'logits', factor: 2 }],
    [{ kind: 'zero', hook: 'hook_embed' }],
  ];
  const mt = await HookLab.load(join(CKPT, 'mid'), { threads: 2 });
  try {
    for (const lab of [mid, mt])
      for (const lens of [false, true])
        for (const ivs of cases) {
          const opts = { topk: 5, logits: true, logitLens: lens, capture: [`blocks.${L - 1}.attn.hook_pattern`] };
          const c = lab.compare(PROMPT, { ...opts, interventions: ivs });
          assert.deepEqual(c.intervened, mid.run(PROMPT, { ...opts, interventions: ivs }), `${lab.threads} threads ${JSON.stringify(ivs)} lens ${lens}`);
        }
  } finally {
    mt.dispose();
  }
});

// Exercise 1's toggle adds or drops one block's attention pattern from the captures, the
// lens switch adds the lens: the kept baseline forward stays, and a baseline run resumed
// from it gives the new options' numbers, exactly those of a whole run.
test('compare: other options on the same prompt give a whole run\'s baseline', () => {
  const ivs = [{ kind: 'zero_head_k', layer: 4, head: 1 }];
  const variants = [
    { capture: ['blocks.4.attn.hook_pattern'] },
    { capture: [] },
    { capture: ['blocks.2.hook_resid_post', 'blocks.6.attn.hook_pattern'], logitLens: true },
    { capture: ['hook_embed'], topk: 3 },
    { logitLens: true },
    {},
  ];
  for (const v of variants) {
    const opts = { topk: 5, logits: true, ...v };
    const c = mid.compare(PROMPT, { ...opts, interventions: ivs });
    assert.deepEqual(c.baseline, mid.run(PROMPT, opts), JSON.stringify(v));
    assert.deepEqual(c.intervened, mid.run(PROMPT, { ...opts, interventions: ivs }), JSON.stringify(v));
  }
  // The same options again: the same baseline object, nothing recomputed or sent. A bad
  // capture name is an error that leaves the kept baseline as it was.
  const same = { topk: 5, logits: true };
  const kept = mid.compare(PROMPT, same).baseline;
  assert.equal(mid.compare(PROMPT, { ...same, interventions: ivs }).baseline, kept);
  assert.throws(() => mid.compare(PROMPT, { ...same, capture: ['blocks.99.attn.hook_pattern'] }), /capture/);
  assert.equal(mid.compare(PROMPT, same).baseline, kept);
});

// A toggle back to a state already seen: the engine's kept run, the numbers of a new one.
test('compare: the latest intervened runs are kept and reused exactly', () => {
  const a = [{ kind: 'scale_hidden', layer: 7, factor: 3 }], b = [{ kind: 'noise_even_neurons', layer: 2, mean: 10, std: 1, seed: 5 }];
  const opts = { topk: 5, logits: true, capture: ['blocks.8.attn.hook_pattern'] };
  const first = mid.compare(PROMPT, { ...opts, interventions: a });
  assert.equal(first.reused, false);
  assert.equal(mid.compare(PROMPT, { ...opts, interventions: b }).reused, false);
  const again = mid.compare(PROMPT, { ...opts, interventions: a });
  assert.equal(again.reused, true);
  assert.deepEqual(again.intervened, mid.run(PROMPT, { ...opts, interventions: a }));
  assert.deepEqual([again.kl, again.top], [first.kl, first.top]);
  // Its arrays are its own: the page transfers them to another thread.
  assert.notEqual(again.intervened.logits_last.buffer, first.intervened.logits_last.buffer);
});

// With exercise 1 on, every run starts inside its block; a toggle of exercise 4 beside it
// resumes from exercise 1's own kept run, with the numbers of a whole run.
test('compare: a toggle beside an intervention resumes from that intervention\'s kept run', async () => {
  const L = mid.config.n_layer;
  const ex1 = { kind: 'zero_head_k', layer: 0, head: 1 };
  const opts = { topk: 5, logits: true, logitLens: true, capture: ['blocks.0.attn.hook_pattern'] };
  const mt = await HookLab.load(join(CKPT, 'mid'), { threads: 2 });
  try {
    for (const lab of [mid, mt]) {
      assert.equal(lab.compare(PROMPT, { ...opts, interventions: [ex1] }).firstBlock, 0);
      for (const [ivs, first] of [[[ex1, { kind: 'scale_hidden', layer: 0, factor: 10 }], 1], [[ex1, { kind: 'scale_hidden', layer: 9, factor: 10 }], 10]]) {
        const c = lab.compare(PROMPT, { ...opts, interventions: ivs });
        assert.equal(c.firstBlock, first, `${lab.threads} threads ${JSON.stringify(ivs)}`);
        assert.deepEqual(c.intervened, mid.run(PROMPT, { ...opts, interventions: ivs }));
      }
      const back = lab.compare(PROMPT, { ...opts, interventions: [ex1] });
      assert.equal(back.reused, true);
      assert.equal(back.firstBlock, L);
    }
  } finally {
    mt.dispose();
  }
});

// The engine made a new baseline, then the call failed: the next call must not leave the
// caller with the previous prompt's baseline.
test('compare: a call that fails on a new prompt leaves no stale baseline behind', () => {
  mid.compare(PROMPT, { topk: 5, interventions: [{ kind: 'scale_hidden', layer: 9, factor: 2 }] });
  const other = 'A different prompt';
  assert.throws(() => mid.compare(other, { topk: 5, interventions: [{ kind: 'scale_hidden', layer: 99, factor: 2 }] }), /layer/);
  const c = mid.compare(other, { topk: 5, interventions: [{ kind: 'scale_hidden', layer: 9, factor: 2 }] });
  assert.deepEqual(c.baseline, mid.run(other, { topk: 5 }));
});

test('the logit lens in one forward gives the numbers of runs with the later blocks zeroed', () => {
  const L = mid.config.n_layer;
  const ivs = [{ kind: 'noise_even_neurons', layer: 4, mean: 10, std: 1, seed: 7 }];
  const one = mid.run(PROMPT, { interventions: ivs, logitLens: true, topk: 3 });
  const cmp = mid.compare(PROMPT, { interventions: ivs, logitLens: true, topk: 3 });
  assert.equal(one.logit_lens.length, L);
  assert.equal(cmp.logit_lens.length, L);
  const zeroAfter = (i) => {
    const z = [];
    for (let j = i + 1; j < L; j++) z.push({ kind: 'zero', hook: `blocks.${j}.hook_attn_out` }, { kind: 'zero', hook: `blocks.${j}.hook_mlp_out` });
    return z;
  };
  const final = mid.run(PROMPT, { interventions: ivs, logits: true }).logits_last;
  for (let i = 0; i < L; i++) {
    const kept = ivs.filter((iv) => iv.layer <= i);
    const old = mid.run(PROMPT, { interventions: [...kept, ...zeroAfter(i)], logits: true, topk: 3 });
    const oldBase = mid.run(PROMPT, { interventions: zeroAfter(i), logits: true, topk: 1 });
    const lens = one.logit_lens[i];
    assert.equal(lens.layer, i);
    assert.deepEqual(lens.top.map((t) => t.id), old.top.map((t) => t.id), `layer ${i}`);
    lens.top.forEach((t, k) => { assert.equal(t.token, old.top[k].token); close(t.prob, old.top[k].prob, 1e-5, 1e-6, `layer ${i} prob`); });
    close(lens.kl, jsKl(final, old.logits_last), 1e-4, 1e-7, `layer ${i} kl to final`);
    // The page's per-layer number: baseline reading against intervened reading.
    close(cmp.logit_lens[i].kl, jsKl(oldBase.logits_last, old.logits_last), 1e-4, 1e-7, `layer ${i} kl`);
    assert.equal(cmp.logit_lens[i].topInt.id, old.top[0].id);
    assert.equal(cmp.logit_lens[i].topBase.id, oldBase.top[0].id);
  }
  for (let i = 0; i < 4; i++) assert.equal(cmp.logit_lens[i].kl, 0);
});

test('lab.hooks(): the engine\'s hook table, shapes as the captures have them', () => {
  const T = mid.tokenize(PROMPT).length;
  const hooks = mid.hooks(T);
  assert.equal(hooks.length, 20);
  assert.deepEqual(hooks.find((h) => h.name === 'blocks.{i}.attn.hook_pattern').axes, { positions: 1, heads: 0, features: 2 });
  for (const h of hooks) {
    const name = h.name.replace('{i}', '0');
    const got = mid.run(PROMPT, { capture: [name], topk: 1 }).captures[name];
    assert.deepEqual(got.shape, h.shape, name);
    assert.equal(got.data.length, h.shape.reduce((a, b) => a * b, 1));
  }
  assert.throws(() => mid.run(PROMPT, { capture: ['blocks.50.attn.hook_z'] }), /layer 50 is out of range: this model has blocks 0\.\.11/);
});
