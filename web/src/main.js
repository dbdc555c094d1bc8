// The page's wiring: the store, the worker client, the controls' events, the start.
// Panels live in panels/, runs in run.js, model choice in model.js, exports in export.js.
import './style.css';
import { EngineClient } from './worker-api.js';
import { stateFromParams, stateToParams, browserLang, resetState, interventionsOf, invalidForModel } from './state.js';
import { createApp, setLang } from './store.js';
import { makeT } from './i18n.js';
import { $ } from './dom.js';
import { initEmbedApi } from './embed-api.js';
import { matchFiles } from './local-files.js';
import { writeControls, readControls, syncUrl, updateExerciseHelp, renderFieldErrors } from './form.js';
import { schedule, runLens } from './run.js';
import { selectModel, loadHub, loadLocal, renderEmptyState, fitToModel } from './model.js';
import { exportObject, exportJson, exportCsv, exportAllPng, chartOf } from './export.js';
import { setStatus, showError, renderStatus } from './panels/status.js';
import { renderModelInfo, updateModelLabels } from './panels/model-info.js';
import { renderQuestions } from './panels/questions.js';
import { renderMlp } from './panels/mlp.js';
import { renderTuple } from './panels/tuple.js';
import { renderCode } from './panels/code.js';
import { renderAll } from './panels/index.js';
import { flushLazy } from './lazy.js';
import { initPatching, patchExport } from './panels/patching.js';
import { bindBuilder } from './panels/builder.js';
import { bindHeads } from './panels/heads.js';
import { mountGeneratePanel } from './panels/generate-panel.js';

const refused = [];
const app = createApp(stateFromParams(new URLSearchParams(location.search), browserLang(), refused),
  new EngineClient(new URL('./', location.href).href));
app.refused = refused.map((r) => `${r.key}=${r.value}`);
app.linkedLocal = app.st.model === 'local'; // opened from a link that named local files (model.js)
app.embed = initEmbedApi({ getState: () => app.st, setState: (patch) => applyPatch(patch), getExport: () => exportObject(app) });
app.embed.setParamsOf(stateToParams);

function applyLang() {
  const { t } = app;
  document.documentElement.lang = app.st.lang;
  document.title = t('title');
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-aria]')) el.setAttribute('aria-label', t(el.dataset.i18nAria));
  $('lang').value = app.st.lang;
  writeControls(app); // decimal separators follow the language
  updateModelLabels(app);
  updateExerciseHelp(app);
  renderModelInfo(app);
  renderStatus(app);
  renderFieldErrors(app);
  renderQuestions(app);
  renderEmptyState(app);
  renderAll(app);
  // Off-screen panels too: find-in-page and screen readers read them, in the new language.
  flushLazy();
  app.genPanel?.setLang(app.st.lang);
  showControls(app.controlsShown);
}

// ?embed=1: the controls fold away (results first, a chart on the first screen); the
// header's button unfolds them. Without embed=1 the fold has no effect (style.css).
function showControls(show) {
  app.controlsShown = !!show;
  $('controls').classList.toggle('folded', !app.controlsShown);
  $('controls-toggle').setAttribute('aria-expanded', String(app.controlsShown));
  $('controls-toggle').textContent = app.t(app.controlsShown ? 'controlsHide' : 'controlsShow');
}

// A state change from the host page (postMessage). A value the page cannot use (or a block
// the loaded model does not have) is not applied: returned as [{key, value, reason?}] for
// embed-api.js to answer with a hooklab:error naming the field; the other fields apply.
function applyPatch(patch) {
  const build = (p) => {
    const q = stateToParams(app.st);
    for (const [k, v] of Object.entries(p)) {
      if (v === null || v === false) q.delete(k);
      else q.set(k, String(v));
    }
    return q;
  };
  const good = { ...patch }, bad = [];
  const drop = (k, reason) => { bad.push({ key: k, value: good[k], ...(reason ? { reason } : {}) }); delete good[k]; };
  for (const k of ['predict', 'lens']) if (typeof good[k] === 'string' && !['1', '0', 'true', 'false'].includes(good[k])) drop(k);
  const refused = [];
  stateFromParams(build(good), app.st.lang, refused);
  for (const r of refused) if (r.key in good) drop(r.key);
  let next = stateFromParams(build(good), app.st.lang);
  if (app.modelInfo && next.model === app.loadedKey) {
    const en = makeT('en');
    for (const { id, key, vars } of invalidForModel(next, app.modelInfo.config)) {
      const [k, p] = id.split('-');
      if (k in good) drop(k, `${p === 'layer' ? 'block' : p}: ${en(key, vars)}`);
    }
    next = stateFromParams(build(good), app.st.lang);
  }
  const prevModel = app.st.model, prevLang = app.st.lang;
  app.st = next;
  app.fieldErrors = {};
  if (app.st.lang !== prevLang) setLang(app, app.st.lang);
  writeControls(app);
  if (app.st.lang !== prevLang) applyLang();
  syncUrl(app);
  if (app.st.model !== prevModel) selectModel(app, app.st.model);
  else schedule(app, 0);
  return bad;
}

function takeFiles(list) {
  const { files, missing } = matchFiles(app.localFiles, list);
  app.localFiles = files;
  if (missing.length) return showError(app, { key: 'missingFiles', vars: { files: missing.join(', ') } });
  app.localFiles = null; // a new drop starts a new set
  loadLocal(app, files);
}

function bind() {
  const onInput = () => { readControls(app); updateExerciseHelp(app); syncUrl(app); schedule(app); };
  const redraw = () => { readControls(app); syncUrl(app); renderAll(app); };
  $('lang').addEventListener('change', () => { setLang(app, $('lang').value); applyLang(); syncUrl(app); });
  $('controls-toggle').addEventListener('click', () => showControls(!app.controlsShown));
  for (const el of document.querySelectorAll('input[name=model]')) el.addEventListener('change', () => { if (el.checked) { app.linkedLocal = false; selectModel(app, el.value); } });
  $('load-btn').addEventListener('click', () => loadHub(app, app.st.model));
  $('clear-cache').addEventListener('click', async () => {
    try {
      await app.client.clearCache();
      setStatus(app, 'cacheCleared');
    } catch (e) { showError(app, { key: 'errEngine', vars: {}, raw: e.message }); }
  });
  $('prompt').addEventListener('input', onInput);
  for (const el of document.querySelectorAll('#exercises input, #topk, #stat-layer')) el.addEventListener(el.type === 'checkbox' ? 'change' : 'input', onInput);
  $('view').addEventListener('change', redraw);
  $('scale').addEventListener('change', redraw);
  $('stat-kind').addEventListener('change', redraw);
  $('stat-hook').addEventListener('change', onInput); // a new hook: a new capture
  $('reset').addEventListener('click', () => {
    app.st = resetState(app.st);
    app.fieldErrors = {};
    app.refused = [];
    if (app.modelInfo) fitToModel(app, false);
    writeControls(app);
    updateExerciseHelp(app);
    renderStatus(app);
    syncUrl(app);
    schedule(app, 0);
  });
  $('predict-on').addEventListener('change', () => { app.st.predict = $('predict-on').checked; app.revealed = false; syncUrl(app); renderQuestions(app); });
  $('reveal').addEventListener('click', () => { app.revealed = true; renderQuestions(app); renderAll(app); $('results').focus(); });
  $('mlp-pos').addEventListener('change', () => renderMlp(app));
  $('lens-on').addEventListener('change', () => { app.st.lens = $('lens-on').checked; syncUrl(app); runLens(app); });
  $('tuple-attn').addEventListener('change', () => renderTuple(app));
  $('tuple-tf').addEventListener('change', () => renderTuple(app));
  for (const tab of [$('tab-hf'), $('tab-tl')]) {
    tab.addEventListener('click', () => { app.codeTab = tab.id === 'tab-hf' ? 'hf' : 'tl'; renderCode(app); });
    tab.addEventListener('keydown', (ev) => {
      if (ev.key !== 'ArrowRight' && ev.key !== 'ArrowLeft') return;
      app.codeTab = app.codeTab === 'hf' ? 'tl' : 'hf';
      renderCode(app);
      $(app.codeTab === 'hf' ? 'tab-hf' : 'tab-tl').focus();
    });
  }
  $('copy').addEventListener('click', async () => {
    flushLazy($('code-section'));
    const text = $('code').textContent;
    try { await navigator.clipboard.writeText(text); } catch {
      const r = document.createRange();
      r.selectNodeContents($('code'));
      getSelection().removeAllRanges();
      getSelection().addRange(r);
      document.execCommand('copy');
    }
    $('copy-status').textContent = app.t('copied');
    setTimeout(() => ($('copy-status').textContent = ''), 2000);
  });
  // The intervention builder's rows and the heads panel (panels/builder.js, panels/heads.js).
  bindBuilder(app, () => { syncUrl(app); schedule(app); });
  bindHeads(app, () => syncUrl(app));
  $('export-json').addEventListener('click', () => exportJson(app));
  $('export-csv').addEventListener('click', () => exportCsv(app));
  $('export-png').addEventListener('click', () => exportAllPng(app));

  // Local files: drag and drop or the file picker.
  const drop = $('drop');
  $('files').addEventListener('change', (ev) => takeFiles(ev.target.files));
  $('empty-files').addEventListener('click', () => $('files').click());
  drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (ev) => { ev.preventDefault(); drop.classList.remove('over'); takeFiles(ev.dataTransfer.files); });
  drop.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); $('files').click(); } });
}

bind(); // first: it adds the panels' controls that writeControls writes
writeControls(app);
initPatching(app);
// The Generate panel talks to the worker itself (streamed tokens); its settings live in the URL.
app.genPanel = mountGeneratePanel($('generate-section'), {
  worker: app.client.worker, lang: app.st.lang, settings: app.st.gen,
  getInput: () => ({ prompt: app.st.prompt, interventions: interventionsOf(app.st) }),
  onSettings: (s) => { app.st.gen = { ...s }; syncUrl(app); },
});
applyLang();
syncUrl(app);
selectModel(app, app.st.model);

// For tests and the host page.
window.hooklab = {
  exportObject: () => exportObject(app),
  chartData: (key) => chartOf(app, key)?.data.datasets.map((d) => d.data) ?? null,
  chartAnimation: (key) => chartOf(app, key)?.options.animation,
  chart: (key) => chartOf(app, key), // the Chart.js object itself, for tests in the page
  lensData: () => (app.lensResult?.for === app.result ? app.lensResult.layers : null),
  get state() { return structuredClone(app.st); },
  get ready() { return !!app.result; },
  patchExport: () => patchExport(app),
};
