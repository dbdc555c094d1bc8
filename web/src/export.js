// Exports: the runs as JSON, every number as CSV, charts as PNG. Each names the model,
// the prompt, the interventions and the date (PNGs in a drawn header and in iTXt chunks).
import { downloadBlob } from './dom.js';
import { fmtNum } from './i18n.js';
import { toCsv } from './analysis.js';
import { tableOf } from './hook-table.js';
import { interventionsOf } from './state.js';
import { describeRow, rowToText, rowIntervention } from './rows.js';
import { flushLazy } from './lazy.js';
import { displayName } from './model-name.js';
import './processing-strings.js'; // the weights' label

// Typed arrays (the worker may send Float32Array) become plain arrays for JSON.
const plain = (x) => JSON.parse(JSON.stringify(x, (_, v) => (ArrayBuffer.isView(v) ? Array.from(v) : v)));

// The export format (docs/embedding.md; `format` and `v` name it): the main run, then the
// result of every view the experiment uses, each null until that view has one: `rows` (the
// builder's rows), and what the panels register in app.resultParts (patching: the exact sweep
// and direct logit attribution, attribution_patching, gradients, heads, generation).
// `views`: the parts that hold a result; `pending`: the views still running (autorun).
export const EXPORT_VERSION = 1;

export function exportObject(app) {
  const { result, modelInfo, lensResult } = app;
  if (!result || !modelInfo) return null;
  const parts = {};
  for (const [k, get] of Object.entries(app.resultParts ?? {})) parts[k] = get() ?? null;
  const rows = result.state.iv.map((r) => ({ text: rowToText(r), on: r.on, intervention: r.on ? rowIntervention(r) : null }));
  return plain({
    format: 'hooklab-export',
    v: EXPORT_VERSION,
    // config.processing: TransformerLens's weight processing the run's weights had ({fold_ln, ...}), or null (HF's)
    model: { id: result.model, name: displayName(app), ...modelInfo.config, processing: processingOf(modelInfo) },
    prompt: result.state.prompt,
    interventions: interventionsOf(result.state),
    date: new Date().toISOString(),
    topk: result.state.topk,
    baseline: result.baseline,
    intervened: result.intervened,
    compare: result.compare,
    logit_lens: lensResult?.for === result ? lensResult.layers : null,
    rows,
    ...parts,
    views: ['run', ...(rows.length ? ['rows'] : []), ...Object.keys(parts).filter((k) => parts[k] !== null)],
    pending: pendingViews(app),
  });
}

/** The loaded model's weight processing ({fold_ln, center_writing_weights, center_unembed,
 *  fold_value_biases} as the engine reports it), or null for HuggingFace's weights. */
export const processingOf = (modelInfo) => {
  const p = modelInfo?.config?.processing;
  return p && Object.values(p).some(Boolean) ? { ...p } : null;
};
const PROCESS_ORDER = ['fold_ln', 'center_writing_weights', 'center_unembed', 'fold_value_biases'];

/** The views whose automatic run (autorun) has not finished: [name]. */
export const pendingViews = (app) => (app.pendingChecks ?? []).map((f) => f()).filter(Boolean);

export function exportJson(app) {
  const o = exportObject(app);
  if (o) downloadBlob(new Blob([JSON.stringify(o, null, 1)], { type: 'application/json' }), 'hooklab-run.json');
}

export function exportCsv(app) {
  const o = exportObject(app);
  if (o) downloadBlob(new Blob([toCsv(o, tableOf(app))], { type: 'text/csv' }), 'hooklab-data.csv');
}

// The interventions in the page's words.
export function describeInterventions(app, state) {
  const { t, st } = app;
  const f = (x) => fmtNum(x, st.lang, 6);
  const ivs = interventionsOf(state);
  if (!ivs.length) return t('noInterventions');
  return ivs.map((iv) => {
    if (iv.kind === 'zero_head_k') return t('ivZeroHead', { h: iv.head, l: iv.layer });
    if (iv.kind === 'noise_even_neurons') return t('ivNoise', { mean: f(iv.mean), std: f(iv.std), l: iv.layer, seed: iv.seed });
    if (iv.hook) return describeRow(iv, t, f); // a builder row
    return t('ivScale', { l: iv.layer, f: f(iv.factor) });
  }).join('; ');
}

// What every exported picture says about itself: [keyword, label, text].
export function exportContext(app, date = new Date()) {
  const { t, result, modelInfo } = app;
  const name = displayName(app);
  const model = modelInfo?.key === 'default' ? t('modelDefault', { name }) : name;
  const proc = processingOf(modelInfo);
  return [
    ['Model', t('exportModel'), model],
    ['Weights', t('weights'), proc ? t('weightsTl', { list: PROCESS_ORDER.filter((k) => proc[k]).join(', ') }) : t('weightsHf')],
    ['Prompt', t('exportPrompt'), JSON.stringify(result.state.prompt)],
    ['Interventions', t('exportInterventions'), describeInterventions(app, result.state)],
    ['Creation Time', t('exportDate'), date.toISOString()],
  ];
}

// Wraps text to a width; returns the lines.
function wrap(ctx, text, width) {
  const words = text.split(' ');
  const lines = [];
  let line = '';
  for (const w of words) {
    const next = line ? `${line} ${w}` : w;
    if (line && ctx.measureText(next).width > width) { lines.push(line); line = w; } else line = next;
  }
  if (line) lines.push(line);
  return lines;
}

// Canvases stacked under a header (title, model, prompt, interventions, date).
function composite(app, parts, title) {
  const ctxInfo = exportContext(app);
  const W = Math.max(640, ...parts.map((p) => p.canvas.width));
  const scale = W / 800 > 1 ? W / 800 : 1;
  const pad = 12 * scale, lh = 18 * scale;
  const probe = document.createElement('canvas').getContext('2d');
  probe.font = `${13 * scale}px system-ui, sans-serif`;
  const head = [[title, true], ...ctxInfo.flatMap(([, label, text]) => wrap(probe, `${label}: ${text}`, W - 2 * pad).map((l) => [l, false]))];
  const headH = pad + head.length * lh + pad / 2;
  const partH = parts.reduce((a, p) => a + (p.title ? lh : 0) + p.canvas.height + pad, 0);
  const out = document.createElement('canvas');
  out.width = W;
  out.height = Math.ceil(headH + partH);
  const ctx = out.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.fillStyle = '#1b1b1b';
  ctx.textBaseline = 'top';
  let y = pad;
  for (const [line, bold] of head) {
    ctx.font = `${bold ? '600 ' : ''}${(bold ? 15 : 13) * scale}px system-ui, sans-serif`;
    ctx.fillText(line, pad, y);
    y += lh;
  }
  y = headH;
  for (const p of parts) {
    if (p.title) {
      ctx.font = `600 ${13 * scale}px system-ui, sans-serif`;
      ctx.fillText(p.title, pad, y);
      y += lh;
    }
    ctx.drawImage(p.canvas, 0, y);
    y += p.canvas.height + pad;
  }
  return { canvas: out, ctxInfo };
}

async function savePng(canvas, textChunks, name) {
  const blob = await new Promise((res) => canvas.toBlob(res, 'image/png'));
  const bytes = withText(new Uint8Array(await blob.arrayBuffer()), textChunks);
  downloadBlob(new Blob([bytes], { type: 'image/png' }), name);
}

const figTitle = (canvas) => canvas.closest('figure')?.querySelector('.fig-title')?.textContent || canvas.getAttribute('aria-label') || '';

// A chart as its panel would draw it now: the panel's pending draw runs first (lazy.js).
export function chartOf(app, key) {
  flushLazy();
  return app.charts[key] ?? null;
}

// One chart, with its title and the export header.
export function chartPng(app, key, filename) {
  const ch = chartOf(app, key);
  if (!ch || !app.result) return;
  const title = figTitle(ch.canvas);
  const { canvas, ctxInfo } = composite(app, [{ canvas: ch.canvas }], title);
  return savePng(canvas, [['Title', title], ...ctxInfo.map(([k, , v]) => [k, v])], filename);
}

// Every visible chart and heat-map, one under the other.
export function exportAllPng(app) {
  if (!app.result) return;
  const visible = (c) => c.offsetParent !== null;
  flushLazy();
  const canvases = [...Object.values(app.charts).map((c) => c.canvas).filter(visible),
    ...[...document.querySelectorAll('.heat-fig canvas')].filter(visible)];
  if (!canvases.length) return;
  const title = app.t('title');
  const { canvas, ctxInfo } = composite(app, canvases.map((c) => ({ canvas: c, title: figTitle(c) })), title);
  return savePng(canvas, [['Title', title], ...ctxInfo.map(([k, , v]) => [k, v])], 'hooklab-charts.png');
}

// PNG text chunks (iTXt, UTF-8), inserted after IHDR, so the file names its context too.
const CRC = (() => {
  const tab = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    tab[n] = c >>> 0;
  }
  return (bytes) => {
    let c = 0xffffffff;
    for (const b of bytes) c = tab[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
})();

export function withText(png, pairs) {
  const enc = new TextEncoder();
  const chunks = pairs.map(([key, text]) => {
    const body = [...enc.encode(key), 0, 0, 0, 0, 0, ...enc.encode(text)];
    const typed = new Uint8Array([...enc.encode('iTXt'), ...body]);
    const out = new Uint8Array(12 + body.length);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, body.length);
    out.set(typed, 4);
    dv.setUint32(8 + body.length, CRC(typed));
    return out;
  });
  const ihdrEnd = 8 + 12 + new DataView(png.buffer, png.byteOffset).getUint32(8);
  const total = png.length + chunks.reduce((a, c) => a + c.length, 0);
  const out = new Uint8Array(total);
  out.set(png.subarray(0, ihdrEnd), 0);
  let o = ihdrEnd;
  for (const c of chunks) { out.set(c, o); o += c.length; }
  out.set(png.subarray(ihdrEnd), o);
  return out;
}
