// An imitation of the HuggingFace hub for tests: <base>/<org>/<name>/resolve/<rev>/<file>.
// Like the real hub, the LFS file (model.safetensors) answers with a 302 to a CDN URL and
// carries X-Linked-Etag (its sha256) and X-Linked-Size; small files are served directly.
// The CDN honours Range. Faults on demand: drop the connection after N bytes, serve a
// wrong sha256, refuse Range, or answer a Range with 206 but from the file's start; a CDN
// that refuses HEAD (its URLs signed for GET), a redirect without the X-Linked headers.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

const LFS = new Set(['model.safetensors']);

export async function startHub(repos, faults = {}) {
  // repos: {"org/name": folder}; files are read once.
  const blobs = new Map(); // sha256 -> Buffer
  const files = new Map(); // "org/name/file" -> {data, sha256, sha1}
  for (const [repo, dir] of Object.entries(repos))
    for (const f of ['config.json', 'vocab.json', 'merges.txt', 'model.safetensors']) {
      const data = readFileSync(join(dir, f));
      const sha256 = createHash('sha256').update(data).digest('hex');
      files.set(`${repo}/${f}`, { data, sha256, sha1: createHash('sha1').update(data).digest('hex') });
      blobs.set(sha256, data);
    }
  const log = [];
  let drops = faults.dropAfterBytes ? faults.drops ?? 1 : 0;

  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    log.push({ method: req.method, path: url.pathname, range: req.headers.range ?? null });
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Expose-Headers', 'X-Linked-Etag, X-Linked-Size, ETag, Content-Length, Content-Range, Accept-Ranges');
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Headers', 'Range');
      res.writeHead(204).end();
      return;
    }
    const m = url.pathname.match(/^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/);
    if (m) {
      const entry = files.get(`${m[1]}/${m[3]}`);
      if (!entry) { res.writeHead(404, { 'X-Error-Code': 'EntryNotFound' }).end('Entry not found'); return; }
      if (LFS.has(m[3])) {
        const sha = faults.wrongSha ? '0'.repeat(64) : entry.sha256;
        res.writeHead(302, {
          Location: `/cdn/${entry.sha256}`,
          ...(faults.noLinked ? {} : { 'X-Linked-Etag': `"${sha}"`, 'X-Linked-Size': String(entry.data.length) }),
          ETag: `"${sha}"`,
        }).end();
        return;
      }
      serve(req, res, entry.data, `"${entry.sha1}"`, false);
      return;
    }
    const cdn = url.pathname.match(/^\/cdn\/([0-9a-f]{64})$/);
    if (cdn && faults.cdnRefusesHead && req.method === 'HEAD') { res.writeHead(403).end(); return; }
    if (cdn && blobs.has(cdn[1])) { serve(req, res, blobs.get(cdn[1]), `"${cdn[1]}"`, true); return; }
    res.writeHead(404).end('not found');
  });

  function serve(req, res, data, etag, isCdn) {
    let start = 0;
    const range = !faults.ignoreRange && req.headers.range && /^bytes=(\d+)-$/.exec(req.headers.range);
    if (range && !faults.rangeFromZero) start = Number(range[1]);
    const body = data.subarray(start);
    const headers = { 'Content-Length': String(body.length), ETag: etag, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream' };
    if (range) headers['Content-Range'] = `bytes ${start}-${data.length - 1}/${data.length}`;
    res.writeHead(range ? 206 : 200, headers);
    if (req.method === 'HEAD') { res.end(); return; }
    if (isCdn && drops > 0 && body.length > faults.dropAfterBytes) {
      drops--;
      res.write(body.subarray(0, faults.dropAfterBytes), () => setTimeout(() => res.socket.destroy(), 20));
      return;
    }
    res.end(body);
  }

  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  return { base, log, files, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}
