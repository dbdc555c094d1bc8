// npm run bench: the native engine, the wasm engine in node and ONNX Runtime Web (wasm
// backend) side by side, on the same weights and the same prompt, at 1 and 2 threads (and
// at the machine's thread count, at most 8, where that is more), plus simd128's mul+add
// peak on this CPU, measured in the same run, as the yardstick for the GEMMs, and the wasm
// forward's time by stage (GEMMs, lm_head, per-head attention, LayerNorm, GELU; issue #24).
//
//   node bench/bench.mjs --model DIR --onnx FILE --onnx-last FILE [--tokens 32] [--iters 7] [--rounds 3] [--json OUT]
//
// Then the activation-patching sweep against tools/reference.py (BENCH_PATCH=0: skip it,
// BENCH_PATCH=only: nothing else), the sweep at 1 vs 2 threads, native and wasm
// (BENCH_PATCH_THREADS=1 adds it, =only runs nothing else; BENCH_PATCH_RUNS sweeps each,
// default 2), generation (BENCH_GENERATE=0 / only, likewise), and gradients (issue #26): a
// forward + backward against a forward, and attribution patching against the exact sweep
// (BENCH_GRADIENTS=0 / only; BENCH_GRADIENTS_RUNS sweeps each, default 2).
//
// Each engine runs in a child process of its own, so load time and peak memory (VmHWM,
// the peak resident set) are its own; the wasm engine also reports its wasm memory.
// Timings: min and median of --iters forwards after one warm-up, the wasm engine and
// onnxruntime-web at the same boundary: from the JS call until the logits are in a JS
// Float32Array (the native engine: its CLI's timer around GPT2::forward, which returns
// them in a std::vector). GFLOP/s and % of peak count the work each engine does (the
// GEMMs, QK^T and PV; see forwardWork): on the last-position path the engines skip
// different parts, and ORT's attention multiplies the whole T x T square.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NATIVE = join(ROOT, 'build/hooklab');
const TEXT = 'The quick brown fox jumps over the lazy dog. Then the dog wakes up, looks around, and chases the fox ' +
  'across the green field until both of them are tired and lie down in the shade of an old oak tree by the river.';

function args() {
  const a = { tokens: 32, iters: 7, rounds: 3 };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; ++i) {
    const k = v[i].replace(/^--/, '');
    if (k === 'child') a.child = v[++i];
    else if (['cfg', 'model', 'onnx', 'onnx-last', 'json', 'ids', 'f16', 'all-logits', 'tokens', 'iters', 'rounds', 'pair', 'threads'].includes(k)) a[k] = v[++i];
    else throw new Error(`unknown option ${v[i]}`);
  }
  a.tokens = Number(a.tokens);
  a.iters = Number(a.iters);
  a.rounds = Number(a.rounds);
  a.threads = Number(a.threads ?? 1);
  return a;
}

function peakRssMB() {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function summarise(ms) {
  const s = [...ms].sort((x, y) => x - y);
  return { ms_min: s[0], ms_median: s[Math.floor(s.length / 2)] };
}

// ---------------------------------------------------------------- children

async function childWasm(a) {
  const { HookLab } = await import('../wasm/js/hooklab.js');
  const f16 = a.f16 === '1';
  const t0 = performance.now();
  const lab = await HookLab.load(a.model, { f16, threads: a.threads });
  const load_ms = performance.now() - t0;
  if (lab.threads !== a.threads) throw new Error(`asked for ${a.threads} threads, got ${lab.threads}`);
  const ids = JSON.parse(a.ids);
  const out = { load_ms, kernel: lab.kernel, weight_mb: lab.weightBytes / 2 ** 20 };
  // Timed as ORT's session.run is: from the JS call until the logits are in a Float32Array
  // of their own in JS. The bare forward's binding (lab.forwardMs) times the C++ forward
  // and drops its logits, so the copy that lab.run makes of them (wasm/binding.cpp's f32:
  // a new Float32Array from a view of the wasm heap) is made here of as many floats, from
  // the heap, inside the timer. The C++ forward's own time is kept too (engine).
  const V = lab.config.vocab_size;
  const forward = (all) => {
    const n = (all ? ids.length : 1) * V;
    const t0 = performance.now();
    const inner = lab.forwardMs(ids, all);
    const heap = lab._M.HEAPU8;  // read after the call: a growing memory replaces it
    const logits = new Float32Array(new Float32Array(heap.buffer, heap.byteOffset, n));
    const ms = performance.now() - t0;
    if (logits.length !== n) throw new Error(`logits copy: ${logits.length} floats, expected ${n}`);
    return [ms, inner];
  };
  for (const all of [true, false]) {
    forward(all);  // warm-up
    const ms = [], inner = [];
    for (let i = 0; i < a.iters; ++i) {
      const [m, e] = forward(all);
      ms.push(m);
      inner.push(e);
    }
    out[all ? 'all' : 'last'] = { ...summarise(ms), engine: summarise(inner), js_ms_median: summarise(ms.map((m, i) => m - inner[i])).ms_median };
    // Where a pass's time goes, from passes of their own (the stage timer's clock reads
    // stay out of the timed ones above), as the native `hooklab bench` reports it.
    const st = lab._live().forwardStages(JSON.stringify(ids), all, a.iters);
    if (st.error) throw new Error(`forwardStages: ${st.error}`);
    out[all ? 'all' : 'last'].stages = JSON.parse(st.value);
  }
  out.wasm_memory_mb = lab.memoryBytes / 2 ** 20;
  out.peak_rss_mb = peakRssMB();
  return out;
}

// The GEMMs alone (the kernel on random weights, T = the prompt length), best of 3.
async function childGemm(a) {
  const { loadModule } = await import('../wasm/js/hooklab.js');
  const { selectBuild } = await import('../wasm/js/select-build.js');
  const M = await loadModule(await selectBuild(a.threads));
  const cfg = JSON.parse(a.cfg);
  const T = JSON.parse(a.ids).length, C = cfg.n_embd;
  const shapes = [['attn.c_attn', C, 3 * C], ['attn.c_proj', C, C], ['mlp.c_fc', C, 4 * C], ['mlp.c_proj', 4 * C, C], ['lm_head', C, cfg.vocab_size]];
  const out = [];
  for (const [name, i, o] of shapes) {
    const r = { name, in: i, out: o };
    for (const f16 of [false, true]) {
      let best = 0;
      for (let rep = 0; rep < 3; ++rep) best = Math.max(best, M.benchGemm(T, i, o, f16, name === 'lm_head' ? 3 : 10));
      r[f16 ? 'f16' : 'f32'] = best;
    }
    out.push(r);
  }
  return out;
}

// ---------------------------------------------------------------- activation patching (issue #11)
// The full resid_pre sweep on a 15-token IOI pair: the wasm engine (resuming the corrupted
// run, positions >= p from block L) against tools/reference.py doing it the
// TransformerLens way (a full forward per patch, real hooks), one thread each, same CPU.
const PATCH_PAIR = { clean: 'When Mary and John went to the big store, John gave a drink to',
  corrupted: 'When Mary and John went to the big store, Mary gave a drink to', answer: ' Mary', wrong: ' John', hook: 'resid_pre' };

async function childPatch(a) {
  const { HookLab } = await import('../wasm/js/hooklab.js');
  const lab = await HookLab.load(a.model, { threads: a.threads });
  const t0 = performance.now();
  const r = await lab.patch(JSON.parse(a.pair));
  return { wall_ms: performance.now() - t0, ms: r.ms, forwards: r.forwards, T: r.clean_tokens.length, logit_diff: r.logit_diff };
}

// The native CLI's sweep (its own "ms": the sweep without loading the model).
function nativePatch(a, pair, threads) {
  const out = execFileSync(...pinned(NATIVE, ['patch', '--model', a.model, '--clean', pair.clean, '--corrupted', pair.corrupted,
    '--answer', pair.answer, '--wrong', pair.wrong, '--hook', pair.hook, '--threads', String(threads)], threads), { encoding: 'utf8', maxBuffer: 1 << 26 });
  return JSON.parse(out).ms;
}

function patchBench(a) {
  const pair = PATCH_PAIR;
  const wasm = child('patch', a, ['--pair', JSON.stringify(pair)]);
  const r = spawnSync(...pinned('/usr/bin/python3', [join(ROOT, 'tools/reference.py'), 'patch', '--model', a.model, '--clean', pair.clean,
    '--corrupted', pair.corrupted, '--answer', pair.answer, '--wrong', pair.wrong, '--hook', pair.hook]),
  { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' }, maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`reference patch failed: ${r.stderr}`);
  const ref = JSON.parse(r.stdout);
  let maxDiff = 0;
  ref.logit_diff.forEach((row, L) => row.forEach((x, p) => { maxDiff = Math.max(maxDiff, Math.abs(x - wasm.logit_diff[L][p])); }));
  const n = ref.logit_diff.length;
  console.log(`
Activation patching: full resid_pre sweep, ${n} blocks x ${wasm.T} positions (${wasm.T}-token IOI pair), one thread each` +
    `${HAVE_TASKSET ? ` on CPU ${CPU}` : ''}`);
  console.log(`  tools/reference.py (PyTorch, TransformerLens way: ${ref.forwards} full forwards)  ${(ref.ms / 1e3).toFixed(2)} s`);
  console.log(`  wasm engine (resumes the corrupted run: ${wasm.forwards.toFixed(1)} forward-equivalents, ` +
    `${(wasm.forwards / (n * wasm.T)).toFixed(3)} x n_layer x T)  ${(wasm.wall_ms / 1e3).toFixed(2)} s`);
  console.log(`  ratio: wasm is ${(ref.ms / wasm.wall_ms).toFixed(2)}x faster (both timed without loading the model); ` +
    `largest |logit diff| difference ${maxDiff.toExponential(2)}`);
  return { reference_ms: ref.ms, reference_forwards: ref.forwards, wasm_ms: wasm.wall_ms, wasm_forwards: wasm.forwards, T: wasm.T,
    ratio: ref.ms / wasm.wall_ms, max_abs_diff: maxDiff };
}

// The same sweep at 1 and 2 threads, natively and in wasm (one block's patched runs are the
// segments of one pass, so attention splits by (run, head) and the GEMMs by columns); best
// of BENCH_PATCH_RUNS (default 2) sweeps each. A sweep takes seconds: BENCH_PATCH_THREADS=1
// adds this, =only runs nothing else.
function patchThreadsBench(a) {
  const pair = PATCH_PAIR;
  const runs = Math.max(1, Number(process.env.BENCH_PATCH_RUNS ?? 2));
  // 1 and 2 threads in turn, so that a busy minute does not fall on one of them only.
  const sweep = { 1: { native: Infinity, wasm: Infinity }, 2: { native: Infinity, wasm: Infinity } };
  let T;
  for (let run = 0; run < runs; ++run)
    for (const threads of [1, 2]) {
      const s = sweep[threads];
      s.native = Math.min(s.native, nativePatch(a, pair, threads));
      const r = child('patch', a, ['--pair', JSON.stringify(pair)], threads);
      T = r.T;
      s.wasm = Math.min(s.wasm, r.wall_ms);
    }
  console.log(`
Activation patching at 1 and 2 threads: full ${pair.hook} sweep, ${T}-token IOI pair, best of ${runs} sweeps each` +
    `${HAVE_TASKSET ? ` (1 thread on CPU ${CPU}, 2 on CPUs ${cpus(2)})` : ''}, without loading the model`);
  for (const engine of ['native', 'wasm'])
    console.log(`  ${engine.padEnd(6)}  1 thread ${(sweep[1][engine] / 1e3).toFixed(2)} s, 2 threads ${(sweep[2][engine] / 1e3).toFixed(2)} s: ` +
      `${(sweep[1][engine] / sweep[2][engine]).toFixed(2)}x`);
  return { T, runs, ms: sweep, ratio: { native: sweep[1].native / sweep[2].native, wasm: sweep[1].wasm / sweep[2].wasm } };
}

// ---------------------------------------------------------------- gradients (issue #26)
// (1) lab.gradients at one hook (one forward keeping the activations the backward needs, then
// one backward down to the embeddings) against a forward of the same prompt, timed in turn in
// the same process, from the JS call: the bare forward (lab.forwardMs, last-position logits)
// and the hooked one users call (lab.run: every hook's statistics). Target: at most 3x a forward.
// (2) Attribution patching of every resid_pre (one clean forward, one corrupted forward, one
// backward) against the exact sweep of the same slices (PATCH_PAIR, 15 tokens), in turn.
// Targets: at most 4 passes, at least 8x faster. The native CLI's times (its own "ms", the model's
// load left out) beside them.
const GRAD_HOOK = 'blocks.0.hook_resid_pre';

async function childGradients(a) {
  const { HookLab } = await import('../wasm/js/hooklab.js');
  const lab = await HookLab.load(a.model, { threads: a.threads });
  const ids = JSON.parse(a.ids);
  const prompt = lab.decode(ids);
  const opts = { prompt, answer: `#${ids[1]}`, wrong: `#${ids[2]}`, hooks: [GRAD_HOOK] };
  const timed = (f) => {
    const t0 = performance.now();
    const r = f();
    return [performance.now() - t0, r];
  };
  lab.forwardMs(ids, false);  // warm-up
  lab.run(prompt);
  const check = lab.gradients(opts);
  if (String(check.tokens) !== String(ids)) throw new Error('gradients: the prompt did not give back its tokens');
  const fwd = [], run = [], grad = [], gradEngine = [];
  for (let i = 0; i < a.iters; ++i) {
    fwd.push(timed(() => lab.forwardMs(ids, false))[0]);
    run.push(timed(() => lab.run(prompt))[0]);
    const [ms, r] = timed(() => lab.gradients(opts));
    grad.push(ms);
    gradEngine.push(r.ms);
  }
  // Attribution patching against the exact sweep, in turn.
  const pair = JSON.parse(a.pair);
  const runs = Math.max(1, Number(process.env.BENCH_GRADIENTS_RUNS ?? 2));
  const exact = [], attr = [];
  let e, at;
  for (let i = 0; i < runs; ++i) {
    let t0 = performance.now();
    e = await lab.patch(pair);
    exact.push(performance.now() - t0);
    t0 = performance.now();
    at = await lab.patch({ ...pair, method: 'attribution' });
    attr.push(performance.now() - t0);
  }
  // How the estimate follows the sweep on this checkpoint: correlation of (LD - LD_corrupted).
  const x = at.logit_diff.flat().map((v) => v - at.corrupted_logit_diff), y = e.logit_diff.flat().map((v) => v - e.corrupted_logit_diff);
  const mean = (v) => v.reduce((p, q) => p + q, 0) / v.length;
  const mx = mean(x), my = mean(y);
  let sxy = 0, sxx = 0, syy = 0;
  x.forEach((v, i) => { sxy += (v - mx) * (y[i] - my); sxx += (v - mx) ** 2; syy += (y[i] - my) ** 2; });
  return { T: ids.length, hook: GRAD_HOOK, forward: summarise(fwd), run: summarise(run), gradients: summarise(grad), gradients_engine: summarise(gradEngine),
    patch: { T: e.clean_tokens.length, n_layer: e.n_layer, runs, exact: summarise(exact), attribution: summarise(attr), exact_forwards: e.forwards,
      attribution_passes: at.forwards + at.backwards, correlation: sxy / Math.sqrt(sxx * syy) } };
}

// The native CLI: its gradients' and its patch's own "ms" (best of `runs` processes), and its
// bare forward (hooklab bench, best of --iters).
function nativeGradients(a, ids, runs) {
  const opts = ['--answer', `#${ids[1]}`, '--wrong', `#${ids[2]}`];
  const cli = (argv) => JSON.parse(execFileSync(...pinned(NATIVE, [...argv, '--threads', '1']), { encoding: 'utf8', maxBuffer: 1 << 26 }));
  const prompt = a.prompt;
  const pair = PATCH_PAIR;
  const patchArgs = ['patch', '--model', a.model, '--clean', pair.clean, '--corrupted', pair.corrupted, '--answer', pair.answer,
    '--wrong', pair.wrong, '--hook', pair.hook];
  const best = { gradients: Infinity, exact: Infinity, attribution: Infinity };
  for (let i = 0; i < runs; ++i) {
    best.gradients = Math.min(best.gradients, cli(['gradients', '--model', a.model, '--prompt', prompt, ...opts, '--hook', GRAD_HOOK]).ms);
    best.exact = Math.min(best.exact, cli(patchArgs).ms);
    best.attribution = Math.min(best.attribution, cli([...patchArgs, '--method', 'attribution']).ms);
  }
  const fwd = cli(['bench', '--model', a.model, '--prompt', prompt, '--iters', String(a.iters)]);
  return { ...best, forward_ms_min: fwd.ms_min, forward_ms_median: fwd.ms_median };
}

function gradientsBench(a) {
  const runs = Math.max(1, Number(process.env.BENCH_GRADIENTS_RUNS ?? 2));
  const w = child('gradients', a, ['--pair', JSON.stringify({ ...PATCH_PAIR })]);
  const nat = nativeGradients(a, a.idsList, runs);
  const p = w.patch;
  const r = {
    median: w.gradients.ms_median / w.forward.ms_median, min: w.gradients.ms_min / w.forward.ms_min,
    run_median: w.gradients.ms_median / w.run.ms_median, native_min: nat.gradients / nat.forward_ms_min,
    attribution_median: p.exact.ms_median / p.attribution.ms_median, attribution_min: p.exact.ms_min / p.attribution.ms_min,
    native_attribution: nat.exact / nat.attribution,
  };
  console.log(`
Gradients: forward + backward (lab.gradients at ${w.hook}) against a forward, ${w.T}-token prompt, wasm, F32, one thread` +
    `${HAVE_TASKSET ? ` on CPU ${CPU}` : ''}, ${a.iters} runs each in turn, from the JS call`);
  console.log(`  bare forward (lab.forwardMs, last-position logits)   ${w.forward.ms_median.toFixed(1)} ms median (${w.forward.ms_min.toFixed(1)} min)`);
  console.log(`  hooked forward (lab.run, every hook's statistics)    ${w.run.ms_median.toFixed(1)} ms median (${w.run.ms_min.toFixed(1)} min)`);
  console.log(`  lab.gradients (forward keeping the activations, backward to the embeddings)  ${w.gradients.ms_median.toFixed(1)} ms median ` +
    `(${w.gradients.ms_min.toFixed(1)} min; inside the engine ${w.gradients_engine.ms_median.toFixed(1)})`);
  console.log(`  ratio: ${r.median.toFixed(2)}x a bare forward by medians, ${r.min.toFixed(2)}x by best runs; ${r.run_median.toFixed(2)}x lab.run ` +
    `by medians (target <= 3x)`);
  console.log(`  native (Eigen), best of ${runs}: gradients ${nat.gradients.toFixed(1)} ms, bare forward ${nat.forward_ms_min.toFixed(1)} ms: ${r.native_min.toFixed(2)}x`);
  console.log(`
Attribution patching: every resid_pre (${p.n_layer} blocks x ${p.T} positions, ${p.T}-token IOI pair) against the exact sweep, ` +
    `wasm, one thread, ${p.runs} runs each in turn, without loading the model`);
  console.log(`  exact sweep (lab.patch, ${p.exact_forwards.toFixed(1)} forward-equivalents)   ${(p.exact.ms_median / 1e3).toFixed(2)} s median ` +
    `(${(p.exact.ms_min / 1e3).toFixed(2)} min)`);
  console.log(`  attribution (lab.patch({method: 'attribution'}), ${p.attribution_passes} passes: 2 forwards + 1 backward; target <= 4)  ` +
    `${p.attribution.ms_median.toFixed(1)} ms median (${p.attribution.ms_min.toFixed(1)} min)`);
  console.log(`  speed-up: ${r.attribution_median.toFixed(1)}x by medians, ${r.attribution_min.toFixed(1)}x by best runs (target >= 8x); ` +
    `native, best of ${runs}: ${nat.exact.toFixed(0)} ms vs ${nat.attribution.toFixed(1)} ms, ${r.native_attribution.toFixed(1)}x`);
  console.log(`  the estimate against the sweep on this checkpoint: correlation ${p.correlation.toFixed(3)} of (LD - LD_corrupted) over the ` +
    `${p.n_layer * p.T} slices (random weights: no circuit to find)`);
  return { ...w, native: nat, ratio: r };
}

// ---------------------------------------------------------------- generation (issue #12)
// The wasm engine making 32 tokens after the prompt (greedy, KV cache: one position's work
// per new token) against one bare forward of the prompt with last-position logits, timed
// in turn in the same process. Target: at most 2.5x. Then the Generate panel's pair, the
// baseline and an intervened continuation: one after the other against together
// (lab.generateCompare, one forward per step for both). Decoding reads every weight once
// per step, so the memory read bandwidth, measured here too, bounds a new token's time
// from below: weight bytes / bandwidth.
const GEN_TOKENS = 32;
const GEN_PAIR_RUNS = 3;  // the pair costs 4 generations a run: fewer runs keep the bench short
const GEN_IVS = [{ kind: 'scale_hidden', layer: 9, factor: 10 }];

async function childGenerate(a) {
  const { HookLab } = await import('../wasm/js/hooklab.js');
  const lab = await HookLab.load(a.model, { threads: a.threads });
  const ids = JSON.parse(a.ids);
  const prompt = lab.decode(ids);
  lab.forwardMs(ids, false);  // warm-up
  await lab.generate(prompt, { maxNewTokens: 2 });
  const timed = async (f) => {
    const t0 = performance.now();
    const r = await f();
    return [performance.now() - t0, r];
  };
  const gen = [], engine = [], fwd = [], apart = [], together = [];
  let made = 0, pairMade = null, sameTokens = true;
  for (let i = 0; i < a.iters; ++i) {
    const [ms, r] = await timed(() => lab.generate(prompt, { maxNewTokens: GEN_TOKENS }));
    gen.push(ms);
    engine.push(r.ms);
    made = r.new_tokens.length;
    fwd.push(lab.forwardMs(ids, false));
    if (i >= GEN_PAIR_RUNS) continue;
    const [msInt, rInt] = await timed(() => lab.generate(prompt, { maxNewTokens: GEN_TOKENS, interventions: GEN_IVS }));
    apart.push(ms + msInt);
    const [msPair, pair] = await timed(() => lab.generateCompare(prompt, { maxNewTokens: GEN_TOKENS, interventions: GEN_IVS }));
    together.push(msPair);
    sameTokens = sameTokens && String(pair.intervened.new_tokens) === String(rInt.new_tokens) &&
      String(pair.baseline.new_tokens) === String(r.new_tokens);
    pairMade = [pair.baseline.new_tokens.length, pair.intervened.new_tokens.length];
  }
  return { T: ids.length, made, pair_made: pairMade, pair_same_tokens: sameTokens, weight_bytes: lab.weightBytes, generate: summarise(gen), engine: summarise(engine),
    forward: summarise(fwd), pair_apart: summarise(apart), pair_together: summarise(together) };
}

// A WebAssembly module (simd128) summing f32 lanes over [start, end) of its memory, 64
// bytes a turn into four accumulators: exported sum(start, end) -> f32 and its memory of
// 8193 pages (512 MB + one page). Written out byte by byte: nothing to build.
function memBandwidthModule() {
  const uleb = (n) => { const o = []; do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; o.push(b); } while (n); return o; };
  const section = (id, bytes) => [id, ...uleb(bytes.length), ...bytes];
  const name = (t) => [t.length, ...[...t].map((c) => c.charCodeAt(0))];
  const F32X4_ADD = [0xfd, ...uleb(0xe4)], V128_LOAD = (offset) => [0xfd, 0x00, 4, ...uleb(offset)];
  const acc = (k) => [0x20, 2 + k, 0x20, 0, ...V128_LOAD(16 * k), ...F32X4_ADD, 0x21, 2 + k];  // acc_k += load(p + 16k)
  const body = [1, 4, 0x7b,  // locals 2..5: v128
    0x03, 0x40, ...acc(0), ...acc(1), ...acc(2), ...acc(3),
    0x20, 0, 0x41, ...[0xc0, 0x00], 0x6a, 0x22, 0, 0x20, 1, 0x49, 0x0d, 0, 0x0b,  // p += 64; loop while p < end
    0x20, 2, 0x20, 3, ...F32X4_ADD, 0x20, 4, ...F32X4_ADD, 0x20, 5, ...F32X4_ADD, 0xfd, 0x1f, 0, 0x0b];
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, [1, 0x60, 2, 0x7f, 0x7f, 1, 0x7d]),
    ...section(3, [1, 0]),
    ...section(5, [1, 0, ...uleb(8193)]),
    ...section(7, [2, ...name('sum'), 0, 0, ...name('mem'), 2, 0]),
    ...section(10, [1, ...uleb(body.length), ...body])]);
}

// Memory read bandwidth in wasm: the sum over a 512 MB float array, best of 8 passes.
async function childMembw() {
  const { instance } = await WebAssembly.instantiate(memBandwidthModule());
  const { sum, mem } = instance.exports;
  const bytes = 512 * 2 ** 20;
  new Float32Array(mem.buffer, 0, bytes / 4).fill(1);  // touched: untouched pages would all read the one zero page
  // 4 MB a call: V8 moves a function to its optimising tier between calls, never within
  // one, so a single 512 MB call would run baseline code.
  const chunk = 4 * 2 ** 20;
  let best = Infinity;
  for (let i = 0; i < 10; ++i) {
    const t0 = performance.now();
    let x = 0;
    for (let at = 0; at < bytes; at += chunk) x += sum(at, at + chunk);
    const ms = performance.now() - t0;
    if (x !== bytes / 16) throw new Error(`bandwidth kernel: sum ${x}, expected ${bytes / 16}`);
    if (i > 1) best = Math.min(best, ms);  // the first passes warm up
  }
  return { bytes, ms: best, gb_per_s: bytes / (best * 1e6) };
}

function generateBench(a) {
  // Bandwidth before and after the generations, the best kept: a busy neighbour only ever
  // lowers it (as the peak, measured around the rounds).
  const bws = [child('membw', a, [])];
  const g = child('generate', a, []);
  bws.push(child('membw', a, []));
  const bw = bws.reduce((x, y) => (y.gb_per_s > x.gb_per_s ? y : x));
  const ratio = g.generate.ms_median / g.forward.ms_median, ratioMin = g.generate.ms_min / g.forward.ms_min;
  // After the first step (the prompt, about one forward), each step makes one token.
  const perToken = (g.engine.ms_min - g.forward.ms_min) / (g.made - 1);
  const bound = g.weight_bytes / (bw.gb_per_s * 1e6);
  console.log(`
Generation: ${g.made} new tokens after a ${g.T}-token prompt (greedy, KV cache), wasm engine, F32, one thread` +
    `${HAVE_TASKSET ? ` on CPU ${CPU}` : ''}, ${a.iters} runs each`);
  console.log(`  one ${g.T}-token forward, last-position logits  ${g.forward.ms_median.toFixed(1)} ms median (${g.forward.ms_min.toFixed(1)} min)`);
  console.log(`  lab.generate, ${g.made} tokens (wall, JS included)        ${g.generate.ms_median.toFixed(1)} ms median ` +
    `(${g.generate.ms_min.toFixed(1)} min; inside the engine ${g.engine.ms_median.toFixed(1)})`);
  // The least ratio the bandwidth allows: the prompt's forward, then each later token at the bound.
  const ratioBound = (g.forward.ms_min + (g.made - 1) * bound) / g.forward.ms_min;
  console.log(`  ratio: ${ratio.toFixed(2)}x by medians, ${ratioMin.toFixed(2)}x by best runs (target <= 2.5x; ` +
    `by best runs, this machine's memory bandwidth allows no less than ${ratioBound.toFixed(2)}x)`);
  console.log(`  memory read bandwidth (wasm simd128 sum over ${bw.bytes / 2 ** 20} MB, best of ${bws.length} measurements around the generations, each the best of 8 passes: ${bws.map((x) => x.gb_per_s.toFixed(1)).join(', ')}): ${bw.gb_per_s.toFixed(1)} GB/s; ` +
    `every step reads the weights (${(g.weight_bytes / 1e6).toFixed(0)} MB): at least ${bound.toFixed(1)} ms per new token; ` +
    `measured ${perToken.toFixed(1)} ms (${(perToken / bound).toFixed(2)}x the bound, the weights read at ` +
    `${(g.weight_bytes / (perToken * 1e6)).toFixed(1)} GB/s; best runs, the prompt's forward taken out)`);
  const pairRatio = g.pair_apart.ms_median / g.pair_together.ms_median;
  console.log(`  baseline + intervened (${JSON.stringify(GEN_IVS[0])}), ${g.pair_made.join(' + ')} tokens, ${GEN_PAIR_RUNS} runs: ` +
    `one after the other ${g.pair_apart.ms_median.toFixed(0)} ms median, together (lab.generateCompare) ` +
    `${g.pair_together.ms_median.toFixed(0)} ms: ${pairRatio.toFixed(2)}x faster (${(g.pair_apart.ms_min / g.pair_together.ms_min).toFixed(2)}x by best runs)` +
    `${g.pair_same_tokens ? '; the same tokens' : '; OTHER TOKENS than generate() gave'}`);
  return { ...g, ratio, ratio_min: ratioMin, ratio_bound: ratioBound, membw: bw, membw_measurements: bws, ms_per_token: perToken, bound_ms_per_token: bound, pair_ratio: pairRatio };
}

// simd128's mul+add peak for one thread on this CPU (wasm/peak.cpp), best of 3.
async function childPeak() {
  const { loadModule } = await import('../wasm/js/hooklab.js');
  const M = await loadModule();
  let best = 0;
  for (let i = 0; i < 3; ++i) best = Math.max(best, M.benchPeak(400));
  return { peak: best };
}

async function childOrt(a) {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = a.threads;
  ort.env.logLevel = 'error';
  const ids = JSON.parse(a.ids);
  const input = { input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]) };
  const out = {};
  for (const [key, file] of [['all', a.onnx], ['last', a['onnx-last']]]) {
    const t0 = performance.now();
    const session = await ort.InferenceSession.create(readFileSync(file), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    if (key === 'all') out.load_ms = performance.now() - t0;
    let r = await session.run(input);  // warm-up
    if (key === 'last') out.last_logits = Array.from(r.logits.data.slice(0, 8));
    const ms = [];
    for (let i = 0; i < a.iters; ++i) {
      const t = performance.now();
      r = await session.run(input);
      ms.push(performance.now() - t);
    }
    out[key] = summarise(ms);
    await session.release();
    if (key === 'all') out.peak_rss_mb = peakRssMB();  // the all-positions session alone
  }
  return out;
}

// ---------------------------------------------------------------- work counted (issue #23)
// FLOPs of one forward as each engine does it: 2 x the multiply-adds of the GEMMs (c_attn,
// attn c_proj, c_fc, mlp c_proj, lm_head) and of QK^T and PV; layernorm, softmax and GELU
// are not counted. `kept`: the last block's rows the engine computes past its keys and
// values (null: every row); `square`: attention as whole T x T products, masked after
// (ORT's export), rather than each row over the keys it sees.
// `attention: false`: without QK^T and PV (the block GEMMs and lm_head only).
function forwardWork(cfg, T, path, { kept = null, square = false, attention = true } = {}) {
  const C = cfg.n_embd, M = 4 * C, V = cfg.vocab_size, L = cfg.n_layer;  // M: hooklab::Config::d_mlp
  const after = 2 * (C * C + C * M + M * C);     // a row's attn c_proj, c_fc and mlp c_proj
  const row = 2 * C * 3 * C + after;              // ... and its c_attn
  const attn = (i) => (attention ? 2 * 2 * C * (square ? T : i + 1) : 0);  // QK^T and PV of position i, every head
  let block = 0, lastBlock = 0;
  const keep = new Set(kept ?? []);
  for (let i = 0; i < T; ++i) {
    block += row + attn(i);
    lastBlock += 2 * C * 3 * C + (kept && !keep.has(i) ? 0 : after + attn(i));
  }
  return (L - 1) * block + lastBlock + 2 * C * V * (path === 'all' ? T : 1);
}

// The rows of the last block a bare forward with last-position logits computes past the
// keys and values (model/src/gpt2.cpp, `kept`): the last row, widened by gemm_exact_rows
// of attn c_proj, c_fc and mlp c_proj until nothing changes, so that the last row gets the
// very bits of the full pass. gemm_exact_rows, as the kernel the engine reports:
//   simd128-RxN (model/src/kernels_wasm.cpp): whole R-row tiles; with F16 weights, T >= R
//     and only a short last tile kept, the tile before it too;
//   eigen (model/src/kernels.cpp): the rows asked for with F32 weights and T <= 4, else all.
// null when every row is computed.
function keptRows(kernel, f16, T) {
  const all = Array.from({ length: T }, (_, r) => r);
  let exact;
  const tile = /^simd128-(\d+)x\d+$/.exec(kernel);
  if (kernel === 'eigen') exact = (rows) => (!f16 && T <= 4 ? rows : all);
  else if (tile) {
    const R = Number(tile[1]), tiles = Math.ceil(T / R);
    exact = (rows) => {
      const keep = new Array(tiles).fill(false);
      for (const r of rows) keep[Math.floor(r / R)] = true;
      if (f16 && T >= R && keep.filter(Boolean).length === 1 && keep[tiles - 1] && T % R) keep[tiles - 2] = true;
      return all.filter((r) => keep[Math.floor(r / R)]);
    };
  } else throw new Error(`bench: which rows kernel "${kernel}" computes in the last block is not known here (keptRows)`);
  let kept = [T - 1];
  for (let before = 0; before !== kept.length;) {
    before = kept.length;
    for (let m = 0; m < 3; ++m) kept = exact(kept);
  }
  return kept.length === T ? null : kept;
}

// One table row's work on `path`: {flops, what} (what: the work in words).
function rowWork(r, cfg, T, path) {
  const rows = (n) => `${n} row${n === 1 ? '' : 's'}`;
  const head = path === 'all' ? rows(T) : rows(1);
  if (r.engine === 'onnxruntime-web')
    return { flops: forwardWork(cfg, T, path, { square: true }),
      what: `every block on all ${rows(T)}, attention as whole ${T}x${T} QK^T and PV (masked after); lm_head on ${head}` };
  const kept = path === 'last' ? keptRows(r.kernel, r.f16, T) : null;
  const span = (k) => (k.length > 1 && k.at(-1) - k[0] === k.length - 1 ? `${k[0]}-${k.at(-1)}` : k.join(','));
  return { flops: forwardWork(cfg, T, path, { kept }),
    what: kept ? `blocks 0-${cfg.n_layer - 2} on all ${rows(T)}; in block ${cfg.n_layer - 1} c_attn on all ${rows(T)}, attention ` +
      `(causal) and attn c_proj, c_fc, mlp c_proj on the ${rows(kept.length)} it keeps (${span(kept)}); lm_head on ${head}`
      : `every block on all ${rows(T)}, attention causal (each position over the keys it sees); lm_head on ${head}` };
}

// ---------------------------------------------------------------- stages (issue #24)
// Where the wasm forward's time goes, per pass (GPT2::forward's stage timer: embed, the
// attention and MLP halves of every block, unembed; and across them the GEMMs, lm_head's
// among them, the per-head attention, LayerNorm and GELU), and each GEMM group's share of
// the simd128 peak. The stage passes are timed apart from the table's, so their total
// differs a little from its times; the round with the fastest pass is printed (noise only
// adds time), the median rounds go to the JSON.
function stageTable(rows, cfg, T, peak) {
  const out = [];
  console.log(`\nwasm forward by stage: ms per pass (mean of --iters passes with the stage timer on, in each wasm child after its timed ` +
    `runs; the round with the fastest pass) and GFLOP/s as a share of the simd128 peak (${peak.toFixed(1)} GFLOP/s a thread)`);
  const head = ['weights', 'threads', 'logits', 'pass ms', '% peak', 'GEMMs ms', '% peak', 'lm_head ms', '% peak', 'other GEMMs ms', '% peak',
    'heads ms', 'LayerNorm ms', 'GELU ms', 'rest ms', 'not GEMM'];
  const table = [head];
  const pct = (flops, ms, t) => `${(100 * flops / (ms * 1e6) / (peak * t)).toFixed(0)} %`;
  for (const r of rows.filter((x) => x.engine === 'wasm (node)'))
    for (const path of ['all', 'last']) {
      const best = r[path].stages_rounds.reduce((x, y) => (total(y) < total(x) ? y : x));
      const kept = path === 'last' ? keptRows(r.kernel, r.f16, T) : null;
      const work = forwardWork(cfg, T, path, { kept }), gemmWork = forwardWork(cfg, T, path, { kept, attention: false });
      const lmWork = 2 * cfg.n_embd * cfg.vocab_size * (path === 'all' ? T : 1);
      const pass = total(best), rest = pass - best.gemm - best.attention_heads - best.layernorm - best.gelu;
      table.push([r.f16 ? 'F16' : 'F32', r.threads, path === 'all' ? 'all' : 'last', pass.toFixed(1), pct(work, pass, r.threads),
        best.gemm.toFixed(1), pct(gemmWork, best.gemm, r.threads), best.lm_head.toFixed(1), pct(lmWork, best.lm_head, r.threads),
        (best.gemm - best.lm_head).toFixed(1), pct(gemmWork - lmWork, best.gemm - best.lm_head, r.threads),
        best.attention_heads.toFixed(1), best.layernorm.toFixed(1), best.gelu.toFixed(1), rest.toFixed(1),
        `${(100 * (pass - best.gemm) / pass).toFixed(1)} %`]);
      out.push({ f16: r.f16, threads: r.threads, path, best, median: r[path].stages, pass_ms: pass, pct_peak: 100 * work / (pass * 1e6) / (peak * r.threads),
        gemm_pct_peak: 100 * gemmWork / (best.gemm * 1e6) / (peak * r.threads), lm_head_pct_peak: 100 * lmWork / (best.lm_head * 1e6) / (peak * r.threads) });
    }
  const w = head.map((_, i) => Math.max(...table.map((row) => String(row[i]).length)));
  for (const row of table) console.log('  ' + row.map((c, i) => String(c).padEnd(w[i])).join('  '));
  console.log('  heads: attention\'s per-head scores, softmax and mix; rest: embeddings, the copies of q/k/v, the residual adds, ' +
    'the logits\' buffer. % peak of a pass counts the work of the table above (the GEMMs, QK^T and PV).');
  return out;
}
const total = (st) => st.embed + st.attention + st.mlp + st.unembed;

// ---------------------------------------------------------------- parent

// Every one-thread engine runs on the same CPU (taskset): on this VM the two vCPUs differ
// by up to 1.4x at times (a busy neighbour on one of them), which would otherwise decide a
// ratio. BENCH_CPU picks it (default: the last one); "none" lets the scheduler choose. A
// run with t threads gets t CPUs: BENCH_CPU's and the ones below it.
const CORES = availableParallelism();
const CPU = process.env.BENCH_CPU ?? String(CORES - 1);
const HAVE_TASKSET = CPU !== 'none' && spawnSync('taskset', ['-c', CPU, 'true']).status === 0;
const THREADS = [...new Set([1, 2, Math.min(CORES, 8)])];
function cpus(threads) {
  const first = Number(CPU);
  return Array.from({ length: threads }, (_, k) => (first - k + CORES) % CORES).sort((x, y) => x - y).join(',');
}
function pinned(cmd, argv, threads = 1) {
  return HAVE_TASKSET ? ['taskset', ['-c', cpus(threads), cmd, ...argv]] : [cmd, argv];
}

function child(kind, a, extra, threads = 1) {
  const r = spawnSync(...pinned(process.execPath, [fileURLToPath(import.meta.url), '--child', kind, '--model', a.model, '--ids', JSON.stringify(a.idsList),
    '--iters', String(a.iters), '--threads', String(threads), ...(a.onnx ? ['--onnx', a.onnx, '--onnx-last', a['onnx-last']] : []), ...extra], threads),
  { encoding: 'utf8', cwd: ROOT, maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${kind} child failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function nativeRun(a, prompt, f16, threads) {
  const out = {};
  // Load time: a tokenize call is a load plus nothing.
  const t0 = performance.now();
  execFileSync(...pinned(NATIVE, ['tokenize', '--model', a.model, '--text', 'x', ...(f16 ? ['--f16'] : [])], threads));
  out.load_ms = performance.now() - t0;
  for (const all of [true, false]) {
    const r = spawnSync(...pinned('/usr/bin/time', ['-f', '%M', NATIVE, 'bench', '--model', a.model, '--prompt', prompt, '--iters', String(a.iters),
      '--threads', String(threads), ...(all ? ['--all-logits'] : []), ...(f16 ? ['--f16'] : [])], threads), { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`native bench failed: ${r.stderr}`);
    const j = JSON.parse(r.stdout);
    out[all ? 'all' : 'last'] = { ms_min: j.ms_min, ms_median: j.ms_median };
    out.kernel = j.kernel;
    out.weight_mb = j.weight_bytes / 2 ** 20;
    out.peak_rss_mb = Math.max(out.peak_rss_mb ?? 0, Number(r.stderr.trim().split('\n').at(-1)) / 1024);
  }
  return out;
}

async function main() {
  const a = args();
  if (a.child) {
    const r = { wasm: childWasm, gemm: childGemm, peak: childPeak, ort: childOrt, patch: childPatch, generate: childGenerate, membw: childMembw,
      gradients: childGradients }[a.child];
    if (!r) throw new Error(`unknown child ${a.child}`);
    process.stdout.write(JSON.stringify(await r(a)));
    return;
  }
  if (!a.model) throw new Error('--model DIR is required');
  const { HookLab } = await import('../wasm/js/hooklab.js');
  // A prompt of exactly --tokens tokens, for every engine.
  const probe = await HookLab.load(a.model, { f16: true });
  let ids = probe.tokenize(TEXT).slice(0, a.tokens);
  let prompt = probe.decode(ids);
  ids = probe.tokenize(prompt);
  const cfg = probe.config;
  // The engine's own count (flops_per_forward: every row of every block, attention as T^2/2
  // keys): forwardWork must agree with it but for the attention's exact key count, else
  // the two have drifted apart (a changed d_mlp, say).
  const flops = { all: probe.flopsPerForward(ids.length, true), last: probe.flopsPerForward(ids.length, false) };
  for (const path of ['all', 'last']) {
    const T = ids.length, C = cfg.n_embd;
    const expect = forwardWork(cfg, T, path) - cfg.n_layer * 2 * C * T * (T + 1) + cfg.n_layer * 2 * C * T * T;
    if (Math.abs(expect - flops[path]) > 1e-9 * flops[path])
      throw new Error(`bench: forwardWork (${expect}) and the engine's flops_per_forward (${flops[path]}) disagree`);
  }
  probe.dispose();
  a.idsList = ids;
  a.prompt = prompt;
  const T = ids.length;
  if (process.env.BENCH_PATCH === 'only') return void patchBench(a);
  if (process.env.BENCH_PATCH_THREADS === 'only') return void patchThreadsBench(a);
  if (process.env.BENCH_GENERATE === 'only') return void generateBench(a);
  if (process.env.BENCH_GRADIENTS === 'only') {
    const g = gradientsBench(a);
    if (a.json) writeFileSync(a.json, JSON.stringify({ model: a.model, tokens: T, iters: a.iters, cpu: HAVE_TASKSET ? CPU : null, cores: CORES, gradients: g }, null, 2) + '\n');
    return;
  }

  // The engines run in turn, and the whole set --rounds times: this machine's speed drifts
  // (a shared VM), so each ratio is taken within a round (same minutes) and the median of
  // the rounds' ratios is reported; ms min is the best of all rounds, ms median the median
  // of the rounds' medians.
  // The peak first, then again after each round: the best of these is the CPU's.
  const peaks = [child('peak', a, []).peak];
  const rounds = [];
  for (let round = 0; round < a.rounds; ++round) {
    const rows = [];
    for (const f16 of [false, true]) {
      // F16 natively (Eigen widening panel by panel) is no contender: one thread only.
      for (const threads of f16 ? [1] : THREADS) rows.push({ engine: 'native', f16, threads, ...nativeRun(a, prompt, f16, threads) });
      for (const threads of f16 ? THREADS.slice(0, 2) : THREADS)
        rows.push({ engine: 'wasm (node)', f16, threads, ...child('wasm', a, ['--f16', f16 ? '1' : '0'], threads) });
    }
    if (a.onnx) for (const threads of THREADS) rows.push({ engine: 'onnxruntime-web', f16: false, threads, kernel: 'wasm', ...child('ort', a, [], threads) });
    rounds.push(rows);
    peaks.push(child('peak', a, []).peak);
  }
  const peak = Math.max(...peaks);
  const median = (v) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)];
  const rows = rounds[0].map((r0, i) => {
    const all = rounds.map((rows) => rows[i]);
    const merged = { ...r0 };
    for (const path of ['all', 'last'])
      merged[path] = { ms_min: Math.min(...all.map((r) => r[path].ms_min)), ms_median: median(all.map((r) => r[path].ms_median)),
        rounds_median: all.map((r) => r[path].ms_median) };
    for (const path of ['all', 'last'])
      if (r0[path].engine) {
        merged[path].engine_ms_median = median(all.map((r) => r[path].engine.ms_median));
        merged[path].js_ms_median = median(all.map((r) => r[path].js_ms_median));
        // Each stage's median over the rounds (a round's figure: the mean of --iters passes).
        merged[path].stages = Object.fromEntries(Object.keys(r0[path].stages).map((k) => [k, median(all.map((r) => r[path].stages[k]))]));
        merged[path].stages_rounds = all.map((r) => r[path].stages);
      }
    for (const k of ['load_ms', 'peak_rss_mb', 'wasm_memory_mb']) if (r0[k] !== undefined) merged[k] = median(all.map((r) => r[k]));
    // The work this row's engine does, for its GFLOP/s and % of peak.
    merged.work = Object.fromEntries(['all', 'last'].map((path) => [path, rowWork(r0, cfg, T, path)]));
    return merged;
  });
  // Per-round ratio of row r to row `ref` on one path, medianed over the rounds.
  const ratio = (r, ref, path) => median(r[path].rounds_median.map((ms, k) => ms / ref[path].rounds_median[k]));

  const gf = (r, ms, path) => r.work[path].flops / (ms * 1e6);
  // The reference rows of a row: ORT at the same thread count, native with the same
  // weights at the same thread count (else one thread).
  const find = (engine, f16, threads) => rows.find((x) => x.engine === engine && x.f16 === f16 && x.threads === threads);
  const ortOf = (r) => find('onnxruntime-web', false, r.threads);
  const nativeOf = (r) => find('native', r.f16, r.threads) ?? find('native', r.f16, 1);
  console.log(`model: ${a.model} (${cfg.n_layer} layers x ${cfg.n_head} heads, C=${cfg.n_embd}, V=${cfg.vocab_size}), prompt ${T} tokens, ` +
    `${a.iters} timed runs after a warm-up, ${a.rounds} rounds, ${CORES} CPUs${HAVE_TASKSET ? ` (1 thread on CPU ${CPU}, t threads on CPUs ${cpus(THREADS.at(-1))} and below)` : ''}; ` +
    `the engine's flops_per_forward: ${(flops.all / 1e9).toFixed(2)} GFLOP (all logits), ${(flops.last / 1e9).toFixed(2)} (last only), ` +
    'every row of every block; GFLOP/s below counts the work each engine does');
  for (const path of ['all', 'last']) {
    console.log(`\n${path === 'all' ? 'Full logits at all positions' : 'Natural path: logits at the last position only'}`);
    // What each engine's GFLOP (and so its GFLOP/s and % peak) counts on this path.
    console.log('  work counted (2 x the multiply-adds of the GEMMs, QK^T and PV; not layernorm, softmax, GELU):');
    const works = new Map();
    for (const r of rows) {
      const key = `${r.work[path].flops}|${r.work[path].what}`;
      if (!works.has(key)) works.set(key, { ...r.work[path], who: new Set() });
      works.get(key).who.add(`${r.engine}${r.engine === 'onnxruntime-web' ? '' : ` ${r.f16 ? 'F16' : 'F32'}`}`);
    }
    for (const w of works.values()) console.log(`    ${[...w.who].join(', ')}: ${(w.flops / 1e9).toFixed(3)} GFLOP: ${w.what}`);
    console.log('  timed: wasm (node) and onnxruntime-web from the JS call until the logits are in a JS Float32Array ' +
      '(wasm: lab.forwardMs, then its logits\' size copied out of the wasm heap as lab.run copies them; ORT: session.run to ' +
      'its output tensor); native: its CLI\'s timer around GPT2::forward (logits returned in a std::vector, no JS)');
    const head = ['engine', 'weights', 'threads', 'kernel', 'ms min', 'ms median', 'JS+copy ms', 'GFLOP', 'GFLOP/s', '% peak', 'vs 1 thr (min)', 'vs ORT', 'vs ORT (min)',
      'vs native', 'vs native (min)', 'load ms', 'peak RSS MB', 'wasm mem MB'];
    const table = [head];
    for (const r of rows) {
      const nat = nativeOf(r), ortRow = ortOf(r), one = find(r.engine, r.f16, 1);
      table.push([r.engine, r.f16 ? 'F16' : 'F32', r.threads, r.kernel, r[path].ms_min.toFixed(1), r[path].ms_median.toFixed(1),
        r[path].js_ms_median !== undefined ? r[path].js_ms_median.toFixed(2) : '-',
        (r.work[path].flops / 1e9).toFixed(2), gf(r, r[path].ms_median, path).toFixed(1),
        // The best run against the peak of as many cores (wasm only: the peak is simd128's).
        r.engine === 'wasm (node)' ? (100 * gf(r, r[path].ms_min, path) / (peak * r.threads)).toFixed(0) + ' %' : '-',
        (one[path].ms_min / r[path].ms_min).toFixed(2) + 'x',
        ortRow ? (1 / ratio(r, ortRow, path)).toFixed(2) + 'x' : '-',
        ortRow ? (ortRow[path].ms_min / r[path].ms_min).toFixed(2) + 'x' : '-',
        ratio(r, nat, path).toFixed(2) + 'x',
        (r[path].ms_min / nat[path].ms_min).toFixed(2) + 'x',
        r.load_ms.toFixed(0), r.peak_rss_mb.toFixed(0), r.wasm_memory_mb ? r.wasm_memory_mb.toFixed(0) : '-']);
    }
    const w = head.map((_, i) => Math.max(...table.map((row) => String(row[i]).length)));
    for (const row of table) console.log(row.map((c, i) => String(c).padEnd(w[i])).join('  '));
  }
  const gemm = Object.fromEntries(THREADS.map((t) => [t, child('gemm', a, ['--cfg', JSON.stringify(cfg)], t)]));
  console.log(`\nwasm GEMM kernels alone (${T} rows, weights pre-packed, best of 3): GFLOP/s and share of the peak of as many cores`);
  console.log(`simd128 mul+add peak, one thread, this CPU (wasm/peak.cpp, best of ${peaks.length} measurements across the run): ${peak.toFixed(1)} GFLOP/s` +
    ` (each: ${peaks.map((p) => p.toFixed(1)).join(' ')})`);
  for (const [k, g] of gemm[1].entries()) {
    const cells = THREADS.map((t) => {
      const x = gemm[t][k];
      return `${t} thr: F32 ${x.f32.toFixed(1).padStart(5)} (${(100 * x.f32 / (peak * t)).toFixed(0).padStart(3)} %)  F16 ${x.f16.toFixed(1).padStart(5)} (${(100 * x.f16 / (peak * t)).toFixed(0).padStart(3)} %)`;
    });
    console.log(`  ${g.name.padEnd(12)} [${g.in} x ${g.out}]`.padEnd(34) + cells.join('   '));
  }
  console.log('\nms median: median of the rounds\' medians (wasm and ORT timed from the JS call to the logits in a JS Float32Array;' +
    ' JS+copy ms: of the wasm median, the part outside the C++ forward, median over runs and rounds); GFLOP: the work this' +
    ' engine does on this path (listed above each table), GFLOP/s: that over ms median; vs ORT: ORT median / this median (higher is faster; ORT at the same thread' +
    ' count), vs native: this median / native median (lower is closer), each taken within a round, median over the rounds; (min): the' +
    ' same ratio of the best runs of all rounds; vs 1 thr: the same engine and weights on one thread, best runs. Noise only ever adds' +
    ' time, so the (min) ratios are the steadier ones on a shared machine. The ratios are of times only, whatever work each engine' +
    ' does. % peak: the best run\'s GFLOP/s (its own work) over the simd128 peak times the threads.');
  const stages = stageTable(rows, cfg, T, peak);
  const patching = process.env.BENCH_PATCH === '0' ? null : patchBench(a);
  const patchingThreads = process.env.BENCH_PATCH_THREADS === '1' ? patchThreadsBench(a) : null;
  const generation = process.env.BENCH_GENERATE === '0' ? null : generateBench(a);
  const gradients = process.env.BENCH_GRADIENTS === '0' ? null : gradientsBench(a);
  if (a.json) writeFileSync(a.json, JSON.stringify({ model: a.model, tokens: T, iters: a.iters, rounds: a.rounds, cpu: HAVE_TASKSET ? CPU : null, cores: CORES, flops_per_forward: flops, peak, peaks, rows, gemm, stages, patching, patching_threads: patchingThreads, generation, gradients }, null, 2) + '\n');
}

main().catch((e) => {
  console.error(`bench: ${e.message}`);
  process.exit(1);
});
