// The page ↔ engine-worker request protocol (web/src/protocol.js): the page's client
// (worker-api.js) and the worker's dispatcher (worker/dispatch.js) over an in-process
// channel with a stand-in engine: the baseline sent only when it changed, newest run wins,
// cancel, streamed events, arguments checked against the table; and the worker's layout
// (worker/ imports only downward, never the page's panels; one handler per declared request).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

import { REQUESTS } from '../../web/src/protocol.js';
import { createDispatcher } from '../../web/src/worker/dispatch.js';
import { EngineClient } from '../../web/src/worker-api.js';

const SRC = fileURLToPath(new URL('../../web/src/', import.meta.url));

// A client and a dispatcher joined as a page and its worker are: structured clones, posted
// asynchronously, ArrayBuffers transferred where the entry says. wire: every worker message.
function connect(handlers) {
  const wire = [];
  const toPage = new EventTarget();
  let dispatch;
  const worker = Object.assign(toPage, {
    postMessage: (msg) => { const m = structuredClone(msg); setTimeout(() => dispatch(m)); },
    terminate() {},
  });
  dispatch = createDispatcher(handlers, (msg, transfer) => {
    const m = structuredClone(msg, { transfer });
    wire.push(structuredClone(m)); // as sent (the client fills in what the codec left out)
    setTimeout(() => toPage.dispatchEvent(Object.assign(new Event('message'), { data: m })));
  });
  return { client: new EngineClient({ worker }), wire };
}

// A stand-in for lab.compare: the same baseline object for the same prompt (the engine keeps
// it), the intervened run a new object, the same as the baseline without interventions.
function fakeCompare() {
  const kept = new Map();
  const calls = [];
  const run = (prompt, ivs) => ({ tokens: prompt.split(' '), resid_std: new Float32Array([ivs.length, 1, 2]) });
  return {
    calls,
    run(args) {
      calls.push(args);
      if (!kept.has(args.prompt)) kept.set(args.prompt, run(args.prompt, []));
      const baseline = kept.get(args.prompt);
      const intervened = args.interventions?.length ? run(args.prompt, args.interventions) : baseline;
      const value = { baseline, intervened, reused: false, firstBlock: 0, compare: { kl: 0, top: [] } };
      if (args.logitLens) value.lens = [{ layer: 0, kl: 0 }];
      return value;
    },
  };
}

test('the baseline rides once: a toggle\'s reply leaves it out and the client puts it back', async () => {
  const eng = fakeCompare();
  const { client, wire } = connect({ run: eng.run });
  const iv = [{ kind: 'scale_hidden', layer: 9, factor: 0.1 }];
  const a = await client.run({ prompt: 'a b', interventions: iv, topk: 5, capture: [], logitLens: false });
  assert.ok(wire.at(-1).value.baseline && wire.at(-1).value.intervened);
  assert.deepEqual([...a.intervened.resid_std], [1, 1, 2]);
  const b = await client.run({ prompt: 'a b', interventions: [], topk: 5, capture: [], logitLens: true });
  assert.equal(wire.at(-1).value.baseline, null, 'kept baseline not sent');
  assert.equal(wire.at(-1).value.intervened, null, 'no interventions: the same run, not sent');
  assert.equal(b.baseline, a.baseline, 'the client\'s copy');
  assert.equal(b.intervened, b.baseline);
  assert.deepEqual(b.lens, [{ layer: 0, kl: 0 }], 'the logit lens rides along with the run');
  await client.run({ prompt: 'c', interventions: [], topk: 5, capture: [], logitLens: false });
  assert.ok(wire.at(-1).value.baseline, 'a new prompt: a new baseline');
  assert.equal(REQUESTS.lens, undefined, 'the lens is a run option only');
});

test('newest run wins: a queued run that a newer one superseded is answered at once, and resolves to null', async () => {
  const eng = fakeCompare();
  const { client } = connect({ run: eng.run, tokenize: () => new Promise((r) => setTimeout(() => r({ ids: [] }), 30)) });
  const args = (p) => ({ prompt: p, interventions: [], topk: 5, capture: [], logitLens: false });
  const busy = client.tokenize({ text: 'x' }); // the engine is busy: both runs wait in the queue
  const [x, y] = await Promise.all([client.run(args('one')), client.run(args('two')), busy]);
  assert.equal(x, null);
  assert.deepEqual(y.baseline.tokens, ['two']);
  assert.deepEqual(eng.calls.map((c) => c.prompt), ['two'], 'the superseded run never reached the engine');
});

test('cancel skips the queue and aborts a cancellable request; streamed events and progress reach the caller', async () => {
  const { client } = connect({
    patch: (args, { signal, progress }) => new Promise((resolve) => {
      progress(0.5, 'patch');
      signal.addEventListener('abort', () => resolve({ cancelled: true }));
    }),
    generate: async (args, { emit }) => {
      for (const token of ['x', 'y']) emit({ which: 'baseline', token });
      return { baseline: { stopped: 'max_tokens' } };
    },
  });
  const fractions = [];
  const job = client.patch({ opts: { clean: 'a' } }, { onProgress: (f, phase) => fractions.push([f, phase]) });
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(await job.cancel(), { ok: true });
  assert.deepEqual(await job, { cancelled: true });
  assert.deepEqual(fractions, [[0.5, 'patch']]);
  const events = [];
  const g = await client.generate({ prompt: 'p', interventions: [] }, { onEvent: (e) => events.push(e) });
  assert.deepEqual(events, [{ which: 'baseline', token: 'x' }, { which: 'baseline', token: 'y' }]);
  assert.equal(g.baseline.stopped, 'max_tokens');
});

test('arguments are the table\'s; undeclared or unserved requests are errors', async () => {
  const { client } = connect({ tokenize: ({ text }) => ({ ids: [text.length] }) });
  assert.deepEqual(await client.tokenize({ text: 'abc' }), { ids: [3] });
  assert.throws(() => client.tokenize({ txt: 'abc' }), /tokenize: unknown argument txt/);
  assert.throws(() => client.request('lens', {}), /unknown request lens/);
  await assert.rejects(client.hooks({ T: 1 }), /unknown request hooks/);
});

test('the engine worker serves every declared request, and worker/ imports only downward, never the page', async () => {
  globalThis.self ??= globalThis; // the worker entry sets self.onmessage
  const { handlers } = await import('../../web/src/worker/engine-worker.js');
  assert.deepEqual(Object.keys(handlers).concat('cancel').sort(), Object.keys(REQUESTS).sort());
  const importsOf = (file) => [...readFileSync(file, 'utf8').matchAll(/^\s*import\s[^'"]*['"]([^'"]+)['"]/gm)].map((m) => m[1]);
  assert.deepEqual(importsOf(join(SRC, 'protocol.js')), [], 'protocol.js is at the bottom');
  const order = ['engine-worker.js', 'dispatch.js', 'load.js', 'generate.js', 'heads.js', 'patch-check.js'];
  assert.deepEqual(readdirSync(join(SRC, 'worker')).sort(), [...order].sort());
  for (const f of order) {
    for (const imp of importsOf(join(SRC, 'worker', f))) {
      if (imp.startsWith('./')) assert.ok(order.indexOf(imp.slice(2)) > order.indexOf(f), `${f} imports ${imp}: upward`);
      else assert.ok(imp === '../protocol.js' || imp.startsWith('../../../wasm/js/'), `${f} imports ${imp}: outside the worker`);
    }
  }
  // Only the client talks to the worker: no other page module creates one or posts to it.
  for (const f of readdirSync(SRC, { recursive: true }).filter((f) => f.endsWith('.js') && !f.startsWith('worker'))) {
    if (f === 'worker-api.js') continue;
    const text = readFileSync(join(SRC, f), 'utf8');
    assert.doesNotMatch(text, /new Worker|\.worker\.postMessage|client\.worker/, f);
  }
});
