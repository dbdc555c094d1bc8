// The static file handler of `npm start` (web/serve.mjs) and of the browser tests' server
// (tests/browser/server.mjs): MIME types (application/wasm for the engine), cross-origin
// isolation, CORS for hooklab-element.js, and validators, so that a reload costs a 304 and
// not a second download of the model (docs/embedding.md, "Headers"):
//   Cache-Control: no-cache (every use is revalidated: a rebuilt page or a retrained model is
//   seen at once), ETag ("mtime-size", as nginx makes it) and Last-Modified; a request whose
//   If-None-Match names the ETag, or (without If-None-Match) whose If-Modified-Since is not
//   older than the file, is answered 304 with no body.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import { ISOLATION } from './isolation.mjs';

export const MIME = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json; charset=utf-8', '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8', '.md': 'text/markdown; charset=utf-8', '.png': 'image/png', '.svg': 'image/svg+xml',
  '.safetensors': 'application/octet-stream', '.ico': 'image/x-icon',
};

/** A file's validators: {etag, lastModified} (what a static host like nginx sends). */
export function validatorsOf(st) {
  return { etag: `"${Math.floor(st.mtimeMs).toString(16)}-${st.size.toString(16)}"`, lastModified: new Date(Math.floor(st.mtimeMs / 1000) * 1000).toUTCString() };
}

/** Whether a request's conditional headers say its copy is current (RFC 9110 §13.2.2: If-None-Match wins). */
export function notModified(headers, { etag, lastModified }) {
  const inm = headers['if-none-match'];
  if (inm !== undefined) return inm.trim() === '*' || inm.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
  const ims = Date.parse(headers['if-modified-since'] ?? '');
  return Number.isFinite(ims) && Date.parse(lastModified) <= ims;
}

/**
 * Serves `req` from the folder `root`; calls back onServed({method, path, status}) once
 * answered. isolated: COOP/COEP (the threaded engine); validators: false serves like a host
 * without ETag or Last-Modified (every request a full 200), for the tests.
 */
export function serveStatic(req, res, { root, isolated = true, validators = true, onServed = () => {} }) {
  const iso = isolated ? ISOLATION : {};
  let path;
  try { path = decodeURIComponent(new URL(req.url, 'http://x').pathname); } catch { res.writeHead(400); return res.end(); }
  const done = (status) => onServed({ method: req.method, path, status });
  let file = normalize(join(root, path));
  if (!file.startsWith(root)) { res.writeHead(403); done(403); return res.end(); }
  if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
  if (!existsSync(file)) { res.writeHead(404, { 'content-type': 'text/plain' }); done(404); return res.end('not found'); }
  const st = statSync(file);
  const v = validatorsOf(st);
  const headers = {
    'content-type': MIME[extname(file)] || 'application/octet-stream',
    'cache-control': 'no-cache',
    ...(validators ? { etag: v.etag, 'last-modified': v.lastModified } : {}),
    ...(file.endsWith('hooklab-element.js') ? { 'access-control-allow-origin': '*' } : {}),
    'x-content-type-options': 'nosniff',
    ...iso,
  };
  if (validators && (req.method === 'GET' || req.method === 'HEAD') && notModified(req.headers, v)) {
    res.writeHead(304, headers);
    done(304);
    return res.end();
  }
  res.writeHead(200, { ...headers, 'content-length': st.size });
  done(200);
  if (req.method === 'HEAD') return res.end();
  createReadStream(file).pipe(res);
}
