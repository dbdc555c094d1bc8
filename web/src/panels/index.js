// Every results panel, redrawn from the store (each draws when on screen: lazy.js).
import { $ } from '../dom.js';
import { whenVisible, setShown } from '../lazy.js';
import { renderStd } from './std.js';
import { renderTop } from './top.js';
import { renderLens } from './lens.js';
import { renderAttention } from './attention.js';
import { renderMlp } from './mlp.js';
import { renderStats } from './stats.js';
import { renderTuple } from './tuple.js';
import { renderCode } from './code.js';
import { renderPatching } from './patching.js';
import { renderHeads } from './heads.js';

export function renderAll(app) {
  renderCode(app);
  // Independent of the main run, and drawn at once: its run button's state must be current
  // (a disabled button leaves the tab order, and a click waits for it).
  renderPatching(app);
  app.lesson?.update(); // the guided path starts again when the model changed
  const has = !!app.result;
  for (const id of ['export-json', 'export-csv', 'export-png']) $(id).disabled = !has;
  setShown($('tuple-section'), has);
  if (!has) return;
  renderStd(app);
  renderTop(app);
  renderAttention(app);
  renderMlp(app);
  renderStats(app);
  renderTuple(app);
  renderLens(app);
  renderHeads(app);
  const nf = app.result.intervened.nonfinite || app.result.baseline.nonfinite;
  $('nonfinite').hidden = !nf;
  if (nf) $('nonfinite').textContent = app.t('nonfinite', { hook: nf });
}
