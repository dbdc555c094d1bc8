// Serves web/dist on localhost (the README's `npm start`): static files with the right
// MIME types (application/wasm for the engine), cross-origin isolation and validators
// (ETag, Last-Modified, 304: a reload does not download the model again), nothing else
// (web/static.mjs).
//   node web/serve.mjs [--port N]   (default: $PORT or 8080; the next free port if taken)
import { createServer } from 'node:http';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveStatic } from './static.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), 'dist');
const i = process.argv.indexOf('--port');
let port = Number(i > 0 ? process.argv[i + 1] : process.env.PORT || 8080);

const server = createServer((req, res) => serveStatic(req, res, { root }));
server.on('error', (e) => {
  if (e.code === 'EADDRINUSE' && port < 65535) { port += 1; server.listen(port, '127.0.0.1'); } else { console.error(`serve: ${e.message}`); process.exit(1); }
});
server.on('listening', () => console.log(`GPT-2 Hook Lab: http://localhost:${server.address().port}/  (Ctrl-C to stop)`));
server.listen(port, '127.0.0.1');
