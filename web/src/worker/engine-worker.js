// The module Web Worker that owns the engine: one handler per request of ../protocol.js,
// served by the generic dispatcher (dispatch.js). The page never touches the engine
// directly: it goes through worker-api.js's EngineClient.
//
// The engine is the wasm module's JS API (engine/js/hooklab.js, loaded by load.js):
//   const lab = await HookLab.load(url | {'config.json': Blob, ...}, {onProgress, cache});
//   lab.compare(prompt, {interventions, topk, capture, logitLens}) → {baseline, intervened, kl, top, logit_lens}
// This file is the thin adapter between that contract and the protocol's requests (those
// whose entry has `engine(lab, args)` need no handler here).
// Results reach the page as small objects plus Float32Arrays (never as text).
//
// Imports run downward: this file → dispatch.js, load.js, generate.js, heads.js,
// patch-check.js → ../protocol.js and wasm/js/models.js; nothing from the page's panels.
import { createDispatcher } from './dispatch.js';
import { REQUESTS } from '../protocol.js';
import { loadModel, CACHE } from './load.js';
import { generate } from './generate.js';
import { headsForPage } from './heads.js';
import { patchInputErrors } from './patch-check.js';
import { FILES } from '../../../wasm/js/models.js';

let base = '';
let lab = null;
let labInfo = null;

function loaded() {
  if (!lab) throw new Error('no model is loaded yet');
  return lab;
}

export const handlers = {
  init(args) {
    base = args.base;
    return { ok: true };
  },
  async load({ source, process }, ctx) {
    const next = await loadModel(source, base, ctx.progress, process);
    if (lab) {
      try { lab.dispose(); } catch { /* already gone */ }
    }
    ({ lab, info: labInfo } = next);
    return labInfo;
  },
  // Baseline and intervened in the engine, which keeps the baseline between toggles and
  // computes the comparison (KL, top-k, with logitLens the logit lens) itself. The protocol's
  // codec sends the baseline only when it changed.
  run(args) {
    const r = loaded().compare(args.prompt, { interventions: args.interventions, topk: args.topk ?? 10, capture: args.capture ?? [], logitLens: !!args.logitLens });
    const value = { baseline: r.baseline, intervened: r.intervened, reused: r.reused, firstBlock: r.firstBlock, compare: { kl: r.kl, top: r.top } };
    if (r.logit_lens) value.lens = r.logit_lens;
    return value;
  },
  // Activation patching (lab.patch: one block per step; with method 'attribution', attribution
  // patching in one call), stopped between blocks when the request is cancelled.
  async patch({ opts }, { signal, progress }) {
    try {
      return await loaded().patch({ ...opts, signal, onProgress: (p) => progress(p.total ? p.done / p.total : 0, 'patch') });
    } catch (e) {
      if (signal.aborted) return { cancelled: true };
      throw e;
    }
  },
  attribute: ({ opts }) => loaded().attribute(opts),
  // Gradient × input of the Patching view's clean prompt: lab.gradients with no hooks, so the
  // reply is the logit difference, the tokens and input_x_gradient (no gradient arrays).
  gradients({ opts }) {
    const { gradients, ...r } = loaded().gradients({ prompt: opts.prompt, answer: opts.answer, wrong: opts.wrong, interventions: opts.interventions });
    return r;
  },
  // The clean prompt's top-k (the answer and wrong pickers) with the page's interventions.
  patchTop({ prompt, interventions, topk }) {
    const r = loaded().run(prompt, { interventions, topk: topk ?? 10 });
    return { tokens: r.token_strings, top: r.top.map(({ id, token, prob }) => ({ id, token, prob })) };
  },
  // The Patching form checked as it is typed: the sweep's input errors, without a forward.
  patchCheck({ opts }) {
    const l = loaded(), c = labInfo.config;
    return { errors: patchInputErrors(opts, { tokenize: (s) => l.tokenize(s), tokenString: (id) => l.decode([id]), vocabSize: c.vocab_size, ctx: c.n_positions }) };
  },
  async tokenize({ text }) {
    const ids = await loaded().tokenize(text);
    return { ids: Array.from(ids) };
  },
  // The builder's hook points: the engine's own table (names, axes), never a list of the page's.
  hooks: ({ T }) => loaded().hooks(T ?? 1),
  // Every head's scores (and block `pattern`'s patterns), baseline and intervened.
  heads: (args) => headsForPage(loaded(), args),
  generate: (args, ctx) => generate(lab, args, ctx),
  // The engine's bare forward (no hooks, last-position logits), timed inside wasm: the
  // yardstick of bench/page-bench.mjs, in the same worker as the page's runs.
  forward({ prompt, iters }) {
    const l = loaded();
    const ids = l.tokenize(prompt);
    const ms = [];
    for (let i = 0; i < (iters ?? 1); i++) ms.push(l.forwardMs(ids, false));
    return { tokens: ids.length, ms };
  },
  async clearCache() {
    if (!self.caches) return { cleared: false };
    return { cleared: await caches.delete(CACHE) };
  },
  async cacheInfo(args) {
    if (!self.caches) return { cached: false };
    const cache = await caches.open(CACHE);
    const u = new URL(FILES.weights, new URL(args.base, base)).href;
    return { cached: !!(await cache.match(u)) };
  },
};

// The requests the engine's JS API answers directly (protocol.js `engine`), on the loaded model.
for (const [name, entry] of Object.entries(REQUESTS)) if (entry.engine && !handlers[name]) handlers[name] = (args) => entry.engine(loaded(), args);

const dispatch = createDispatcher(handlers);
self.onmessage = (ev) => dispatch(ev.data || {});
