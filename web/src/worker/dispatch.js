// The worker's side of the request protocol (../protocol.js), generic over its table:
// requests run one at a time in arrival order (the engine is single-threaded) except the
// immediate ones; 'latest' requests that a newer one superseded are answered at once;
// cancellable ones get an AbortSignal that 'cancel' aborts; values are encoded by the
// entry's codec and their transferables transferred.
//
// handlers: {name: (args, ctx) => value}, args as declared by the entry; ctx: {id, signal,
// progress(fraction, phase), emit(event), superseded()}. A declared request with no handler
// (a test harness serves only some) is answered with an error, as an undeclared one is.
import { REQUESTS, argsOf } from '../protocol.js';

export function createDispatcher(handlers, post = (msg, transfer) => self.postMessage(msg, transfer || [])) {
  let queue = Promise.resolve();
  const latest = {};  // name → the newest id of a 'latest' request
  const memos = {};   // name → the codec's memo (what the page already has)
  const controllers = new Map(); // id → AbortController of a cancellable request

  const builtins = {
    cancel: ({ target }) => { controllers.get(target)?.abort(); return { ok: true }; },
  };

  async function answer(name, entry, msg, id) {
    const ctx = {
      id,
      signal: controllers.get(id)?.signal,
      progress: (fraction, phase) => post({ id, type: 'progress', fraction, phase }),
      emit: (event) => post({ id, type: entry.stream, ...event }),
      superseded: () => entry.latest && latest[name] !== id,
    };
    const h = handlers[name] ?? builtins[name];
    try {
      if (ctx.superseded()) return post({ id, type: 'result', value: { superseded: true } });
      let value = await h(argsOf(name, msg), ctx);
      if (entry.codec && value && !value.superseded) value = entry.codec.encode(value, (memos[name] ??= {}));
      post({ id, type: 'result', value }, value && entry.transfer ? entry.transfer(value) : []);
    } catch (e) {
      post({ id, type: 'error', message: String(e && e.message ? e.message : e) });
    } finally {
      controllers.delete(id);
    }
  }

  return function onMessage(msg = {}) {
    const { id, type: name } = msg;
    const entry = Object.hasOwn(REQUESTS, name) ? REQUESTS[name] : null;
    if (!entry || !(handlers[name] ?? builtins[name])) return post({ id, type: 'error', message: `unknown request ${name}` });
    if (entry.latest) latest[name] = id; // newest wins, even before it starts
    if (entry.cancellable) controllers.set(id, new AbortController());
    if (entry.immediate) return answer(name, entry, msg, id);
    const job = queue.then(() => answer(name, entry, msg, id));
    queue = job;
    return job;
  };
}
