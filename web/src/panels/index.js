// The results panels, one table: each is render(app), subscribed to the store's changes it
// draws (store.js's topics), and draws when on screen (lazy.js); a panel that builds its own
// part of the page has mount(app, page). A new view adds its row here.
import { $ } from '../dom.js';
import { setShown } from '../lazy.js';
import { subscribe } from '../store.js';
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
import { mountTokenLoss, renderTokenLoss } from './token-loss.js';
import { mountGenerateView, renderGenerateView } from './generate-view.js';

// Every panel below shows the run in words and charts: a new result, a new way to show it and
// a new language redraw them all.
const ALL = ['result', 'view', 'lang'];

// needsResult: drawn only once there is a run to show. Order: the table's.
export const PANELS = [
  { name: 'code', on: ALL, render: renderCode },
  // Independent of the main run, and drawn at once: its run button's state must be current
  // (a disabled button leaves the tab order, and a click waits for it).
  { name: 'patching', on: ALL, render: renderPatching },
  { name: 'lesson', on: ALL, render: (app) => app.lesson?.update() }, // the guided path starts again when the model changed
  // Generation under the interventions: asked by its own button (or autorun), not by a run.
  { name: 'generate', on: ['lang'], mount: mountGenerateView, render: renderGenerateView },
  { name: 'exports', on: ALL, render: (app) => {
    const has = !!app.result;
    for (const id of ['export-json', 'export-csv', 'export-png']) $(id).disabled = !has;
    setShown($('tuple-section'), has);
  } },
  { name: 'std', on: ALL, needsResult: true, render: renderStd },
  { name: 'top', on: ALL, needsResult: true, render: renderTop },
  { name: 'attention', on: ALL, needsResult: true, render: renderAttention },
  { name: 'mlp', on: ALL, needsResult: true, render: renderMlp },
  { name: 'stats', on: ALL, needsResult: true, render: renderStats },
  { name: 'tuple', on: ALL, needsResult: true, render: renderTuple },
  { name: 'lens', on: ALL, needsResult: true, render: renderLens },
  { name: 'heads', on: ALL, needsResult: true, render: renderHeads },
  { name: 'loss', on: ALL, mount: mountTokenLoss, render: renderTokenLoss },
  { name: 'nonfinite', on: ALL, needsResult: true, render: (app) => {
    const nf = app.result.intervened.nonfinite || app.result.baseline.nonfinite;
    $('nonfinite').hidden = !nf;
    if (nf) $('nonfinite').textContent = app.t('nonfinite', { hook: nf });
  } },
];

/** Mounts the panels that build their own part of the page (`mount(app, page)`; page: what
 *  the page lends them, {syncUrl()}: the state changed, write the URL) and subscribes every
 *  panel of the table to the store. */
export function mountPanels(app, page) {
  for (const p of PANELS) p.mount?.(app, page);
  for (const p of PANELS) subscribe(app, p.on, p.needsResult ? (a) => { if (a.result) p.render(a); } : p.render);
}
