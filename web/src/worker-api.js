// The page's only door to the engine: a promise-based API over one Web Worker, with
// request ids. run() results that a newer run() has superseded resolve to null.

export class EngineClient {
  constructor(base = document.baseURI) {
    this.worker = new Worker(new URL('./engine-worker.js', import.meta.url), { type: 'module', name: 'hooklab-engine' });
    this.nextId = 1;
    this.pending = new Map();
    this.latestRun = 0;
    this.baseline = null; // the latest run's baseline (the worker sends it only when it changes)
    this.worker.onmessage = (ev) => this.#onMessage(ev.data);
    this.worker.onerror = (ev) => {
      const err = new Error(`engine worker failed: ${ev.message || 'unknown error'}`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    this.ready = this.#request('init', { base });
  }

  #onMessage(msg) {
    const p = this.pending.get(msg.id);
    if (!p) return;
    if (msg.type === 'progress') return p.onProgress?.(msg.fraction, msg.phase);
    this.pending.delete(msg.id);
    if (msg.type === 'result') p.resolve(msg.value);
    else p.reject(new Error(msg.message));
  }

  #request(type, body = {}, onProgress) {
    const id = this.nextId++;
    return {
      id,
      promise: new Promise((resolve, reject) => {
        this.pending.set(id, { resolve, reject, onProgress });
        this.worker.postMessage({ id, type, ...body });
      }),
    }.promise;
  }

  // source: {kind:'url', base, cache} | {kind:'files', files:{config, safetensors, vocab, merges}}
  load(source, onProgress) {
    return this.#request('load', { source }, onProgress);
  }

  // Resolves to {baseline, intervened, compare: {kl, top}, lens?}: the two runs (small
  // objects plus Float32Arrays), the engine's comparison at the last position and, with
  // logitLens, the per-block lens [{layer, kl, topBase, topInt}]; null when a newer run
  // superseded it.
  async run({ prompt, interventions, topk, capture, logitLens }) {
    const id = this.nextId; // the id #request is about to use
    this.latestRun = id;
    const value = await this.#request('run', { prompt, interventions, topk, capture, logitLens: !!logitLens });
    if (value && !value.superseded) {
      // The worker sends a baseline once and null while it is unchanged; null intervened: no interventions.
      if (value.baseline) this.baseline = value.baseline;
      else value.baseline = this.baseline;
      value.intervened ??= value.baseline;
    }
    if (value?.superseded || this.latestRun !== id) return null;
    return value;
  }

  // Per-layer logit-lens KL (baseline vs intervened); null when a newer run() superseded it.
  async lens({ prompt, interventions }, onProgress) {
    const value = await this.#request('lens', { prompt, interventions }, onProgress);
    return value?.superseded ? null : value;
  }

  // Activation patching (the Patching view): {promise, cancel()}; the promise resolves to
  // the CLI's patch JSON (opts.method 'attribution': attribution patching's), or
  // {cancelled: true} after cancel(). onProgress(fraction).
  patch(opts, onProgress) {
    const id = this.nextId; // the id #request is about to use
    const promise = this.#request('patch', { opts }, onProgress);
    return { promise, cancel: () => this.#request('cancel', { target: id }) };
  }

  // Direct logit attribution: the CLI's attribute JSON.
  attribute(opts) {
    return this.#request('attribute', { opts });
  }

  // Gradient × input of a prompt ({prompt, answer, wrong, interventions}): the CLI's gradients
  // JSON without gradient arrays (tokens, token_strings, logit_diff, input_x_gradient, ms, …).
  gradients(opts) {
    return this.#request('gradients', { opts });
  }

  // The top-k next tokens of a prompt (no comparison), for the answer pickers.
  patchTop({ prompt, interventions, topk }) {
    return this.#request('patchTop', { prompt, interventions, topk });
  }

  tokenize(text) {
    return this.#request('tokenize', { text });
  }

  // The Patching form's input errors, as the engine words them: {errors: [message]}.
  patchCheck(opts) {
    return this.#request('patchCheck', { opts });
  }

  // The engine's hook table for a prompt of T tokens: [{name, per_block, dims, shape, axes}].
  hooks(T = 1) {
    return this.#request('hooks', { T });
  }

  // {baseline, intervened}: lab.heads for {prompt} or {repeat, seed}, with interventions and pattern: L.
  heads(opts) {
    return this.#request('heads', opts);
  }

  clearCache() {
    return this.#request('clearCache');
  }

  cacheInfo(base) {
    return this.#request('cacheInfo', { base });
  }

  terminate() {
    this.worker.terminate();
  }
}
