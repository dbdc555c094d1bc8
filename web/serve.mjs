// Serves web/dist on localhost (the README's `npm start`): static files with the right
// MIME types (application/wasm for the engine) and cross-origin isolation, nothing else.
//   node web/serve.mjs [--port N]   (default: $PORT or 8080; the next free port if taken)
import { createServer } from 'node:http';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { extname, join, normalize, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ISOLATION } from './isolation.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), 'dist');
const MIME = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json; charset=utf-8', '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8', '.md': 'text/markdown; charset=utf-8', '.png': 'image/png', '.svg': 'image/svg+xml',
  '.safetensors': 'application/octet-stream',
};
const i = process.argv.indexOf('--port');
let port = Number(i > 0 ? process.argv[i + 1] : process.env.PORT || 8080);

const server = createServer((req, res) => {
  let path;
  try { path = decodeURIComponent(new URL(req.url, 'http://x').pathname); } catch { res.writeHead(400); return res.end(); }
  let file = normalize(join(root, path));
  if (!file.startsWith(root)) { res.writeHead(403); return res.end(); }
  if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
  if (!existsSync(file)) { res.writeHead(404, { 'content-type': 'text/plain' }); return res.end('not found'); }
  const st = statSync(file);
  res.writeHead(200, { 'content-type': MIME[extname(file)] || 'application/octet-stream', 'content-length': st.size, 'cache-control': 'no-cache', ...(file.endsWith('hooklab-element.js') ? { 'access-control-allow-origin': '*' } : {}), 'x-content-type-options': 'nosniff', ...ISOLATION });
  if (req.method === 'HEAD') return res.end();
  createReadStream(file).pipe(res);
});
server.on('error', (e) => {
  if (e.code === 'EADDRINUSE' && port < 65535) { port += 1; server.listen(port, '127.0.0.1'); } else { console.error(`serve: ${e.message}`); process.exit(1); }
});
server.on('listening', () => console.log(`GPT-2 Hook Lab: http://localhost:${server.address().port}/  (Ctrl-C to stop)`));
server.listen(port, '127.0.0.1');
