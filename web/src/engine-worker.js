// The Web Worker that owns the engine. The page never touches the engine directly: it
// sends messages through worker-api.js ({id, type, ...}) and gets back
// {id, type: 'progress'|'result'|'error', ...}.
//
// The engine is the wasm module's JS API (wasm/js/hooklab.js, copied to engine/ by
// web/build.sh and imported at run time, so the built folder needs no bundler magic):
//   const lab = await HookLab.load({config, safetensors, vocab, merges}, {onProgress});
//   lab.run(prompt, {interventions, topk, capture, logits}) → run JSON
// (engine/js/hooklab.js + engine/dist/hooklab.{mjs,wasm}). This file is the thin adapter between that contract and the page's messages.

import { klDivergence } from './analysis.js';

const CACHE = 'hooklab-models-v1';
const FILES = { config: 'config.json', safetensors: 'model.safetensors', vocab: 'vocab.json', merges: 'merges.txt' };
// wasm32 memory tops out at 4 GiB; the weights live in it as fp32 plus activations.
const MAX_WEIGHT_BYTES = 1.8 * 2 ** 30;

let base = '';
let HookLab = null;
let lab = null;
let labInfo = null;
let latestRunId = 0;
let baselineCache = null; // {key, value}
let queue = Promise.resolve();
let loadCount = 0;

const post = (msg, transfer) => self.postMessage(msg, transfer || []);
const tick = () => new Promise((r) => setTimeout(r, 0));

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
  return HookLab;
}

// Fetches the four files of a model with one progress number across all of them.
// With the cache (hub models), each download streams into Cache Storage while being
// counted, and the engine then reads Blobs from the cache (disk-backed: the weights never
// sit whole in JS memory); the second visit reads them straight from the cache.
async function fetchModel(baseUrl, useCache, onProgress) {
  const cache = useCache && self.caches ? await caches.open(CACHE).catch(() => null) : null;
  const keys = Object.keys(FILES);
  const urls = keys.map((k) => new URL(FILES[k], baseUrl).href);
  const hits = cache ? await Promise.all(urls.map((u) => cache.match(u))) : urls.map(() => undefined);
  const fromCache = hits.every(Boolean);
  const responses = await Promise.all(
    urls.map(async (u, i) => {
      if (hits[i]) return hits[i];
      let res;
      try {
        res = await fetch(u, { redirect: 'follow' });
      } catch (e) {
        throw new Error(`${u}: download failed (${e.message}); offline, or blocked?`);
      }
      if (res.status === 401 || res.status === 403) throw new Error(`${u}: access denied (HTTP ${res.status})`);
      if (res.status === 404) throw new Error(`${u}: not found (HTTP 404)`);
      if (!res.ok) throw new Error(`${u}: HTTP ${res.status}`);
      return res;
    }),
  );
  const sizes = responses.map((r) => (r.headers.get('content-encoding') ? 0 : Number(r.headers.get('content-length')) || 0));
  const stSize = sizes[keys.indexOf('safetensors')];
  if (stSize > MAX_WEIGHT_BYTES) throw tooBig(stSize);
  const total = sizes.reduce((a, b) => a + b, 0);
  const got = sizes.map(() => 0);
  const report = () => onProgress(total ? Math.min(1, got.reduce((a, b) => a + b, 0) / total) : 0);

  if (cache) {
    const blobs = await Promise.all(
      responses.map(async (res, i) => {
        if (!hits[i]) {
          // One branch into the cache, one counted for the progress bar.
          const [toCache, toCount] = res.body.tee();
          const stored = cache.put(urls[i], new Response(toCache, { headers: { 'content-type': 'application/octet-stream' } }));
          const reader = toCount.getReader();
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            got[i] += value.length;
            report();
          }
          await stored;
        }
        const blob = await (await cache.match(urls[i])).blob();
        if (hits[i]) { got[i] = sizes[i]; report(); }
        if (sizes[i] && blob.size !== sizes[i]) {
          await cache.delete(urls[i]);
          throw new Error(`${FILES[keys[i]]}: got ${blob.size} of ${sizes[i]} bytes (connection dropped?); try again`);
        }
        return blob;
      }),
    );
    const obj = {};
    keys.forEach((k, i) => (obj[k] = blobs[i]));
    return { files: obj, fromCache, bytes: blobs.reduce((a, b) => a + b.size, 0) };
  }

  const buffers = await Promise.all(
    responses.map(async (res, i) => {
      const parts = [];
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(value);
        got[i] += value.length;
        report();
      }
      return new Blob(parts);
    }),
  );
  const obj = {};
  keys.forEach((k, i) => (obj[k] = buffers[i]));
  return { files: obj, fromCache: false, bytes: buffers.reduce((a, b) => a + b.size, 0) };
}

const tooBig = (n) => new Error(`model.safetensors is ${(n / 2 ** 30).toFixed(2)} GiB: too big for the browser engine (a wasm32 heap holds at most 4 GiB; limit ${(MAX_WEIGHT_BYTES / 2 ** 30).toFixed(1)} GiB)`);

// Local files (File objects are Blobs): passed through, the engine slices them.
async function readFiles(files) {
  const obj = {};
  for (const k of Object.keys(FILES)) {
    const f = files[k];
    if (!f) throw new Error(`missing ${FILES[k]}: drop all four files (config.json, model.safetensors, vocab.json, merges.txt)`);
    obj[k] = f instanceof Blob ? f : new Blob([f]);
  }
  if (obj.safetensors.size > MAX_WEIGHT_BYTES) throw tooBig(obj.safetensors.size);
  return { files: obj, fromCache: false, bytes: Object.values(obj).reduce((a, b) => a + b.size, 0) };
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

function parseConfig(buf) {
  try {
    return JSON.parse(new TextDecoder().decode(buf));
  } catch (e) {
    throw new Error(`config.json is not valid JSON (${e.message})`);
  }
}

async function load(msg, id) {
  const progress = (phase) => (f) => post({ id, type: 'progress', phase, fraction: f });
  const src = msg.source;
  let got;
  if (src.kind === 'url') got = await fetchModel(new URL(src.base, base).href, !!src.cache, progress('download'));
  else if (src.kind === 'files') got = await readFiles(src.files);
  else throw new Error(`unknown model source ${src.kind}`);
  const rawConfig = parseConfig(await got.files.config.arrayBuffer());
  const H = await engine();
  post({ id, type: 'progress', phase: 'parse', fraction: 0 });
  baselineCache = null;
  loadCount++;
  // Load the new model first: if it fails, the old one stays usable.
  const next = await H.load(got.files, { onProgress: progress('parse') });
  if (lab) {
    try { lab.dispose(); } catch { /* already gone */ }
  }
  lab = next;
  labInfo = { config: normalizeConfig(lab.config, rawConfig), rawConfig, fromCache: got.fromCache, bytes: got.bytes, weightBytes: got.files.safetensors.size };
  return labInfo;
}

function runOnce(prompt, interventions, opts) {
  return lab.run(prompt, { interventions, topk: opts.topk ?? 10, capture: opts.capture ?? [], logits: true });
}

async function runPair(msg, id) {
  if (!lab) throw new Error('no model is loaded yet');
  if (latestRunId !== id) return { superseded: true };
  const key = JSON.stringify([msg.prompt, msg.topk, msg.capture]);
  let baseline;
  if (baselineCache && baselineCache.key === key) baseline = baselineCache.value;
  else {
    baseline = await runOnce(msg.prompt, [], msg);
    baselineCache = { key, value: baseline };
  }
  // Let newer requests arrive; a superseded run stops here.
  await tick();
  if (latestRunId !== id) return { superseded: true };
  const intervened = msg.interventions.length ? await runOnce(msg.prompt, msg.interventions, msg) : baseline;
  return { baseline, intervened };
}

// Logit lens, computed by the engine itself: the residual stream after block i, through
// ln_f and the unembedding, is what the model outputs when every later block adds nothing,
// i.e. with blocks.j.hook_attn_out and blocks.j.hook_mlp_out zeroed for all j > i.
// 2 forwards per layer; a newer run request stops it (it is re-asked after that run).
let lensBaseCache = null; // {key, value: [{logits, top}]}
function zerosAfter(i, n) {
  const z = [];
  for (let j = i + 1; j < n; j++) z.push({ kind: 'zero', hook: `blocks.${j}.hook_attn_out` }, { kind: 'zero', hook: `blocks.${j}.hook_mlp_out` });
  return z;
}
async function lens(msg, id) {
  if (!lab) throw new Error('no model is loaded yet');
  const runAtStart = latestRunId;
  const n = labInfo.config.n_layer;
  const key = JSON.stringify([msg.prompt, loadCount]);
  const base = lensBaseCache?.key === key ? lensBaseCache.value : [];
  const layers = [];
  for (let i = 0; i < n; i++) {
    const z = zerosAfter(i, n);
    if (!base[i]) {
      const b = await lab.run(msg.prompt, { interventions: z, topk: 1, logits: true });
      base[i] = { logits: b.logits_last, top: b.top[0] };
    }
    // Only the interventions up to block i: what comes later is not part of this reading
    // (a scale after block i would still rescale the frozen stream, which ln_f undoes
    // only up to its epsilon).
    const ivs = msg.interventions.filter((iv) => !(Number.isInteger(iv.layer) && iv.layer > i));
    if (!ivs.length) {
      layers.push({ layer: i, kl: 0, topBase: base[i].top, topInt: base[i].top });
    } else {
      const v = await lab.run(msg.prompt, { interventions: [...ivs, ...z], topk: 1, logits: true });
      layers.push({ layer: i, kl: klDivergence(base[i].logits, v.logits_last), topBase: base[i].top, topInt: v.top[0] });
    }
    post({ id, type: 'progress', phase: 'lens', fraction: (i + 1) / n });
    await tick();
    if (latestRunId !== runAtStart) return { superseded: true };
  }
  lensBaseCache = { key, value: base };
  return { layers };
}

const handlers = {
  lens,
  async init(msg) {
    base = msg.base;
    return { ok: true };
  },
  load,
  async run(msg, id) {
    return runPair(msg, id);
  },
  async tokenize(msg) {
    if (!lab) throw new Error('no model is loaded yet');
    const ids = await lab.tokenize(msg.text);
    return { ids: Array.from(ids) };
  },
  async clearCache() {
    if (!self.caches) return { cleared: false };
    return { cleared: await caches.delete(CACHE) };
  },
  async cacheInfo(msg) {
    if (!self.caches) return { cached: false };
    const cache = await caches.open(CACHE);
    const u = new URL(FILES.safetensors, new URL(msg.base, base)).href;
    return { cached: !!(await cache.match(u)) };
  },
};

self.onmessage = async (ev) => {
  const msg = ev.data || {};
  const { id, type } = msg;
  if (type === 'run') latestRunId = id; // newest run wins, even before it starts
  const h = handlers[type];
  if (!h) return post({ id, type: 'error', message: `unknown request ${type}` });
  // One request at a time (the engine is single-threaded); queued runs that a newer
  // run has superseded return at once.
  const job = queue.then(() => h(msg, id));
  queue = job.catch(() => {});
  try {
    const value = await job;
    post({ id, type: 'result', value });
  } catch (e) {
    post({ id, type: 'error', message: String(e && e.message ? e.message : e) });
  }
};
