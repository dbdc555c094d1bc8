// The page: plain ES modules, Chart.js, a module Web Worker for the engine.
// The engine (wasm/js → public/engine/) and the default model (checkpoints/default →
// public/models/default/) are copied by web/build.sh and served verbatim, so the built
// folder works offline with nothing fetched from a CDN.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  publicDir: 'public',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
  },
  worker: { format: 'es' },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
});
