// A tiny static server for web/dist with the right MIME types (application/wasm), on a
// free port. Used by the browser tests, which always run the real WebAssembly engine.
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ISOLATION } from '../../web/isolation.mjs';
import { serveStatic } from '../../web/static.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, '../..');
export const DIST = join(REPO, 'web/dist');
export const NATIVE = join(REPO, 'build/hooklab');

export function hasWasmEngine() {
  return existsSync(join(DIST, 'engine/js/hooklab.js'));
}

// The files are served by `npm start`'s own handler (web/static.mjs: MIME types, validators).
// isolated: the COOP/COEP headers of `npm start` (web/serve.mjs), so the page runs the
// threaded engine; false serves a page that is not cross-origin isolated. validators: false
// serves like a host without ETag or Last-Modified. onServed({method, path, status}) is
// called for every file request answered (extraRoutes excluded).
export function startServer({ root = DIST, extraRoutes = {}, isolated = true, validators = true, onServed } = {}) {
  const iso = isolated ? ISOLATION : {};
  const server = createServer(async (req, res) => {
    try {
      const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      if (extraRoutes[path]) {
        const { type, body } = extraRoutes[path];
        res.writeHead(200, { 'content-type': type, ...iso });
        return res.end(body);
      }
      serveStatic(req, res, { root, isolated, validators, onServed });
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(e));
    }
  });
  return new Promise((res) => server.listen(0, '127.0.0.1', () => res({ server, url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }) })));
}

// `node tests/browser/server.mjs`: serve and print the URL.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const s = await startServer();
  console.log(s.url);
}
