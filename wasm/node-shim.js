// Prepended to hooklab.mjs (--extern-pre-js). Emscripten 3.1.6's ES-module output still
// calls require() and reads __dirname under node, which ES modules lack: provide both
// in node only (browsers and workers skip this).
const __hooklabIsNode = typeof process === 'object' && typeof process.versions === 'object' &&
  typeof process.versions.node === 'string' && typeof window === 'undefined';
const require = __hooklabIsNode
  ? (await import(/* @vite-ignore */ 'node:' + 'module')).createRequire(import.meta.url) : undefined;
const __dirname = __hooklabIsNode
  ? (await import(/* @vite-ignore */ 'node:' + 'url')).fileURLToPath(new URL('.', import.meta.url)) : '';
