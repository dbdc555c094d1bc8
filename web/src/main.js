// The page's wiring: the store, the worker client, the controls' events, the start.
// Panels live in panels/, runs in run.js, model choice in model.js, exports in export.js.
import './style.css';
import { EngineClient } from './worker-api.js';
import { stateFromParams, stateToParams, browserLang, resetState, interventionsOf, invalidForModel, MODELS } from './state.js';
import { createApp, setLang, subscribe, changed } from './store.js';
import { makeT } from './i18n.js';
import { $ } from './dom.js';
import { initEmbedApi } from './embed-api.js';
import { matchFiles } from './local-files.js';
import { writeControls, readControls, syncUrl, updateExerciseHelp, renderFieldErrors } from './form.js';
import { schedule, runLens } from './run.js';
import { selectModel, loadHub, loadLocal, renderEmptyState, fitToModel, bindProcessing, reloadForProcessing } from './model.js';
import { exportObject, exportJson, exportCsv, exportAllPng, chartOf, pendingViews } from './export.js';
import { authorPatch } from './author.js';
import { setStatus, showError, renderStatus } from './panels/status.js';
import { renderModelInfo, updateModelLabels } from './panels/model-info.js';
import { renderQuestions } from './panels/questions.js';
import { renderMlp } from './panels/mlp.js';
import { renderTuple } from './panels/tuple.js';
import { renderCode, CODE_TABS } from './panels/code.js';
import { mountPanels } from './panels/index.js';
import { flushLazy } from './lazy.js';
import { initPatching, patchExport, renderPatchCodes } from './panels/patching.js';
import { bindBuilder } from './panels/builder.js';
import { bindHeads } from './panels/heads.js';
import { mountInductionLesson } from './panels/induction-lesson.js';
import { loadedModelHeads } from './panels/heads.js';
import { loadBundledLabels, mountModelPicker } from './panels/model-info.js';
import { fmtSize } from './models-page.js';
import { displayName, bundledName } from './model-name.js';
import { mountLessonPanel } from './panels/lesson-panel.js';
import { parseLesson } from './lesson-file.js';
import { LESSON_FILES } from './lessons.js';

const refused = [];
const app = createApp(stateFromParams(new URLSearchParams(location.search), browserLang(), refused),
  new EngineClient({ base: new URL('./', location.href).href }));
// A key the page does not know is named with the nearest one (state.js KEYS).
app.refused = refused.map((r) => `${r.key}=${r.value}${r.unknown && r.near ? ` (→ ${r.near}?)` : ''}`);
app.linkedLocal = app.st.model === 'local'; // opened from a link that named local files (model.js)
app.authorParams = new URLSearchParams(location.search); // the author's values of locked keys (author.js)
// get-result: null until the run and every autorun view have finished (the element asks again).
app.embed = initEmbedApi({ getState: () => app.st, setState: (patch) => applyPatch(patch), getExport: () => (pendingViews(app).length ? null : exportObject(app)) });
app.embed.setParamsOf(stateToParams);
app.embed.refusedAtLoad(refused); // the element's attributes (the URL) it could not use
app.notifyResult = () => { if (app.result) app.embed.resultChanged(exportObject(app)); };

// What each change redraws, in this order; the results panels are panels/index.js's table.
function subscribeAll() {
  subscribe(app, ['lang'], ({ t }) => {
    document.documentElement.lang = app.st.lang;
    document.title = t('title');
    for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
    for (const el of document.querySelectorAll('[data-i18n-aria]')) el.setAttribute('aria-label', t(el.dataset.i18nAria));
    $('lang').value = app.st.lang;
  });
  subscribe(app, ['lang'], writeControls); // decimal separators follow the language
  subscribe(app, ['lang', 'model'], updateModelLabels);
  subscribe(app, ['lang'], updateExerciseHelp);
  subscribe(app, ['lang', 'model'], renderModelInfo);
  subscribe(app, ['lang'], renderStatus);
  subscribe(app, ['lang'], renderFieldErrors);
  subscribe(app, ['lang', 'result', 'predict', 'lesson'], renderQuestions);
  subscribe(app, ['lang'], renderEmptyState);
  mountPanels(app, { syncUrl: () => syncUrl(app) });
  // Off-screen panels too: find-in-page and screen readers read them, in the new language.
  subscribe(app, ['lang'], () => flushLazy());
  subscribe(app, ['lang'], ({ st }) => {
    app.headsCode?.setLang(st.lang);
    app.lesson?.setLang(st.lang);
    app.lessonFile?.setLang(st.lang);
    showControls(app.controlsShown);
  });
}

function applyLang() {
  changed(app, 'lang');
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
  const prevModel = app.st.model, prevLang = app.st.lang, prevProcess = app.st.process;
  authorPatch(app, good); // the host page is the author: its values are the locked keys' values
  app.st = next;
  app.fieldErrors = {};
  if (app.st.lang !== prevLang) setLang(app, app.st.lang);
  writeControls(app);
  if (app.st.lang !== prevLang) applyLang();
  syncUrl(app);
  if (app.st.model !== prevModel) selectModel(app, app.st.model);
  else if (app.st.process !== prevProcess) reloadForProcessing(app); // the weights processed or not: loaded again
  else schedule(app, 0);
  if ('lesson' in good) showLesson(app.st.lesson ?? null);
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
  const redraw = () => { readControls(app); syncUrl(app); changed(app, 'view'); };
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
  $('predict-on').addEventListener('change', () => { app.st.predict = $('predict-on').checked; app.revealed = false; syncUrl(app); changed(app, 'predict'); });
  $('reveal').addEventListener('click', () => { app.revealed = true; changed(app, 'result'); $('results').focus(); });
  $('mlp-pos').addEventListener('change', () => renderMlp(app));
  $('lens-on').addEventListener('change', () => { app.st.lens = $('lens-on').checked; syncUrl(app); runLens(app); });
  $('tuple-attn').addEventListener('change', () => renderTuple(app));
  $('tuple-tf').addEventListener('change', () => renderTuple(app));
  const showTab = (k) => { app.codeTab = k; renderCode(app); renderPatchCodes(app); };
  for (const k of CODE_TABS) {
    const tab = $(`tab-${k}`);
    tab.addEventListener('click', () => showTab(k));
    tab.addEventListener('keydown', (ev) => {
      if (ev.key !== 'ArrowRight' && ev.key !== 'ArrowLeft') return;
      const i = CODE_TABS.indexOf(app.codeTab) + (ev.key === 'ArrowRight' ? 1 : -1);
      showTab(CODE_TABS[(i + CODE_TABS.length) % CODE_TABS.length]);
      $(`tab-${app.codeTab}`).focus();
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
  bindBuilder(app, () => { syncUrl(app); schedule(app); }, () => writeControls(app));
  bindProcessing(app); // the TransformerLens-processing switch (model.js)
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

mountModelPicker(); // the model radios, from the registry (models-page.js)
bind(); // first: it adds the panels' controls that writeControls writes
writeControls(app);
initPatching(app);
// The guided path through induction (lesson=induction): lab.heads through the worker, on the
// model loaded; it offers the lesson model when another one is loaded.
app.lesson = mountInductionLesson($('lesson-section'), {
  lang: app.st.lang,
  file: parseLesson(LESSON_FILES.induction.text, LESSON_FILES.induction.file), // lesson 2: its words and questions
  heads: (req) => app.client.heads(req),
  model: () => (app.modelInfo && !app.loading ? {
    key: app.loadedKey, config: app.modelInfo.config, name: displayName(app), entry: loadedModelHeads(app),
    stamp: `${app.loadedKey}|${app.modelInfo.fileBytes}|${displayName(app)}`,
  } : null),
  lesson: () => (MODELS.induction ? { name: bundledName(app, 'induction'), size: app.bundled.induction?.bytes ? fmtSize(app.bundled.induction.bytes, app.st.lang) : '…' } : null),
  loadLesson: () => { app.linkedLocal = false; selectModel(app, 'induction'); writeControls(app); },
  wantOpen: () => app.st.lesson === 'induction',
  onOpen: (open) => {
    if (open === (app.st.lesson === 'induction')) return;
    if (open) app.st.lesson = 'induction'; else delete app.st.lesson;
    app.shownLesson = app.st.lesson ?? null;
    syncUrl(app);
  },
});
loadBundledLabels(app).then(() => app.lesson.update());
subscribeAll();
applyLang();
syncUrl(app);
selectModel(app, app.st.model);
// A lesson file (lesson=chapter): its text and questions above the results. An experiment
// opens as a state change (as set-state does); a reveal reads the page's own run of the
// question's experiment, so its truth is the one `npx hooklab check` computes for that state.
// A link may name a lesson file on the page's origin instead (lesson=lessons/NAME.md): fetched,
// then read as strictly; a fault is shown in the section, naming the line.
function mountLessonFile(lesson) {
  const openExperiment = (x) => {
    const patch = { ex1: null, ex2: null, ex3: null, ex4: null, iv: null, repeat: null, model: lesson.model, ...x.keys };
    applyPatch(patch);
  };
  const sameRun = (r, prompt, interventions) => r && r.model === app.st.model && app.loadedKey === app.st.model
    && r.state.prompt === prompt && JSON.stringify(interventionsOf(r.state)) === JSON.stringify(interventions);
  const engine = {
    async run({ prompt, interventions, experiment }) {
      if (!sameRun(app.result, prompt, interventions)) {
        openExperiment(experiment);
        const t0 = Date.now();
        while (!sameRun(app.result, prompt, interventions)) {
          if (Date.now() - t0 > 300000) throw new Error('the experiment did not run');
          await new Promise((res) => setTimeout(res, 100));
        }
      }
      return app.result;
    },
    async heads({ interventions = [], ...input }) {
      // On the lesson's model, as the checker runs it: loaded first when another one is.
      if (app.st.model !== lesson.model) applyPatch({ model: lesson.model });
      const t0 = Date.now();
      while (!(app.loadedKey === lesson.model && app.modelInfo && !app.loading)) {
        if (Date.now() - t0 > 300000) throw new Error(`the lesson's model ${lesson.model} did not load`);
        await new Promise((res) => setTimeout(res, 100));
      }
      const r = await app.client.heads({ ...input, interventions });
      return interventions.length ? r.intervened : r.baseline;
    },
  };
  const root = $('lesson-file');
  root.hidden = false;
  app.lessonFile = mountLessonPanel(root, { lang: app.st.lang, lesson, engine, open: openExperiment });
}
function lessonFault(name, msg) {
  const root = $('lesson-file');
  root.hidden = false;
  const p = document.createElement('p');
  p.className = 'error';
  p.setAttribute('role', 'alert');
  p.textContent = app.t('lfNotLesson', { name, msg });
  root.replaceChildren(p);
}
// The lesson key, at load and on every set-state (applyPatch): opens, switches or (null) closes it.
function showLesson(name = null) {
  if (name === app.shownLesson) return;
  app.shownLesson = name;
  const root = $('lesson-file');
  app.lessonFile = null;
  root.hidden = true;
  root.replaceChildren();
  delete root.dataset.lesson;
  if (name !== 'induction' && $('lesson-section').open) $('lesson-section').open = false;
  if (name === 'induction') {
    app.lesson.open();
    $('lesson-section').scrollIntoView({ block: 'start' });
  } else if (LESSON_FILES[name]) {
    mountLessonFile(parseLesson(LESSON_FILES[name].text, LESSON_FILES[name].file));
  } else if (name) {
    const url = new URL(name, location.href);
    const still = (f) => (...a) => { if (app.shownLesson === name) f(...a); }; // a later set-state wins
    (url.origin !== location.origin ? Promise.reject(new Error('not on this page\'s origin'))
      : fetch(url).then((r) => { if (!r.ok) throw new Error(`HTTP ${r.status}`); return r.text(); }))
      .then(still((text) => mountLessonFile(parseLesson(text, name))), still((e) => lessonFault(name, e.message)))
      .catch(still((e) => lessonFault(name, e.message)));
  }
  changed(app, 'lesson');
}
showLesson(app.st.lesson);

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
  lesson: () => app.lesson.result(), // the guided path's runs and truths (tests)
  lessonFile: () => app.lessonFile?.result() ?? null, // a lesson file's answers and revealed truths (tests)
};
