// The engine worker's requests, declared once: the page's client (worker-api.js) and the
// worker's dispatcher (worker/dispatch.js) are both generic over this table. A new request
// is one entry here: with `engine(lab, args)` when the engine's JS API answers it directly,
// else with a handler in worker/engine-worker.js.
//
// On the wire: the page sends {id, type, ...args}; the worker answers {id, type: 'result',
// value} or {id, type: 'error', message}, and before that, for some requests,
// {id, type: 'progress', fraction, phase} or {id, type: stream, ...event}.
//
// An entry: args (the message's fields), result (what the value is), and where it applies:
//   progress: true   the handler reports progress (the client's onProgress(fraction, phase))
//   stream: 'token'  the handler streams events of that type (the client's onEvent(event))
//   latest: true     newest wins: a queued one that a newer one of its kind has superseded
//                    is answered {superseded: true} at once, and the client resolves it to null
//   cancellable: true  the client's promise has cancel(): a 'cancel' request that skips the
//                    queue aborts the handler's signal
//   immediate: true  not queued behind the running request (the engine is single-threaded;
//                    everything else runs one at a time, in order)
//   codec: {encode(value, memo), decode(value, memo)}  the value on the wire: encode in the
//                    worker, decode in the client, each side with its own memo
//   transfer(value)  the ArrayBuffers to transfer rather than copy
//   engine(lab, args)  the worker's handler, on the loaded model's HookLab (wasm/js/hooklab.js)
//
// No imports: this file is below both the client and the worker.

/** The ArrayBuffers under x's typed arrays. */
function buffersOf(x, out = []) {
  if (ArrayBuffer.isView(x)) out.push(x.buffer);
  else if (x && typeof x === 'object') for (const v of Object.values(x)) buffersOf(v, out);
  return out;
}

// The run's baseline rides once: the engine keeps it between toggles, so a reply whose
// baseline is the one last sent carries null, and the client puts its copy back; null
// intervened means "no interventions: the same run". The one place that knows this.
const baselineOnce = {
  encode(v, memo) {
    const keep = v.baseline === memo.baseline;
    memo.baseline = v.baseline;
    return { ...v, baseline: keep ? null : v.baseline, intervened: v.intervened === v.baseline ? null : v.intervened };
  },
  decode(v, memo) {
    if (v.baseline) memo.baseline = v.baseline;
    else v.baseline = memo.baseline;
    v.intervened ??= v.baseline;
    return v;
  },
};

export const REQUESTS = {
  init: { args: ['base'], result: '{ok}: the page\'s base URL, where engine/ and models/ are' },
  // source: {kind:'url', base, cache} | {kind:'files', files:{config, safetensors, vocab, merges}};
  // process: 'tl' (TransformerLens's from_pretrained weight processing) or 'none'/absent (HF's weights)
  load: { args: ['source', 'process'], progress: true,
    result: '{config (config.processing: the processing applied, or null), rawConfig, fromCache, fileBytes, weightBytes, threads, isolated, process}' },
  // The page's run: baseline and intervened in the engine (lab.compare), which keeps the
  // baseline between toggles; logitLens: the per-block lens read in the same forward.
  run: { args: ['prompt', 'interventions', 'topk', 'capture', 'logitLens'], latest: true, codec: baselineOnce,
    result: '{baseline, intervened, reused, firstBlock, compare: {kl, top}, lens?: [{layer, kl, topBase, topInt}]}',
    // The intervened run's arrays move to the page; the baseline's are kept by the engine's
    // API for the next toggle, so they are copied.
    transfer: (v) => (v.intervened ? buffersOf(v.intervened) : []) },
  // Activation patching (opts.method 'attribution': attribution patching), progress per block.
  patch: { args: ['opts'], progress: true, cancellable: true, result: 'the CLI\'s patch JSON, or {cancelled: true}' },
  cancel: { args: ['target'], immediate: true, result: '{ok}' },
  attribute: { args: ['opts'], result: 'the CLI\'s attribute JSON' },
  gradients: { args: ['opts'], result: 'the CLI\'s gradients JSON without the gradient arrays' },
  patchTop: { args: ['prompt', 'interventions', 'topk'], result: '{tokens, top: [{id, token, prob}]}' },
  patchCheck: { args: ['opts'], result: '{errors: [message]}: the Patching form\'s input errors, in the engine\'s words' },
  tokenize: { args: ['text'], result: '{ids}' },
  hooks: { args: ['T'], result: 'the engine\'s hook table: [{name, per_block, dims, shape, axes}]' },
  heads: { args: ['prompt', 'repeat', 'seed', 'interventions', 'pattern'], result: '{baseline, intervened}: lab.heads',
    // the patterns (H × T × T floats each) move to the page
    transfer: (v) => buffersOf(v) },
  // Baseline and intervened continuations together, each token streamed as {which, token}.
  generate: { args: ['prompt', 'interventions', 'maxNewTokens', 'temperature', 'topK', 'topP', 'seed'],
    stream: 'token', cancellable: true, result: '{baseline, intervened} (lab.generateCompare), or {stoppedByUser: true}' },
  // The loss-per-token view (panels/token-loss.js): the loss (nats) of predicting token t + 1
  // at each position t of the prompt, baseline and intervened: one forward each with every
  // position's logits (lab.run's token_loss); the [T, V] logits stay in the worker.
  tokenLoss: { args: ['prompt', 'interventions'], latest: true,
    result: '{token_strings, baseline: [T - 1], intervened: [T - 1]} (null where not finite)',
    engine(lab, { prompt, interventions = [] }) {
      const run = (ivs) => lab.run(prompt, { interventions: ivs, logits: 'all', topk: 1 });
      const b = run([]), i = interventions.length ? run(interventions) : b;
      return { token_strings: b.token_strings, baseline: b.token_loss, intervened: i.token_loss };
    } },
  // The engine's bare forward, timed inside wasm: bench/page-bench.mjs's yardstick.
  forward: { args: ['prompt', 'iters'], result: '{tokens, ms: [ms]}' },
  clearCache: { args: [], result: '{cleared}' },
  cacheInfo: { args: ['base'], result: '{cached}' },
};

/** The message's arguments, as the entry declares them (undefined ones left out). */
export function argsOf(name, msg) {
  const out = {};
  for (const k of REQUESTS[name].args) if (msg[k] !== undefined) out[k] = msg[k];
  return out;
}
