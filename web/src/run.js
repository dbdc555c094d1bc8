// Run orchestration: debounced runs of the current state through the worker, the result
// into the store, the panels redrawn. The logit lens is a run option: it rides along with
// the run that the lens checkbox is on for, and switching it on after a run runs again.
import { $ } from './dom.js';
import { interventionsOf, capturesOf } from './state.js';
import { describeError } from './errors.js';
import { hookTable } from './hook-table.js';
import { hasFieldErrors } from './form.js';
import { setStatus, showError, renderStatus } from './panels/status.js';
import { renderLens } from './panels/lens.js';
import { changed } from './store.js';
import { exportObject } from './export.js';

export function schedule(app, delay = 200) {
  clearTimeout(app.runTimer);
  app.runTimer = setTimeout(() => runNow(app), delay);
}

export async function runNow(app) {
  const { client } = app;
  if (!app.modelInfo) return;
  if (hasFieldErrors(app)) {
    // The form holds a value the engine must not see: keep the last valid result, greyed.
    setStatus(app, 'fieldsInvalid');
    $('result-body').classList.add('stale');
    return;
  }
  const snapshot = structuredClone(app.st);
  const interventions = interventionsOf(snapshot);
  setStatus(app, 'running');
  document.body.classList.add('busy');
  try {
    const table = await hookTable(app); // the captures' names are the table's
    const r = await client.run({ prompt: snapshot.prompt, interventions, topk: snapshot.topk, capture: capturesOf(snapshot, table), logitLens: !!snapshot.lens });
    if (!r) return; // superseded by a newer run
    showError(app, null);
    const prev = app.result;
    const newRun = !prev || JSON.stringify([prev.state.prompt, interventionsOf(prev.state), prev.model]) !== JSON.stringify([snapshot.prompt, interventions, app.loadedKey]) || prev.process !== app.loadedProcess;
    app.result = { state: snapshot, model: app.loadedKey, process: app.loadedProcess, baseline: r.baseline, intervened: r.intervened, compare: r.compare };
    if (r.lens) app.lensResult = { for: app.result, layers: r.lens };
    app.lensStatus = null;
    if (newRun) { app.revealed = false; app.answers = {}; }
    app.tokenCount = { n: r.baseline.tokens.length, ctx: app.modelInfo.config.n_positions };
    setStatus(app, interventions.length ? 'ready' : 'noIntervention');
    changed(app, 'result');
    for (const f of app.autoruns) f(app); // autorun: the views' own runs (a patching sweep, generation)
    if (window.parent !== window) app.embed?.resultChanged(exportObject(app));
    runLens(app);
  } catch (e) {
    showError(app, describeError(e.message));
    if (app.lensStatus) { app.lensStatus = { error: describeError(e.message) }; renderLens(app); }
    setStatus(app, null);
    $('result-body').classList.add('stale');
    client.tokenize({ text: snapshot.prompt }).then((t) => {
      if (app.st.prompt !== snapshot.prompt) return;
      app.tokenCount = { n: t.ids.length, ctx: app.modelInfo.config.n_positions };
      renderStatus(app);
    }, () => {});
  } finally {
    document.body.classList.remove('busy');
  }
}

// The lens checkbox: the chart of the current result's lens, or, switched on after a run
// without it, the same run again with the lens (the engine keeps the baseline: one forward).
export function runLens(app) {
  renderLens(app);
  const { result } = app;
  if (!app.st.lens || !result || result.state.lens || app.lensResult?.for === result) return;
  if (!hasFieldErrors(app)) {
    app.lensStatus = { key: 'lensRunning', vars: { i: 0, n: app.modelInfo.config.n_layer } };
    renderLens(app);
  }
  schedule(app, 0);
}
