// Model choice: a model served with the page (the embedded default, the lesson model), a hub model (from the browser's cache, or after the
// user asks for the download), or local files. Loading goes through the worker; while no
// model of the chosen kind is loaded, an empty-state card says what will be fetched.
import { $ } from './dom.js';
import { hubBase } from '../../wasm/js/models.js';
import { MODELS, invalidForModel, defaultExercises, defaultState, stateToParams } from './state.js';
import { downloadSize } from './models-page.js';
import { describeError } from './errors.js';
import { writeControls, syncUrl, updateExerciseHelp } from './form.js';
import { setStatus, showError } from './panels/status.js';
import { displayName, isBundled, bundledName } from './model-name.js';
import { changed } from './store.js';
import { schedule } from './run.js';

const hubUrl = (key) => hubBase(MODELS[key].repo);

function setProgress(app, fraction, phase) {
  $('progress-wrap').hidden = false;
  $('progress').value = fraction;
  $('progress-text').textContent = app.t(phase === 'parse' ? 'parsing' : 'downloading', { pct: Math.round(fraction * 100) });
}

// Values this model cannot take (block 50 of 12, from a link, or the defaults on a small
// model) go back to defaults that fit; those from the link are listed as refused.
export function fitToModel(app, report = true) {
  const { st } = app;
  const c = app.modelInfo.config;
  const bad = invalidForModel(st, c);
  if (!bad.length) return;
  const before = stateToParams(st);
  const d = defaultExercises();
  for (const { id } of bad) {
    const [k, p] = id.split('-');
    const fit = (v, max) => Math.min(v, max);
    if (id === 'stat-layer') st.hookLayer = fit(defaultState().hookLayer, c.n_layer - 1);
    else st.ex[k][p] = p === 'layer' ? fit(d[k].layer, c.n_layer - 1) : p === 'head' ? fit(d[k].head, c.n_head - 1) : d[k][p];
  }
  const after = stateToParams(st);
  if (report) for (const [k, v] of before) if (after.get(k) !== v) app.refused.push(`${k}=${v}`);
  writeControls(app);
  syncUrl(app);
}

export async function loadModel(app, key, source, extra = {}) {
  const { client } = app;
  showError(app, null);
  setStatus(app, 'loading', { what: isBundled(key) ? bundledName(app, key) : MODELS[key]?.name || extra.fileName || key });
  setProgress(app, 0, 'download');
  app.loading = key;
  renderEmptyState(app);
  try {
    // The weights as the state asks: HF's, or processed as TransformerLens's from_pretrained does.
    const info = await client.load({ source, process: app.st.process === 'tl' ? 'tl' : 'none' }, { onProgress: (f, phase) => setProgress(app, f, phase) });
    app.modelInfo = { ...info, key, origin: source.kind === 'files' ? 'local' : isBundled(key) ? 'bundled' : info.fromCache ? 'cache' : 'network', ...extra };
    app.loadedKey = key;
    app.loadedProcess = info.process; // part of the loaded model's identity (model-name.js loadedModelId)
    if (isBundled(key)) app.bundled[key] = { ...app.bundled[key], name: displayName(app) };
    if (key === 'default') app.defaultName = displayName(app);
    app.result = null;
    app.lensResult = null;
    $('progress-wrap').hidden = true;
    changed(app, 'model');
    fitToModel(app);
    updateExerciseHelp(app);
    schedule(app, 0);
  } catch (e) {
    $('progress-wrap').hidden = true;
    showError(app, describeError(e.message));
    setStatus(app, null);
    // The previous model (if any) stays loaded: show it as selected again.
    if (app.loadedKey && (app.loadedKey !== key || app.loadedProcess !== app.st.process)) {
      app.st.model = app.loadedKey;
      app.st.process = app.loadedProcess ?? 'none';
      writeControls(app);
      syncUrl(app);
    }
  } finally {
    app.loading = null;
    renderEmptyState(app);
  }
}

export function loadHub(app, key) {
  if (MODELS[key]?.kind === 'hub') return loadModel(app, key, { kind: 'url', base: hubUrl(key), cache: true });
}

export function loadLocal(app, files) {
  app.st.model = 'local';
  writeControls(app);
  syncUrl(app);
  app.localModelFiles = files; // kept: the processing switch loads them again
  return loadModel(app, 'local', { kind: 'files', files }, { fileName: files.safetensors.name });
}

// The weight-processing switch (#process-tl, the process key): the chosen model loads again,
// processed as TransformerLens's from_pretrained does or with HF's weights (the engine processes
// at load). Local files load again from the files dropped; a hub model not downloaded waits
// for its Load button, as when chosen.
export function reloadForProcessing(app) {
  syncUrl(app);
  const key = app.st.model;
  if (key !== 'local') return selectModel(app, key);
  if (app.localModelFiles) return loadLocal(app, app.localModelFiles);
}

export function bindProcessing(app) {
  const box = $('process-tl');
  box.addEventListener('change', () => { app.st.process = box.checked ? 'tl' : 'none'; reloadForProcessing(app); });
  app.controlWriters.push(() => { box.checked = app.st.process === 'tl'; });
}

export async function selectModel(app, key) {
  app.st.model = key;
  syncUrl(app);
  // A locked model stays the author's (syncUrl enforces the locks): nothing to load when it is.
  if (app.st.model !== key && app.st.model === app.loadedKey) return;
  key = app.st.model;
  $('drop').hidden = key !== 'local';
  renderEmptyState(app);
  if (isBundled(key)) return loadModel(app, key, { kind: 'url', base: MODELS[key].base, cache: false });
  if (key === 'local') return; // waits for files (loadLocal)
  let cached = false;
  try { cached = (await app.client.cacheInfo({ base: hubUrl(key) })).cached; } catch { /* no Cache Storage */ }
  if (cached) return loadHub(app, key);
  setStatus(app, null);
}

// The card shown while the chosen model is not loaded: what a hub model will download
// (four files, its size, from where) with the Load button, or the request for local files.
// The results stay hidden only when no model at all has run.
export function renderEmptyState(app) {
  const { st, t } = app;
  const want = st.model;
  const waiting = app.loadedKey !== want && app.loading !== want && (MODELS[want]?.kind === 'hub' || want === 'local');
  const card = $('empty-state');
  card.hidden = !waiting;
  document.body.classList.toggle('awaiting-model', waiting); // the embed unfolds its controls for the card
  $('result-body').classList.toggle('no-model', !app.modelInfo);
  if (!waiting) return;
  if (!app.modelInfo) setStatus(app, 'emptyTitle');
  const hub = MODELS[want]?.kind === 'hub';
  // "This link uses local files" only where a link named them; a reader who just chose
  // "Local files…" is asked for the files.
  $('empty-text').textContent = hub ? t('emptyHub', { name: MODELS[want].name, size: downloadSize(want, st.lang) }) : t(app.linkedLocal ? 'localNeeded' : 'localChoose');
  $('load-btn').hidden = !hub;
  $('load-btn').textContent = hub ? t('loadSize', { name: MODELS[want].name, size: downloadSize(want, st.lang) }) : '';
  $('empty-files').hidden = hub;
  changed(app, 'view');
}
