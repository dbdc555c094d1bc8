// The controls ↔ the store: writing the state into the form, reading and validating what
// the user typed (errors next to the field, in the page's language; an invalid value never
// reaches the state, so the URL stays valid), and the URL itself.
import { $, showFieldError } from './dom.js';
import { fmtNum } from './i18n.js';
import { stateToParams, validateField, FIELD_KIND } from './state.js';
import { formatField } from './numbers.js';
import { applyAuthor, enforceLocks } from './author.js';

const EXS = ['ex1', 'ex2', 'ex3', 'ex4'];

// Every numeric field: [element id, getter, setter, kind].
function fields(st) {
  const out = [];
  for (const k of EXS)
    for (const p of Object.keys(st.ex[k]))
      if (p !== 'on') out.push([`${k}-${p}`, () => st.ex[k][p], (v) => { st.ex[k][p] = v; }, FIELD_KIND[p]]);
  out.push(['topk', () => st.topk, (v) => { st.topk = v; }, 'topk']);
  out.push(['stat-layer', () => st.hookLayer, (v) => { st.hookLayer = v; }, 'layer']);
  return out;
}

export function syncUrl(app) {
  // A locked key keeps the author's value whatever the learner did (author.js).
  if (enforceLocks(app)) writeControls(app);
  const q = stateToParams(app.st);
  history.replaceState(null, '', `${location.pathname}?${q.toString()}${location.hash}`);
  const full = new URLSearchParams(q);
  full.delete('embed');
  $('open-full').href = `${location.pathname}?${full.toString()}`;
  app.embed?.stateChanged(q);
}

export function writeControls(app) {
  const { st } = app;
  for (const el of document.querySelectorAll('input[name=model]')) el.checked = el.value === st.model;
  $('prompt').value = st.prompt;
  for (const k of EXS) {
    $(`${k}-on`).checked = st.ex[k].on;
    document.querySelector(`.ex[data-ex=${k}]`).classList.toggle('on', st.ex[k].on);
  }
  for (const [id, get] of fields(st)) if (!app.fieldErrors[id]) $(id).value = formatField(get(), st.lang);
  $('view').value = st.view;
  $('scale').value = st.scale;
  $('stat-kind').value = st.stat;
  $('predict-on').checked = st.predict;
  $('lens-on').checked = st.lens;
  document.body.classList.toggle('embed', st.embed);
  $('drop').hidden = st.model !== 'local';
  for (const write of app.controlWriters) write(app); // the panels' own controls
  renderFieldErrors(app);
  applyAuthor(app);
}

export function readControls(app) {
  const { st } = app;
  st.prompt = $('prompt').value;
  for (const k of EXS) {
    st.ex[k].on = $(`${k}-on`).checked;
    document.querySelector(`.ex[data-ex=${k}]`).classList.toggle('on', st.ex[k].on);
  }
  const cfg = app.modelInfo?.config ?? null;
  for (const [id, , set, kind] of fields(st)) {
    const r = validateField(kind, $(id).value, cfg);
    if (r.error) app.fieldErrors[id] = r.error;
    else {
      delete app.fieldErrors[id];
      set(r.value);
    }
  }
  st.view = $('view').value;
  st.scale = $('scale').value;
  st.stat = $('stat-kind').value;
  if ($('stat-hook').value) st.hook = $('stat-hook').value;
  renderFieldErrors(app);
}

// An invalid field blocks runs unless it belongs to an exercise that is off.
export const hasFieldErrors = (app) => Object.keys(app.fieldErrors).some((id) => {
  const [k, n] = id.split('-');
  if (k === 'iv') return app.st.iv[Number(n)]?.on ?? false; // a builder row (panels/builder.js)
  return !(k in app.st.ex) || app.st.ex[k].on;
});

export function renderFieldErrors(app) {
  for (const [id] of fields(app.st)) {
    showFieldError(app, id, app.fieldErrors[id]);
  }
}

// Help texts that depend on the loaded model and the exercises.
export function updateExerciseHelp(app) {
  const { st, t } = app;
  const c = app.modelInfo?.config || { n_embd: 768, n_head: 12 };
  const dh = c.d_head ?? c.n_embd / c.n_head;
  const H = st.ex.ex1.head;
  const a = c.n_embd + H * dh, b = c.n_embd + (H + 1) * dh;
  $('ex1-help').textContent = t('ex1Help', { a: Number.isFinite(a) ? a : '?', b: Number.isFinite(b) ? b : '?' });
  const e3 = st.ex.ex3, e4 = st.ex.ex4;
  const both = e3.on && e4.on && e3.layer === e4.layer;
  $('both-scale').hidden = !both;
  if (both) $('both-scale').textContent = t('bothScale', { f: fmtNum(e3.factor * e4.factor, st.lang) });
}
