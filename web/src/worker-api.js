// The page's only door to the engine: a promise-based client over the engine's Web Worker,
// generic over the request table (protocol.js). Every request of the table is a method:
//   client.NAME(args, {onProgress(fraction, phase), onEvent(event)}) → Promise
// args as the entry declares them (an undeclared one is refused here, before the worker).
// A 'latest' request (run) resolves to null when a newer one of its kind superseded it; a
// cancellable one's promise has cancel(). The entry's codec (run: the baseline sent only
// when it changed) is decoded here.
import { REQUESTS } from './protocol.js';

export class EngineClient {
  // {base}: starts the engine worker, told the page's base URL; {worker}: a worker that
  // speaks the protocol already (a test harness serving some requests).
  constructor({ base, worker } = {}) {
    this.worker = worker ?? new Worker(new URL('./worker/engine-worker.js', import.meta.url), { type: 'module', name: 'hooklab-engine' });
    this.nextId = 1;
    this.pending = new Map();
    this.latest = {}; // name → the newest id of a 'latest' request
    this.memos = {};  // name → the codec's memo
    this.worker.addEventListener('message', (ev) => this.#onMessage(ev.data));
    this.worker.addEventListener('error', (ev) => {
      const err = new Error(`engine worker failed: ${ev.message || 'unknown error'}`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
    for (const name of Object.keys(REQUESTS)) this[name] ??= (args, events) => this.request(name, args, events);
    if (!worker) this.ready = this.init({ base });
  }

  #onMessage(msg) {
    const p = this.pending.get(msg?.id);
    if (!p) return;
    if (msg.type === 'progress') return p.onProgress?.(msg.fraction, msg.phase);
    if (msg.type === p.entry.stream) {
      const { id, type, ...event } = msg;
      return p.onEvent?.(event);
    }
    this.pending.delete(msg.id);
    if (msg.type === 'result') p.resolve(msg.value);
    else p.reject(new Error(msg.message));
  }

  request(name, args = {}, { onProgress, onEvent } = {}) {
    const entry = REQUESTS[name];
    if (!entry) throw new Error(`unknown request ${name}`);
    for (const k of Object.keys(args)) if (!entry.args.includes(k)) throw new Error(`${name}: unknown argument ${k}`);
    const id = this.nextId++;
    if (entry.latest) this.latest[name] = id;
    let promise = new Promise((resolve, reject) => {
      this.pending.set(id, { entry, resolve, reject, onProgress, onEvent });
      this.worker.postMessage({ id, type: name, ...args });
    });
    if (entry.codec || entry.latest) {
      promise = promise.then((value) => {
        // Decoded even when superseded since: the worker's memo moved with this reply.
        if (entry.codec && value && !value.superseded) value = entry.codec.decode(value, (this.memos[name] ??= {}));
        return value?.superseded || (entry.latest && this.latest[name] !== id) ? null : value;
      });
    }
    if (entry.cancellable) promise.cancel = () => this.request('cancel', { target: id });
    promise.id = id;
    return promise;
  }

  terminate() {
    this.worker.terminate();
  }
}
