// Which of the two wasm builds a HookLab runs on, and with how many threads.
//
//   hooklab.mjs     one thread; runs anywhere.
//   hooklab-mt.mjs  pthreads: needs SharedArrayBuffer, which node always has and a page
//                   has only when cross-origin isolated (COOP same-origin + COEP
//                   require-corp or credentialless; see web/README.md, "Threads").
//
// The threaded build's workers are started with the module (threads - 1 of them, the
// caller being the first thread), so nothing is created per call.
import { HookLabError } from './errors.js';

const IS_NODE = typeof process === 'object' && typeof process.versions === 'object' &&
  typeof process.versions.node === 'string' && typeof window === 'undefined';

// More threads than this by default buys little: the GEMMs turn memory-bound, and a
// laptop's page needs a core for itself. An explicit {threads} may go higher.
const DEFAULT_CAP = 8;
const MAX = 256;

const BUILDS = {
  single: { js: () => import('../dist/hooklab.mjs'), wasm: new URL('../dist/hooklab.wasm', import.meta.url) },
  threaded: { js: () => import('../dist/hooklab-mt.mjs'), wasm: new URL('../dist/hooklab-mt.wasm', import.meta.url) },
};

async function hardwareThreads() {
  if (IS_NODE) {
    const os = await import('node:os');
    return os.availableParallelism ? os.availableParallelism() : os.cpus().length;
  }
  return globalThis.navigator?.hardwareConcurrency || 1;
}

/**
 * The build for `requested` threads (undefined: the hardware's threads, at most 8).
 * Returns {kind: 'single' | 'threaded', threads, js() -> import of the factory, wasm: URL,
 * moduleArgs: extra arguments for the factory, why: null or why one thread was used}.
 */
export async function selectBuild(requested) {
  if (requested !== undefined && !(Number.isInteger(requested) && requested >= 1 && requested <= MAX))
    throw new HookLabError(`threads must be an integer from 1 to ${MAX}, got ${JSON.stringify(requested) ?? String(requested)}`);
  const want = requested ?? Math.min(await hardwareThreads(), DEFAULT_CAP);
  const shared = IS_NODE || (globalThis.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function');
  if (want > 1 && shared) return { kind: 'threaded', threads: want, ...BUILDS.threaded, moduleArgs: { hooklabPool: want - 1 }, why: null };
  const why = want === 1 ? null : 'this page is not cross-origin isolated';
  return { kind: 'single', threads: 1, ...BUILDS.single, moduleArgs: {}, why };
}

/** Starts the engine's pool in a fresh threaded module; a no-op for the single build. */
export function startThreads(M, build) {
  if (build.kind !== 'threaded') return;
  const err = M.setThreads(build.threads);
  if (err) throw new HookLabError(err);
  // Node would otherwise wait for the (idle, parked) workers before exiting.
  if (IS_NODE) for (const w of workers(M)) w.unref?.();
}

/** Ends a threaded module's workers (they hold its memory); a no-op for the single build. */
export function stopThreads(M) {
  if (M?.PThread) M.PThread.terminateAllThreads();
}

function workers(M) {
  return M.PThread ? [...M.PThread.unusedWorkers, ...M.PThread.runningWorkers] : [];
}
