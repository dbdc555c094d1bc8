// The JS API of the GPT-2 Hook Lab engine (WebAssembly). Works in node, in browsers and
// inside a (module) Web Worker. See hooklab.d.ts for the types and wasm/README.md.
//
//   const lab = await HookLab.load('build/ckpt/mid', { onProgress: (p) => ... });
//   const out = lab.run('The quick brown fox', { interventions: [{ kind: 'zero_head_k', layer: 9, head: 2 }] });
//
// Each HookLab owns one instance of the wasm module (the compiled module is shared), so
// dispose() gives its memory back. The checkpoint is streamed: each chunk of
// model.safetensors is written into a staging buffer inside the wasm heap and converted
// and packed there, tensor by tensor; the file itself never sits in the heap.
import { FILES as ROLE, MODEL_FILES } from './models.js';
import { FileDownload, cacheStorage, chunksOf, describe, release } from './download.js';

export { cacheStorage, folderCache } from './download.js';
import { selectBuild, startThreads, stopThreads } from './select-build.js';
import { HookLabError, closestKey } from './errors.js';

export { closestKey };

export { HookLabError }; // part of the API (hooklab.d.ts)

const IS_NODE = typeof process === 'object' && typeof process.versions === 'object' &&
  typeof process.versions.node === 'string' && typeof window === 'undefined';
const FILES = MODEL_FILES;
const CHUNK = 4 << 20;  // bytes fed to the loader at a time

const compiled = new Map();  // build's wasm URL -> Promise<WebAssembly.Module>

// Two tiny modules that only validate where the engine's wasm features exist: a function
// returning v128.const (simd128) and one holding try / catch_all (exception handling).
const FEATURES = [
  ['SIMD (simd128)', [0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0,
    10, 22, 1, 20, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11]],
  ['exception handling', [0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 10, 8, 1, 6, 0, 6, 64, 25, 11, 11]],
];

async function compileWasm(url) {
  const missing = FEATURES.filter(([, bytes]) => !WebAssembly.validate(new Uint8Array(bytes))).map(([name]) => name);
  if (missing.length)
    throw new HookLabError(`this JavaScript engine's WebAssembly lacks ${missing.join(' and ')}, which the engine needs ` +
      '(Chrome/Edge 95+, Firefox 100+, Safari 16.4+, node 17+)');
  if (IS_NODE) {
    const { readFile } = await import('node:fs/promises');
    return WebAssembly.compile(await readFile(url));
  }
  const res = await fetch(url);
  if (!res.ok) throw new Error(`cannot fetch ${url}: HTTP ${res.status}`);
  return WebAssembly.compileStreaming ? WebAssembly.compileStreaming(res) : WebAssembly.compile(await res.arrayBuffer());
}

/** A fresh instance of the wasm module (compiled once per process); `build` from selectBuild (default: one thread). */
export async function loadModule(build) {
  build ??= await selectBuild(1);
  if (!compiled.has(build.wasm.href)) compiled.set(build.wasm.href, compileWasm(build.wasm));
  const [mod, { default: createHookLabModule }] = await Promise.all([compiled.get(build.wasm.href), build.js()]);
  const M = await createHookLabModule({
    ...build.moduleArgs,
    instantiateWasm(imports, done) {
      WebAssembly.instantiate(mod, imports).then((inst) => done(inst, mod));
      return {};
    },
    print: () => {},
    printErr: (s) => { if (IS_NODE) process.stderr.write(`hooklab(wasm): ${s}\n`); else console.warn(s); },
  });
  try {
    startThreads(M, build);
  } catch (e) {
    stopThreads(M);
    throw e;
  }
  return M;
}

function unwrap(r) {
  if (r.error !== undefined) throw new HookLabError(r.error);
  return r.value;
}

const textDecoder = new TextDecoder();

// A run from the engine ({json, logits?, captures}) as the API's object.
function assemble(r) {
  const out = JSON.parse(r.json);
  if (r.logits) out.logits_last = r.logits;
  if (r.logitsAll) {
    const T = out.tokens.length;
    out.logits_all = { shape: [T, r.logitsAll.length / T], data: r.logitsAll };
  }
  if (r.captures.length) {
    out.captures = {};
    for (const c of r.captures) out.captures[c.name] = { shape: c.shape, data: c.data };
  }
  return out;
}

/** The Float32Arrays' buffers of a run (or a compare), for a postMessage transfer list. */
export function transferables(x, out = []) {
  if (ArrayBuffer.isView(x)) { if (!out.includes(x.buffer)) out.push(x.buffer); }
  else if (x && typeof x === 'object') for (const v of Object.values(x)) transferables(v, out);
  return out;
}

// ---------------------------------------------------------------- sources
// A source yields: sizes (bytes per file, NaN when unknown), bytes(name) (a whole small
// file), and pump(name, feed), which hands the file to the loader piece by piece:
// feed.write(Uint8Array), or feed.reserve/commit to read straight into the heap.

function isUrlString(s) {
  return /^(https?:|blob:|data:|file:)/i.test(s) || (!IS_NODE && typeof s === 'string');
}

async function folderSource(dir) {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const sizes = {};
  // The native CLI's order: the weights first, then the three small files.
  for (const f of [ROLE.weights, ROLE.config, ROLE.vocab, ROLE.merges]) {
    const p = path.join(dir, f);
    try {
      const st = await fs.stat(p);
      if (!st.isFile()) throw new Error();
      sizes[f] = st.size;
    } catch {
      throw new HookLabError(`cannot open ${dir}/${f}`);
    }
  }
  return {
    sizes,
    async bytes(name) { return new Uint8Array(await fs.readFile(path.join(dir, name))); },
    // Reads straight into the wasm heap: no copy in JS at all.
    async pump(name, feed) {
      const fh = await fs.open(path.join(dir, name), 'r');
      try {
        for (;;) {
          const { heap, ptr, cap } = feed.reserve(CHUNK);
          const { bytesRead } = await fh.read(heap, ptr, cap, null);
          if (bytesRead === 0) break;
          feed.commit(bytesRead);
        }
      } finally {
        await fh.close();
      }
    },
  };
}

// The network source: each file fetched by download.js (the weights' size and sha256 from a HEAD,
// resumed with Range when the transfer drops, the sha256 checked as the bytes pass where
// the platform hashes incrementally) and streamed into the engine, one file at a time, so
// the size limit applies (at begin(), from config.json) before the weights are fetched.
// With a cache (a cache adapter of download.js, or a Cache Storage cache), files found
// there are read from it, and each file fetched is written there as it streams in: kept
// when the load succeeds, none of the new ones left behind when it fails.
async function urlSource(base, fetchOptions = {}, cacheOpt) {
  const root = base.endsWith('/') ? base : base + '/';
  const urlOf = (f) => new URL(f, IS_NODE ? root : new URL(root, globalThis.location?.href)).href;
  const cache = !cacheOpt ? null : typeof cacheOpt.match === 'function' ? cacheStorage(cacheOpt) : cacheOpt;
  const files = {};
  const hits = {};
  // All four looked up at once: every size is known up front, hence one progress number.
  await Promise.all(FILES.map(async (name) => {
    const file = files[name] = { name, url: urlOf(name) };
    const hit = cache ? await cache.get(file) : null;
    if (hit) {
      hits[name] = hit;
      file.size = hit.size;
    } else {
      try {
        // Only the weights can have a published sha256 (an LFS file): the small files'
        // GETs start at once, and the weights' HEAD overlaps them.
        Object.assign(file, await describe(file.url, { fetchOptions, head: name === ROLE.weights }));
      } catch (e) {
        throw new HookLabError(e.message);
      }
    }
  }));
  const writers = [];
  async function* chunks(name) {
    if (hits[name]) {
      yield* chunksOf(hits[name].body);
      return;
    }
    const writer = cache ? await cache.open(files[name], files[name]) : null;
    if (writer) writers.push(writer);
    try {
      yield* new FileDownload(files[name], { writer, fetchOptions });
    } catch (e) {
      throw e instanceof HookLabError ? e : new HookLabError(e.message);
    }
  }
  const sizes = {};
  for (const f of FILES) sizes[f] = files[f].size;
  return {
    sizes,
    fromCache: FILES.every((f) => hits[f]),
    async bytes(name) {
      const parts = [];
      let n = 0;
      for await (const c of chunks(name)) { parts.push(c); n += c.length; }
      const out = new Uint8Array(n);
      let o = 0;
      for (const p of parts) { out.set(p, o); o += p.length; }
      return out;
    },
    async pump(name, feed) {
      for await (const c of chunks(name)) feed.write(c);
    },
    async settle(ok) {
      await Promise.all(FILES.map((f) => release(files[f])));  // a GET started and never read
      const done = await Promise.allSettled(writers.map((w) => (ok ? w.commit() : w.abort())));
      // A file the cache could not keep is fetched again next time; one half-kept is not left.
      await Promise.all(done.map((r, i) => (r.status === 'rejected' ? writers[i].discard().catch(() => {}) : null)));
    },
  };
}

function asBytes(x, name) {
  if (x instanceof ArrayBuffer) return new Uint8Array(x);
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  if (typeof x === 'string') return new TextEncoder().encode(x);
  throw new HookLabError(`${name}: expected an ArrayBuffer, a typed array, a Blob or a string`);
}

function buffersSource(src) {
  // Accepts [config, weights, vocab, merges], or an object keyed by file name or by
  // config / weights (model, safetensors) / vocab / merges.
  const pick = Array.isArray(src)
    ? { [ROLE.config]: src[0], [ROLE.weights]: src[1], [ROLE.vocab]: src[2], [ROLE.merges]: src[3] }
    : {
        [ROLE.config]: src[ROLE.config] ?? src.config,
        [ROLE.weights]: src[ROLE.weights] ?? src.weights ?? src.model ?? src.safetensors,
        [ROLE.vocab]: src[ROLE.vocab] ?? src.vocab,
        [ROLE.merges]: src[ROLE.merges] ?? src.merges,
      };
  const sizes = {};
  for (const f of FILES) {
    const x = pick[f];
    if (x == null) throw new HookLabError(`missing ${f} in the source`);
    sizes[f] = typeof Blob !== 'undefined' && x instanceof Blob ? x.size : asBytes(x, f).byteLength;
  }
  const isBlob = (x) => typeof Blob !== 'undefined' && x instanceof Blob;
  return {
    sizes,
    async bytes(name) {
      const x = pick[name];
      return isBlob(x) ? new Uint8Array(await x.arrayBuffer()) : asBytes(x, name);
    },
    async pump(name, feed) {
      const x = pick[name];
      if (isBlob(x)) {
        // Slices, so at most one chunk of the Blob is in JS memory at a time.
        for (let o = 0; o < x.size; o += CHUNK) feed.write(new Uint8Array(await x.slice(o, o + CHUNK).arrayBuffer()));
      } else {
        feed.write(asBytes(x, name));
      }
    },
  };
}

// Node: a source that is no folder may name a model: "default" or "induction" (the models this
// package ships; in a browser these two names resolve next to this module: bundledModelUrl)
// package ships: checkpoints/default, the embedded default; checkpoints/induction, the
// induction lesson's model) or a hub model ("gpt2", "org/name"), kept in the cache
// folder that `hooklab fetch` fills and downloaded into it first when missing (one download
// for every later load, resumed if interrupted, each file's sha256 checked).
const BUNDLED_MODELS = ['default', 'induction'];
async function resolveNamedModel(source, opts) {
  const fs = await import('node:fs');
  if (fs.existsSync(source)) return source;
  if (BUNDLED_MODELS.includes(source)) {
    const { fileURLToPath } = await import('node:url');
    return fileURLToPath(new URL(`../../checkpoints/${source}/`, import.meta.url));
  }
  const { modelCacheDir, fetchModel } = await import('./download.js');
  const { repoOf, MODEL_FILES } = await import('./models.js');
  try {
    repoOf(source);
  } catch {
    return source;  // neither a folder nor a name: the loader says the folder is missing
  }
  const dir = await modelCacheDir(source);
  const path = await import('node:path');
  if (!MODEL_FILES.every((f) => fs.existsSync(path.join(dir, f)))) {
    try {
      await fetchModel(source, dir, { onProgress: (p) => opts.onDownload?.(p) });
    } catch (e) {
      throw new HookLabError(`HookLab.load("${source}"): no such folder, and downloading ${repoOf(source)} into ${dir} failed: ${e.message}`);
    }
  }
  return dir;
}

/** A browser (or worker): the bundled names are the package's own checkpoints, beside this module
 *  (node_modules/gpt2-hooklab/checkpoints/NAME/, served by a bundler or a static server); other strings are URLs. */
const bundledModelUrl = (name) => new URL(`../../checkpoints/${name}/`, import.meta.url).href;

async function openSource(source, opts) {
  if (typeof source === 'string' && IS_NODE && !isUrlString(source)) return folderSource(await resolveNamedModel(source, opts));
  if (typeof source === 'string' && !IS_NODE && BUNDLED_MODELS.includes(source)) return urlSource(bundledModelUrl(source), opts.fetchOptions, opts.cache);
  if (typeof source === 'string' || source instanceof URL) return urlSource(String(source), opts.fetchOptions, opts.cache);
  if (source && typeof source === 'object') return buffersSource(source);
  throw new HookLabError('HookLab.load: source must be a folder path (node), a base URL, or the four files');
}

// ---------------------------------------------------------------- strict options (issue #28)

const RUN_KEYS = ['interventions', 'topk', 'capture', 'logits', 'logitLens'];
const PATCH_METRICS = ['logit_diff', 'prob', 'logprob', 'loss'];
const HEADS_KEYS = ['prompt', 'repeat', 'seed', 'interventions', 'pattern'];
const GENERATE_KEYS = ['maxNewTokens', 'temperature', 'topK', 'topP', 'seed', 'interventions', 'onToken', 'signal'];
/**
 * The one table of the options each entry point takes. Any other key is a HookLabError that
 * names it, with a "did you mean" and this list: a typo ({interventon: [...]}) must never run
 * the baseline without a word. hooklab.d.ts's option interfaces list exactly these keys
 * (tests/node/strict-inputs.test.mjs checks it); the engine checks the interventions' own
 * keys, and wasm/binding.cpp the JSON these options become.
 */
export const OPTION_KEYS = Object.freeze({
  load: Object.freeze(['onProgress', 'onDownload', 'f16', 'fetchOptions', 'cache', 'threads', 'process']),
  run: Object.freeze(RUN_KEYS),
  runJSON: Object.freeze(RUN_KEYS),
  compare: Object.freeze(RUN_KEYS),
  runWithCache: Object.freeze(['hooks', 'interventions', 'topk', 'logits', 'logitLens']),
  heads: Object.freeze(HEADS_KEYS),
  headsJSON: Object.freeze(HEADS_KEYS),
  patch: Object.freeze(['clean', 'corrupted', 'answer', 'wrong', 'hook', 'by', 'method', 'metric', 'interventions', 'onProgress', 'signal']),
  attribute: Object.freeze(['prompt', 'answer', 'wrong', 'interventions']),
  gradients: Object.freeze(['prompt', 'answer', 'wrong', 'hooks', 'interventions']),
  generate: Object.freeze(GENERATE_KEYS),
  generateCompare: Object.freeze(GENERATE_KEYS),
});

// closestKey (the did-you-mean rule) lives in errors.js, which the page imports too.

/** TransformerLens's weight processing options (load's {process}), in its order. */
export const PROCESS_KEYS = Object.freeze(['fold_ln', 'center_writing_weights', 'center_unembed', 'fold_value_biases']);

// load's {process}: undefined (none), 'tl' (all four, as from_pretrained), or an object of
// PROCESS_KEYS to booleans. Returns the four flags.
export function checkProcess(p) {
  if (p === undefined || p === false) return PROCESS_KEYS.map(() => false);
  if (p === 'tl' || p === true) return PROCESS_KEYS.map(() => true);
  if (p === null || typeof p !== 'object' || Array.isArray(p))
    throw new HookLabError(`load: process must be 'tl' or an object {${PROCESS_KEYS.join(', ')}} of booleans, got ${kindOf(p)}`);
  for (const [k, v] of Object.entries(p)) {
    if (!PROCESS_KEYS.includes(k)) {
      const near = closestKey(k, PROCESS_KEYS);
      throw new HookLabError(`load: unknown weight processing ${JSON.stringify(k)}${near ? ` (did you mean ${JSON.stringify(near)}?)` : ''}; ` +
        `process takes ${PROCESS_KEYS.join(', ')}`);
    }
    if (typeof v !== 'boolean') throw new HookLabError(`load: process.${k} must be a boolean, got ${kindOf(v)}`);
  }
  return PROCESS_KEYS.map((k) => !!p[k]);
}

const kindOf = (x) => (x === null ? 'null' : Array.isArray(x) ? 'an array' : typeof x === 'object' ? 'an object' : `a ${typeof x}`);

// The options of entry point `fn` (undefined: none), refused unless a plain object whose
// every key is in OPTION_KEYS[fn].
function checkOptions(fn, opts) {
  const keys = OPTION_KEYS[fn];
  if (opts === undefined) return {};
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) {
    const hint = Array.isArray(opts) && keys.includes('interventions') ? ' (interventions go in {interventions: [...]})' : '';
    throw new HookLabError(`${fn}: the options must be an object {${keys.join(', ')}}, got ${kindOf(opts)}${hint}`);
  }
  for (const k of Object.keys(opts)) {
    if (keys.includes(k)) continue;
    const near = closestKey(k, keys);
    throw new HookLabError(`${fn}: unknown option ${JSON.stringify(k)}${near ? ` (did you mean ${JSON.stringify(near)}?)` : ''}; ` +
      `${fn} takes ${keys.join(', ')}`);
  }
  return opts;
}

// ---------------------------------------------------------------- patching helpers

// The string options of patch() / attribute(), each required (but those in `optional`, when
// absent). A token may be given as an id (a number), sent as "#ID".
function patchOptions(opts, names, optional = []) {
  const o = {};
  for (const n of names) {
    let v = opts[n];
    if (v === undefined && optional.includes(n)) continue;
    if ((n === 'answer' || n === 'wrong') && Number.isInteger(v)) v = `#${v}`;
    if (typeof v !== 'string') throw new HookLabError(`${n} is required (a string${n === 'answer' || n === 'wrong' ? ', one token, or an id' : ''})`);
    o[n] = v;
  }
  return o;
}

// Each intervention travels as JSON text (strings as given: 64-bit seeds stay exact); the
// engine parses it and refuses unknown keys (hooklab::parse_intervention). A set's tensor value
// (a typed array, or an array of numbers, possibly nested) travels beside it as a Float32Array,
// {"tensor": k} in the text: `tensors` collects them.
function interventionList(ivs = [], tensors = []) {
  if (!Array.isArray(ivs)) throw new HookLabError(`interventions: expected an array, got ${kindOf(ivs)}`);
  return ivs.map((iv, i) => {
    if (typeof iv === 'string') return iv;
    if (iv === null || typeof iv !== 'object' || Array.isArray(iv))
      throw new HookLabError(`interventions[${i}]: expected an intervention object or its JSON text, got ${kindOf(iv)}`);
    const v = iv.value;
    if (iv.kind === 'set' && (ArrayBuffer.isView(v) || Array.isArray(v))) {
      if (ArrayBuffer.isView(v) && (v instanceof DataView || typeof v[0] === 'bigint'))
        throw new HookLabError(`interventions[${i}]: a tensor value is a Float32Array (or another array of numbers)`);
      const data = v instanceof Float32Array ? v : Float32Array.from(ArrayBuffer.isView(v) ? v : v.flat(Infinity));
      tensors.push(data);
      return JSON.stringify({ ...iv, value: { tensor: tensors.length - 1 } });
    }
    return JSON.stringify(iv);
  });
}
// The interventions' texts for one engine call; their tensors go to the engine first.
function interventionTexts(ivs, engine) {
  const tensors = [];
  const text = JSON.stringify(interventionList(ivs ?? [], tensors));
  engine.setTensors(tensors);
  return text;
}

// A macrotask turn, so that events (an abort) run between generation steps; not
// setTimeout, which browsers clamp to 4 ms once nested.
let yieldToEventLoop = () => {
  if (typeof setImmediate === 'function') yieldToEventLoop = () => new Promise((resolve) => setImmediate(resolve));
  else {
    const channel = new MessageChannel();
    const waiting = [];
    channel.port1.onmessage = () => waiting.shift()();
    yieldToEventLoop = () => new Promise((resolve) => { waiting.push(resolve); channel.port2.postMessage(0); });
  }
  return yieldToEventLoop();
};

// ---------------------------------------------------------------- the lab

/**
 * runWithCache's activations, named as TransformerLens's ActivationCache: get('resid_post', 9)
 * is cache['resid_post', 9], get('blocks.9.hook_resid_post') the same. Tensors drop
 * TransformerLens's batch axis: [pos, d_model], [pos, head, d_head], [head, query, key]...
 */
export class ActivationCache {
  constructor(run, captures, table) {
    /** The run (run()'s result, without `captures`). */
    this.run = run;
    this._captures = captures;
    this._table = table;
  }

  /** The cached tensor {shape, data: Float32Array} of a full hook name, or of a name and a block (negative: from the end). */
  get(name, layer) {
    const full = this._table.resolve(name, layer);
    const c = this._captures[full];
    if (!c) throw new HookLabError(`cache: ${full} was not cached (runWithCache's hooks left it out); cached: ${this.names().length} hooks`);
    return { name: full, shape: c.shape, data: c.data };
  }

  /** Whether get(name, layer) finds a tensor (a name this model does not have throws). */
  has(name, layer) {
    return this._table.resolve(name, layer) in this._captures;
  }

  /** The cached hooks' full names, in firing order. */
  names() {
    return Object.keys(this._captures);
  }
}

export class HookLab {
  /**
   * Loads a checkpoint laid out like a HuggingFace GPT-2 repo.
   * @param source folder path (node) | base URL | four ArrayBuffers/Blobs
   * @param opts {onProgress(fraction), f16: keep weights as IEEE half in memory, fetchOptions,
   *   cache: where URL sources keep whole files, read from it and filled as they load: a Cache
   *     Storage cache (match/put/delete), or an adapter (cacheStorage(cache), folderCache(dir)),
   *   threads: how many (default: the hardware's, at most 8; one where the page is not cross-origin isolated),
   *   process: TransformerLens's weight processing at load, {fold_ln, center_writing_weights, center_unembed,
   *     fold_value_biases} (booleans) or 'tl' for all four (from_pretrained's defaults); config.processing then says so}
   */
  static async load(source, opts = {}) {
    opts = checkOptions('load', opts);
    const processing = checkProcess(opts.process);  // checked before anything loads
    const onProgress = typeof opts.onProgress === 'function' ? opts.onProgress : () => {};
    const build = await selectBuild(opts.threads);
    const src = await openSource(source, opts);
    const M = await loadModule(build);
    const engine = new M.Engine();
    try {
      const known = FILES.every((f) => Number.isFinite(src.sizes[f]));
      const total = known ? FILES.reduce((a, f) => a + src.sizes[f], 0) : NaN;
      let done = 0;
      let last = -1;
      const progress = (n) => {
        done += n;
        if (!known) return;
        const p = total ? Math.min(1, done / total) : 1;
        if (p !== last) { last = p; onProgress(p); }
      };
      progress(0);
      const [config, vocab, merges] = await Promise.all([ROLE.config, ROLE.vocab, ROLE.merges].map(async (f) => {
        const b = await src.bytes(f);
        progress(b.byteLength);
        return textDecoder.decode(b);
      }));
      const stSize = src.sizes[ROLE.weights];
      unwrap(engine.begin(config, vocab, merges, !!opts.f16, Number.isFinite(stSize) ? stSize : 0));
      // The feeder: reserve/commit to read straight into the heap, write() to copy a
      // chunk that already exists in JS (one copy, into the heap, in CHUNK pieces).
      const feed = {
        reserve(n) {
          const ptr = engine.buffer(n) >>> 0;
          return { heap: M.HEAPU8, ptr, cap: n };
        },
        commit(n) {
          unwrap(engine.feed(n));
          progress(n);
        },
        write(bytes) {
          for (let o = 0; o < bytes.byteLength; o += CHUNK) {
            const piece = bytes.subarray(o, Math.min(bytes.byteLength, o + CHUNK));
            const { heap, ptr } = feed.reserve(piece.byteLength);
            heap.set(piece, ptr);
            feed.commit(piece.byteLength);
          }
        },
      };
      await src.pump(ROLE.weights, feed);
      unwrap(engine.finish());
      if (processing.some(Boolean)) unwrap(engine.process(...processing));
      await src.settle?.(true);
      if (!known) onProgress(1);
      const lab = new HookLab(M, engine);
      lab.fileBytes = src.sizes[ROLE.weights];
      lab.fromCache = !!src.fromCache;
      return lab;
    } catch (e) {
      engine.delete();
      await src.settle?.(false);
      stopThreads(M);
      throw e;
    }
  }

  constructor(M, engine) {
    this._M = M;
    this._engine = engine;
    /** The model's configuration (the run JSON's "model" block). */
    this.config = JSON.parse(unwrap(engine.config()));
  }

  _live() {
    if (!this._engine) throw new HookLabError('this HookLab has been disposed');
    return this._engine;
  }

  // The engine's options text and the interventions' texts for one run.
  _request(prompt, opts, fn = 'run') {
    opts = checkOptions(fn, opts);
    if (typeof prompt !== 'string') throw new HookLabError(`${fn}: the prompt must be a string`);
    const o = { prompt };
    if (opts.topk !== undefined) {
      if (!Number.isInteger(opts.topk) || opts.topk < 0) throw new HookLabError('topk must be a non-negative integer');
      o.topk = opts.topk;
    }
    if (opts.logits !== undefined) {
      if (opts.logits !== 'all' && typeof opts.logits !== 'boolean')
        throw new HookLabError(`${fn}: logits must be true, false or 'all', got ${JSON.stringify(opts.logits) ?? kindOf(opts.logits)}`);
      o.logits = opts.logits;
    }
    if (opts.capture !== undefined) {
      const c = typeof opts.capture === 'string' ? [opts.capture] : opts.capture;
      if (!Array.isArray(c) || !c.every((x) => typeof x === 'string')) throw new HookLabError('capture: expected hook names');
      o.capture = c;
    }
    if (opts.logitLens !== undefined) o.logit_lens = !!opts.logitLens;
    return [JSON.stringify(o), interventionTexts(opts.interventions, this._live())];
  }

  /** The run JSON as text, exactly as the native CLI prints it (indent -1: compact). */
  runJSON(prompt, opts = {}, indent = -1) {
    const engine = this._live();
    return unwrap(engine.runJSON(...this._request(prompt, opts, 'runJSON'), indent));
  }

  /**
   * One forward with interventions: the native CLI's run JSON as an object, except that
   * `logits_last` (only with {logits: true}) and each capture's `data` are Float32Arrays
   * (non-finite values stay NaN/±Infinity there rather than null). With {logitLens: true},
   * `logit_lens: [{layer, top: [{id, token, prob}], kl}]`: the residual after each block
   * through ln_f and the unembedding, kl = KL(final output || that reading) in nats.
   * @param opts {interventions, topk, capture, logits, logitLens}
   */
  run(prompt, opts = {}) {
    return assemble(unwrap(this._live().run(...this._request(prompt, opts))));
  }

  /**
   * The baseline (no interventions) and the intervened run of one prompt, compared in
   * the engine: {baseline, intervened, kl, top: [{id, token, pBase, pInt, delta}],
   * logit_lens?: [{layer, kl, topBase, topInt}]} where kl is KL(baseline || intervened)
   * at the last position (null when not defined) and each lens kl the same between the
   * two readings after that block. The baseline's forward is computed once per prompt; the
   * latest runs (intervened, and baselines with other options) are kept, and `reused` says
   * this one was (no forward: a run is a function of the model, the prompt, the options and
   * the interventions). A new run resumes from the kept forward it agrees with longest:
   * `firstBlock` is the first block it computed (n_layer when none).
   * @param opts {interventions, topk, capture, logits, logitLens}
   */
  compare(prompt, opts = {}) {
    const [options, ivs] = this._request(prompt, opts, 'compare');
    const r = unwrap(this._live().compare(options, ivs));
    if (r.baseline) this._baseline = assemble(r.baseline);
    const c = JSON.parse(r.compare);
    const out = { baseline: this._baseline, intervened: r.intervened ? assemble(r.intervened) : this._baseline, reused: r.reused, firstBlock: r.firstBlock, kl: c.kl, top: c.top };
    if (c.lens) out.logit_lens = c.lens;
    return out;
  }

  /**
   * The hook points, in firing order, with their shapes for a prompt of T tokens:
   * [{name, per_block, dims, shape, axes: {positions, heads, features}}] (axis -1: none).
   */
  hooks(T = 1) {
    return JSON.parse(unwrap(this._live().hooks(T)));
  }

  /**
   * TransformerLens's run_with_cache: one run (as run()) whose activations come back as an
   * ActivationCache, looked up as TransformerLens's cache['resid_post', 9]: get('resid_post', 9)
   * or get('blocks.9.hook_resid_post').
   * @param opts {hooks: which to cache (default every hook point of every block): full names, a
   *   name without its block ('resid_post', 'attn.hook_z') for every block's, or a filter
   *   (name) => boolean like TransformerLens's names_filter; interventions, topk, logits, logitLens}
   */
  runWithCache(prompt, opts = {}) {
    opts = checkOptions('runWithCache', opts);
    const table = this._hookTable();
    let names = table.all;
    if (opts.hooks !== undefined) {
      const h = opts.hooks;
      if (typeof h === 'function') names = table.all.filter((n) => h(n));
      else {
        const list = typeof h === 'string' ? [h] : h;
        if (!Array.isArray(list) || !list.every((x) => typeof x === 'string'))
          throw new HookLabError('runWithCache: hooks must be hook names or a filter function (name) => boolean');
        names = [...new Set(list.flatMap((n) => (table.all.includes(n) ? [n] : table.expand(n))))];
      }
    }
    const { hooks, ...rest } = opts;
    const run = this.run(prompt, { ...rest, capture: names });
    const captures = run.captures ?? {};
    delete run.captures;
    return new ActivationCache(run, captures, table);
  }

  // The hook names of this model: every full name in firing order, and how a short name or
  // alias ('resid_post', 'attn.hook_z', 'z', 'pre', 'ln1') expands over the blocks.
  _hookTable() {
    if (this._hooks) return this._hooks;
    const L = this.config.n_layer;
    const points = this.hooks(1);
    const all = [];
    for (let l = 0; l < L; ++l) for (const p of points) if (p.per_block) all.push(`blocks.${l}.${p.name.replace(/^blocks\.\{i\}\.|^blocks\.\d+\./, '')}`);
    const outside = points.filter((p) => !p.per_block).map((p) => p.name);
    const before = outside.filter((n) => n === 'hook_embed' || n === 'hook_pos_embed');
    const blockShort = points.filter((p) => p.per_block).map((p) => p.name.replace(/^blocks\.\{i\}\.|^blocks\.\d+\./, ''));
    // TransformerLens's aliases (utils.get_act_name): the name's last part without "hook_", and ln1 / ln2.
    const alias = new Map();
    for (const s of blockShort) {
      alias.set(s, s);
      alias.set(s.replace(/^.*hook_/, ''), s);
      if (/^ln\d\./.test(s)) alias.set(s.split('.')[0], s);
    }
    const outAlias = new Map();
    for (const n of outside) {
      outAlias.set(n, n);
      outAlias.set(n.replace(/^hook_/, ''), n);
      if (n.startsWith('ln_final')) outAlias.set('ln_final', n);
    }
    const names = [...alias.keys(), ...outAlias.keys()];
    const self = {
      all: [...before, ...all, ...outside.filter((n) => !before.includes(n))],
      // The full name of (name, layer), or a HookLabError with a did-you-mean.
      resolve(name, layer) {
        if (typeof name !== 'string') throw new HookLabError(`cache: a hook name is a string, got ${kindOf(name)}`);
        if (layer === undefined) {
          if (self.all.includes(name)) return name;
          if (outAlias.has(name)) return outAlias.get(name);
          if (alias.has(name)) throw new HookLabError(`cache: "${name}" is a hook of every block: give the block, get("${name}", L) with L in 0..${L - 1}`);
        } else {
          if (!Number.isInteger(layer) || layer < -L || layer >= L)
            throw new HookLabError(`cache: block ${String(layer)} is out of range (this model has blocks 0..${L - 1}; negative counts from the end)`);
          if (alias.has(name)) return `blocks.${layer < 0 ? layer + L : layer}.${alias.get(name)}`;
          if (outAlias.has(name)) throw new HookLabError(`cache: "${name}" is not a hook of a block; get("${name}") without a block`);
        }
        const near = closestKey(name, layer === undefined ? [...names, ...self.all] : names);
        throw new HookLabError(`cache: unknown hook "${name}"${near ? ` (did you mean "${near}"?)` : ''}; ` +
          `TransformerLens's names: resid_pre, attn_out, resid_mid, mlp_out, resid_post, q, k, v, z, attn_scores, pattern, pre, post, ln1, ln2 with a block; embed, pos_embed, ln_final, logits without`);
      },
      // Every block's hook for a name without its block; outside the blocks, the one hook.
      expand(name) {
        if (outAlias.has(name)) return [outAlias.get(name)];
        if (alias.has(name)) return Array.from({ length: L }, (_, l) => `blocks.${l}.${alias.get(name)}`);
        return [self.resolve(name)];
      },
    };
    this._hooks = self;
    return self;
  }

  /**
   * A weight by TransformerLens's name, unprocessed (HookedTransformer.from_pretrained_no_processing),
   * in its shape: {name, shape, data: Float32Array} (a copy: writing to it changes nothing).
   * Names: weightNames(); e.g. 'W_U' [d_model, d_vocab], 'blocks.3.attn.W_O' [n_head, d_head, d_model],
   * 'blocks.3.attn.W_Q' [n_head, d_model, d_head], 'W_Q' stacked over the blocks [n_layer, ...].
   */
  weight(name) {
    if (typeof name !== 'string') throw new HookLabError(`weight: the name must be a string, got ${kindOf(name)}`);
    return unwrap(this._live().weight(name));
  }

  /** Every name weight() takes (the state dict's, then HookedTransformer's shortcuts). */
  weightNames() {
    return JSON.parse(unwrap(this._live().weightNames()));
  }

  /**
   * hooklab heads' JSON as text, exactly as the native CLI prints it.
   * @param opts {prompt} or {repeat, seed}, and {interventions}; see heads().
   */
  headsJSON(opts = {}, indent = -1) {
    const [o, ivs] = this._headsOptions(opts, 'headsJSON');
    return unwrap(this._live().headsJSON(o, ivs, indent));
  }

  // The engine's heads options as JSON text, and the interventions' texts.
  _headsOptions(opts, fn) {
    const engine = this._live();
    if (opts === null || typeof opts !== 'object') throw new HookLabError(`${fn}: expected {prompt} or {repeat, seed}`);
    checkOptions(fn, opts);
    const o = {};
    if (opts.prompt !== undefined) {
      if (typeof opts.prompt !== 'string') throw new HookLabError('heads: the prompt must be a string');
      o.prompt = opts.prompt;
    }
    if (opts.repeat !== undefined) {
      if (!Number.isSafeInteger(opts.repeat)) throw new HookLabError(`heads: repeat must be a positive integer, got ${opts.repeat}`);
      o.repeat = opts.repeat;
    }
    if (opts.seed !== undefined) {
      // The engine reads the seed as decimal text: 64-bit seeds stay exact as strings or BigInts.
      if (typeof opts.seed === 'number' && Number.isInteger(opts.seed) && !Number.isSafeInteger(opts.seed))
        throw new HookLabError('heads: a seed above 2^53 loses digits as a JS number; pass it as a string or a BigInt');
      o.seed = String(opts.seed);
    }
    if (opts.pattern !== undefined) {
      if (!Number.isSafeInteger(opts.pattern)) throw new HookLabError(`heads: pattern must be a block number, got ${opts.pattern}`);
      o.pattern = opts.pattern;
    }
    return [JSON.stringify(o), interventionTexts(opts.interventions, engine)];
  }

  /**
   * Every head's previous-token, first-token and induction scores, as plain nested arrays
   * [n_layer][n_head] (null where a score is undefined), on a prompt or on
   * TransformerLens's test input (<|endoftext|> then `repeat` random tokens twice).
   * @param opts {prompt} | {repeat, seed}, plus {interventions} applied during the forward and
   *   {pattern: L} to also get block L's scored patterns as result.pattern {layer, shape [H,T,T],
   *   data: Float32Array}, as run()'s captures
   */
  heads(opts = {}) {
    const [o, ivs] = this._headsOptions(opts, 'heads');
    const r = unwrap(this._live().heads(o, ivs));
    const out = JSON.parse(r.json);
    if (r.pattern) out.pattern.data = r.pattern;
    return out;
  }

  /** Token ids of `text` (GPT-2 byte-level BPE). */
  tokenize(text) {
    if (typeof text !== 'string') throw new HookLabError(`tokenize: the text must be a string, got ${kindOf(text)}`);
    return JSON.parse(unwrap(this._live().tokenize(text)));
  }

  /** Text of token ids (invalid UTF-8 shown as U+FFFD). */
  decode(ids) {
    if (ids === null || typeof ids !== 'object' || typeof ids.length !== 'number')
      throw new HookLabError(`decode: expected an array of token ids, got ${kindOf(ids)}`);
    const list = Array.from(ids, Number);
    const bad = list.findIndex((id) => !Number.isSafeInteger(id));
    if (bad >= 0) throw new HookLabError(`decode: token ids are integers, got ${String(ids[bad])} at index ${bad}`);
    return unwrap(this._live().decode(JSON.stringify(list)));
  }

  // ---------------------------------------------------------------- patching and attribution

  /**
   * Activation patching (TransformerLens's semantics), one block per wasm call so that
   * progress is reported and `signal` can stop the sweep between blocks. With
   * {method: 'attribution'}: attribution patching, the first-order estimate of the same sweep
   * from one clean forward, one corrupted forward and one backward, in one wasm call
   * (onProgress fires once, when it is done).
   * @param opts {clean, corrupted, answer, wrong, hook: 'resid_pre'|'attn_out'|'mlp_out'|'z',
   *   by, method: 'exact' (default) | 'attribution', interventions, onProgress({done, total, layer, row}),
   *   signal: AbortSignal}
   * @returns the native CLI's patch JSON (with --method attribution: plus method and backwards)
   */
  async patch(opts = {}) {
    const engine = this._live();
    opts = checkOptions('patch', opts);
    const { signal } = opts;
    const onProgress = typeof opts.onProgress === 'function' ? opts.onProgress : () => {};
    const method = opts.method ?? 'exact';
    if (method !== 'exact' && method !== 'attribution')
      throw new HookLabError(`patch: method must be 'exact' or 'attribution', got ${typeof method === 'string' ? JSON.stringify(method) : kindOf(method)}`);
    const metric = opts.metric ?? 'logit_diff';
    if (!PATCH_METRICS.includes(metric))
      throw new HookLabError(`patch: metric must be ${PATCH_METRICS.map((m) => `'${m}'`).join(', ')}, got ` +
        `${typeof metric === 'string' ? JSON.stringify(metric) : kindOf(metric)}` +
        `${typeof metric === 'string' && closestKey(metric, PATCH_METRICS) ? ` (did you mean '${closestKey(metric, PATCH_METRICS)}'?)` : ''}`);
    // A metric of the answer alone needs no wrong token.
    const o = patchOptions(opts, ['clean', 'corrupted', 'answer', 'wrong'], metric === 'logit_diff' ? [] : ['wrong']);
    if (opts.metric !== undefined) o.metric = metric;
    o.hook = opts.hook ?? 'resid_pre';
    if (opts.by !== undefined) o.by = opts.by;
    const stop = () => {
      if (!signal?.aborted) return;
      engine.patchCancel();
      throw signal.reason ?? new DOMException('the patching sweep was cancelled', 'AbortError');
    };
    stop();
    if (method === 'attribution') {
      const r = JSON.parse(unwrap(engine.attributionPatch(JSON.stringify(o), interventionTexts(opts.interventions, engine), -1)));
      onProgress({ done: r.n_layer, total: r.n_layer, layer: r.n_layer - 1, row: r.logit_diff.at(-1), header: r });
      return r;
    }
    const header = JSON.parse(unwrap(engine.patchBegin(JSON.stringify(o), interventionTexts(opts.interventions, engine))));
    const total = header.n_layer;
    onProgress({ done: 0, total, layer: -1, row: null, header });
    for (let layer = 0; layer < total; ++layer) {
      // Yield to the event loop: an abort() from a click or a message lands here.
      await new Promise((resolve) => setTimeout(resolve, 0));
      stop();
      const row = JSON.parse(unwrap(engine.patchLayer(layer)));
      onProgress({ done: layer + 1, total, layer, row, header });
    }
    return JSON.parse(unwrap(engine.patchResult(-1)));
  }

  /**
   * Direct logit attribution at the last position.
   * @param opts {prompt, answer, wrong, interventions}
   * @returns the native CLI's attribute JSON
   */
  attribute(opts = {}) {
    opts = checkOptions('attribute', opts);
    const o = patchOptions(opts, ['prompt', 'answer', 'wrong']);
    const engine = this._live();
    return JSON.parse(unwrap(engine.attribute(JSON.stringify(o), interventionTexts(opts.interventions, engine), -1)));
  }

  /**
   * Gradients of the logit difference LD = logits[-1, answer] - logits[-1, wrong] with respect
   * to the activations at each hook asked for (true gradients: ln_f is not frozen; the
   * interventions are part of the function), from one forward and one backward.
   * @param opts {prompt, answer, wrong, hooks: full hook names ("blocks.3.hook_resid_pre"),
   *   interventions}
   * @returns the native CLI's gradients JSON, each gradient's `data` a Float32Array (its
   *   hook's shape, row-major)
   */
  gradients(opts = {}) {
    opts = checkOptions('gradients', opts);
    const o = patchOptions(opts, ['prompt', 'answer', 'wrong']);
    if (opts.hooks !== undefined) {
      const h = typeof opts.hooks === 'string' ? [opts.hooks] : opts.hooks;
      if (!Array.isArray(h) || !h.every((x) => typeof x === 'string')) throw new HookLabError('gradients: hooks: expected hook names');
      o.hooks = h;
    }
    const engine = this._live();
    const r = unwrap(engine.gradients(JSON.stringify(o), interventionTexts(opts.interventions, engine)));
    const out = JSON.parse(r.json);
    for (const g of r.gradients) out.gradients[g.name].data = g.data;
    return out;
  }

  // ---------------------------------------------------------------- generation

  /**
   * Generates with the interventions active at every step, decoding with a KV cache, one
   * token per wasm call: onToken streams each token and `signal` stops between tokens.
   * @param opts {maxNewTokens, temperature (0: greedy), topK, topP, seed, interventions,
   *   onToken({id, token, prob, index}), signal: AbortSignal}
   * @returns the native CLI's generate JSON
   */
  async generate(prompt, opts = {}) {
    opts = checkOptions('generate', opts);
    const onToken = typeof opts.onToken === 'function' ? opts.onToken : () => {};
    const [r] = await this._generate(prompt, opts, [opts.interventions], (steps, index) => onToken({ ...steps[0], index }));
    return r;
  }

  /**
   * The baseline (no interventions) and the intervened continuation generated together:
   * one forward per step for both, so each step reads the weights once. Each one's tokens
   * are those of generate() with the same options.
   * @param opts as generate(), but onToken(which, {id, token, prob, index}) with which
   *   'baseline' or 'intervened'
   * @returns the native CLI's generate --compare JSON: {baseline, intervened}
   */
  async generateCompare(prompt, opts = {}) {
    opts = checkOptions('generateCompare', opts);
    const onToken = typeof opts.onToken === 'function' ? opts.onToken : () => {};
    const which = ['baseline', 'intervened'];
    const [baseline, intervened] = await this._generate(prompt, opts, [[], opts.interventions], (steps, index) =>
      steps.forEach((s, i) => { if (s) onToken(which[i], { ...s, index }); }));
    return { baseline, intervened };
  }

  // Runs one generation per entry of `variants` (each an interventions array) together;
  // onStep(steps, index) gets each step's tokens (null for a variant already stopped).
  async _generate(prompt, opts, variants, onStep) {
    const engine = this._live();
    const { signal } = opts;
    if (typeof prompt !== 'string') throw new HookLabError('generate: the prompt must be a string');
    // Numbers go to the engine as they are (NaN included): its checks and messages.
    const num = (name, dflt) => {
      const v = opts[name] ?? dflt;
      if (typeof v !== 'number') throw new HookLabError(`${name} must be a number`);
      return v;
    };
    if (opts.maxNewTokens === undefined) throw new HookLabError('maxNewTokens is required');
    const seed = opts.seed ?? 0;
    if (!((typeof seed === 'number' && Number.isSafeInteger(seed)) || typeof seed === 'bigint' || typeof seed === 'string'))
      throw new HookLabError('seed must be a non-negative integer (a number, a bigint or decimal text)');
    const tensors = [];
    const texts = JSON.stringify(variants.map((ivs) => interventionList(ivs ?? [], tensors)));
    const stop = () => {
      if (!signal?.aborted) return;
      engine.generateCancel();
      throw signal.reason ?? new DOMException('the generation was cancelled', 'AbortError');
    };
    stop();
    engine.setTensors(tensors);
    unwrap(engine.generateBegin(prompt, num('maxNewTokens'), num('temperature', 0), num('topK', 0), num('topP', 1),
      String(seed), texts));
    // The engine holds one generation: a later generate() on this lab replaces this one.
    const mine = {};
    this._generation = mine;
    for (let index = 0; !engine.generateDone(); ++index) {
      // An abort() from a click or a message lands here.
      await yieldToEventLoop();
      if (this._generation !== mine) throw new HookLabError('another generate() started on this lab and replaced this one');
      stop();
      onStep(JSON.parse(unwrap(engine.generateStep())), index);
    }
    return JSON.parse(unwrap(engine.generateResult(-1)));
  }

  /** A bare forward (no hooks) on token ids: milliseconds, timed inside wasm. */
  forwardMs(ids, allLogits = false) {
    return unwrap(this._live().forward(JSON.stringify(Array.from(ids)), !!allLogits));
  }

  flopsPerForward(T, allLogits = false) { return this._live().flops(T, !!allLogits); }
  /** Bytes the weights take in memory (F32, or F16 with {f16: true}); not the file's size. */
  get weightBytes() { return this._live().weightBytes(); }
  /** Current size of the wasm memory (it only grows). */
  get memoryBytes() { return this._M.HEAPU8.byteLength; }
  get kernel() { return this._M.kernel(); }
  /** Threads the engine uses (1: the single-threaded build). */
  get threads() { return this._live() && this._M.threads ? this._M.threads() : 1; }

  /** Frees the engine; the lab is unusable afterwards. */
  dispose() {
    if (!this._engine) return;
    this._engine.dispose();
    this._engine.delete();
    this._engine = null;
    stopThreads(this._M);
    this._M = null;
  }
}

export default HookLab;
