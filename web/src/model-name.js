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
