// The Patching view's gradient features (issue #26): attribution patching (lab.patch with
// method 'attribution': the first-order estimate of every slice from one clean forward, one
// corrupted forward and one backward) as a map beside the exact sweep's, their Pearson
// correlation and a scatter of one against the other; gradient × input of the clean prompt
// (lab.gradients) as shaded tokens; their exports and TransformerLens code
// (codegen-gradients.js). patching.js runs the requests and calls renderAttribution; the
// results are app.patch.attr and app.patch.ixg. Pure parts in attribution-data.js, strings
// in attribution-strings.js.
import { Chart, ScatterController } from 'chart.js';
import { $, downloadBlob, showTok } from '../dom.js';
import { fmtNum } from '../i18n.js';
import { interventionsOf } from '../state.js';
import { syncUrl } from '../form.js';
import { upsertChart, lazyTable, renderTable, reducedMotion, OI } from '../charts.js';
import { isRow } from '../codegen-rows.js';
import { tlAttributionCode, tlInputGradCode } from '../codegen-gradients.js';
import { nnAttributionCode, nnInputGradCode } from '../codegen-nnsight.js';
import { hookTable, tableOf } from '../hook-table.js';
import { displayName, bundledSource, loadedModelId } from '../model-name.js';
import { renderDivergingMap } from './patch-heatmap.js';
import { scaleMax, sweepColumns, divergingColor, patchInputs } from './patch-data.js';
import { comparison, sameSlices, attributionCsv, ixgCsv, finiteSum, absMax, textOn } from './attribution-data.js';
import './attribution.css';
import './patching-strings.js';
import './attribution-strings.js';

Chart.register(ScatterController);

const sameForm = (a, b) => JSON.stringify([a.ex, a.interventions]) === JSON.stringify([b.ex, b.interventions]);

/** The column names of a sweep's table and readout ("6 " they" ← " he"", "head 3"). */
export const columnText = (t, c) => (c.kind === 'head' ? t('patchHeadN', { h: c.h }) : `${c.p} ${showTok(c.tok)}${c.clean !== c.tok ? ` ← ${showTok(c.clean)}` : ''}`);

/** The results the view shows: the attribution sweep and gradient × input of the loaded model,
 *  and the exact sweep when it was run on the same form (the only one compared). */
function shown(app) {
  const P = app.patch;
  const a = P.attr && P.attr.model === loadedModelId(app) ? P.attr : null;
  const r = P.result && P.result.model === loadedModelId(app) ? P.result : null;
  const x = P.ixg && P.ixg.model === loadedModelId(app) ? P.ixg : null;
  const pair = a && r && sameForm(a, r) && sameSlices(a.sweep, r.sweep) ? r : null;
  return { a, r, x, pair };
}

export function initAttribution(app) {
  $('patch-method').addEventListener('change', () => {
    app.st.patch.method = $('patch-method').value;
    syncUrl(app);
    app.renderPatching();
  });
  const save = (o, text, type, name) => { if (o) downloadBlob(new Blob([text(o)], { type }), name); };
  $('patch-attr-export-json').addEventListener('click', () => {
    const o = attributionExport(app);
    save(o, (e) => JSON.stringify(e, null, 1), 'application/json', `hooklab-attribution-${o?.hook}.json`);
  });
  $('patch-attr-export-csv').addEventListener('click', () => {
    const o = attributionExport(app);
    save(o, attributionCsv, 'text/csv', `hooklab-attribution-${o?.hook}.csv`);
  });
  $('patch-ixg-export-json').addEventListener('click', () => save(ixgExport(app), (e) => JSON.stringify(e, null, 1), 'application/json', 'hooklab-gradient-x-input.json'));
  $('patch-ixg-export-csv').addEventListener('click', () => save(ixgExport(app), ixgCsv, 'text/csv', 'hooklab-gradient-x-input.csv'));
}

const modelOf = (app) => ({ id: app.loadedKey, name: displayName(app), ...app.modelInfo.config });

/** The attribution sweep with what it was run on; the exact sweep of the same slices and the
 *  two correlations when there is one. */
export function attributionExport(app) {
  const { a, pair } = shown(app);
  if (!a) return null;
  const corr = (m) => comparison(pair.sweep, a.sweep, m).r;
  return {
    model: modelOf(app), method: 'attribution',
    clean: a.ex.clean, corrupted: a.ex.corrupted, answer: a.ex.answer, wrong: a.ex.wrong,
    hook: a.sweep.hook, by: a.sweep.by, interventions: a.interventions, date: a.date,
    sweep: a.sweep,
    exact: pair ? pair.sweep : null,
    correlation: pair ? { normalized: corr('normalized'), logit_diff: corr('logit_diff') } : null,
  };
}

/** Gradient × input of the clean prompt, with what it was run on. */
export function ixgExport(app) {
  const { x } = shown(app);
  if (!x) return null;
  const { tokens, token_strings, answer_id, wrong_id, logit_diff, input_x_gradient, forwards, backwards, ms } = x.grad;
  return {
    model: modelOf(app), prompt: x.ex.clean, answer: x.ex.answer, wrong: x.ex.wrong, interventions: x.interventions, date: x.date,
    gradients: { tokens, token_strings, answer_id, wrong_id, logit_diff, input_x_gradient, forwards, backwards, ms },
    sum: finiteSum(input_x_gradient.map((v) => v ?? NaN)),
  };
}

/** Draws the view's attribution parts; returns the ids dimmed when the form has changed since. */
export function renderAttribution(app) {
  const { t, st } = app;
  const fmt = (v) => fmtNum(v, st.lang, 5);
  const on = st.patch.method === 'attribution';
  const { a, r, x, pair } = shown(app);
  $('patch-method').value = st.patch.method;
  const cur = { ...patchInputs(st.patch, st.model), hook: st.patch.hook };
  const now = { ex: cur, interventions: interventionsOf(st) };
  const stale = {
    attr: !!a && !sameForm(a, now),
    ixg: !!x && JSON.stringify([x.ex.clean, x.ex.answer, x.ex.wrong, x.interventions]) !== JSON.stringify([cur.clean, cur.answer, cur.wrong, now.interventions]),
  };

  // The maps side by side: the estimate beside the exact sweep (alone without one).
  const showA = on && !!a;
  $('fig-patch-attr').hidden = !showA;
  $('patch-maps').classList.toggle('single', !(showA && r));
  if (showA) renderAttrMap(app, a, fmt);
  $('patch-attr').hidden = !on;
  $('attr-code-wrap').hidden = !on;
  $('patch-attr-export-json').disabled = $('patch-attr-export-csv').disabled = !a;
  let note = '';
  if (on && a && !pair) note = t(r ? 'attrOther' : 'attrNoExact');
  $('patch-attr-note').textContent = note;
  $('patch-attr-note').hidden = !note;
  const cmp = on && pair ? comparison(pair.sweep, a.sweep, st.patch.metric) : null;
  const mName = t(`patchMetric_${st.patch.metric}`);
  $('patch-attr-corr').hidden = !cmp;
  $('patch-attr-corr').textContent = !cmp ? '' : cmp.r === null ? t('attrCorrNone')
    : t('attrCorr', { n: cmp.n, metric: mName, r: fmtNum(cmp.r, st.lang, 3) });
  $('fig-patch-scatter').hidden = !cmp;
  if (cmp) renderScatter(app, pair.sweep, cmp, mName, fmt);
  for (const id of ['fig-patch-attr', 'patch-attr']) $(id).classList.toggle('stale', on && stale.attr);

  // Gradient × input of the clean prompt (every Run asks for it, whichever the method).
  $('patch-ixg').hidden = !x;
  $('patch-ixg-export-json').disabled = $('patch-ixg-export-csv').disabled = !x;
  if (x) renderIxg(app, x);
  $('fig-ixg').classList.toggle('stale', stale.ixg);
  renderCode(app, cur);
  return (on && stale.attr) || stale.ixg;
}

// The summary line in attribution mode: the two runs' logit differences, the passes and time,
// and the exact sweep's cost when it was run on the same form.
export function attributionSummary(app) {
  const { t, st } = app;
  const { a, pair } = shown(app);
  if (!a) return t('attrNone');
  const s = a.sweep;
  const n = s.logit_diff.length * (s.logit_diff[0]?.length ?? 0);
  const parts = [
    t('attrLds', { c: fmtNum(s.clean_logit_diff, st.lang), k: fmtNum(s.corrupted_logit_diff, st.lang) }),
    t('attrSummary', { f: s.forwards, b: s.backwards, ms: Math.round(s.ms), n }),
  ];
  if (pair) parts.push(t('attrExactCost', { f: fmtNum(pair.sweep.forwards, st.lang, 2), ms: Math.round(pair.sweep.ms) }));
  return parts.join(' ');
}

/** The colour scale's half-width shared by the two maps when they are shown side by side
 *  (comparable only on one scale), else null. */
export function pairScale(app) {
  const { a, pair } = shown(app);
  if (app.st.patch.method !== 'attribution' || !pair) return null;
  const m = app.st.patch.metric;
  return Math.max(scaleMax(a.sweep[m], m), scaleMax(pair.sweep[m], m));
}

/** The sweep the warning and summary read in attribution mode. */
export const attributionSweep = (app) => shown(app).a?.sweep ?? null;

function renderAttrMap(app, a, fmt) {
  const { t, st } = app;
  const s = a.sweep, metric = st.patch.metric;
  const matrix = s[metric];
  const cols = sweepColumns(s);
  const max = pairScale(app) ?? scaleMax(matrix, metric);
  const mName = t(`patchMetric_${metric}`);
  const title = s.by === 'head' ? t('attrHeatHead', { metric: mName }) : t('attrHeatPos', { metric: mName, hook: s.hook });
  renderDivergingMap($('fig-patch-attr'), {
    matrix, max, title,
    colLabels: cols.map((c) => (c.kind === 'head' ? String(c.h) : c.tok)),
    colNames: cols.map((c) => columnText(t, c)),
    rowLabel: (l) => t('patchBlock', { l }),
    rowHead: t('patchRowHead'),
    readout: (l, c, v) => t('patchReadout', { l, col: columnText(t, cols[c]), v: fmt(v) }),
    hint: t('patchReadoutHint'),
    caption: t('patchScale', { m: fmtNum(max, st.lang, 2) }),
    dataTable: t('dataTable'),
    tableCaption: title,
    fmt,
  });
}

function renderScatter(app, exact, cmp, mName, fmt) {
  const { t, st } = app, P = app.patch;
  const fig = $('fig-patch-scatter');
  const cols = sweepColumns(exact);
  const name = (p) => `${t('patchBlock', { l: p.layer })}, ${columnText(t, cols[p.col])}`;
  const pts = cmp.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const ends = pts.flatMap((p) => [p.x, p.y]);
  const lo = Math.min(0, ...ends), hi = Math.max(0, ...ends);
  const title = t('attrScatterTitle', { metric: mName });
  fig.querySelector('.fig-title').textContent = title;
  const canvas = fig.querySelector('canvas');
  canvas.setAttribute('aria-label', `${title}. ${$('patch-attr-corr').textContent}`);
  const lang = st.lang;
  P.scatter = upsertChart(P.scatter, canvas, {
    type: 'scatter',
    data: {
      datasets: [
        { label: t('attrScatterPoints'), data: pts.map((p) => ({ x: p.x, y: p.y, name: name(p) })), backgroundColor: OI.blue, borderColor: OI.blue, pointRadius: 3, pointHoverRadius: 6 },
        { type: 'line', label: t('attrScatterDiag'), data: [{ x: lo, y: lo }, { x: hi, y: hi }], borderColor: OI.vermillion, backgroundColor: OI.vermillion, borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0, fill: false },
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: reducedMotion() ? false : { duration: 250 },
      interaction: { mode: 'nearest', intersect: true },
      plugins: {
        legend: { labels: { usePointStyle: true } },
        tooltip: { filter: (c) => c.datasetIndex === 0, callbacks: { label: (c) => `${c.raw.name}: ${fmtNum(c.raw.x, lang, 4)} → ${fmtNum(c.raw.y, lang, 4)}` } },
      },
      scales: {
        x: { type: 'linear', title: { display: true, text: t('attrScatterX') } },
        y: { type: 'linear', title: { display: true, text: t('attrScatterY') } },
      },
    },
  });
  fig.querySelector('.fig-cap').textContent = t('attrScatterCap');
  fig.querySelector('summary').textContent = t('dataTable');
  const rows = cmp.points.map((p) => [name(p), fmt(p.x), fmt(p.y), fmt(p.y - p.x)]);
  lazyTable(fig.querySelector('.table-wrap'), [lang, JSON.stringify(rows)], () =>
    [[t('attrTableSlice'), t('attrTableExact'), t('attrTableEst'), t('attrTableDiff')], rows, title]);
}

// The clean prompt's tokens, each shaded by its gradient × input (one tab stop: the arrow keys
// move along the tokens, the value read out below), a legend, a caption and the data table.
function renderIxg(app, x) {
  const { t, st } = app;
  const g = x.grad;
  const vals = g.input_x_gradient.map((v) => (v === null ? NaN : v));
  const m = absMax(vals);
  const fmt = (v) => fmtNum(v, st.lang, 5);
  const fig = $('fig-ixg');
  const title = t('ixgFigTitle', { answer: showTok(x.ex.answer), wrong: showTok(x.ex.wrong) });
  const hint = t('ixgHint');
  const key = JSON.stringify([st.lang, g.tokens, vals, title, g.ms]);
  if (fig.dataset.key === key) return;
  fig.dataset.key = key;
  const h = document.createElement('h4');
  h.className = 'fig-title';
  h.textContent = title;
  const strip = document.createElement('div');
  strip.className = 'ixg-tokens';
  strip.tabIndex = 0;
  strip.setAttribute('role', 'group');
  strip.setAttribute('aria-label', `${title}. ${hint}`);
  const out = document.createElement('p');
  out.className = 'pmap-readout';
  out.setAttribute('aria-live', 'polite');
  out.textContent = hint;
  const read = (p) => { out.textContent = t('ixgReadout', { p, tok: showTok(g.token_strings[p]), v: fmt(vals[p]) }); };
  const spans = g.token_strings.map((tok, p) => {
    const s = document.createElement('span');
    s.className = 'ixg-tok';
    s.textContent = Number.isFinite(vals[p]) ? tok.replace(/\n/g, '⏎\n') : `${tok}✕`;
    s.style.background = divergingColor(vals[p], m) ?? '#fff';
    s.style.color = textOn(vals[p], m);
    s.addEventListener('mousemove', () => read(p));
    return s;
  });
  strip.append(...spans);
  let cursor = -1;
  const move = (p) => {
    spans[cursor]?.classList.remove('cursor');
    cursor = Math.max(0, Math.min(spans.length - 1, p));
    spans[cursor].classList.add('cursor');
    read(cursor);
  };
  strip.addEventListener('focus', () => move(cursor < 0 ? spans.length - 1 : cursor));
  strip.addEventListener('blur', () => spans[cursor]?.classList.remove('cursor'));
  strip.addEventListener('keydown', (ev) => {
    const to = { ArrowLeft: cursor - 1, ArrowRight: cursor + 1, ArrowUp: cursor - 1, ArrowDown: cursor + 1, Home: 0, End: spans.length - 1 }[ev.key];
    if (to === undefined) return;
    ev.preventDefault();
    move(to);
  });
  // The legend: the scale's two ends and 0, and what each colour means.
  const legend = document.createElement('div');
  legend.className = 'ixg-legend';
  const bar = document.createElement('span');
  bar.className = 'ixg-bar';
  bar.style.background = `linear-gradient(to right, ${[-1, -0.5, 0, 0.5, 1].map((f) => divergingColor(f * m, m)).join(', ')})`;
  const lab = (text) => { const s = document.createElement('span'); s.textContent = text; return s; };
  legend.append(lab(`${fmtNum(-m, st.lang, 2)} · ${t('ixgLegendNeg')}`), bar, lab(`${fmtNum(m, st.lang, 2)} · ${t('ixgLegendPos')}`));
  const cap = document.createElement('p');
  cap.className = 'caption';
  cap.textContent = t('ixgCap', { m: fmtNum(m, st.lang, 2), s: fmt(finiteSum(vals)), ld: fmt(g.logit_diff), ms: Math.round(g.ms) });
  const details = document.createElement('details');
  const summary = document.createElement('summary');
  summary.textContent = t('dataTable');
  const wrap = document.createElement('div');
  wrap.className = 'table-wrap';
  renderTable(wrap, [t('ixgPos'), t('ixgTok'), t('ixgVal')], g.token_strings.map((tok, p) => [String(p), showTok(tok), fmt(vals[p])]), title);
  details.append(summary, wrap);
  fig.replaceChildren(h, strip, out, legend, cap, details);
}

/** The code of both, again (the code panel's tab changed). */
export function renderAttributionCode(app) {
  renderCode(app, { ...patchInputs(app.st.patch, app.st.model), hook: app.st.patch.hook });
}

// The TransformerLens (or nnsight) code of both: written from the engine's hook table when the builder's
// rows are among the interventions (drawn once the table is here).
function renderCode(app, cur) {
  const st = app.st;
  const hooks = tableOf(app);
  const ex = { ...cur, metric: st.patch.metric };
  const info = { lang: st.lang, ...bundledSource(app), hooks };
  if (!hooks && interventionsOf(st).some(isRow)) {
    $('attr-code').textContent = $('ixg-code').textContent = app.t('cgNeedsTable');
    if (app.modelInfo) hookTable(app).then(() => app.renderPatching(), () => {});
    return;
  }
  const nn = app.codeTab === 'nn'; // the code panel's tab: nnsight, else TransformerLens
  for (const [id, gen] of [['attr-code', nn ? nnAttributionCode : tlAttributionCode], ['ixg-code', nn ? nnInputGradCode : tlInputGradCode]]) {
    try {
      $(id).textContent = gen(st, ex, info);
    } catch (e) {
      $(id).textContent = `# ${e.message}`;
    }
  }
}
