#!/usr/bin/env node
// The page's speed in Chromium (issue 14's targets), on the GPT-2-small-shaped checkpoint
// served as the page's model and a 32-token prompt:
//   - a toggle (an exercise switched on/off while another stays on: one intervened
//     forward, the baseline kept) -> charts updated, against the engine's bare forward
//     (no hooks, last-position logits) timed in the same worker of the same page;
//   - the same with the logit lens on;
//   - the size of one run's worker-to-page message without captures.
// The toggle is timed from the page's run request to the worker (after the page's input
// debounce) until the page is idle with every chart drawn; click -> charts (debounce
// included) is printed too, and where the time goes: the worker's reply (the engine),
// the page after it (render, layout, paint), and what else the page asked the worker.
// --dist takes a comma-separated list of built pages (e.g. one built from an older
// commit) measured in turn in the same run, for a before/after on this machine.
//   node bench/page-bench.mjs [--model build/ckpt/gpt2_small_shape] [--tokens 32] [--toggles 9] [--dist web/dist,...]
import { chromium } from 'playwright-core';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname } from 'node:path';
import { HookLab } from '../wasm/js/hooklab.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).reduce((a, x, i, all) => (x.startsWith('--') ? [...a, [x.slice(2), all[i + 1]]] : a), []));
const MODEL = resolve(args.model ?? join(ROOT, 'build/ckpt/gpt2_small_shape'));
const TOKENS = Number(args.tokens ?? 32), TOGGLES = Number(args.toggles ?? 9);
const DISTS = (args.dist ?? join(ROOT, 'web/dist')).split(',').map((d) => resolve(d));
const TEXT = 'The jury said that the city had been given a fine report on the handling of the election, and that the ' +
  'voters of the county were pleased with the way the work was done by the officials in charge of it all.';
const MIME = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.wasm': 'application/wasm' };

// A built page (web/dist), with models/default/ served from the checkpoint under test.
function serve(dist) {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const file = path.startsWith('/models/default/') ? join(MODEL, path.slice('/models/default/'.length)) : join(dist, path === '/' ? 'index.html' : path);
    if (!file.startsWith(dist) && !file.startsWith(MODEL)) { res.writeHead(403); return res.end(); }
    if (!existsSync(file) || !statSync(file).isFile()) { res.writeHead(404); return res.end(); }
    res.writeHead(200, { 'content-type': MIME[extname(file)] || 'application/octet-stream', 'content-length': statSync(file).size, 'cache-control': 'no-cache' });
    createReadStream(file).pipe(res);
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r({ url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((c) => { server.closeAllConnections?.(); server.close(c); }) })));
}
const median = (v) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)];

// Installed before the page's scripts: records each message the page sends to and gets
// from its engine worker (time, type, size), and keeps the worker for the bare forward.
function instrument() {
  const W = window.Worker;
  window.__bench = { sent: [], received: [], workers: [] };
  // The message as the structured clone carries it, in bytes: typed arrays by their
  // length, the rest as its JSON text.
  const size = (data) => {
    let bulk = 0;
    const text = JSON.stringify(data, (k, v) => (ArrayBuffer.isView(v) ? (bulk += v.byteLength, 0) : v));
    return bulk + new TextEncoder().encode(text).length;
  };
  window.Worker = class extends W {
    constructor(...a) {
      super(...a);
      window.__bench.workers.push(this);
      this.addEventListener('message', (e) => window.__bench.received.push({ t: performance.now(), type: e.data?.type, id: e.data?.id, bytes: size(e.data), value: e.data?.value }));
    }
    postMessage(msg, ...rest) {
      window.__bench.sent.push({ t: performance.now(), type: msg?.type, id: msg?.id });
      return super.postMessage(msg, ...rest);
    }
  };
}

async function main() {
  if (!existsSync(join(MODEL, 'model.safetensors'))) throw new Error(`${MODEL}: no checkpoint (run the native tests, which make build/ckpt)`);
  for (const d of DISTS) if (!existsSync(join(d, 'engine/js/hooklab.js'))) throw new Error(`${d} has no engine: bash tools/build.sh wasm && bash tools/build.sh web`);
  const probe = await HookLab.load(MODEL, { f16: true });
  const prompt = probe.decode(probe.tokenize(TEXT).slice(0, TOKENS));
  const T = probe.tokenize(prompt).length;
  probe.dispose();

  const out = { model: MODEL, tokens: T, toggles: TOGGLES };
  if (DISTS.length === 1) Object.assign(out, await measure(DISTS[0], prompt));
  else for (const dist of DISTS) out[dist] = await measure(dist, prompt);
  console.log(JSON.stringify(out, null, 1));
}

// The page as built, its default model replaced by the checkpoint under test.
async function measure(dist, prompt) {
  const srv = await serve(dist);
  const profile = mkdtempSync(join(tmpdir(), 'hooklab-bench-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, reducedMotion: 'reduce',
    args: ['--headless', '--no-sandbox', '--disable-gpu'], viewport: { width: 1400, height: 1000 },
  });
  const out = {};
  try {
    const page = await context.newPage();
    await page.addInitScript(instrument);
    const idle = () => page.waitForFunction(() => window.hooklab?.ready && !document.body.classList.contains('busy'), null, { timeout: 600000 });
    // ex3 stays on; ex4 is toggled: every toggle is one intervened forward (captures off).
    for (const lens of [false, true]) {
      await page.goto(`${srv.url}index.html?lang=en&ex3=9,0.1&prompt=${encodeURIComponent(prompt)}${lens ? '&lens=1' : ''}`);
      await idle();
      await page.waitForTimeout(500);
      await idle();
      const runs = [];
      for (let i = 0; i < TOGGLES + 1; i++) {
        const r = await page.evaluate(async (p) => {
          const b = window.__bench;
          const nSent = b.sent.length;
          const t0 = performance.now();
          document.querySelector('#ex4-on').click();
          // Idle again after this toggle's run, the frame drawn.
          await new Promise((res) => {
            const check = () => {
              const req = b.sent.slice(nSent).find((m) => m.type === 'run');
              const rep = req && b.received.find((m) => m.id === req.id && m.type === 'result');
              if (rep && !document.body.classList.contains('busy')) return requestAnimationFrame(() => res());
              setTimeout(check, 1);
            };
            check();
          });
          const t1 = performance.now();
          const req = b.sent.slice(nSent).find((m) => m.type === 'run');
          const rep = b.received.find((m) => m.id === req.id && m.type === 'result');
          // Right after it, the engine's bare forward (no hooks, last-position logits) in
          // the same worker: this machine's speed drifts, so each toggle has its own yardstick.
          const fwd = await new Promise((res) => {
            const id = 1e9 + b.sent.length;
            const w = b.workers[0];
            const on = (e) => { if (e.data?.id === id) { w.removeEventListener('message', on); res(e.data.value); } };
            w.addEventListener('message', on);
            w.postMessage({ id, type: 'forward', prompt: p, iters: 1 });
          });
          // Everything else the page asked the worker for during this toggle, in order.
          const other = b.sent.slice(nSent).filter((m) => m.type !== 'run' && m.type !== 'forward').map((m) => m.type);
          return { click_ms: t1 - t0, request_ms: t1 - req.t, worker_ms: rep.t - req.t, bytes: rep.bytes, lens: !!rep.value?.lens, forward_ms: fwd.ms[0], other };
        }, prompt);
        if (i > 0) runs.push(r);  // the first toggle warms the charts up
      }
      out[lens ? 'with_lens' : 'toggle'] = {
        ratio_median: median(runs.map((r) => r.request_ms / r.forward_ms)),
        ratio_best: Math.min(...runs.map((r) => r.request_ms)) / Math.min(...runs.map((r) => r.forward_ms)),
        request_to_charts_ms_median: median(runs.map((r) => r.request_ms)), request_to_charts_ms_min: Math.min(...runs.map((r) => r.request_ms)),
        bare_forward_ms_median: median(runs.map((r) => r.forward_ms)), bare_forward_ms_min: Math.min(...runs.map((r) => r.forward_ms)),
        click_to_charts_ms_median: median(runs.map((r) => r.click_ms)),
        worker_reply_ms_median: median(runs.map((r) => r.worker_ms)), worker_reply_ms_min: Math.min(...runs.map((r) => r.worker_ms)),
        page_after_reply_ms_median: median(runs.map((r) => r.request_ms - r.worker_ms)),
        message_bytes: Math.max(...runs.map((r) => r.bytes)), lens_in_reply: runs.every((r) => r.lens),
        other_requests: [...new Set(runs.flatMap((r) => r.other))],
      };
    }
  } finally {
    await context.close();
    await srv.close();
    rmSync(profile, { recursive: true, force: true });
  }
  return out;
}

main().catch((e) => { console.error(e); process.exit(1); });
