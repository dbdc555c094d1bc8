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
// the page after it (its own work, then the next frame until it is painted), and what
// else the page asked the worker.
// Toggles: `toggle` at block 9 (ex4 at 9 while ex3 at 9 stays on), `toggle_block0`
// (ex4 at block 0 while ex3 at block 0 stays on), `toggle_beside_ex1` (ex4 at block 9
// while ex1 at block 0 stays on), `toggle_whole` (ex1 at block 0, a new head each time,
// while ex4 at block 0 stays on) and `toggle_ex1` (ex1 at block 9 while ex3 at 9 stays
// on). The engine resumes a new run from the kept forward it agrees with longest (the
// baseline's, or an intervened run's), at the first block where they differ; exercises 3
// and 4 act on a block's output, which the next block reads. So the first reuses blocks
// 0-9, the second block 0, the third blocks 0-9 of exercise 1's own run, and the fourth
// nothing: ex1 acts inside block 0 (every new state is a whole forward). Exercise 1 also
// captures its block's attention pattern, so its toggle changes the captures too: the
// baseline's pattern comes from a baseline run resumed at that block, or from the one the
// engine kept. `with_lens` is `toggle` with the logit lens on. `first_blocks` lists the
// first block the engine computed.
// Each toggle on is to a state not seen before (the exercise's field is given a new value
// first, untimed), so the engine computes it; each toggle off returns to the state before,
// which the engine has kept (lab.compare's `reused`). The two are reported apart.
// --dist takes a comma-separated list of built pages (e.g. one built from an older
// commit), each in its own browser, their toggles interleaved, for a before/after on
// this machine.
// --profile N records a Chromium trace of N more toggles per scenario (after the timed ones,
// as they are: a new value before each toggle on; tracing slows the page) and prints, per
// toggle: for the page's main thread between the worker's reply and idle, time by kind
// (script, style, layout, paint, gc, ...), JS self time by function and by panel; for the
// engine's worker between the page's run requests and their replies (`worker`), self time by
// function, wasm included. Function names come from the build: for readable ones profile a
// page built without minifying (`node_modules/.bin/vite build web --minify false --outDir
// /tmp/plain` after `bash web/build.sh`, then `--dist /tmp/plain`), and for the wasm's, an
// engine linked with `--profiling-funcs` (a build folder configured with
// `-DCMAKE_EXE_LINKER_FLAGS=--profiling-funcs`, its hooklab.{mjs,wasm} copied over the page's
// engine/dist/).
//   node bench/page-bench.mjs [--model build/ckpt/gpt2_small_shape] [--tokens 32] [--toggles 9] [--dist web/dist,...] [--profile 3] [--only toggle,toggle_block0,toggle_beside_ex1,toggle_whole,toggle_ex1,with_lens]
import { chromium } from 'playwright-core';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname } from 'node:path';
import { HookLab } from '../wasm/js/hooklab.js';
import { waitForRun } from '../tests/browser/helpers.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).reduce((a, x, i, all) => (x.startsWith('--') ? [...a, [x.slice(2), all[i + 1]]] : a), []));
const MODEL = resolve(args.model ?? join(ROOT, 'build/ckpt/gpt2_small_shape'));
const TOKENS = Number(args.tokens ?? 32), TOGGLES = Number(args.toggles ?? 9), PROFILE = Number(args.profile ?? 0);
const ONLY = args.only?.split(',');
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
  // When the page last stopped being busy (its run handled, every visible panel drawn): the
  // rest of a toggle is the next frame.
  document.addEventListener('DOMContentLoaded', () => {
    let busy = false;
    new MutationObserver(() => {
      const now = document.body.classList.contains('busy');
      if (busy && !now) {
        window.__bench.idleAt = performance.now();
        window.__bench.onIdle?.();
      }
      busy = now;
    }).observe(document.body, { attributes: true, attributeFilter: ['class'] });
  });
  window.Worker = class extends W {
    constructor(...a) {
      super(...a);
      window.__bench.workers.push(this);
      this.addEventListener('message', (e) => {
        // This listener runs before the page's, which may change the message: sized here,
        // and the time that takes is not the page's (cost, taken off the toggle's time).
        const t = performance.now();
        const bytes = e.data?.type === 'result' ? size(e.data) : 0;
        const cost = performance.now() - t;
        if (window.__bench.profiling && e.data?.type === 'result') performance.mark('bench-reply'); // the trace's marker (--profile)
        window.__bench.received.push({ t, cost, type: e.data?.type, id: e.data?.id, bytes, value: e.data?.value });
      });
    }
    postMessage(msg, ...rest) {
      if (window.__bench.profiling && msg?.type === 'run') performance.mark('bench-request'); // the worker's window (--profile)
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
  const results = await measureAll(DISTS, prompt);
  if (DISTS.length === 1) Object.assign(out, results[0]);
  else DISTS.forEach((d, k) => { out[d] = results[k]; });
  console.log(JSON.stringify(out, null, 1));
}

// One toggle of the checkbox `box` in the page, timed; then the engine's bare forward in the
// same worker.
function toggleOnce(page, prompt, box) {
  return page.evaluate(async ([p, box]) => {
    const b = window.__bench;
    const nSent = b.sent.length;
    const t0 = performance.now();
    const on = !document.querySelector(box).checked;
    document.querySelector(box).click();
    // Idle again after this toggle's run, then the end of the next frame, which paints what
    // the page drew: a task posted from its animation-frame callback runs after the frame's
    // style, layout and paint (10-15 ms here), which are part of showing the charts.
    // Told by the page's own busy -> idle change (onIdle runs in the same task as the
    // page's drawing), not by a timer's poll, which came up to 4 ms late.
    await new Promise((res) => {
      b.onIdle = () => {
        const req = b.sent.slice(nSent).find((m) => m.type === 'run');
        if (!req || !b.received.some((m) => m.id === req.id && m.type === 'result')) return;
        b.onIdle = null;
        requestAnimationFrame(() => {
          const ch = new MessageChannel();
          ch.port1.onmessage = () => res();
          ch.port2.postMessage(0);
        });
      };
    });
    const t1 = performance.now();
    if (b.profiling) performance.mark('bench-idle');
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
    return { click_ms: t1 - t0 - rep.cost, request_ms: t1 - req.t - rep.cost, worker_ms: rep.t - req.t, render_ms: b.idleAt - rep.t - rep.cost, bytes: rep.bytes, lens: !!rep.value?.lens, forward_ms: fwd.ms[0], other, on, reused: !!rep.value?.reused, first_block: rep.value?.firstBlock };
  }, [prompt, box]);
}

function summary(runs) {
  return {
    ratio_median: median(runs.map((r) => r.request_ms / r.forward_ms)),
    ratio_best: Math.min(...runs.map((r) => r.request_ms)) / Math.min(...runs.map((r) => r.forward_ms)),
    request_to_charts_ms_median: median(runs.map((r) => r.request_ms)), request_to_charts_ms_min: Math.min(...runs.map((r) => r.request_ms)),
    bare_forward_ms_median: median(runs.map((r) => r.forward_ms)), bare_forward_ms_min: Math.min(...runs.map((r) => r.forward_ms)),
    click_to_charts_ms_median: median(runs.map((r) => r.click_ms)),
    worker_reply_ms_median: median(runs.map((r) => r.worker_ms)), worker_reply_ms_min: Math.min(...runs.map((r) => r.worker_ms)),
    page_after_reply_ms_median: median(runs.map((r) => r.request_ms - r.worker_ms)), page_after_reply_ms_min: Math.min(...runs.map((r) => r.request_ms - r.worker_ms)),
    // of which the page's own work (the run's result handled, the visible panels drawn),
    // then the next frame (the wait for it, its style, layout and paint)
    page_render_ms_median: median(runs.map((r) => r.render_ms)), next_frame_ms_median: median(runs.map((r) => r.request_ms - r.worker_ms - r.render_ms)),
    message_bytes: Math.max(...runs.map((r) => r.bytes)), lens_in_reply: runs.every((r) => r.lens),
    reused_by_engine: `${runs.filter((r) => r.reused).length}/${runs.length}`,
    // the first block the engine computed (n_layer: none, the run was kept)
    first_blocks: [...new Set(runs.map((r) => r.first_block))],
    other_requests: [...new Set(runs.flatMap((r) => r.other))],
  };
}

// The scenarios: the query each starts from, the exercise toggled, and the field given a
// new value before each toggle on (untimed), so that each is a state not seen before.
const EX4 = ['#ex4-on', '#ex4-factor', (i) => String(10 + i / 4)];
const EX1 = ['#ex1-on', '#ex1-head', (i) => String((3 + Math.floor(i / 2)) % 12)];
const SCENARIOS = [
  ['toggle', 'ex3=9,0.1', ...EX4],
  ['toggle_block0', 'ex3=0,0.1&ex4=0,10', ...EX4],
  ['toggle_beside_ex1', 'ex1=0.2&ex4=9,10', ...EX4],
  ['toggle_whole', 'ex4=0,10&ex1=0.2', ...EX1],
  ['toggle_ex1', 'ex3=9,0.1&ex1=9.2', ...EX1],
  ['with_lens', 'ex3=9,0.1&lens=1', ...EX4],
];

// Before a toggle on: the exercise's field set to a value not used yet (the page runs the
// unchanged interventions; waited for, not timed).
async function freshValue(page, box, field, value) {
  const off = await page.evaluate(([b, f, v]) => {
    if (document.querySelector(b).checked) return false;
    const el = document.querySelector(f);
    el.value = v;
    el.dispatchEvent(new Event('input', { bubbles: true }));
    return true;
  }, [box, field, value]);
  if (off) await waitForRun(page, 600000); // after the page's input debounce
}

// The page as built, its default model replaced by the checkpoint under test, in its own
// browser.
async function open(dist) {
  const srv = await serve(dist);
  const profile = mkdtempSync(join(tmpdir(), 'hooklab-bench-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, reducedMotion: 'reduce',
    args: ['--headless', '--no-sandbox', '--disable-gpu'], viewport: { width: 1400, height: 1000 },
  });
  const page = await context.newPage();
  await page.addInitScript(instrument);
  return {
    dist, context, page, out: {},
    close: async () => { await context.close(); await srv.close(); rmSync(profile, { recursive: true, force: true }); },
    async start(query, prompt) {
      const idle = () => page.waitForFunction(() => window.hooklab?.ready && !document.body.classList.contains('busy'), null, { timeout: 600000 });
      await page.goto(`${srv.url}index.html?lang=en&${query}&prompt=${encodeURIComponent(prompt)}`);
      await idle();
      await page.waitForTimeout(500);
      await idle();
    },
  };
}

// Every page measured in turn, toggle by toggle (this machine's speed drifts: interleaved,
// the drift falls on each page alike).
async function measureAll(dists, prompt) {
  const pages = [];
  try {
    for (const d of dists) pages.push(await open(d));
    for (const [name, query, box, field, value] of SCENARIOS.filter(([n]) => !ONLY || ONLY.includes(n))) {
      for (const p of pages) await p.start(query, prompt);
      const runs = pages.map(() => []);
      for (let i = 0; i < TOGGLES + 1; i++) {
        for (const [k, p] of pages.entries()) {
          await freshValue(p.page, box, field, value(i));
          const r = await toggleOnce(p.page, prompt, box);
          if (i > 0) runs[k].push(r); // the first toggle warms the charts up
        }
      }
      pages.forEach((p, k) => {
        const part = (on) => runs[k].filter((r) => r.on === on);
        p.out[name] = { on_new_state: summary(part(true)), off_state_seen: summary(part(false)) };
      });
      if (PROFILE > 0) for (const p of pages) p.out[name].profile = await profileToggles(p.context, p.page, prompt, [box, field, value]);
    }
    return pages.map((p) => p.out);
  } finally {
    for (const p of pages) await p.close();
  }
}

// --profile: a trace of PROFILE toggles, summed over the page's main thread between each
// reply and idle, divided by the number of toggles (ms per toggle).
const KINDS = [
  ['style', /^(UpdateLayoutTree|RecalculateStyles|ParseAuthorStyleSheet|InvalidateLayout|ScheduleStyleRecalculation)$/],
  ['layout', /^(Layout|UpdateLayerTree|IntersectionObserverController::computeIntersections|ComputeIntersections|HitTest)$/],
  ['paint', /^(PrePaint|Paint|PaintImage|Layerize|Commit|UpdateLayer|CompositeLayers|RasterTask|Decode Image|ImageDecodeTask)$/],
  ['gc', /GC|^BlinkGC|^ThreadState::/],
  ['script', /^(FunctionCall|EvaluateScript|TimerFire|EventDispatch|FireAnimationFrame|RunMicrotasks|HandlePostMessage|FireIdleCallback|v8\.|V8\.)/],
];
const kindOf = (name) => KINDS.find(([, re]) => re.test(name))?.[0] ?? 'other';
// The page's panels: a JS sample counts for the innermost of these on its stack (names as
// in web/src; a minified build keeps few of them).
const PANELS = /^(render[A-Z]\w*|flushChart|upsertChart|applyLang|runNow|runLens|exportObject)$/;

async function profileToggles(context, page, prompt, [box, field, value]) {
  const cdp = await context.newCDPSession(page);
  const events = [];
  cdp.on('Tracing.dataCollected', (e) => events.push(...e.value));
  const done = new Promise((r) => cdp.once('Tracing.tracingComplete', r));
  await cdp.send('Tracing.start', {
    transferMode: 'ReportEvents',
    traceConfig: { includedCategories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'blink.user_timing', 'v8.execute', 'disabled-by-default-v8.cpu_profiler'] },
  });
  await page.evaluate(() => { window.__bench.profiling = true; });
  for (let i = 0; i < PROFILE; i++) {
    await freshValue(page, box, field, value(TOGGLES + 1 + i));
    await toggleOnce(page, prompt, box);
  }
  await page.evaluate(() => { window.__bench.profiling = false; });
  await cdp.send('Tracing.end');
  await done;
  await cdp.detach();
  return summarizeTrace(events, PROFILE);
}

function summarizeTrace(events, n) {
  const marks = events.filter((e) => e.name === 'bench-request' || e.name === 'bench-reply' || e.name === 'bench-idle').sort((a, b) => a.ts - b.ts);
  if (!marks.length) return { error: 'no bench marks in the trace' };
  const { pid } = marks[0];
  const main = events.find((e) => e.ph === 'M' && e.name === 'thread_name' && e.pid === pid && e.args?.name === 'CrRendererMain')?.tid;
  const windows = [];
  for (let k = 0; k < marks.length; k++) if (marks[k].name === 'bench-reply' && marks[k + 1]?.name === 'bench-idle') windows.push([marks[k].ts, marks[k + 1].ts]);
  const inWin = (t0, t1) => windows.reduce((a, [a0, a1]) => a + Math.max(0, Math.min(t1, a1) - Math.max(t0, a0)), 0);
  const ms = (us) => Math.round(us / n / 10) / 100;

  // Self time of the main thread's complete events, clipped to the windows, by kind.
  const xs = events.filter((e) => e.pid === pid && e.tid === main && e.ph === 'X' && e.dur > 0).sort((a, b) => a.ts - b.ts || b.dur - a.dur);
  const byKind = {}, byEvent = {};
  const stack = [];
  let busy = 0;
  for (const e of xs) {
    while (stack.length && stack[stack.length - 1].ts + stack[stack.length - 1].dur <= e.ts) stack.pop();
    const own = inWin(e.ts, e.ts + e.dur);
    e.child = 0;
    if (stack.length) stack[stack.length - 1].child += own; else busy += own;
    e.own = own;
    stack.push(e);
  }
  for (const e of xs) {
    const self = e.own - e.child;
    if (self <= 0) continue;
    const k = kindOf(e.name);
    byKind[k] = (byKind[k] ?? 0) + self;
    byEvent[e.name] = (byEvent[e.name] ?? 0) + self;
  }
  const windowUs = windows.reduce((a, [a0, a1]) => a + a1 - a0, 0);

  // JS samples of the main thread: self time by function, and by panel.
  const byFn = {}, byPanel = {};
  eachSample(events, pid, (e) => e.tid === main, inWin, (p, leaf, w) => {
    const cf = leaf.callFrame;
    const fn = `${cf.functionName || '(anonymous)'}${cf.url ? ` ${cf.url.split('/').pop()}:${cf.lineNumber + 1}` : ''}`;
    byFn[fn] = (byFn[fn] ?? 0) + w;
    let panel = '(none)';
    for (let nd = leaf; nd; nd = p.nodes.get(nd.parent)) if (PANELS.test(nd.callFrame.functionName)) { panel = nd.callFrame.functionName; break; }
    if (cf.functionName !== '(idle)') byPanel[panel] = (byPanel[panel] ?? 0) + w;
  });
  const top = (o, k) => Object.fromEntries(Object.entries(o).sort((a, b) => b[1] - a[1]).slice(0, k).map(([x, v]) => [x, ms(v)]));
  return {
    worker: workerProfile(events, pid, marks, ms, top),
    toggles: windows.length,
    after_reply_ms: ms(windowUs), main_thread_busy_ms: ms(busy),
    by_kind_ms: top(byKind, 10), by_event_ms: top(byEvent, 12),
    js_by_panel_ms: top(byPanel, 16), js_self_by_function_ms: top(byFn, 20),
  };
}

// Every sample of the trace's CPU profiles that `wanted` (given a profile's start event)
// accepts: f(profile, its leaf node, the sample's time inside the windows, by inWin). A
// profile's chunks may come on other threads than its start.
function eachSample(events, pid, wanted, inWin, f) {
  const profiles = new Map(); // id -> {nodes, t}
  for (const e of events.filter((x) => x.pid === pid && (x.name === 'Profile' || x.name === 'ProfileChunk')).sort((a, b) => a.ts - b.ts)) {
    if (e.name === 'Profile') {
      if (wanted(e)) profiles.set(e.id, { nodes: new Map(), t: e.args.data.startTime });
      continue;
    }
    const p = profiles.get(e.id);
    if (!p) continue;
    const { cpuProfile = {}, timeDeltas = [] } = e.args.data;
    for (const nd of cpuProfile.nodes ?? []) p.nodes.set(nd.id, nd);
    (cpuProfile.samples ?? []).forEach((id, k) => {
      const dt = timeDeltas[k] ?? 0;
      p.t += dt;
      const w = inWin(p.t - dt, p.t);
      const leaf = p.nodes.get(id);
      if (w > 0 && leaf) f(p, leaf, w);
    });
  }
}

// The engine's worker between each run request and its reply: JS and wasm self time by
// function (wasm names need a build that keeps them: link with --profiling-funcs). The worker
// is the one with the most samples in those windows.
function workerProfile(events, pid, marks, ms, top) {
  const windows = [];
  for (let k = 0; k < marks.length; k++) if (marks[k].name === 'bench-request' && marks[k + 1]?.name === 'bench-reply') windows.push([marks[k].ts, marks[k + 1].ts]);
  if (!windows.length) return { error: 'no request/reply marks in the trace' };
  const inWin = (t0, t1) => windows.reduce((a, [a0, a1]) => a + Math.max(0, Math.min(t1, a1) - Math.max(t0, a0)), 0);
  const workers = new Set(events.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.pid === pid && /Worker/.test(e.args?.name ?? '')).map((e) => e.tid));
  const byProfile = new Map();
  eachSample(events, pid, (e) => workers.has(e.tid), inWin, (p, node, w) => {
    if (!byProfile.has(p)) byProfile.set(p, { byFn: {}, busy: 0 });
    const t = byProfile.get(p);
    const fn = node.callFrame.functionName || '(anonymous)';
    t.byFn[fn] = (t.byFn[fn] ?? 0) + w;
    if (fn !== '(idle)') t.busy += w;
  });
  const best = [...byProfile.values()].sort((a, b) => b.busy - a.busy)[0];
  if (!best) return { error: 'no worker profile in the trace' };
  return { requests: windows.length, request_to_reply_ms: ms(windows.reduce((a, [a0, a1]) => a + a1 - a0, 0)), busy_ms: ms(best.busy), self_by_function_ms: top(best.byFn, 25) };
}

main().catch((e) => { console.error(e); process.exit(1); });
