// The Patching view: clean/corrupted prompts, answer/wrong tokens (typed, or picked from the
// clean run's top-k), a hook family; the sweep (lab.patch in the worker, with progress and
// cancel) as a block × position or block × head heat-map; direct logit attribution of the
// clean prompt (lab.attribute) as a per-block bar chart and a block × head heat-map; export;
// the same experiment in TransformerLens. The method switch (exact / attribution patching) and
// gradient × input of the clean prompt: patch-attribution.js. Its state is app.st.patch (URL
// keys in patch-data.js).
import { $, downloadBlob, showTok } from '../dom.js';
import { fmtNum } from '../i18n.js';
import { interventionsOf } from '../state.js';
import { syncUrl } from '../form.js';
import { whenVisible } from '../lazy.js';
import { describeError } from '../errors.js';
import { describeInterventions } from '../export.js';
import { tlPatchCode, tlDlaCode } from '../codegen.js';
import { nnPatchCode, nnDlaCode } from '../codegen-nnsight.js';
import { barConfig, upsertChart, renderTable, OI } from '../charts.js';
import { displayName, bundledSource, loadedModelId } from '../model-name.js';
import { renderDivergingMap } from './patch-heatmap.js';
import { defaultPair, patchInputs, scaleMax, sweepColumns, sweepCsv, dlaGroups, errorField, diffWarning, SMALL_DIFF, SMALL_SHARE } from './patch-data.js';
import { loadedModelHeads } from './heads.js';
import { patchZNote } from '../known-heads.js';
import { initAttribution, renderAttribution, renderAttributionCode, attributionSummary, attributionSweep, columnText, pairScale, attributionExport, ixgExport } from './patch-attribution.js';
import { isLocked } from '../author.js';
import './patching-strings.js';
import './attribution-strings.js';

const TEXT_FIELDS = [['clean', 'patch-clean'], ['corrupted', 'patch-corrupted'], ['answer', 'patch-answer'], ['wrong', 'patch-wrong']];
const TOPK = 10;

const inputs = (app) => patchInputs(app.st.patch, app.st.model);

export function initPatching(app) {
  // live: the form's input errors found as it is typed (checkInputs), by field.
  // attr: the latest attribution patching, ixg: the latest gradient × input (patch-attribution.js).
  app.patch = { result: null, dla: null, attr: null, ixg: null, chart: null, scatter: null, job: null, errors: {}, live: {}, checkKey: null, status: null, top: null, topKey: null, progress: 0 };
  app.renderPatching = () => renderPatching(app);
  for (const [field, id] of TEXT_FIELDS) {
    $(id).addEventListener('input', () => {
      const v = $(id).value;
      app.st.patch[field] = v === defaultPair(app.st.model)[field] ? null : v;
      const f = field === 'clean' || field === 'corrupted' ? 'prompts' : field;
      delete app.patch.errors[f];
      delete app.patch.live[f]; // until the check of the new text answers
      syncUrl(app);
      renderPatching(app);
    });
  }
  for (const which of ['answer', 'wrong']) {
    $(`patch-${which}-pick`).addEventListener('change', (ev) => {
      const v = ev.target.value;
      if (!v) return;
      $(`patch-${which}`).value = v;
      $(`patch-${which}`).dispatchEvent(new Event('input'));
      ev.target.value = '';
    });
  }
  $('patch-hook').addEventListener('change', () => { app.st.patch.hook = $('patch-hook').value; syncUrl(app); renderPatching(app); });
  $('patch-metric').addEventListener('change', () => { app.st.patch.metric = $('patch-metric').value; syncUrl(app); renderPatching(app); });
  $('patch-run').addEventListener('click', () => runSweep(app));
  $('patch-cancel').addEventListener('click', () => app.patch.job?.cancel());
  $('patch-export-json').addEventListener('click', () => {
    const o = patchExport(app);
    if (o) downloadBlob(new Blob([JSON.stringify(o, null, 1)], { type: 'application/json' }), `hooklab-patching-${o.hook}.json`);
  });
  $('patch-export-csv').addEventListener('click', () => {
    const o = patchExport(app);
    if (o) downloadBlob(new Blob([sweepCsv(o)], { type: 'text/csv' }), `hooklab-patching-${o.hook}.csv`);
  });
  initAttribution(app);
  // Its results in the export and the embed API (export.js), and autorun=patch: the sweep of
  // the current form runs once the model is loaded, and again when the form changes.
  app.resultParts.patching = () => patchExport(app);
  app.resultParts.attribution_patching = () => attributionExport(app);
  app.resultParts.gradients = () => ixgExport(app);
  app.pendingChecks.push(() => (autorunsPatch(app) && (app.patch.job || app.patch.autoKey !== autoKey(app)) ? 'patch' : null));
  app.autoruns.push(autorun);
}

const autorunsPatch = (app) => app.st.autorun?.includes('patch');
const autoKey = (app) => JSON.stringify([loadedModelId(app), inputs(app), app.st.patch.hook, app.st.patch.method, interventionsOf(app.st)]);

// autorun=patch: a sweep for the current form, when none ran for it (an error counts as ran).
function autorun(app) {
  const Pa = app.patch;
  if (!autorunsPatch(app) || !app.modelInfo || !app.result || Pa.job || Pa.autoKey === autoKey(app)) return;
  clearTimeout(Pa.autoTimer);
  Pa.autoTimer = setTimeout(() => {
    if (Pa.job || Pa.autoKey === autoKey(app) || !autorunsPatch(app)) return;
    Pa.autoKey = autoKey(app);
    runSweep(app);
  }, 300);
}

// The finished sweep (and the attribution of the same inputs), with what it was run on.
/** The view's code again, in the code panel's library (its tab changed). */
export function renderPatchCodes(app) {
  if (!app.patch) return;
  renderPatchCode(app);
  renderAttributionCode(app);
}

export function patchExport(app) {
  const r = app.patch?.result;
  if (!r || r.model !== loadedModelId(app)) return null;
  const dla = app.patch.dla;
  return {
    model: { id: app.loadedKey, name: displayName(app), ...app.modelInfo.config },
    clean: r.ex.clean, corrupted: r.ex.corrupted, answer: r.ex.answer, wrong: r.ex.wrong,
    hook: r.sweep.hook, by: r.sweep.by, interventions: r.interventions, date: r.date,
    sweep: r.sweep,
    attribution: dla && dla.for === r ? dla.attr : null,
  };
}

// Run: the sweep of the chosen method (exact, or attribution patching), the direct logit
// attribution and gradient × input of the clean prompt.
async function runSweep(app) {
  const P = app.patch;
  if (P.job || !app.modelInfo) return;
  const method = app.st.patch.method;
  const ex = { ...inputs(app), hook: app.st.patch.hook };
  const interventions = interventionsOf(app.st);
  const n = app.modelInfo.config.n_layer;
  P.errors = {};
  P.status = method === 'attribution' ? { key: 'attrRunning', vars: {} } : { key: 'patchProgress', vars: { i: 0, n } };
  P.progress = 0;
  const job = app.client.patch({ opts: { ...ex, interventions, method } }, { onProgress: (f) => {
    P.progress = f;
    if (method === 'exact') P.status = { key: 'patchProgress', vars: { i: Math.round(f * n), n } };
    renderProgress(app);
  } });
  const attr = app.client.attribute({ opts: { prompt: ex.clean, answer: ex.answer, wrong: ex.wrong, interventions } });
  const grads = app.client.gradients({ opts: { prompt: ex.clean, answer: ex.answer, wrong: ex.wrong, interventions } });
  P.job = job;
  renderPatching(app);
  const [s, a, g] = await Promise.allSettled([job, attr, grads]);
  P.job = null;
  const model = loadedModelId(app);
  const fail = (e) => {
    const d = describeError(e.message);
    const field = errorField(d) ?? 'general';
    P.errors[field] ??= d;
  };
  if (s.status === 'fulfilled' && s.value.cancelled) P.status = { key: 'patchCancelled', vars: {} };
  else if (s.status === 'fulfilled') {
    const res = { sweep: s.value, ex, interventions, model, date: new Date().toISOString() };
    if (method === 'attribution') P.attr = res;
    else P.result = res;
    P.status = null;
  } else { fail(s.reason); P.status = null; }
  if (a.status === 'fulfilled') P.dla = { attr: a.value, ex, interventions, model, for: P.result && P.result.ex === ex ? P.result : null };
  else { fail(a.reason); if (errorField(describeError(a.reason.message)) === 'dla') P.dla = null; }
  if (g.status === 'fulfilled') P.ixg = { grad: g.value, ex, interventions, model, date: new Date().toISOString() };
  else fail(g.reason);
  renderPatching(app);
  if (window.parent !== window) app.notifyResult?.(); // the embed API's hooklab:result
}

function renderProgress(app) {
  const P = app.patch, { t } = app;
  $('patch-progress-wrap').hidden = !P.job;
  $('patch-progress').value = P.progress;
  $('patch-progress-text').textContent = P.job && P.status ? t(P.status.key, P.status.vars) : '';
  $('patch-cancel').hidden = !P.job;
  $('patch-run').disabled = !!P.job || !app.modelInfo;
}

// The error next to its field: the engine's message in the page's words (which field, in
// the page's language); the engine's own text in the title.
function showFieldError(app, id, d) {
  const el = $(id);
  el.hidden = !d;
  if (!d) { el.textContent = ''; return; }
  const vars = { ...d.vars };
  if (vars.which) vars.which = app.t(`patchWhich_${vars.which}`);
  const s = d.key === 'errEngine' ? `${app.t(d.key)} ${d.raw}` : app.t(d.key, vars);
  el.textContent = s.charAt(0).toUpperCase() + s.slice(1);
}

// The form checked as it is typed (two tokens for the answer, prompts of different lengths,
// …): the worker tokenizes, no forward; once per change of the texts, 250 ms after typing
// stops. Its errors replace the last Run's for the same fields.
function checkInputs(app) {
  const P = app.patch;
  if (!app.modelInfo) return;
  const ex = inputs(app);
  const key = JSON.stringify([loadedModelId(app), ex]);
  if (P.checkKey === key) return;
  P.checkKey = key;
  clearTimeout(P.checkTimer);
  P.checkTimer = setTimeout(async () => {
    let errors;
    try { ({ errors } = await app.client.patchCheck({ opts: ex })); } catch { P.checkKey = null; return; }
    if (P.checkKey !== key) return; // the form changed meanwhile: its own check follows
    P.live = {};
    for (const m of errors) {
      const d = describeError(m);
      P.live[errorField(d) ?? 'general'] ??= d;
    }
    for (const f of ['prompts', 'answer', 'wrong']) delete P.errors[f];
    renderPatching(app);
  }, 250);
}

// The pickers' top-k costs a forward: asked only while the view is on screen (else every
// exercise toggle would queue one behind its run), once per change of its inputs, after
// they have stopped changing for 300 ms (typing) — lazy.js.
function refreshTop(app) {
  if (!app.modelInfo) return;
  const { clean } = inputs(app), interventions = interventionsOf(app.st);
  const key = JSON.stringify([loadedModelId(app), clean, interventions]);
  whenVisible($('patch-section'), [key], async () => {
    const P = app.patch;
    P.topKey = key;
    let top;
    try { top = (await app.client.patchTop({ prompt: clean, interventions, topk: TOPK })).top; } catch { top = []; }
    if (P.topKey !== key) return; // a newer request was sent meanwhile: its reply counts
    P.top = top;
    renderPicks(app);
  }, { settle: 300, request: true });
}

function renderPicks(app) {
  const { t, st } = app;
  for (const which of ['answer', 'wrong']) {
    const sel = $(`patch-${which}-pick`);
    const opts = [new Option(t('patchPick', { k: TOPK }), '')];
    for (const x of app.patch.top ?? []) opts.push(new Option(`${showTok(x.token)} #${x.id} · ${fmtNum(x.prob, st.lang, 2)}`, x.token));
    sel.replaceChildren(...opts);
    sel.disabled = !(app.patch.top ?? []).length || isLocked(sel); // a locked key's picker stays off (author.js)
    sel.setAttribute('aria-label', `${t(which === 'answer' ? 'patchAnswer' : 'patchWrong')}: ${t('patchPick', { k: TOPK })}`);
  }
}

export function renderPatching(app) {
  const P = app.patch;
  if (!P) return;
  const { t, st } = app;
  const fmt = (x) => fmtNum(x, st.lang, 5);
  const cur = inputs(app);
  for (const [field, id] of TEXT_FIELDS) if (document.activeElement !== $(id) && $(id).value !== cur[field]) $(id).value = cur[field];
  $('patch-hook').value = st.patch.hook;
  $('patch-metric').value = st.patch.metric;
  const note = $('patch-model-note');
  note.hidden = st.model !== 'default';
  note.textContent = st.model === 'default' ? t('patchEmbeddedNote', { name: app.defaultName }) : '';
  // By head: what to look for on the loaded model (known-heads.js).
  const look = st.patch.hook === 'z' && app.modelInfo ? patchZNote({ entry: loadedModelHeads(app), name: displayName(app), t }) : null;
  $('patch-look').hidden = !look;
  $('patch-look').textContent = look ?? '';
  checkInputs(app);
  const err = (f) => P.errors[f] ?? P.live[f];
  showFieldError(app, 'patch-prompts-err', err('prompts'));
  showFieldError(app, 'patch-answer-err', err('answer'));
  showFieldError(app, 'patch-wrong-err', err('wrong'));
  showFieldError(app, 'patch-dla-err', P.errors.dla);
  showFieldError(app, 'patch-general-err', P.errors.general);
  for (const [f, id] of [['prompts', 'patch-clean'], ['prompts', 'patch-corrupted'], ['answer', 'patch-answer'], ['wrong', 'patch-wrong']]) $(id).setAttribute('aria-invalid', String(!!err(f)));
  $('patch-status').textContent = !P.job && P.status ? t(P.status.key, P.status.vars) : '';
  renderProgress(app);
  renderPicks(app);
  refreshTop(app);
  $('patch-ivs').textContent = t('patchIvs', { list: describeInterventions(app, st) });

  const r = P.result && P.result.model === loadedModelId(app) ? P.result : null;
  const attrMode = st.patch.method === 'attribution';
  $('patch-export-json').disabled = $('patch-export-csv').disabled = !r;
  $('fig-patch').hidden = !r;
  $('patch-summary').textContent = attrMode ? attributionSummary(app) : r
    ? t('patchSummary', { c: fmtNum(r.sweep.clean_logit_diff, st.lang), k: fmtNum(r.sweep.corrupted_logit_diff, st.lang), f: fmtNum(r.sweep.forwards, st.lang, 2), ms: Math.round(r.sweep.ms) })
    : t('patchNone');
  const a = attrMode ? attributionSweep(app) : null;
  renderDiffWarning(app, a ? { sweep: a } : r);
  // Results of another form (texts, hook or interventions changed since the sweep): dimmed until Run.
  const stale = !!r && JSON.stringify([r.ex, r.interventions]) !== JSON.stringify([{ ...cur, hook: st.patch.hook }, interventionsOf(st)]);
  for (const id of ['fig-patch', 'patch-dla']) $(id).classList.toggle('stale', stale);
  const staleA = renderAttribution(app);
  for (const id of ['patch-summary', 'patch-warn']) $(id).classList.toggle('stale', attrMode && a ? staleA : stale);
  $('patch-stale').hidden = !(stale || staleA);
  $('patch-stale').textContent = stale || staleA ? t('patchStale') : '';
  if (r) renderSweep(app, r, fmt);
  const d = P.dla && P.dla.model === loadedModelId(app) ? P.dla : null;
  $('patch-dla').hidden = !d && !P.errors.dla;
  $('fig-dla-layers').hidden = $('fig-dla-heads').hidden = !d;
  if (d) renderDla(app, d, fmt);
  renderPatchCode(app);
  autorun(app);
}

// The normalised metric assumes D = clean − corrupted > 0 and divides by it: a warning when
// D is not positive or small (the rule: patch-data.js diffWarning, stated in the caption).
function renderDiffWarning(app, r) {
  const { t, st } = app;
  const w = r ? diffWarning(r.sweep.clean_logit_diff, r.sweep.corrupted_logit_diff) : null;
  const box = $('patch-warn');
  box.hidden = !w;
  if (!w) { box.textContent = ''; return; }
  const vars = { c: fmtNum(r.sweep.clean_logit_diff, st.lang), k: fmtNum(r.sweep.corrupted_logit_diff, st.lang), d: fmtNum(w.d, st.lang) };
  box.textContent = [w.reversed ? t('patchWarnReversed', vars) : '', w.small ? t('patchWarnSmall', vars) : ''].filter(Boolean).join(' ');
}

function renderSweep(app, r, fmt) {
  const { t, st } = app;
  const s = r.sweep, metric = st.patch.metric;
  const matrix = s[metric];
  const cols = sweepColumns(s);
  const colText = (c) => columnText(t, c);
  const max = pairScale(app) ?? scaleMax(matrix, metric); // one scale with the estimate beside it
  const mName = t(`patchMetric_${metric}`);
  const title0 = s.by === 'head' ? t('patchHeatHead', { metric: mName }) : t('patchHeatPos', { metric: mName, hook: s.hook });
  // Beside the attribution map, the exact one says which it is.
  const title = st.patch.method === 'attribution' ? t('attrExact', { title: title0 }) : title0;
  renderDivergingMap($('fig-patch'), {
    matrix, max, title,
    colLabels: cols.map((c) => (c.kind === 'head' ? String(c.h) : c.tok)),
    colNames: cols.map(colText),
    rowLabel: (l) => t('patchBlock', { l }),
    rowHead: t('patchRowHead'),
    readout: (l, c, v) => t('patchReadout', { l, col: colText(cols[c]), v: fmt(v) }),
    hint: t('patchReadoutHint'),
    caption: `${t('patchScale', { m: fmtNum(max, st.lang, 2) })} ${t('patchRule', { abs: fmtNum(SMALL_DIFF, st.lang), pct: Math.round(SMALL_SHARE * 100) })}`,
    dataTable: t('dataTable'),
    tableCaption: title,
    fmt,
  });
}

function renderDla(app, d, fmt) {
  const { t, st } = app, P = app.patch;
  const cfg = app.modelInfo.config;
  const g = dlaGroups(d.attr, cfg.n_layer, cfg.n_head);
  const blocks = g.attn.map((_, l) => String(l));
  const labels = ['embed', 'pos_embed', ...blocks, 'ln_final.bias'];
  const pad = (arr) => [null, null, ...arr, null];
  const other = [g.other.embed ?? null, g.other.pos_embed ?? null, ...blocks.map(() => null), g.other['ln_final.bias'] ?? null];
  const fig = $('fig-dla-layers');
  const title = `${t('patchDlaLayers')} (${showTok(d.ex.answer)} − ${showTok(d.ex.wrong)})`;
  fig.querySelector('.fig-title').textContent = title;
  const canvas = fig.querySelector('canvas');
  canvas.setAttribute('aria-label', title);
  const cfgChart = barConfig({
    labels,
    datasets: [
      { label: t('patchDlaAttn'), data: pad(g.attn), backgroundColor: OI.blue },
      { label: t('patchDlaBias'), data: pad(g.bias), backgroundColor: OI.sky },
      { label: t('patchDlaMlp'), data: pad(g.mlp), backgroundColor: OI.vermillion },
      { label: t('patchDlaOther'), data: other, backgroundColor: OI.green },
    ],
    yTitle: t('patchDlaValue'),
    xTitle: t('layer'),
  });
  P.chart = upsertChart(P.chart, canvas, cfgChart); // not in app.charts: the main PNG export is the main run's
  fig.querySelector('.fig-cap').textContent = t('patchDlaSum', { n: g.count, s: fmt(g.sum), ld: fmt(d.attr.logit_diff) });
  fig.querySelector('summary').textContent = t('dataTable');
  renderTable(fig.querySelector('.table-wrap'), [t('patchRowHead'), t('patchDlaAttn'), t('patchDlaBias'), t('patchDlaMlp')],
    [...blocks.map((b, l) => [b, fmt(g.attn[l]), fmt(g.bias[l]), fmt(g.mlp[l])]),
      ...['embed', 'pos_embed', 'ln_final.bias'].map((k) => [k, fmt(g.other[k]), '', ''])], title);
  const max = scaleMax(g.heads, 'logit_diff');
  renderDivergingMap($('fig-dla-heads'), {
    matrix: g.heads, max,
    title: t('patchDlaHeads'),
    colLabels: g.heads[0].map((_, h) => String(h)),
    colNames: g.heads[0].map((_, h) => t('patchHeadN', { h })),
    rowLabel: (l) => t('patchBlock', { l }),
    rowHead: t('patchRowHead'),
    readout: (l, h, v) => t('patchReadout', { l, col: t('patchHeadN', { h }), v: fmt(v) }),
    hint: t('patchReadoutHint'),
    caption: t('patchScale', { m: fmtNum(max, st.lang, 2) }),
    dataTable: t('dataTable'),
    tableCaption: t('patchDlaHeads'),
    fmt,
  });
}

// The view's code follows the code panel's tab: nnsight while it is chosen, else TransformerLens.
function renderPatchCode(app) {
  const info = { lang: app.st.lang, ...bundledSource(app) };
  const ex = { ...inputs(app), hook: app.st.patch.hook, metric: app.st.patch.metric };
  const nn = app.codeTab === 'nn';
  try {
    $('patch-code').textContent = (nn ? nnPatchCode : tlPatchCode)(app.st, ex, info);
    $('dla-code').textContent = (nn ? nnDlaCode : tlDlaCode)(app.st, ex, info);
  } catch (e) {
    $('patch-code').textContent = $('dla-code').textContent = `# ${e.message}`;
  }
}
