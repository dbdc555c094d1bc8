// The Web Worker that owns the engine. The page never touches the engine directly: it
// sends messages through worker-api.js ({id, type, ...}) and gets back
// {id, type: 'progress'|'result'|'error', ...}.
//
// The engine is the wasm module's JS API (wasm/js/hooklab.js, copied to engine/ by
// web/build.sh and imported at run time, so the built folder needs no bundler magic):
//   const lab = await HookLab.load(url | {'config.json': Blob, ...}, {onProgress, cache});
//   lab.compare(prompt, {interventions, topk, capture, logitLens}) → {baseline, intervened, kl, top, logit_lens}
// (engine/js/hooklab.js + engine/dist/hooklab.{mjs,wasm}). This file is the thin adapter
// between that contract and the page's messages. Results reach the page as small objects
// plus Float32Arrays, transferred (never as text).

import { FILES, MODEL_FILES } from '../../wasm/js/models.js';
import { headsForPage } from './panels/heads-worker.js';
import { patchInputErrors } from './panels/patch-data.js';
import { createGenerateHandlers } from './panels/generate-worker.js';

const CACHE = 'hooklab-models-v1';
// The page's names for the four files (the roles of models.js, "safetensors" for the weights).
const KEYS = { config: FILES.config, safetensors: FILES.weights, vocab: FILES.vocab, merges: FILES.merges };

let base = '';
let HookLab = null;
let cacheStorage = null;
let lab = null;
let labInfo = null;
let latestRunId = 0;
let lastRun = null; // the options of the latest run, for a lens asked afterwards
let sentBaseline = null; // the engine's kept baseline that the page last received
let queue = Promise.resolve();
let loadCount = 0;

const post = (msg, transfer) => self.postMessage(msg, transfer || []);

async function engine() {
  if (HookLab) return HookLab;
  const url = new URL('engine/js/hooklab.js', base).href;
  let mod;
  try {
    mod = await import(/* @vite-ignore */ url);
  } catch (e) {
    throw new Error(`the WebAssembly engine could not be loaded from ${url} (${e.message}); run "bash tools/build.sh wasm" and "bash tools/build.sh web"`);
  }
  HookLab = mod.HookLab || mod.default?.HookLab || mod.default;
  if (!HookLab || typeof HookLab.load !== 'function') throw new Error(`${url} does not export HookLab`);
  cacheStorage = mod.cacheStorage;  // the engine's one downloader keeps the files (download.js)
  return HookLab;
}

// Local files (File objects are Blobs): passed through, the engine slices them.
function readFiles(files) {
  const obj = {};
  for (const k of Object.keys(KEYS)) {
    const f = files[k];
    if (!f) throw new Error(`missing ${KEYS[k]}: drop all four files (${MODEL_FILES.join(', ')})`);
    obj[KEYS[k]] = f instanceof Blob ? f : new Blob([f]);
  }
  return obj;
}

function normalizeConfig(c, raw) {
  const src = { ...raw, ...(c && typeof c === 'object' ? c : {}) };
  const n_embd = src.n_embd, n_head = src.n_head;
  return {
    n_layer: src.n_layer, n_head, n_embd,
    n_positions: src.n_positions ?? src.n_ctx,
    vocab_size: src.vocab_size,
    d_head: src.d_head ?? n_embd / n_head,
    d_mlp: src.d_mlp ?? src.n_inner ?? 4 * n_embd,
    layer_norm_epsilon: src.layer_norm_epsilon,
    activation_function: src.activation_function,
    name: src.name ?? raw?.hooklab?.name,
  };
}

// The content key of a model the page's server hosts: files.json next to its files (web/build.sh
// writes it for the embedded model: each file's size and sha256), or null where there is none.
async function contentKey(source) {
  try {
    const res = await fetch(new URL('files.json', source), { cache: 'no-cache' });
    if (!res.ok) return null;
    const { files } = await res.json();
    return files && typeof files === 'object' ? files : null;
  } catch {
    return null;
  }
}

// A URL source streams into the engine, through Cache Storage: read from it when there, filled
// while loading otherwise. Hub models are kept by URL; a model with a files.json (the embedded
// one) by content, so that every embed of a page and every reload share one download; a lock
// (navigator.locks) makes a second embed loading it at the same time wait for the first one's
// copy. The engine refuses a model too large for its memory from config.json, before the
// weights are downloaded.
async function load(msg, id) {
  const progress = (phase) => (f) => post({ id, type: 'progress', phase, fraction: f });
  const src = msg.source;
  const H = await engine();
  let source, opts, cache = null;
  if (src.kind === 'url') {
    source = new URL(src.base, base).href;
    const files = src.cache ? null : await contentKey(source);
    const store = (src.cache || files) && self.caches ? await caches.open(CACHE).catch(() => null) : null;
    if (store && cacheStorage) cache = cacheStorage(store, { files, locks: self.navigator?.locks ?? null });
    opts = { onProgress: progress('download'), cache, fetchOptions: { redirect: 'follow' } };
  } else if (src.kind === 'files') {
    source = readFiles(src.files);
    opts = { onProgress: progress('parse') };
  } else throw new Error(`unknown model source ${src.kind}`);
  loadCount++;
  // Load the new model first: if it fails, the old one stays usable.
  let next;
  try {
    next = await H.load(source, opts);
  } finally {
    await cache?.done?.();
  }
  if (lab) {
    try { lab.dispose(); } catch { /* already gone */ }
  }
  lab = next;
  const rawConfig = lab.config.hooklab ? { hooklab: lab.config.hooklab } : {};
  // weightBytes: the weights in memory; fileBytes: model.safetensors on disk or the wire.
  labInfo = { config: normalizeConfig(lab.config, rawConfig), rawConfig, fromCache: lab.fromCache, fileBytes: lab.fileBytes, weightBytes: lab.weightBytes,
    threads: lab.threads, isolated: !!self.crossOriginIsolated };
  return labInfo;
}

// Baseline and intervened in the engine, which keeps the baseline between toggles and
// computes the comparison (KL, top-k, the logit lens) itself.
function compare(msg, logitLens) {
  return lab.compare(msg.prompt, { interventions: msg.interventions, topk: msg.topk ?? 10, capture: msg.capture ?? [], logitLens });
}

async function runPair(msg, id) {
  if (!lab) throw new Error('no model is loaded yet');
  if (latestRunId !== id) return { superseded: true };
  lastRun = { ...msg, loadCount };
  const r = compare(msg, !!msg.logitLens);
  // A toggle keeps the baseline: the page has it already (worker-api.js puts it back), so
  // the reply carries only the intervened run. Without interventions the two are one.
  const keep = r.baseline === sentBaseline;
  sentBaseline = r.baseline;
  const value = { baseline: keep ? null : r.baseline, intervened: r.intervened === r.baseline ? null : r.intervened, reused: r.reused, firstBlock: r.firstBlock, compare: { kl: r.kl, top: r.top } };
  if (r.logit_lens) value.lens = r.logit_lens;
  return value;
}

// The logit lens for the latest run, when it was asked after that run: one more compare,
// the lens read in the same forward (ln_f and the unembedding of each block's residual).
async function lens(msg) {
  if (!lab) throw new Error('no model is loaded yet');
  const runAtStart = latestRunId;
  const same = lastRun && lastRun.loadCount === loadCount && lastRun.prompt === msg.prompt;
  const r = compare(same ? { ...lastRun, interventions: msg.interventions } : msg, true);
  if (latestRunId !== runAtStart) return { superseded: true };
  return { layers: r.logit_lens };
}

// The intervened run's arrays move to the page (transferred); the baseline's are kept
// by the engine's API for the next toggle, so they are copied.
function transferList(value) {
  const out = [];
  const walk = (x) => {
    if (ArrayBuffer.isView(x)) out.push(x.buffer);
    else if (x && typeof x === 'object') Object.values(x).forEach(walk);
  };
  if (value && value.intervened && value.intervened !== value.baseline) walk(value.intervened);
  return out;
}

// Activation patching (lab.patch: one block per step; with method 'attribution', attribution
// patching in one call) and attribution, for the Patching view. A sweep's AbortController is kept by request id so that a 'cancel' message, which
// skips the queue, stops it between blocks; a cancelled sweep resolves to {cancelled: true}.
const sweeps = new Map();

async function patch(msg, id) {
  if (!lab) throw new Error('no model is loaded yet');
  const ctl = sweeps.get(id) ?? new AbortController();
  try {
    return await lab.patch({ ...msg.opts, signal: ctl.signal,
      onProgress: (p) => post({ id, type: 'progress', phase: 'patch', fraction: p.total ? p.done / p.total : 0 }) });
  } catch (e) {
    if (ctl.signal.aborted) return { cancelled: true };
    throw e;
  } finally {
    sweeps.delete(id);
  }
}

// The clean prompt's top-k (the answer and wrong pickers) with the page's interventions.
function patchTop(msg) {
  if (!lab) throw new Error('no model is loaded yet');
  const r = lab.run(msg.prompt, { interventions: msg.interventions, topk: msg.topk ?? 10 });
  return { tokens: r.token_strings, top: r.top.map(({ id, token, prob }) => ({ id, token, prob })) };
}

// Generation streams its tokens as 'token' messages; 'generateStop' reaches it between two.
const gen = createGenerateHandlers({ getLab: () => lab, post });

const handlers = {
  generate: (msg, id) => gen.generate(msg, id),
  lens,
  patch,
  patchTop,
  async attribute(msg) {
    if (!lab) throw new Error('no model is loaded yet');
    return lab.attribute(msg.opts);
  },
  // Gradient × input of the Patching view's clean prompt: lab.gradients with no hooks, so the
  // reply is the logit difference, the tokens and input_x_gradient (no gradient arrays).
  async gradients(msg) {
    if (!lab) throw new Error('no model is loaded yet');
    const { gradients, ...r } = lab.gradients({ prompt: msg.opts.prompt, answer: msg.opts.answer, wrong: msg.opts.wrong, interventions: msg.opts.interventions });
    return r;
  },
  async init(msg) {
    base = msg.base;
    return { ok: true };
  },
  load,
  async run(msg, id) {
    return runPair(msg, id);
  },
  // The engine's bare forward (no hooks, last-position logits), timed inside wasm: the
  // yardstick of bench/page-bench.mjs, in the same worker as the page's runs.
  async forward(msg) {
    if (!lab) throw new Error('no model is loaded yet');
    const ids = lab.tokenize(msg.prompt);
    const ms = [];
    for (let i = 0; i < (msg.iters ?? 1); i++) ms.push(lab.forwardMs(ids, false));
    return { tokens: ids.length, ms };
  },
  // The Patching form checked as it is typed: the sweep's input errors, without a forward.
  async patchCheck(msg) {
    if (!lab) throw new Error('no model is loaded yet');
    const c = labInfo.config;
    return { errors: patchInputErrors(msg.opts, { tokenize: (s) => lab.tokenize(s), tokenString: (id) => lab.decode([id]), vocabSize: c.vocab_size, ctx: c.n_positions }) };
  },
  async tokenize(msg) {
    if (!lab) throw new Error('no model is loaded yet');
    const ids = await lab.tokenize(msg.text);
    return { ids: Array.from(ids) };
  },
  // The builder's hook points: the engine's own table (names, axes), never a list of the page's.
  async hooks(msg) {
    if (!lab) throw new Error('no model is loaded yet');
    return lab.hooks(msg.T ?? 1);
  },
  // Every head's scores (and block msg.pattern's patterns), baseline and intervened.
  async heads(msg) {
    if (!lab) throw new Error('no model is loaded yet');
    return headsForPage(lab, msg);
  },
  async clearCache() {
    if (!self.caches) return { cleared: false };
    return { cleared: await caches.delete(CACHE) };
  },
  async cacheInfo(msg) {
    if (!self.caches) return { cached: false };
    const cache = await caches.open(CACHE);
    const u = new URL(FILES.weights, new URL(msg.base, base)).href;
    return { cached: !!(await cache.match(u)) };
  },
};

self.onmessage = async (ev) => {
  const msg = ev.data || {};
  const { id, type } = msg;
  if (type === 'run') latestRunId = id; // newest run wins, even before it starts
  if (type === 'patch') sweeps.set(id, new AbortController());
  if (type === 'generateStop') return gen.stop(); // not queued either
  if (type === 'cancel') { // not queued: it must reach a sweep that is running
    sweeps.get(msg.target)?.abort();
    return post({ id, type: 'result', value: { ok: true } });
  }
  const h = handlers[type];
  if (!h) return post({ id, type: 'error', message: `unknown request ${type}` });
  // One request at a time (the engine is single-threaded); queued runs that a newer
  // run has superseded return at once.
  const job = queue.then(() => h(msg, id));
  queue = job.catch(() => {});
  try {
    const value = await job;
    post({ id, type: 'result', value }, transferList(value));
  } catch (e) {
    post({ id, type: 'error', message: String(e && e.message ? e.message : e) });
  }
};
