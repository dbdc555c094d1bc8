// A tiny static server for web/dist with the right MIME types (application/wasm), on a
// free port. Used by the browser tests, which always run the real WebAssembly engine.
import { createServer } from 'node:http';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { extname, join, normalize, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ISOLATION } from '../../web/isolation.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, '../..');
export const DIST = join(REPO, 'web/dist');
export const NATIVE = join(REPO, 'build/hooklab');

const MIME = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json; charset=utf-8', '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8', '.md': 'text/markdown; charset=utf-8', '.png': 'image/png', '.svg': 'image/svg+xml',
  '.safetensors': 'application/octet-stream', '.ico': 'image/x-icon',
};

export function hasWasmEngine() {
  return existsSync(join(DIST, 'engine/js/hooklab.js'));
}

// isolated: the COOP/COEP headers of `npm start` (web/serve.mjs), so the page runs the
// threaded engine; false serves a page that is not cross-origin isolated.
export function startServer({ root = DIST, extraRoutes = {}, isolated = true } = {}) {
  const iso = isolated ? ISOLATION : {};
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://x');
      const path = decodeURIComponent(url.pathname);
      if (extraRoutes[path]) {
        const { type, body } = extraRoutes[path];
        res.writeHead(200, { 'content-type': type, ...iso });
        return res.end(body);
      }
      let file = normalize(join(root, path));
      if (!file.startsWith(root)) { res.writeHead(403); return res.end(); }
      if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
      if (!existsSync(file)) { res.writeHead(404, { 'content-type': 'text/plain' }); return res.end('not found'); }
      const st = statSync(file);
      res.writeHead(200, { 'content-type': MIME[extname(file)] || 'application/octet-stream', 'content-length': st.size, 'cache-control': 'no-cache', ...(file.endsWith('hooklab-element.js') ? { 'access-control-allow-origin': '*' } : {}), ...iso });
      if (req.method === 'HEAD') return res.end();
      createReadStream(file).pipe(res);
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
