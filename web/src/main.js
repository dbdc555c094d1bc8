import './style.css';
import { EngineClient } from './worker-api.js';
import { MODELS, stateFromParams, stateToParams, browserLang, interventionsOf, capturesOf, paramCount } from './state.js';
import { makeT, fmtNum } from './i18n.js';
import { compensation, isUniformHead, headMatrix, neuronRow, histogram, toCsv, finite } from './analysis.js';
import { figureShell, setFigureText, renderTable, upsertChart, lineConfig, barConfig, BASE_STYLE, INT_STYLE, reducedMotion as reducedMotionNow } from './charts.js';
import { drawHeatmap } from './heatmap.js';
import { hfCode, tlCode } from './codegen.js';
import { initEmbedApi } from './embed-api.js';

const $ = (id) => document.getElementById(id);
let st = stateFromParams(new URLSearchParams(location.search), browserLang());
let t = makeT(st.lang);
const client = new EngineClient(new URL('./', location.href).href);
const charts = {};
let modelInfo = null; // what the worker loaded: {config, rawConfig, fromCache, fileBytes, weightBytes, key, origin}
let loadedKey = null;
let result = null; // {state, baseline, intervened}
let runTimer = 0;
let codeTab = 'hf';
let answers = {}; // predict mode: question id → true/false
let revealed = false;
let localFiles = null;
const embed = initEmbedApi({ getState: () => st, setState: (patch) => applyPatch(patch), getExport: () => exportObject() });
embed.setParamsOf(stateToParams);

// ------------------------------------------------------------------ language

function applyLang() {
  t = makeT(st.lang);
  document.documentElement.lang = st.lang;
  document.title = t('title');
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-aria]')) el.setAttribute('aria-label', t(el.dataset.i18nAria));
  $('lang').value = st.lang;
  updateModelLabels();
  updateExerciseHelp();
  renderModelInfo();
  renderQuestions();
  renderAll();
}

function updateModelLabels() {
  const name = modelInfo?.key === 'default' ? displayName() : defaultName;
  $('model-default-label').textContent = t('modelDefault', { name });
}
let defaultName = 'HookLab-Brown';

function displayName() {
  const h = modelInfo?.rawConfig?.hooklab;
  if (h?.name) return h.name;
  if (modelInfo?.key === 'gpt2') return 'GPT-2 small';
  if (modelInfo?.key === 'gpt2-medium') return 'GPT-2 medium';
  if (modelInfo?.key === 'local') return modelInfo.fileName || 'local model';
  return 'random-weights test checkpoint';
}

// ------------------------------------------------------------------ URL + state

function syncUrl() {
  const q = stateToParams(st);
  const url = `${location.pathname}?${q.toString()}${location.hash}`;
  history.replaceState(null, '', url);
  const full = new URLSearchParams(q);
  full.delete('embed');
  $('open-full').href = `${location.pathname}?${full.toString()}`;
  embed.stateChanged(q);
}

function writeControls() {
  for (const el of document.querySelectorAll('input[name=model]')) el.checked = el.value === st.model;
  $('prompt').value = st.prompt;
  for (const k of ['ex1', 'ex2', 'ex3', 'ex4']) {
    const e = st.ex[k];
    $(`${k}-on`).checked = e.on;
    for (const p of Object.keys(e)) if (p !== 'on' && $(`${k}-${p}`)) $(`${k}-${p}`).value = String(e[p]);
    document.querySelector(`.ex[data-ex=${k}]`).classList.toggle('on', e.on);
  }
  $('view').value = st.view;
  $('scale').value = st.scale;
  $('predict-on').checked = st.predict;
  $('lens-on').checked = st.lens;
  document.body.classList.toggle('embed', st.embed);
  $('drop').hidden = st.model !== 'local';
}

function readControls() {
  st.prompt = $('prompt').value;
  for (const k of ['ex1', 'ex2', 'ex3', 'ex4']) {
    const e = st.ex[k];
    e.on = $(`${k}-on`).checked;
    for (const p of Object.keys(e)) {
      if (p === 'on' || !$(`${k}-${p}`)) continue;
      const raw = $(`${k}-${p}`).value.trim();
      e[p] = raw === '' ? NaN : Number(raw.replace(',', '.'));
    }
    document.querySelector(`.ex[data-ex=${k}]`).classList.toggle('on', e.on);
  }
  st.view = $('view').value;
  st.scale = $('scale').value;
}

function applyPatch(patch) {
  const q = stateToParams(st);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || v === false) q.delete(k);
    else q.set(k, String(v));
  }
  const prevModel = st.model;
  const prevLang = st.lang;
  st = stateFromParams(q, st.lang);
  writeControls();
  if (st.lang !== prevLang) applyLang();
  syncUrl();
  if (st.model !== prevModel) selectModel(st.model);
  else schedule(0);
}

// ------------------------------------------------------------------ model

function setProgress(fraction, phase) {
  $('progress-wrap').hidden = false;
  $('progress').value = fraction;
  const pct = Math.round(fraction * 100);
  $('progress-text').textContent = t(phase === 'parse' ? 'parsing' : 'downloading', { pct });
}

async function loadModel(key, source, extra = {}) {
  showError(null);
  setStatus(t('loading', { what: key === 'default' ? defaultName : key }));
  setProgress(0, 'download');
  $('load-btn').hidden = true;
  try {
    const info = await client.load(source, setProgress);
    modelInfo = { ...info, key, origin: source.kind === 'files' ? 'local' : key === 'default' ? 'bundled' : info.fromCache ? 'cache' : 'network', ...extra };
    loadedKey = key;
    if (key === 'default') defaultName = displayName();
    result = null;
    $('progress-wrap').hidden = true;
    updateModelLabels();
    renderModelInfo();
    setLimits();
    schedule(0);
  } catch (e) {
    $('progress-wrap').hidden = true;
    showError(e.message);
    setStatus('');
    // The previous model (if any) stays loaded: show it as selected again.
    if (loadedKey && loadedKey !== key) {
      st.model = loadedKey;
      writeControls();
      syncUrl();
    }
  }
}

async function selectModel(key) {
  st.model = key;
  $('drop').hidden = key !== 'local';
  $('load-btn').hidden = true;
  syncUrl();
  if (key === 'default') return loadModel('default', { kind: 'url', base: MODELS.default.base, cache: false });
  if (key === 'local') {
    if (localFiles) return loadModel('local', { kind: 'files', files: localFiles }, { fileName: localFiles.safetensors.name });
    return;
  }
  const base = `https://huggingface.co/${MODELS[key].repo}/resolve/main/`;
  let cached = false;
  try { cached = (await client.cacheInfo(base)).cached; } catch { /* no Cache Storage */ }
  if (cached) return loadModel(key, { kind: 'url', base, cache: true });
  $('load-btn').hidden = false;
  setStatus(t(key === 'gpt2' ? 'modelGpt2' : 'modelGpt2Medium'));
}

function renderModelInfo() {
  const dl = $('model-info');
  dl.replaceChildren();
  if (!modelInfo) return;
  const c = modelInfo.config;
  const raw = modelInfo.rawConfig || {};
  const add = (k, v, cls) => {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    if (cls) dd.className = cls;
    dl.append(dt, dd);
  };
  const nf = new Intl.NumberFormat(st.lang === 'vi' ? 'vi-VN' : 'en-US', { maximumFractionDigits: 1 });
  add(t('model'), `${displayName()} — ${t({ cache: 'loadedFromCache', network: 'loadedFromNetwork', local: 'loadedLocal', bundled: 'loadedBundled' }[modelInfo.origin])}`);
  add(t('shape'), t('shapeLine', { L: c.n_layer, H: c.n_head, d: c.n_embd, dh: c.d_head ?? c.n_embd / c.n_head, m: c.d_mlp ?? 4 * c.n_embd, ctx: c.n_positions, v: c.vocab_size }));
  add(t('params'), `${nf.format(paramCount(c) / 1e6)} M`);
  add(t('fileSize'), `${nf.format(modelInfo.fileBytes / 1e6)} MB`);
  let trained;
  if (raw.hooklab?.training_data) {
    trained = raw.hooklab.training_data;
    if (raw.hooklab.interim) trained += ` (interim: step ${raw.hooklab.step} of ${raw.hooklab.total_steps})`;
  } else if (MODELS[modelInfo.key]?.trainedOn) trained = MODELS[modelInfo.key].trainedOn[st.lang];
  else if (modelInfo.key === 'default') trained = t('randomWeights');
  else trained = t('unknownData');
  add(t('trainedOn'), trained, !raw.hooklab && modelInfo.key === 'default' ? 'warn-text' : '');
  if (modelInfo.key === 'default' && raw.hooklab) {
    const p = document.createElement('p');
    p.className = 'hint';
    p.textContent = `${t('notGpt2Small', { d: c.n_embd })} `;
    const a = document.createElement('a');
    a.href = 'models/default/MODEL_CARD.md';
    a.target = '_blank';
    a.rel = 'noopener';
    a.textContent = t('modelCard');
    p.append(a);
    dl.append(p);
  }
}

function setLimits() {
  if (!modelInfo) return;
  const c = modelInfo.config;
  for (const k of ['ex1', 'ex2', 'ex3', 'ex4']) $(`${k}-layer`).max = String(c.n_layer - 1);
  $('ex1-head').max = String(c.n_head - 1);
  updateExerciseHelp();
}

function updateExerciseHelp() {
  const c = modelInfo?.config || { n_embd: 768, n_head: 12 };
  const dh = c.d_head ?? c.n_embd / c.n_head;
  const H = st.ex.ex1.head;
  const a = c.n_embd + H * dh, b = c.n_embd + (H + 1) * dh;
  $('ex1-help').textContent = t('ex1Help', { a: Number.isFinite(a) ? a : '?', b: Number.isFinite(b) ? b : '?' });
  const e3 = st.ex.ex3, e4 = st.ex.ex4;
  const both = e3.on && e4.on && e3.layer === e4.layer;
  $('both-scale').hidden = !both;
  if (both) $('both-scale').textContent = t('bothScale', { f: fmtNum(e3.factor * e4.factor, st.lang) });
}

// ------------------------------------------------------------------ running

function schedule(delay = 200) {
  clearTimeout(runTimer);
  runTimer = setTimeout(runNow, delay);
}

async function runNow() {
  if (!modelInfo) return;
  const snapshot = structuredClone(st);
  const interventions = interventionsOf(snapshot);
  setStatus(t('running'));
  document.body.classList.add('busy');
  try {
    const r = await client.run({ prompt: snapshot.prompt, interventions, topk: snapshot.topk, capture: capturesOf(snapshot), logitLens: snapshot.lens });
    if (!r) return; // superseded by a newer run
    showError(null);
    const changed = !result || JSON.stringify([result.state.prompt, interventionsOf(result.state), result.model]) !== JSON.stringify([snapshot.prompt, interventions, loadedKey]);
    result = { state: snapshot, model: loadedKey, baseline: r.baseline, intervened: r.intervened, compare: r.compare };
    if (r.lens) lensResult = { for: result, layers: r.lens };
    if (changed) { revealed = false; answers = {}; }
    setStatus(interventions.length ? t('ready') : t('noIntervention'));
    $('token-count').textContent = t('tokens', { n: r.baseline.tokens.length, ctx: modelInfo.config.n_positions });
    renderQuestions();
    renderAll();
    embed.resultChanged(exportObject());
    runLens();
  } catch (e) {
    showError(e.message);
    setStatus('');
    document.getElementById('result-body').classList.add('stale');
    client.tokenize(snapshot.prompt).then((r) => {
      if (st.prompt === snapshot.prompt) $('token-count').textContent = t('tokens', { n: r.ids.length, ctx: modelInfo.config.n_positions });
    }, () => {});
  } finally {
    document.body.classList.remove('busy');
  }
}

function setStatus(s) {
  $('status').textContent = s;
}

function showError(msg) {
  const el = $('error');
  el.hidden = !msg;
  el.textContent = msg ? `${t('errorPrefix')}: ${msg}` : '';
  if (!msg) $('result-body').classList.remove('stale');
}

// ------------------------------------------------------------------ logit lens

let lensResult = null; // {for: result, layers}

async function runLens() {
  renderLens();
  if (!st.lens || !result || lensResult?.for === result) return;
  const snap = result;
  const n = modelInfo.config.n_layer;
  $('lens-status').textContent = t('lensRunning', { i: 0, n });
  try {
    const r = await client.lens({ prompt: snap.state.prompt, interventions: interventionsOf(snap.state) }, (f) => {
      if (result === snap) $('lens-status').textContent = t('lensRunning', { i: Math.round(f * n), n });
    });
    if (!r || result !== snap) return; // a newer run: it asks again
    lensResult = { for: snap, layers: r.layers };
    $('lens-status').textContent = '';
    renderLens();
  } catch (e) {
    $('lens-status').textContent = `${t('errorPrefix')}: ${e.message}`;
  }
}

function renderLens() {
  const fig = $('fig-lens');
  const ok = st.lens && result && lensResult?.for === result;
  fig.hidden = !ok;
  if (!st.lens) $('lens-status').textContent = '';
  if (!ok) return;
  const L = lensResult.layers;
  figureShell(fig, { onPng: png('lens', 'hooklab-logit-lens.png') });
  const title = t('lensTitle');
  setFigureText(fig, { title, png: t('downloadPng'), table: t('dataTable') });
  const labels = L.map((x) => String(x.layer));
  const kl = L.map((x) => (finite(x.kl) ? x.kl : null));
  charts.lens = upsertChart(charts.lens, fig.querySelector('canvas'), {
    type: 'line',
    data: { labels, datasets: [{ label: 'KL', data: kl, borderColor: INT_STYLE.borderColor, backgroundColor: INT_STYLE.borderColor, pointStyle: 'rectRot', pointRadius: 4, borderWidth: 2, spanGaps: false, nonfinite: L.map((x) => !finite(x.kl)) }] },
    options: { responsive: true, maintainAspectRatio: false, animation: reducedMotionNow() ? false : { duration: 250 },
      scales: { x: { title: { display: true, text: t('blockAxis') } }, y: { min: 0, title: { display: true, text: t('klAxis') } } } },
  });
  let cap = fig.querySelector('.fig-cap');
  if (!cap) { cap = document.createElement('p'); cap.className = 'caption fig-cap'; fig.querySelector('.canvas-box').after(cap); }
  cap.textContent = t('lensCaption');
  renderTable(fig.querySelector('.table-wrap'), [t('blockAxis'), 'KL', t('top1Base'), t('top1Int')],
    L.map((x) => [String(x.layer), fmtNum(x.kl, st.lang, 4), `${showTok(x.topBase?.token)} ${fmtNum(x.topBase?.prob, st.lang)}`, `${showTok(x.topInt?.token)} ${fmtNum(x.topInt?.prob, st.lang)}`]), title);
}

// ------------------------------------------------------------------ predict, then reveal

function questions() {
  if (!result) return [];
  const s = result.state, b = result.baseline, i = result.intervened;
  const qs = [];
  for (const k of ['ex3', 'ex4']) {
    const e = s.ex[k];
    if (!e.on) continue;
    // "Recovers" = the network itself undoes at least a quarter of the change (log scale).
    const c = compensation(b, i, e.layer);
    const truth = finite(c.net) ? c.net >= 25 : null;
    qs.push({ id: `recover-${k}`, text: t('qRecover', { l: e.layer, f: e.factor }), truth, detail: finite(c.net) ? t('netShare', { net: fmtNum(c.net, st.lang, 2) }) : '' });
  }
  if (s.ex.ex3.on || s.ex.ex4.on) {
    const n = b.hidden_std.length - 1;
    const bb = b.hidden_std[n], ii = i.hidden_std[n];
    qs.push({ id: 'hf1', text: t('qHfOne'), truth: finite(bb) && finite(ii) ? Math.abs(ii / bb - 1) < 0.05 : null });
  }
  if (s.ex.ex1.on) {
    const cap = i.captures?.[`blocks.${s.ex.ex1.layer}.attn.hook_pattern`];
    qs.push({ id: 'uniform', text: t('qUniform', { h: s.ex.ex1.head, l: s.ex.ex1.layer }), truth: isUniformHead(cap, s.ex.ex1.head) });
  }
  if (interventionsOf(s).length) qs.push({ id: 'top1', text: t('qTop1'), truth: b.top[0]?.id !== i.top[0]?.id });
  return qs;
}

function renderQuestions() {
  const box = $('questions');
  box.replaceChildren();
  const on = st.predict;
  $('reveal').hidden = !on || revealed || !result;
  const hide = on && !revealed;
  $('result-body').hidden = hide;
  $('hidden-note').hidden = !hide;
  $('hidden-note').textContent = hide ? t('predictWaiting') : '';
  if (!on) return;
  for (const q of questions()) {
    const fs = document.createElement('fieldset');
    fs.className = 'question';
    const lg = document.createElement('legend');
    lg.textContent = q.text;
    fs.append(lg);
    for (const [val, label] of [[true, t('yes')], [false, t('no')]]) {
      const l = document.createElement('label');
      const r = document.createElement('input');
      r.type = 'radio';
      r.name = `q-${q.id}`;
      r.value = String(val);
      r.checked = answers[q.id] === val;
      r.disabled = revealed;
      r.addEventListener('change', () => { answers[q.id] = val; });
      l.append(r, ` ${label}`);
      fs.append(l);
    }
    if (revealed) {
      const p = document.createElement('p');
      const held = answers[q.id] === undefined ? null : answers[q.id] === q.truth;
      p.className = held === null ? 'hint' : held ? 'ok' : 'bad';
      p.textContent = `${held === null ? '' : held ? `✓ ${t('predictHeld')} ` : `✗ ${t('predictFailed')} `}${t('actual', { a: q.truth === null ? '—' : q.truth ? t('yes') : t('no') })}${q.detail ? ` (${q.detail})` : ''}`;
      fs.append(p);
    }
    box.append(fs);
  }
}

// ------------------------------------------------------------------ rendering

function png(key, filename) {
  return () => {
    const ch = charts[key];
    const url = ch ? ch.toBase64Image('image/png', 1) : null;
    if (url) download(url, filename);
  };
}

function download(href, name) {
  const a = document.createElement('a');
  a.href = href;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
}
function downloadText(text, name, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  download(url, name);
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

const labelsTxt = () => ({ baseline: t('baseline'), intervened: t('intervened') });

function renderAll() {
  if (!result) return;
  renderStd();
  renderTop();
  renderAttention();
  renderMlp();
  renderTuple();
  renderCode();
  renderLens();
  const nf = result.intervened.nonfinite || result.baseline.nonfinite;
  $('nonfinite').hidden = !nf;
  if (nf) $('nonfinite').textContent = t('nonfinite', { hook: nf });
}

function renderStd() {
  const b = result.baseline, i = result.intervened, L = b.resid_std.length;
  const show = { resid: st.view !== 'hf', hf: st.view !== 'resid' };
  $('fig-resid').hidden = !show.resid;
  $('fig-hf').hidden = !show.hf;
  document.querySelector('#std-section .charts2').classList.toggle('single', st.view !== 'both');
  const residLabels = Array.from({ length: L }, (_, k) => String(k));
  const hfLabels = ['emb', ...Array.from({ length: L - 1 }, (_, k) => String(k)), `ln_f(${L - 1})`];
  const figs = [
    ['resid', 'fig-resid', residLabels, b.resid_std, i.resid_std, t('residTitle')],
    ['hf', 'fig-hf', hfLabels, b.hidden_std, i.hidden_std, t('hfTitle')],
  ];
  for (const [key, id, labels, bv, iv, title] of figs) {
    const fig = figureShell($(id), { onPng: png(key, `hooklab-${key}-std.png`) });
    setFigureText(fig, { title, png: t('downloadPng'), table: t('dataTable') });
    if (!show[key]) continue;
    charts[key] = upsertChart(charts[key], fig.querySelector('canvas'),
      lineConfig({ labels, base: bv, int: iv, labelsText: labelsTxt(), scale: st.scale, yTitle: t('stdAxis'), xTitle: t('blockAxis') }));
    renderTable(fig.querySelector('.table-wrap'), [t('blockAxis'), t('baseline'), t('intervened'), '×'],
      labels.map((l, k) => [l, fmtNum(bv[k], st.lang, 5), fmtNum(iv[k], st.lang, 5), finite(bv[k]) && finite(iv[k]) && bv[k] ? fmtNum(iv[k] / bv[k], st.lang) : '—']), title);
  }
  // Caption: how much of the "compensation" is the network and how much is ln_f.
  const s = result.state;
  const scaleEx = ['ex3', 'ex4'].map((k) => s.ex[k]).filter((e) => e.on);
  const n = b.hidden_std.length - 1;
  let cap;
  if (scaleEx.length) {
    const layer = Math.min(...scaleEx.map((e) => e.layer));
    const c = compensation(b, i, layer);
    const f = (x) => (finite(x) ? fmtNum(x, st.lang) : '✕');
    if (![c.rL, c.rLast, c.rF].every(finite)) cap = `${t('nonfinite', { hook: i.nonfinite || '?' })} ${t('captionNoScale', { b: fmtNum(b.hidden_std[n], st.lang), i: fmtNum(i.hidden_std[n], st.lang) })}`;
    else cap = t('captionScale', { l: layer, rL: f(c.rL), rLast: f(c.rLast), rF: f(c.rF), net: finite(c.net) ? fmtNum(c.net, st.lang, 2) : '—', lnf: finite(c.lnf) ? fmtNum(c.lnf, st.lang, 2) : '—', b: fmtNum(b.hidden_std[n], st.lang) });
  } else cap = t('captionNoScale', { b: fmtNum(b.hidden_std[n], st.lang), i: fmtNum(i.hidden_std[n], st.lang) });
  $('std-caption').textContent = cap;
}

const showTok = (s) => JSON.stringify(s ?? '');

function renderTop() {
  const b = result.baseline, i = result.intervened, k = result.state.topk;
  const rows = result.compare.top;
  const fig = figureShell($('fig-top'), { onPng: png('top', 'hooklab-next-token.png') });
  const title = t('topTitle', { k });
  setFigureText(fig, { title, png: t('downloadPng'), table: t('dataTable') });
  fig.querySelector('.canvas-box').style.height = `${Math.max(220, rows.length * 34 + 60)}px`;
  charts.top = upsertChart(charts.top, fig.querySelector('canvas'), barConfig({
    labels: rows.map((r) => showTok(r.token)),
    datasets: [
      { label: t('baseline'), data: rows.map((r) => r.pBase), backgroundColor: BASE_STYLE.borderColor, borderColor: BASE_STYLE.borderColor },
      { label: t('intervened'), data: rows.map((r) => r.pInt), backgroundColor: INT_STYLE.borderColor, borderColor: '#000', borderWidth: 1 },
    ],
    horizontal: true,
    xTitle: 'P',
  }));
  renderTable(fig.querySelector('.table-wrap'), [t('token'), t('probBase'), t('probInt'), t('delta')],
    rows.map((r) => [showTok(r.token), fmtNum(r.pBase, st.lang, 4), fmtNum(r.pInt, st.lang, 4), finite(r.delta) ? (r.delta >= 0 ? '+' : '') + fmtNum(r.delta, st.lang, 3) : '—']), title);
  const kl = result.compare.kl;
  $('kl').textContent = `${t('kl', { kl: kl === null ? '✕' : fmtNum(kl, st.lang, 4) })} ${t('klNote')}`;
}

function renderAttention() {
  const s = result.state, e = s.ex.ex1;
  $('attn-section').hidden = !e.on;
  if (!e.on) return;
  const name = `blocks.${e.layer}.attn.hook_pattern`;
  const cb = result.baseline.captures?.[name], ci = result.intervened.captures?.[name];
  if (!cb || !ci) return;
  $('attn-title').textContent = t('attnTitle', { h: e.head, l: e.layer });
  const toks = result.baseline.token_strings;
  const mb = headMatrix(cb, e.head), mi = headMatrix(ci, e.head);
  for (const [id, m, label] of [['fig-attn-base', mb, t('baseline')], ['fig-attn-int', mi, t('intervened')]]) {
    const fig = $(id);
    let canvas = fig.querySelector('canvas');
    if (!canvas) {
      canvas = document.createElement('canvas');
      canvas.setAttribute('role', 'img');
      fig.append(canvas);
    }
    canvas.setAttribute('aria-label', `${t('attnTitle', { h: e.head, l: e.layer })} — ${label}`);
    drawHeatmap(canvas, m, toks, { title: label });
  }
  const T = toks.length;
  const rows = [];
  for (let q = 0; q < T; q++) rows.push([`${q} ${showTok(toks[q])}`, ...Array.from({ length: T }, (_, k) => (k > q ? '' : `${fmtNum(mb[q][k], st.lang)} → ${fmtNum(mi[q][k], st.lang)}`))]);
  renderTable($('attn-table'), [`${t('query')} \\ ${t('key')}`, ...toks.map((x, k) => `${k} ${showTok(x)}`)], rows, `${t('baseline')} → ${t('intervened')}`);
}

function renderMlp() {
  const s = result.state, e = s.ex.ex2;
  $('mlp-section').hidden = !e.on;
  if (!e.on) return;
  const name = `blocks.${e.layer}.mlp.hook_post`;
  const cb = result.baseline.captures?.[name], ci = result.intervened.captures?.[name];
  if (!cb || !ci) return;
  const [T, D] = cb.shape;
  const sel = $('mlp-pos');
  const toks = result.baseline.token_strings;
  const want = sel.value === '' || Number(sel.value) >= T ? T - 1 : Number(sel.value);
  sel.replaceChildren(...toks.map((x, k) => new Option(`${k} ${showTok(x)}`, String(k))));
  sel.value = String(want);
  const N = Math.min(64, D);
  const rb = neuronRow(cb, want).slice(0, N), ri = neuronRow(ci, want).slice(0, N);
  const fig = figureShell($('fig-mlp'), { onPng: png('mlp', 'hooklab-mlp-neurons.png') });
  const title = t('mlpTitle', { l: e.layer, p: `${want} ${showTok(toks[want])}` });
  setFigureText(fig, { title, png: t('downloadPng'), table: t('dataTable') });
  const labels = Array.from({ length: N }, (_, k) => String(k));
  charts.mlp = upsertChart(charts.mlp, fig.querySelector('canvas'), barConfig({
    labels,
    datasets: [
      { label: t('baseline'), data: rb.map((v) => (finite(v) ? v : null)), backgroundColor: BASE_STYLE.borderColor },
      { label: t('intervened'), data: ri.map((v) => (finite(v) ? v : null)), backgroundColor: INT_STYLE.borderColor },
    ],
    xTitle: t('neuron'), yTitle: t('value'),
  }));
  let cap = fig.querySelector('.fig-cap');
  if (!cap) { cap = document.createElement('p'); cap.className = 'caption fig-cap'; fig.querySelector('.canvas-box').after(cap); }
  cap.textContent = t('mlpCaption', { n: N, d: D, m: e.mean });
  renderTable(fig.querySelector('.table-wrap'), [t('neuron'), t('baseline'), t('intervened')], labels.map((l, k) => [l, fmtNum(rb[k], st.lang, 4), fmtNum(ri[k], st.lang, 4)]), title);

  // Histogram of every value (all positions, all neurons), both runs.
  const all = [...cb.data, ...ci.data].filter(finite);
  const lo = Math.min(...all, 0), hi = Math.max(...all, 1);
  const hb = histogram(cb.data, lo, hi, 40), hi2 = histogram(ci.data, lo, hi, 40);
  const fig2 = figureShell($('fig-mlp-hist'), { onPng: png('mlpHist', 'hooklab-mlp-histogram.png') });
  const title2 = t('mlpHistTitle', { l: e.layer });
  setFigureText(fig2, { title: title2, png: t('downloadPng'), table: t('dataTable') });
  const hl = hb.map((x) => fmtNum((x.lo + x.hi) / 2, st.lang, 2));
  charts.mlpHist = upsertChart(charts.mlpHist, fig2.querySelector('canvas'), barConfig({
    labels: hl,
    datasets: [
      { label: t('baseline'), data: hb.map((x) => x.count), backgroundColor: BASE_STYLE.borderColor },
      { label: t('intervened'), data: hi2.map((x) => x.count), backgroundColor: INT_STYLE.borderColor },
    ],
    xTitle: t('value'), yTitle: t('count'),
  }));
  renderTable(fig2.querySelector('.table-wrap'), [t('value'), t('baseline'), t('intervened')],
    hb.map((x, k) => [`${fmtNum(x.lo, st.lang)} … ${fmtNum(x.hi, st.lang)}`, String(x.count), String(hi2[k].count)]), title2);
}

function renderTuple() {
  const b = result.baseline, c = modelInfo.config;
  const T = b.tokens.length, d = c.n_embd, H = c.n_head;
  const withAttn = $('tuple-attn').checked;
  const v5 = $('tuple-tf').value === '5';
  const s = result.state;
  const layer = [s.ex.ex3, s.ex.ex4, s.ex.ex1, s.ex.ex2].find((e) => e.on)?.layer ?? 9;
  const pat = b.captures?.[`blocks.${layer}.attn.hook_pattern`];
  const attnShape = pat ? [1, ...pat.shape] : [1, H, T, T];
  const sz = (a) => `torch.Size([${a.join(', ')}])`;
  const L = [];
  L.push(`block = model.transformer.h[${layer}]`);
  L.push(`hidden_states.shape        # ${sz([1, T, d])}  (batch, seq, d_model)`);
  L.push(`output = block(hidden_states${withAttn ? ', output_attentions=True' : ''})`);
  if (!v5) {
    L.push(`type(output), len(output)  # (tuple, ${withAttn ? 2 : 1})`);
    L.push(`output[0].shape            # ${sz([1, T, d])}  hidden states → next block (= blocks.${layer}.hook_resid_post)`);
    if (withAttn) L.push(`output[1].shape            # ${sz(attnShape)}  attention weights (batch, heads, query, key)`);
    L.push('');
    L.push('# a hook must rebuild the tuple:');
    L.push('#   return (output[0].mul(factor),) + output[1:]');
  } else {
    L.push(`type(output)               # torch.Tensor — ${sz([1, T, d])}`);
    L.push(`output[0].shape            # ${sz([T, d])}  ← the first batch element, NOT "the hidden states"`);
    if (withAttn) L.push(`# attentions: collected by the model, out.attentions[${layer}].shape == ${sz(attnShape)}`);
    L.push('');
    L.push('# a hook returns the tensor itself:  return output.mul(factor)');
  }
  $('tuple').textContent = L.join('\n');
  $('tuple-help').textContent = `${t('tupleHelp', { t: T })}${v5 ? ` ${t('tupleV5')}` : ''}`;
}

function renderCode() {
  const s = result?.state || st;
  $('code').textContent = codeTab === 'hf' ? hfCode(s) : tlCode(s);
  $('tab-hf').setAttribute('aria-selected', String(codeTab === 'hf'));
  $('tab-tl').setAttribute('aria-selected', String(codeTab === 'tl'));
  $('tab-hf').tabIndex = codeTab === 'hf' ? 0 : -1;
  $('tab-tl').tabIndex = codeTab === 'tl' ? 0 : -1;
}

// ------------------------------------------------------------------ export

function exportObject() {
  if (!result || !modelInfo) return null;
  return {
    model: { id: result.model, name: displayName(), ...modelInfo.config },
    prompt: result.state.prompt,
    interventions: interventionsOf(result.state),
    baseline: result.baseline,
    intervened: result.intervened,
  };
}

function exportAllPng() {
  const list = Object.values(charts).filter((c) => c && c.canvas && c.canvas.offsetParent !== null);
  const heat = [...document.querySelectorAll('.heat-fig canvas')].filter((c) => c.offsetParent !== null);
  const canvases = [...list.map((c) => c.canvas), ...heat];
  if (!canvases.length) return;
  const W = Math.max(...canvases.map((c) => c.width));
  const H = canvases.reduce((a, c) => a + c.height + 16, 0);
  const out = document.createElement('canvas');
  out.width = W;
  out.height = H;
  const ctx = out.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, W, H);
  let y = 0;
  for (const c of canvases) { ctx.drawImage(c, 0, y); y += c.height + 16; }
  download(out.toDataURL('image/png'), 'hooklab-charts.png');
}

// ------------------------------------------------------------------ events

function bind() {
  $('lang').addEventListener('change', () => { st.lang = $('lang').value; applyLang(); syncUrl(); });
  for (const el of document.querySelectorAll('input[name=model]')) el.addEventListener('change', () => { if (el.checked) selectModel(el.value); });
  $('load-btn').addEventListener('click', () => {
    const key = st.model;
    if (MODELS[key]?.kind === 'hub') loadModel(key, { kind: 'url', base: `https://huggingface.co/${MODELS[key].repo}/resolve/main/`, cache: true });
  });
  $('clear-cache').addEventListener('click', async () => {
    try {
      await client.clearCache();
      setStatus(t('cacheCleared'));
    } catch (e) { showError(e.message); }
  });
  const onInput = () => { readControls(); updateExerciseHelp(); syncUrl(); schedule(); };
  $('prompt').addEventListener('input', onInput);
  for (const el of document.querySelectorAll('#exercises input')) el.addEventListener(el.type === 'checkbox' ? 'change' : 'input', onInput);
  $('view').addEventListener('change', () => { readControls(); syncUrl(); renderAll(); });
  $('scale').addEventListener('change', () => { readControls(); syncUrl(); renderAll(); });
  $('predict-on').addEventListener('change', () => { st.predict = $('predict-on').checked; revealed = false; syncUrl(); renderQuestions(); });
  $('reveal').addEventListener('click', () => { revealed = true; renderQuestions(); renderAll(); $('results').focus(); });
  $('mlp-pos').addEventListener('change', () => renderMlp());
  $('lens-on').addEventListener('change', () => { st.lens = $('lens-on').checked; syncUrl(); runLens(); });
  $('tuple-attn').addEventListener('change', renderTuple);
  $('tuple-tf').addEventListener('change', renderTuple);
  const tabs = [$('tab-hf'), $('tab-tl')];
  for (const tab of tabs) {
    tab.addEventListener('click', () => { codeTab = tab.id === 'tab-hf' ? 'hf' : 'tl'; renderCode(); });
    tab.addEventListener('keydown', (ev) => {
      if (ev.key === 'ArrowRight' || ev.key === 'ArrowLeft') {
        codeTab = codeTab === 'hf' ? 'tl' : 'hf';
        renderCode();
        $(codeTab === 'hf' ? 'tab-hf' : 'tab-tl').focus();
      }
    });
  }
  $('copy').addEventListener('click', async () => {
    const text = $('code').textContent;
    try { await navigator.clipboard.writeText(text); } catch {
      const r = document.createRange();
      r.selectNodeContents($('code'));
      getSelection().removeAllRanges();
      getSelection().addRange(r);
      document.execCommand('copy');
    }
    $('copy-status').textContent = t('copied');
    setTimeout(() => ($('copy-status').textContent = ''), 2000);
  });
  $('export-json').addEventListener('click', () => { const o = exportObject(); if (o) downloadText(JSON.stringify(o, (k, v) => (ArrayBuffer.isView(v) ? Array.from(v, (x) => (Number.isFinite(x) ? x : null)) : v), 1), 'hooklab-run.json', 'application/json'); });
  $('export-csv').addEventListener('click', () => { if (result) downloadText(toCsv(result.baseline, result.intervened, result.state.topk, result.compare), 'hooklab-data.csv', 'text/csv'); });
  $('export-png').addEventListener('click', exportAllPng);

  // Local files: drag and drop or the file picker; matched by name (or by extension).
  const drop = $('drop');
  const takeFiles = (list) => {
    const files = {};
    for (const f of list) {
      const n = f.name.toLowerCase();
      if (n.endsWith('.safetensors')) files.safetensors = f;
      else if (n === 'config.json') files.config = f;
      else if (n === 'vocab.json' || n === 'encoder.json') files.vocab = f;
      else if (n === 'merges.txt' || n === 'vocab.bpe') files.merges = f;
    }
    localFiles = { ...(localFiles || {}), ...files };
    const missing = ['config', 'safetensors', 'vocab', 'merges'].filter((k) => !localFiles[k]);
    if (missing.length) return showError(`${t('dropHere')} — missing: ${missing.map((k) => ({ config: 'config.json', safetensors: 'model.safetensors', vocab: 'vocab.json', merges: 'merges.txt' }[k])).join(', ')}`);
    const lf = localFiles;
    localFiles = null; // a new drop starts a new set
    st.model = 'local';
    writeControls();
    loadModel('local', { kind: 'files', files: lf }, { fileName: lf.safetensors.name });
  };
  $('files').addEventListener('change', (ev) => takeFiles(ev.target.files));
  drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (ev) => { ev.preventDefault(); drop.classList.remove('over'); takeFiles(ev.dataTransfer.files); });
  drop.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); $('files').click(); } });
}

// ------------------------------------------------------------------ start

writeControls();
bind();
applyLang();
syncUrl();
selectModel(st.model);

// For tests and the host page: the current export object.
window.hooklab = { exportObject, chartData: (key) => charts[key]?.data.datasets.map((d) => d.data) ?? null, chartAnimation: (key) => charts[key]?.options.animation, lensData: () => lensResult?.for === result ? lensResult.layers : null, get state() { return structuredClone(st); }, get ready() { return !!result; } };
