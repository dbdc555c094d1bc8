// The heads panel on the page: the controls (score, block, input) and, while the panel is
// open, the engine's per-head scores (lab.heads through the worker; baseline and intervened)
// drawn by heads-overview.js and heads-grid.js. They cost two extra forwards, so a closed
// panel asks for nothing; scores are asked once per (model, input, interventions, block)
// and kept, so closing and reopening on the same state asks nothing again. Its code fold
// (code-tabs.js) shows the scores' program in TransformerLens and HuggingFace.
import { $, showFieldError } from '../dom.js';
import { fmtNum } from '../i18n.js';
import { interventionsOf, stateToParams, MODELS } from '../state.js';
import { describeError } from '../errors.js';
import { displayName } from '../model-name.js';
import { renderHeadsOverview } from './heads-overview.js';
import { renderHeadGrid } from './heads-grid.js';
import { modelIdentity, knownHeadsFor, knownForScore, headsNote } from '../known-heads.js';
import { headsCode } from './code.js';
import { mountCodeTabs } from './code-tabs.js';
import './heads-strings.js';
import './heads-page-strings.js';

// What to look for on the loaded model; how it was measured folds away (it is long, and the
// compact embed shows the scores on its first screen).
function writeLook(app, entry, result, fmt) {
  const { t } = app;
  const look = $('heads-look');
  look.replaceChildren(headsNote({ entry: entry && { ...entry, evidence: null }, name: displayName(app), result, score: app.st.heads.score, t, fmt }));
  if (!entry?.evidence) return;
  const fold = document.createElement('details');
  const summary = document.createElement('summary');
  summary.textContent = t('lookEvidenceFold');
  fold.append(summary, t(entry.evidence));
  look.append(' ', fold);
}

/** The known-heads table's entry for the loaded model (known-heads.js), or null. */
export function loadedModelHeads(app) {
  const repo = (key) => (MODELS[key]?.kind === 'hub' ? MODELS[key].repo : undefined);
  return knownHeadsFor(modelIdentity(app.modelInfo, repo));
}

// The R and seed fields, checked against the model's context: {r, seed} or errors by field.
function readRepeat(app) {
  const ctx = app.modelInfo?.config.n_positions ?? 1024;
  const hi = Math.floor((ctx - 1) / 2);
  const errs = {};
  const rs = $('heads-r').value.trim(), ss = $('heads-seed').value.trim();
  if (!/^\d+$/.test(rs) || Number(rs) < 1 || Number(rs) > hi) errs['heads-r'] = { key: 'headsRange', vars: { lo: 1, hi } };
  if (!/^\d{1,20}$/.test(ss) || BigInt(ss) >= 2n ** 64n) errs['heads-seed'] = { key: 'headsSeedBad', vars: {} };
  return { errs, r: Number(rs), seed: ss === '' ? ss : String(BigInt(/^\d+$/.test(ss) ? ss : 0)) };
}

function showErrors(app) {
  for (const id of ['heads-r', 'heads-seed']) showFieldError(app, id, app.headsErrors?.[id]);
}

export function writeHeadsControls(app) {
  const h = app.st.heads;
  const L = app.modelInfo?.config.n_layer ?? 12;
  const sel = $('heads-block');
  if (sel.options.length !== L) sel.replaceChildren(...Array.from({ length: L }, (_, l) => new Option(String(l), String(l))));
  sel.value = String(Math.min(h.block, L - 1));
  $('heads-score').value = h.score;
  $('heads-input').value = h.repeat ? 'repeat' : 'prompt';
  if (!app.headsErrors?.['heads-r']) $('heads-r').value = String(h.r);
  if (!app.headsErrors?.['heads-seed']) $('heads-seed').value = h.seed;
  for (const el of document.querySelectorAll('.heads-rep')) el.hidden = !h.repeat;
  if (app.st.autorun?.includes('heads')) $('heads-section').open = true; // autorun=heads, also from set-state
  showErrors(app);
}

/** Controls → state. Returns false when a field is invalid (the state keeps its last valid values). */
export function readHeadsControls(app) {
  const h = app.st.heads;
  h.score = $('heads-score').value;
  h.block = Number($('heads-block').value || 0);
  h.repeat = $('heads-input').value === 'repeat';
  for (const el of document.querySelectorAll('.heads-rep')) el.hidden = !h.repeat;
  const { errs, r, seed } = readRepeat(app);
  app.headsErrors = h.repeat ? errs : {};
  if (!errs['heads-r']) h.r = r;
  if (!errs['heads-seed']) h.seed = seed;
  showErrors(app);
  return !Object.keys(app.headsErrors).length;
}

export function renderHeads(app) {
  const { result, t } = app;
  if (!result || !app.modelInfo) return;
  writeHeadsControls(app);
  if (!$('heads-section').open) return;
  const L = app.modelInfo.config.n_layer;
  const h = app.st.heads;
  const block = Math.min(h.block, L - 1);
  const interventions = interventionsOf(result.state);
  const req = h.repeat ? { repeat: h.r, seed: h.seed } : { prompt: result.state.prompt };
  Object.assign(req, { interventions, pattern: block });
  const key = JSON.stringify([result.model, req]);
  const fmt = (x) => fmtNum(x, app.st.lang);
  const entry = loadedModelHeads(app);
  app.headsCode?.refresh();
  const draw = () => {
    const hs = app.headsResult.value;
    app.headsCode?.refresh(); // the repeated tokens' ids are the result's
    $('heads-status').textContent = h.repeat ? t('headsRepeatNote', { r: h.r, s: h.seed }) : '';
    writeLook(app, entry, hs.baseline, (x) => fmtNum(x, app.st.lang, 2));
    renderHeadsOverview($('heads-overview'), {
      ...hs, score: h.score, t, fmt, known: knownForScore(entry, h.score),
      onPick: ({ layer }) => { app.st.heads.block = layer; writeHeadsControls(app); app.headsChange?.(); },
    });
    renderHeadGrid($('heads-grid'), { layer: block, tokens: hs.baseline.token_strings, baseline: hs.baseline.pattern, intervened: hs.intervened?.pattern ?? null, scores: hs, t, fmt });
  };
  if (app.headsResult?.key === key) { app.headsAsked = key; return draw(); }
  if (app.headsAsked === key) return;
  app.headsAsked = key;
  $('heads-status').textContent = t('headsRunning');
  writeLook(app, entry, null, fmt);
  app.client.heads(req).then((value) => {
    if (app.headsAsked !== key) return; // a newer request
    app.headsResult = { key, value, req: { score: h.score, block, ...req } };
    draw();
    if (window.parent !== window) app.notifyResult?.(); // the embed API's hooklab:result
  }, (e) => {
    if (app.headsAsked !== key) return;
    app.headsAsked = null;
    const d = describeError(e.message);
    $('heads-status').textContent = t(d.key, d.vars);
  });
}

/** Wires the controls, and has form.js's writeControls write them with the form. onChange:
 *  the state changed (URL). A URL that carries the panel's settings opens it (it was open
 *  when the link was made). */
export function bindHeads(app, onChange) {
  app.controlWriters.push(writeHeadsControls);
  const panel = $('heads-section');
  // The equivalent code (TransformerLens run_with_cache, HF output_attentions) of the scores shown.
  app.headsCode = mountCodeTabs(panel, { lang: app.st.lang, name: 'heads', code: (tab) => headsCode(app, tab) });
  const q = stateToParams(app.st);
  if (q.has('heads') || q.has('repeat') || app.st.autorun?.includes('heads')) panel.open = true;
  // Its result in the export and the embed API (export.js): the scores of the latest request
  // (baseline and intervened), with what was asked; pending while autorun=heads waits for it.
  app.resultParts.heads = () => (app.headsResult && app.headsResult.key === app.headsAsked ? { ...app.headsResult.req, ...app.headsResult.value } : null);
  app.pendingChecks.push(() => (app.st.autorun?.includes('heads') && app.headsAsked && app.headsResult?.key !== app.headsAsked ? 'heads' : null));
  panel.addEventListener('toggle', () => { if (panel.open) renderHeads(app); });
  app.headsChange = () => { onChange(); renderHeads(app); };
  const changed = () => { if (readHeadsControls(app)) app.headsChange(); else onChange(); };
  for (const id of ['heads-score', 'heads-block', 'heads-input']) $(id).addEventListener('change', changed);
  for (const id of ['heads-r', 'heads-seed']) $(id).addEventListener('input', changed);
}

