// Run orchestration: debounced runs of the current state through the worker, the result
// into the store, the panels redrawn; the logit lens asked for after each run.
import { $ } from './dom.js';
import { interventionsOf, capturesOf } from './state.js';
import { describeError } from './errors.js';
import { hookTable } from './hook-table.js';
import { hasFieldErrors } from './form.js';
import { setStatus, showError, renderStatus } from './panels/status.js';
import { renderQuestions } from './panels/questions.js';
import { renderLens } from './panels/lens.js';
import { renderAll } from './panels/index.js';
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
    const r = await client.run({ prompt: snapshot.prompt, interventions, topk: snapshot.topk, capture: capturesOf(snapshot, table), logitLens: snapshot.lens });
    if (!r) return; // superseded by a newer run
    showError(app, null);
    const prev = app.result;
    const changed = !prev || JSON.stringify([prev.state.prompt, interventionsOf(prev.state), prev.model]) !== JSON.stringify([snapshot.prompt, interventions, app.loadedKey]);
    app.result = { state: snapshot, model: app.loadedKey, baseline: r.baseline, intervened: r.intervened, compare: r.compare };
    if (r.lens) app.lensResult = { for: app.result, layers: r.lens };
    if (changed) { app.revealed = false; app.answers = {}; }
    app.tokenCount = { n: r.baseline.tokens.length, ctx: app.modelInfo.config.n_positions };
    setStatus(app, interventions.length ? 'ready' : 'noIntervention');
    renderQuestions(app);
    renderAll(app);
    for (const f of app.autoruns) f(app); // autorun: the views' own runs (a patching sweep, generation)
    if (window.parent !== window) app.embed?.resultChanged(exportObject(app));
    runLens(app);
  } catch (e) {
    showError(app, describeError(e.message));
    setStatus(app, null);
    $('result-body').classList.add('stale');
    client.tokenize(snapshot.prompt).then((t) => {
      if (app.st.prompt !== snapshot.prompt) return;
      app.tokenCount = { n: t.ids.length, ctx: app.modelInfo.config.n_positions };
      renderStatus(app);
    }, () => {});
  } finally {
    document.body.classList.remove('busy');
  }
}

export async function runLens(app) {
  renderLens(app);
  const { result } = app;
  if (!app.st.lens || !result || app.lensResult?.for === result) return;
  const n = app.modelInfo.config.n_layer;
  const status = (s) => { app.lensStatus = s; renderLens(app); };
  status({ key: 'lensRunning', vars: { i: 0, n } });
  try {
    const r = await app.client.lens({ prompt: result.state.prompt, interventions: interventionsOf(result.state) }, (f) => {
      if (app.result === result) status({ key: 'lensRunning', vars: { i: Math.round(f * n), n } });
    });
    if (!r || app.result !== result) return; // a newer run: it asks again
    app.lensResult = { for: result, layers: r.layers };
    status(null);
  } catch (e) {
    status({ error: describeError(e.message) });
  }
}
