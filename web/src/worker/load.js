// Loading a model into the engine, inside the worker. The engine is the wasm module's JS API
// (wasm/js/hooklab.js, copied to engine/ by web/build.sh and imported at run time from the
// page's base URL, so the built folder needs no bundler magic).
import { FILES, MODEL_FILES } from '../../../wasm/js/models.js';

export const CACHE = 'hooklab-models-v1';
// The page's names for the four files (the roles of models.js, "safetensors" for the weights).
const KEYS = { config: FILES.config, safetensors: FILES.weights, vocab: FILES.vocab, merges: FILES.merges };

let HookLab = null;
let cacheStorage = null;

async function engine(base) {
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
    // TransformerLens's weight processing the engine applied ({fold_ln, ...}), or null: HF's weights.
    processing: c?.processing ?? null,
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
// weights are downloaded. Resolves to {lab, info}; the caller disposes of the old lab (after
// this one loaded: if it fails, the old one stays usable). process: 'tl' loads the weights as
// TransformerLens's from_pretrained processes them (HookLab.load's {process: 'tl'}); anything else: HF's.
export async function loadModel(src, base, progress, process = 'none') {
  if (process !== undefined && process !== 'none' && process !== 'tl') throw new Error(`load: process must be "tl" or "none", got ${JSON.stringify(process)}`);
  const H = await engine(base);
  let source, opts, cache = null;
  if (src.kind === 'url') {
    source = new URL(src.base, base).href;
    const files = src.cache ? null : await contentKey(source);
    const store = (src.cache || files) && self.caches ? await caches.open(CACHE).catch(() => null) : null;
    if (store && cacheStorage) cache = cacheStorage(store, { files, locks: self.navigator?.locks ?? null });
    opts = { onProgress: (f) => progress(f, 'download'), cache, fetchOptions: { redirect: 'follow' } };
  } else if (src.kind === 'files') {
    source = readFiles(src.files);
    opts = { onProgress: (f) => progress(f, 'parse') };
  } else throw new Error(`unknown model source ${src.kind}`);
  if (process === 'tl') opts.process = 'tl';
  let lab;
  try {
    lab = await H.load(source, opts);
  } finally {
    await cache?.done?.();
  }
  const rawConfig = lab.config.hooklab ? { hooklab: lab.config.hooklab } : {};
  // weightBytes: the weights in memory; fileBytes: model.safetensors on disk or the wire.
  const info = { config: normalizeConfig(lab.config, rawConfig), rawConfig, fromCache: lab.fromCache, fileBytes: lab.fileBytes, weightBytes: lab.weightBytes,
    threads: lab.threads, isolated: !!self.crossOriginIsolated, process: process === 'tl' ? 'tl' : 'none' };
  return { lab, info };
}
