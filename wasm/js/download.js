// The one downloader, for the node CLI (`hooklab fetch`: a hub model into a folder), the JS
// API (HookLab.load(url): each file streamed into the engine) and the page's worker (the
// same, kept in Cache Storage, by content where the model's files.json gives it). Per file:
//   describe(): a HEAD that reads the size and the sha256 the hub publishes (X-Linked-Size,
//     X-Linked-Etag on the redirect of an LFS file, read and not followed);
//   FileDownload: the GET, yielding the bytes in order however often the transfer drops
//     (resumed with Range; a server that answers 200 instead of 206 is caught), the sha256
//     computed as the bytes pass and checked at the end, and every byte written to a cache
//     writer on the way.
// A cache adapter keeps finished files: cacheStorage(cache) in browsers and workers, and
// folderCache(dir) in node (the CLI's HOOKLAB_CACHE folders). Its interface:
//   get({name, url}, expect?) → {size, body} of a complete copy, or null (expect: {size,
//     sha256} from describe(); a copy that disagrees is not used)
//   open({name, url}, expect) → a writer: offset (bytes kept from an interrupted download,
//     resumed from), prefix() (those bytes), write(chunk), restart() (drop them), commit()
//     (the file is good: keep it), abort() (interrupted: keep what can be resumed),
//     discard() (bad bytes: keep nothing)
//
// The sha256 check needs an incremental hash: node:crypto in node. Browsers have none
// (SubtleCrypto.digest takes the whole file at once: 548 MB for GPT-2 small, on top of the
// engine's heap), and the hub's sha256 is on a redirect that fetch() hides from pages (an
// opaque redirect), so there the size is checked and the sha256 is not; TLS covers the
// transfer. `sha256Checked` says which happened.
import { FILES, MODEL_FILES, hubBase, repoOf } from './models.js';

const IS_NODE = typeof process === 'object' && typeof process.versions?.node === 'string' && typeof window === 'undefined';

export function defaultEndpoint() {
  return ((IS_NODE && process.env.HF_ENDPOINT) || 'https://huggingface.co').replace(/\/+$/, '');
}

// An error that another try would not cure (a 404, a wrong sha256).
function fatal(message) {
  const e = new Error(message);
  e.fatal = true;
  return e;
}

function httpError(url, status) {
  if (status === 401 || status === 403) return fatal(`cannot fetch ${url}: access denied (HTTP ${status}); gated or private repo?`);
  if (status === 404) return fatal(`cannot fetch ${url}: not found (HTTP 404); is the repo name right, and does it have this file?`);
  const e = new Error(`cannot fetch ${url}: HTTP ${status}`);
  e.fatal = status >= 400 && status < 500;
  return e;
}

async function request(url, init, fetchImpl) {
  try {
    return await fetchImpl(url, init);
  } catch (e) {
    if (init.signal?.aborted) throw e;
    throw new Error(`cannot fetch ${url}: ${e.message}`);
  }
}

// A body's bytes: a file's size only when the transfer is not compressed.
function plainLength(res) {
  const n = Number(res.headers.get('content-length') ?? NaN);
  return res.headers.get('content-encoding') || !(n >= 0) ? NaN : n;
}

/**
 * What the server says of the file at url: {size (NaN when unknown), sha256 (null when
 * unknown), response?}. The hub answers a HEAD on an LFS file with a redirect carrying both
 * (X-Linked-Size, X-Linked-Etag), so the redirect is read, not followed. Where a redirect
 * says nothing readable (in browsers it is opaque), a HEAD that follows it gives the size;
 * where that fails too (its target, a CDN URL signed for GET, may refuse a HEAD) or HEAD is
 * not allowed, the GET itself starts here and gives the length: `response`, which
 * FileDownload continues (release() lets it go unused). head: false starts the GET at once,
 * for a file whose sha256 nobody publishes (the hub has one only for LFS files): one round
 * trip less before its bytes.
 */
export async function describe(url, { fetchImpl = fetch, fetchOptions = {}, head: ask = true } = {}) {
  if (!/^https?:/i.test(url)) return { size: NaN, sha256: null };  // blob:, data:: nothing to ask
  let sha256 = null;
  const sized = (n) => (n >= 0 ? n : NaN);
  if (ask) {
    const head = await request(url, { ...fetchOptions, method: 'HEAD', redirect: 'manual' }, fetchImpl);
    const redirected = head.type === 'opaqueredirect' || (head.status >= 300 && head.status < 400);
    const linkedSize = head.headers.get('x-linked-size');
    const etag = (head.headers.get('x-linked-etag') ?? '').replace(/^W\//, '').replace(/"/g, '');
    sha256 = /^[0-9a-f]{64}$/.test(etag) ? etag : null;
    if (head.ok || (redirected && linkedSize !== null)) return { size: sized(linkedSize !== null ? Number(linkedSize) : plainLength(head)), sha256 };
    if (!redirected && head.status !== 405 && head.status !== 501) throw httpError(url, head.status);
    if (redirected) {
      const followed = await request(url, { ...fetchOptions, method: 'HEAD', redirect: 'follow' }, fetchImpl).catch(() => null);
      if (followed?.ok) return { size: sized(plainLength(followed)), sha256 };
    }
  }
  const response = await request(url, { redirect: 'follow', ...fetchOptions }, fetchImpl);
  if (!response.ok) {
    await response.body?.cancel().catch(() => {});
    throw httpError(url, response.status);
  }
  return { size: sized(plainLength(response)), sha256, response };
}

/** Lets go of a response that describe() started and no FileDownload used. */
export async function release(file) {
  const res = file.response;
  file.response = null;
  await res?.body?.cancel().catch(() => {});
}

async function newHash() {
  if (!IS_NODE) return null;
  const { createHash } = await import('node:crypto');
  return createHash('sha256');
}

// A body's chunks as Uint8Arrays (a ReadableStream, or any async iterable); the stream is
// cancelled when the reader stops early.
export async function* chunksOf(body) {
  if (!body) return;
  if (typeof body.getReader !== 'function') {
    yield* body;
    return;
  }
  const reader = body.getReader();
  let done = false;
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) { done = true; return; }
      yield r.value;
    }
  } finally {
    if (!done) await reader.cancel().catch(() => {});
  }
}

/**
 * One file's download: `for await (const chunk of new FileDownload(file, opts))`.
 * file: {name, url, size (NaN when unknown), sha256 (null when unknown)} (describe()).
 * opts: {writer (from a cache adapter's open()), onBytes(bytes of this file so far),
 *   retries (requests per file), fetchImpl, fetchOptions}.
 * Once it ends: resumed (a request continued with Range), sha256Checked. The writer is
 * left for the caller to commit(); on failure it is aborted (discarded on a bad sha256).
 */
export class FileDownload {
  constructor(file, opts = {}) {
    this.file = file;
    this.opts = opts;
    this.resumed = false;
    this.sha256Checked = false;
  }

  async *[Symbol.asyncIterator]() {
    const { writer = null, onBytes = () => {}, retries = 3, fetchImpl = fetch, fetchOptions = {} } = this.opts;
    const { name, url, size, sha256 } = this.file;
    const known = size >= 0;
    let hash = sha256 ? await newHash() : null;
    let pos = writer?.offset ?? 0;  // bytes before the next request
    let kept = pos > 0;             // they are the writer's, not yet read back (an earlier run's)
    let bad = false;
    let ok = false;
    try {
      if (kept && known && pos > size) { await writer.restart(); pos = 0; kept = false; }
      const readKept = async function* () {
        kept = false;
        for await (const c of chunksOf(writer.prefix())) { hash?.update(c); yield c; }
        onBytes(pos);
      };
      for (let attempt = 1; ; attempt++) {
        if (known && pos >= size) {
          if (kept) yield* readKept();
          break;
        }
        try {
          let res = pos === 0 ? this.file.response : null;  // the GET describe() started
          if (res) this.file.response = null;
          else {
            await release(this.file);
            const headers = new Headers(fetchOptions.headers);
            if (pos > 0) headers.set('Range', `bytes=${pos}-`);
            res = await request(url, { redirect: 'follow', ...fetchOptions, headers }, fetchImpl);
          }
          if (!res.ok) throw httpError(url, res.status);
          let skip = 0;
          if (pos > 0 && res.status === 206) {
            const from = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
            if (!from || Number(from[1]) !== pos) throw fatal(`cannot fetch ${url}: asked for bytes ${pos}- and got "${res.headers.get('content-range')}"`);
            this.resumed = true;
            if (kept) yield* readKept();
          } else if (pos > 0 && kept) {
            // Range ignored, before anything was read back: the whole file again, and the
            // kept bytes dropped (they may not be this file's).
            await writer.restart();
            kept = false;
            pos = 0;
            hash = sha256 ? await newHash() : null;
          } else if (pos > 0) {
            skip = pos;  // Range ignored: the bytes already passed on are skipped
          }
          for await (let c of chunksOf(res.body)) {
            if (skip) {
              if (c.length <= skip) { skip -= c.length; continue; }
              c = c.subarray(skip);
              skip = 0;
            }
            hash?.update(c);
            if (writer) await writer.write(c);
            pos += c.length;
            onBytes(pos);
            yield c;
          }
          if (!known) break;  // only the size tells a short body from a whole one
          if (pos > size) throw fatal(`${name}: got ${pos} bytes, more than the ${size} announced`);
          if (pos < size && attempt >= retries) throw new Error(`${name}: got ${pos} of ${size} bytes (connection dropped?)`);
        } catch (e) {
          if (e.fatal || fetchOptions.signal?.aborted) throw e;
          if (attempt >= retries) {
            const why = e.message.startsWith('cannot fetch') || e.message.startsWith(name) ? e.message : `cannot fetch ${url}: ${e.message}`;
            throw new Error(`${why} (${attempt} tries, the last stopped at byte ${pos}${known ? ` of ${size}` : ''})`);
          }
          // Another try continues from pos (the writer keeps the bytes so far).
        }
      }
      if (hash) {
        const sum = hash.digest('hex');
        if (sum !== sha256) {
          bad = true;
          throw fatal(`${name}: sha256 ${sum} does not match the hub's ${sha256}; the partial file was removed`);
        }
        this.sha256Checked = true;
      }
      ok = true;
    } finally {
      if (!ok && writer) await (bad ? writer.discard() : writer.abort()).catch(() => {});
    }
  }
}

// ---------------------------------------------------------------- cache adapters

/**
 * The cache adapter of a Cache Storage cache (browsers, workers). Only whole files are stored.
 * opts.files: the model's content key, {name: {size, sha256}} (the files.json that web/build.sh
 *   writes next to the page's model): a file listed there is kept under its sha256
 *   (<origin>/hooklab-content/<name>/<sha256>, a key that is never fetched), so every URL,
 *   reload and embed that serves the same bytes finds the one copy, and a changed file is a
 *   new key; the copies of that name under other hashes go once the new one is stored.
 *   Files not listed are keyed by their URL.
 * opts.locks: a LockManager (navigator.locks, shared by the frames and workers of an origin).
 *   A load that misses a file holds a lock named after the model until done(), and looks
 *   again once it has it: a second embed loading the same model at the same time waits for
 *   the first one's copy instead of downloading its own.
 * done(): lets that lock go; call it once the load has ended, whether it succeeded or not.
 */
export function cacheStorage(cache, { files = null, locks = null } = {}) {
  const CONTENT = '/hooklab-content/';
  const entry = (name) => {
    const e = files?.[name];
    return e && /^[0-9a-f]{64}$/.test(e.sha256) && Number.isSafeInteger(e.size) && e.size >= 0 ? e : null;
  };
  const keyOf = ({ name, url }) => {
    const e = entry(name);
    return e ? new URL(`${CONTENT}${encodeURIComponent(name)}/${e.sha256}`, url).href : url;
  };
  const lookup = async (file) => {
    const res = await cache.match(keyOf(file));
    if (!res) return null;
    const size = plainLength(res);
    const e = entry(file.name);
    if (e && size !== e.size) { await res.body?.cancel().catch(() => {}); return null; }
    return { size, body: res.body };
  };
  let held = null;  // Promise of the lock's release function
  const lock = ({ url }) => held ??= new Promise((granted) => {
    locks.request(`hooklab-model:${entry(FILES.weights)?.sha256 ?? new URL('.', url).href}`, () => new Promise((release) => granted(release)))
      .catch(() => granted(() => {}));
  });
  return {
    async get(file) {
      const hit = await lookup(file);
      if (hit || !locks) return hit;
      await lock(file);
      return lookup(file);  // stored meanwhile by another page or embed that held the lock
    },
    async open(file, expect = {}) {
      const url = keyOf(file);
      const e = entry(file.name);
      // The bytes go into the cache as they arrive (a streamed put), so a file is never
      // whole in memory; the put completes on commit() and fails on abort(). A cache that
      // cannot take the file (quota) does not stop the load: the file is just not kept.
      // Nor is a file whose size is not the one its content key says (files.json is stale).
      const size = e ? e.size : expect.size;
      const stale = e && expect.size >= 0 && expect.size !== e.size;
      let writer, stored, failed;
      const start = () => {
        const pipe = new TransformStream();
        writer = pipe.writable.getWriter();
        failed = null;
        const headers = size >= 0 ? { 'content-length': String(size) } : {};
        stored = cache.put(url, new Response(pipe.readable, { headers }));
        stored.catch((err) => { failed ??= err; });  // awaited by commit(); an abort makes it fail on purpose
      };
      const drop = async () => {
        await writer.abort(new Error('download stopped')).catch(() => {});
        await stored.catch(() => {});
        await cache.delete(url).catch(() => {});
      };
      if (stale) return { offset: 0, prefix() { return []; }, async write() {}, async restart() {}, async commit() {}, async abort() {}, async discard() {} };
      start();
      return {
        offset: 0,
        prefix() { return []; },
        async write(chunk) {
          if (!failed) await writer.write(chunk).catch((err) => { failed ??= err; });
        },
        async restart() { await drop(); start(); },
        async commit() {
          if (failed) throw failed;
          await writer.close();
          await stored;
          if (!e) return;
          // The copies of this file under other hashes (an older model) are not needed.
          const prefix = new URL(`${CONTENT}${encodeURIComponent(file.name)}/`, file.url).href;
          for (const req of await cache.keys().catch(() => []))
            if (req.url.startsWith(prefix) && req.url !== url) await cache.delete(req).catch(() => {});
        },
        abort: drop,
        discard: drop,
      };
    },
    async done() {
      const h = held;
      held = null;
      if (h) (await h)();
    },
  };
}

/**
 * The cache adapter of a folder (node): a file is <dir>/<name>; a download in progress is
 * <name>.incomplete, kept when it is interrupted so that the next try resumes from it.
 */
export function folderCache(dir) {
  if (!IS_NODE) throw new Error('folderCache needs node (in a browser or a worker: cacheStorage)');
  const fsp = import('node:fs/promises');
  const fs = import('node:fs');
  const join = (name) => `${dir.replace(/\/+$/, '')}/${name}`;
  const sizeOf = async (p) => (await fsp).stat(p).then((s) => (s.isFile() ? s.size : -1), () => -1);
  return {
    dir,
    async get({ name }, expect = {}) {
      const path = join(name);
      const size = await sizeOf(path);
      if (size < 0 || (expect.size >= 0 && size !== expect.size)) return null;
      if (expect.sha256) {
        const h = await newHash();
        for await (const c of (await fs).createReadStream(path)) h.update(c);
        if (h.digest('hex') !== expect.sha256) return null;
      }
      const { createReadStream } = await fs;
      return { size, path, get body() { return createReadStream(path); } };
    },
    async open({ name }) {
      const { mkdir, open, rename, rm } = await fsp;
      await mkdir(dir, { recursive: true });
      const final = join(name);
      const part = `${final}.incomplete`;
      const offset = Math.max(0, await sizeOf(part));
      let fh = await open(part, 'a');
      const close = async () => { if (fh) { const f = fh; fh = null; await f.close(); } };
      return {
        offset,
        prefix: async function* () { yield* (await fs).createReadStream(part, { end: offset - 1 }); },
        async write(chunk) {
          for (let o = 0; o < chunk.length;) o += (await fh.write(chunk, o, chunk.length - o)).bytesWritten;
        },
        async restart() { await fh.truncate(0); },
        async commit() { await close(); await rename(part, final); },
        abort: close,
        async discard() { await close(); await rm(part, { force: true }); },
      };
    },
  };
}

// ---------------------------------------------------------------- a hub model into a folder

/**
 * Node: the folder where a hub model is kept ($HOOKLAB_CACHE, else $XDG_CACHE_HOME/hooklab, else
 * ~/.cache/hooklab; then org--name): what `hooklab fetch` fills and a name resolves to.
 */
export async function modelCacheDir(name) {
  const { homedir } = await import('node:os');
  const { join } = await import('node:path');
  const root = process.env.HOOKLAB_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'hooklab');
  return join(root, repoOf(name).replace('/', '--'));
}

/**
 * fetchModel('gpt2', '/tmp/gpt2', {onProgress, endpoint, revision, fetchImpl, retries})
 * resolves to {dir, repo, files: [{file, size, sha256, resumed, cached}]}: the four files
 * in the folder, each checked against the hub's sha256; one progress number across them.
 */
export async function fetchModel(name, outDir, opts = {}) {
  const { onProgress = () => {}, endpoint = defaultEndpoint(), revision = 'main', fetchImpl = fetch, retries = 3 } = opts;
  const repo = repoOf(name);
  const base = hubBase(repo, { endpoint, revision });
  const cache = folderCache(outDir);
  const infos = await Promise.all(MODEL_FILES.map(async (f) => ({ name: f, url: base + f, ...(await describe(base + f, { fetchImpl })) })));
  const total = infos.reduce((a, f) => a + (f.size || 0), 0) || 1;
  let completed = 0;  // bytes of the files done
  const report = (current) => onProgress(Math.min(1, (completed + current) / total));
  const files = [];
  for (const info of infos) {
    const hit = await cache.get(info, info);
    if (hit) {
      await release(info);
      completed += hit.size;
      report(0);
      files.push({ file: info.name, size: hit.size, sha256: info.sha256, resumed: false, cached: true });
      continue;
    }
    const writer = await cache.open(info, info);
    const dl = new FileDownload(info, { writer, onBytes: report, retries, fetchImpl });
    let got = 0;
    for await (const c of dl) got += c.length;
    await writer.commit();
    completed += got;
    report(0);
    files.push({ file: info.name, size: got, sha256: info.sha256, resumed: dl.resumed, cached: false });
  }
  return { dir: outDir, repo, files };
}
