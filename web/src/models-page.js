// The page's models, declared once: the URL's `model=` values, the picker's radios (in this
// order, built by panels/model-info.js mountModelPicker), their labels and the sizes they say.
// Adding a model is adding an entry here (and its strings, if it has its own label).
// Sizes are read, never written in a string: a hub model's from wasm/js/models.js (the files'
// sizes on the hub), a bundled model's from the files.json web/build.sh writes beside it.
// A leaf: imports only the engine's registry (state.js re-exports MODELS).
import { HUB_MODELS, downloadBytes } from '../../wasm/js/models.js';

/** kind 'bundled': served with the page; 'hub': one of wasm/js/models.js's HUB_MODELS (repo,
 *  name, params, files' sizes, training data); 'local': files the reader drops. base (set below):
 *  where a bundled model is served, models/KEY/ (web/build.sh copies checkpoints/KEY there;
 *  the default, while that is missing, the random-weights test checkpoint). label: the picker's
 *  string (i18n) with {name}, {params}, {size} filled in; labelNoSize: a bundled model's while
 *  its files.json (its size) is not read. */
export const MODELS = {
  default: { kind: 'bundled', label: 'modelDefault' },
  induction: { kind: 'bundled', label: 'modelLesson', labelNoSize: 'modelLessonNoSize' },
  gpt2: { kind: 'hub', ...HUB_MODELS.gpt2, label: 'modelHub' },
  'gpt2-medium': { kind: 'hub', ...HUB_MODELS['gpt2-medium'], label: 'modelHub' },
  local: { kind: 'local', label: 'modelLocal' },
};
for (const [key, m] of Object.entries(MODELS)) if (m.kind === 'bundled') m.base = `models/${key}/`;

/** A size as the page says it: whole MB (at least 1) below 1 GB, GB with one decimal above. */
export function fmtSize(bytes, lang) {
  const nf = (d) => new Intl.NumberFormat(lang === 'vi' ? 'vi-VN' : 'en-US', { maximumFractionDigits: d });
  return bytes >= 1e9 ? `${nf(1).format(bytes / 1e9)} GB` : `${nf(0).format(Math.max(1, bytes / 1e6))} MB`;
}

/** What choosing a hub model downloads (its four files), as the page says it. */
export const downloadSize = (key, lang) => fmtSize(downloadBytes(MODELS[key]), lang);

/** The picker's label of a model in the language of t; a bundled model's {name, bytes} come
 *  from its config and files.json (app.bundled). */
export function modelLabel(t, lang, key, { name, bytes } = {}) {
  const m = MODELS[key];
  if (m.kind === 'hub') return t(m.label, { name: m.name, params: `${Math.round(m.params / 1e6)}M`, size: downloadSize(key, lang) });
  if (m.kind === 'bundled' && !bytes && m.labelNoSize) return t(m.labelNoSize, { name });
  return t(m.label, { name, size: bytes ? fmtSize(bytes, lang) : '' });
}
