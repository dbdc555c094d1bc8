// Downloads a GPT-2 checkpoint from the HuggingFace hub (or anything laid out like it:
// <endpoint>/<repo>/resolve/<revision>/<file>) into a folder: one progress number across
// all files, resume of an interrupted download, and the weights checked against the
// sha256 the hub publishes as X-Linked-Etag.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

import { MODEL_FILES, hubBase, repoOf } from './models.js';

export { MODEL_FILES, repoOf };

export function defaultEndpoint() {
  return (process.env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, '');
}

export function cacheDir(name) {
  const root = process.env.HOOKLAB_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'hooklab');
  return join(root, repoOf(name).replace('/', '--'));
}

export function isComplete(dir) {
  return MODEL_FILES.every((f) => existsSync(join(dir, f)));
}

function fileUrl(endpoint, repo, revision, file) {
  return hubBase(repo, { endpoint, revision }) + file;
}

// The hub answers a HEAD on an LFS file with a redirect carrying the file's sha256 and
// size; following it would lose those headers, so look before following.
async function describe(url, fetchImpl) {
  let res = await fetchImpl(url, { method: 'HEAD', redirect: 'manual' });
  const linkedEtag = res.headers.get('x-linked-etag');
  const linkedSize = res.headers.get('x-linked-size');
  if (res.status >= 300 && res.status < 400) {
    const loc = res.headers.get('location');
    if (!loc) throw new Error(`${url}: redirect without a location`);
    res = await fetchImpl(new URL(loc, url), { method: 'HEAD' });
  }
  if (res.status === 401 || res.status === 403) throw new Error(`${url}: access denied (${res.status}); gated or private repo?`);
  if (res.status === 404) throw new Error(`${url}: not found (404); is the repo name right, and does it have this file?`);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const size = Number(linkedSize ?? res.headers.get('content-length'));
  const sha256 = linkedEtag ? linkedEtag.replace(/^W\//, '').replace(/"/g, '') : null;
  return { size: Number.isFinite(size) ? size : 0, sha256: sha256 && /^[0-9a-f]{64}$/.test(sha256) ? sha256 : null };
}

async function sha256File(path) {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk);
  return h.digest('hex');
}

/**
 * fetchModel('gpt2', '/tmp/gpt2', {onProgress, endpoint, revision, fetchImpl, retries})
 * resolves to {dir, files: [{file, size, sha256, resumed}]}.
 */
export async function fetchModel(name, outDir, opts = {}) {
  const { onProgress = () => {}, endpoint = defaultEndpoint(), revision = 'main', fetchImpl = fetch, retries = 3 } = opts;
  const repo = repoOf(name);
  mkdirSync(outDir, { recursive: true });
  const infos = [];
  for (const file of MODEL_FILES) infos.push({ file, url: fileUrl(endpoint, repo, revision, file), ...(await describe(fileUrl(endpoint, repo, revision, file), fetchImpl)) });
  const total = infos.reduce((a, f) => a + f.size, 0) || 1;
  let completed = 0; // bytes of the files already in place
  const report = (current) => onProgress(Math.min(1, (completed + current) / total));
  const out = [];
  for (const info of infos) {
    const final = join(outDir, info.file);
    const part = `${final}.incomplete`;
    if (existsSync(final) && statSync(final).size === info.size && (!info.sha256 || (await sha256File(final)) === info.sha256)) {
      completed += info.size;
      report(0);
      out.push({ file: info.file, size: info.size, sha256: info.sha256, resumed: false, cached: true });
      continue;
    }
    let resumed = false;
    for (let attempt = 0; ; attempt++) {
      if (existsSync(part) && info.size > 0 && statSync(part).size > info.size) unlinkSync(part);
      const offset = existsSync(part) ? statSync(part).size : 0;
      try {
        if (offset < info.size || info.size === 0) {
          const res = await fetchImpl(info.url, { headers: offset > 0 ? { Range: `bytes=${offset}-` } : {}, redirect: 'follow' });
          if (!(res.status === 200 || res.status === 206)) throw new Error(`${info.url}: HTTP ${res.status}`);
          // A server that ignores Range sends the whole file again: start it over.
          const append = res.status === 206 && offset > 0;
          resumed = resumed || append;
          let current = append ? offset : 0;
          report(current);
          const ws = createWriteStream(part, { flags: append ? 'a' : 'w' });
          try {
            for await (const chunk of res.body) {
              if (!ws.write(chunk)) await new Promise((r) => ws.once('drain', r));
              current += chunk.length;
              report(current);
            }
          } finally {
            await new Promise((r, j) => ws.end((e) => (e ? j(e) : r())));
          }
        }
        const got = statSync(part).size;
        if (info.size && got !== info.size) throw new Error(`${info.file}: got ${got} of ${info.size} bytes (connection dropped?)`);
        if (info.sha256) {
          const sum = await sha256File(part);
          if (sum !== info.sha256) {
            unlinkSync(part);
            throw new Error(`${info.file}: sha256 ${sum} does not match the hub's ${info.sha256}; the partial file was removed`);
          }
        }
        renameSync(part, final);
        completed += got;
        report(0);
        out.push({ file: info.file, size: got, sha256: info.sha256, resumed, cached: false });
        break;
      } catch (e) {
        // Kept: the .incomplete file, so the next try (or the next run) resumes from it.
        if (attempt + 1 >= retries || /sha256|HTTP 4\d\d/.test(String(e.message))) throw e;
      }
    }
  }
  return { dir: outDir, repo, files: out };
}
