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
import { selectBuild, startThreads, stopThreads } from './select-build.js';

const IS_NODE = typeof process === 'object' && typeof process.versions === 'object' &&
  typeof process.versions.node === 'string' && typeof window === 'undefined';
const FILES = ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt'];
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

/** An engine error, carrying the engine's message. */
export class HookLabError extends Error {
  constructor(message) {
    super(message);
    this.name = 'HookLabError';
  }
}

function unwrap(r) {
  if (r.error !== undefined) throw new HookLabError(r.error);
  return r.value;
}

const textDecoder = new TextDecoder();

// ---------------------------------------------------------------- sources
// A source yields: sizes (bytes per file, NaN when unknown), text(name), and
// stream(name, sink) that calls sink(Uint8Array view) for each piece of the file, or
// read(name, into) for sources that can read straight into the heap (node files).

function isUrlString(s) {
  return /^(https?:|blob:|data:|file:)/i.test(s) || (!IS_NODE && typeof s === 'string');
}

async function folderSource(dir) {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const sizes = {};
  // The native CLI's order: the weights first, then the three small files.
  for (const f of ['model.safetensors', 'config.json', 'vocab.json', 'merges.txt']) {
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

async function urlSource(base, fetchOptions) {
  const root = base.endsWith('/') ? base : base + '/';
  // All four requests at once: the headers give every size, hence one progress number.
  const responses = await Promise.all(FILES.map(async (f) => {
    const url = new URL(f, IS_NODE ? root : new URL(root, globalThis.location?.href)).href;
    let res;
    try {
      res = await fetch(url, fetchOptions);
    } catch (e) {
      throw new HookLabError(`cannot fetch ${url}: ${e.message}`);
    }
    if (!res.ok) throw new HookLabError(`cannot fetch ${url}: HTTP ${res.status}`);
    return [f, res];
  }));
  const byName = Object.fromEntries(responses);
  const sizes = {};
  for (const [f, res] of responses) {
    const n = Number(res.headers.get('content-length'));
    // A compressed transfer's length is not the file's.
    sizes[f] = res.headers.get('content-encoding') || !(n >= 0) ? NaN : n;
  }
  return {
    sizes,
    async bytes(name) { return streamAll(byName[name].body); },
    async pump(name, feed) { await pumpStream(byName[name].body, feed); },
  };
}

async function streamAll(body) {
  const parts = [];
  let n = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    n += value.length;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

async function pumpStream(body, feed) {
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    feed.write(value);
  }
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
    ? { 'config.json': src[0], 'model.safetensors': src[1], 'vocab.json': src[2], 'merges.txt': src[3] }
    : {
        'config.json': src['config.json'] ?? src.config,
        'model.safetensors': src['model.safetensors'] ?? src.weights ?? src.model ?? src.safetensors,
        'vocab.json': src['vocab.json'] ?? src.vocab,
        'merges.txt': src['merges.txt'] ?? src.merges,
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

async function openSource(source, opts) {
  if (typeof source === 'string' && IS_NODE && !isUrlString(source)) return folderSource(source);
  if (typeof source === 'string' || source instanceof URL) return urlSource(String(source), opts.fetchOptions);
  if (source && typeof source === 'object') return buffersSource(source);
  throw new HookLabError('HookLab.load: source must be a folder path (node), a base URL, or the four files');
}

// ---------------------------------------------------------------- the lab

export class HookLab {
  /**
   * Loads a checkpoint laid out like a HuggingFace GPT-2 repo.
   * @param source folder path (node) | base URL | four ArrayBuffers/Blobs
   * @param opts {onProgress(fraction), f16: keep weights as IEEE half in memory, fetchOptions,
   *   threads: how many (default: the hardware's, at most 8; one where the page is not cross-origin isolated)}
   */
  static async load(source, opts = {}) {
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
      const [config, vocab, merges] = await Promise.all(['config.json', 'vocab.json', 'merges.txt'].map(async (f) => {
        const b = await src.bytes(f);
        progress(b.byteLength);
        return textDecoder.decode(b);
      }));
      const stSize = src.sizes['model.safetensors'];
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
      await src.pump('model.safetensors', feed);
      unwrap(engine.finish());
      if (!known) onProgress(1);
      return new HookLab(M, engine);
    } catch (e) {
      engine.delete();
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

  /** The run JSON as text, exactly as the native CLI prints it (indent -1: compact). */
  runJSON(prompt, opts = {}, indent = -1) {
    const engine = this._live();
    if (typeof prompt !== 'string') throw new HookLabError('run: the prompt must be a string');
    const o = { prompt };
    if (opts.topk !== undefined) {
      if (!Number.isInteger(opts.topk) || opts.topk < 0) throw new HookLabError('topk must be a non-negative integer');
      o.topk = opts.topk;
    }
    if (opts.logits !== undefined) o.logits = !!opts.logits;
    if (opts.capture !== undefined) {
      const c = typeof opts.capture === 'string' ? [opts.capture] : opts.capture;
      if (!Array.isArray(c) || !c.every((x) => typeof x === 'string')) throw new HookLabError('capture: expected hook names');
      o.capture = c;
    }
    const ivs = opts.interventions ?? [];
    if (!Array.isArray(ivs)) throw new HookLabError('interventions: expected an array');
    // Each intervention travels as JSON text (strings as given: 64-bit seeds stay exact).
    const texts = ivs.map((iv) => (typeof iv === 'string' ? iv : JSON.stringify(iv)));
    return unwrap(engine.run(JSON.stringify(o), JSON.stringify(texts), indent));
  }

  /**
   * One forward with interventions; returns the native CLI's run JSON as a plain object.
   * @param opts {interventions, topk, capture, logits}
   */
  run(prompt, opts = {}) {
    return JSON.parse(this.runJSON(prompt, opts));
  }

  /** Token ids of `text` (GPT-2 byte-level BPE). */
  tokenize(text) {
    return JSON.parse(unwrap(this._live().tokenize(String(text))));
  }

  /** Text of token ids (invalid UTF-8 shown as U+FFFD). */
  decode(ids) {
    return unwrap(this._live().decode(JSON.stringify(Array.from(ids, Number))));
  }

  /** A bare forward (no hooks) on token ids: milliseconds, timed inside wasm. */
  forwardMs(ids, allLogits = false) {
    return unwrap(this._live().forward(JSON.stringify(Array.from(ids)), !!allLogits));
  }

  flopsPerForward(T, allLogits = false) { return this._live().flops(T, !!allLogits); }
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
