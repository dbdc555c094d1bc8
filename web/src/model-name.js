// The loaded model's name as the page and every export write it. Below the panels and
// export.js, which both name the model.
import { MODELS } from './state.js';

export function displayName(app) {
  const info = app.modelInfo;
  const h = info?.rawConfig?.hooklab;
  if (h?.name) return h.name;
  if (MODELS[info?.key]?.kind === 'hub') return MODELS[info.key].name;
  if (info?.key === 'local') return info.fileName || app.t('localModelName');
  return app.t('randomModelName');
}

/** The loaded model's identity for results kept per model (a patching sweep, a generation): its
 *  picker key, and '|tl' when its weights are TransformerLens-processed, so that loading the same
 *  model processed or not starts afresh. null before a model is loaded. */
export const loadedModelId = (app) => (app.loadedKey ? `${app.loadedKey}${app.loadedProcess === 'tl' ? '|tl' : ''}` : null);

/** The keys of the models served with the page (MODELS kind 'bundled'), in the picker's order. */
export const BUNDLED = Object.keys(MODELS).filter((k) => MODELS[k].kind === 'bundled');
export const isBundled = (key) => MODELS[key]?.kind === 'bundled';

/** A bundled model's name: its config's (once loaded, or from its files.json), else its key's
 *  fallback (app.bundled[key].name; the default's is app.defaultName). */
export function bundledName(app, key) {
  if (app.modelInfo?.key === key && app.modelInfo.rawConfig?.hooklab?.name) return app.modelInfo.rawConfig.hooklab.name;
  return app.bundled?.[key]?.name ?? (key === 'default' ? app.defaultName : key);
}

/** Where the code panels' Python finds the bundled model chosen (the default when a hub or local
 *  model is chosen): {modelName, modelUrl, modelDir} for codegen.js's modelSource. */
export function bundledSource(app) {
  const key = isBundled(app.st.model) ? app.st.model : 'default';
  const href = typeof location !== 'undefined' ? location.href : 'http://localhost/';
  return { modelName: bundledName(app, key), modelUrl: new URL(MODELS[key].base, href).href, modelDir: `checkpoints/${key}` };
}
