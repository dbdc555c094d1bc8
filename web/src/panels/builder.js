// The intervention builder: rows a learner adds, reorders, switches off and deletes, applied
// in order after the exercises. Hook points come from the engine's own table (lab.hooks()
// through the worker); the fields are validated next to themselves like form.js's, and an
// invalid field never reaches the state (so the URL stays valid).
import { $ } from '../dom.js';
import { hookTable, tableOf } from '../hook-table.js';
import { formatField } from '../numbers.js';
import { KINDS, SEL_MODES, KIND_PARAMS, defaultRow, parseSelector, selectorMode, validateRowParam, hookError, hookEntry, tableName, rowsToText, exerciseRow } from '../rows.js';
import { lockedKeys } from '../author.js';
import './builder-strings.js';

const SELECTORS = [['positions', 'ivPositions'], ['heads', 'ivHeads'], ['features', 'ivFeatures']];

// The engine's hook table for the loaded model: onReady once it arrives.
function ensureTable(app, onReady) {
  const info = app.modelInfo;
  if (!info || tableOf(app) || app.builderWaits === info) return;
  app.builderWaits = info;
  hookTable(app).then(() => { if (app.modelInfo === info) onReady(); }, () => {}).finally(() => { app.builderWaits = null; });
}

const el = (tag, props = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k in e) e[k] = v;
    else e.setAttribute(k, v);
  }
  e.append(...kids);
  return e;
};

// A labelled field with its error line, form.js's way (aria-describedby, aria-invalid).
function field(id, labelText, input) {
  input.id = id;
  const err = el('span', { id: `${id}-err`, class: 'field-error', 'aria-live': 'polite' });
  err.hidden = true;
  input.setAttribute('aria-describedby', err.id);
  return [el('label', {}, el('span', {}, labelText), ' ', input), err];
}

function options(select, values, label) {
  select.replaceChildren(...values.map((v) => el('option', { value: v, textContent: label(v) })));
}

/** Redraws the rows from the state (and the errors from app.fieldErrors). */
export function renderBuilder(app) {
  const { st, t } = app;
  ensureTable(app, () => {
    // The table may change what the rows say (a heads selector on a hook without heads):
    // only then is it a new experiment to run.
    const before = rowsToText(st.iv);
    renderBuilder(app);
    readBuilder(app);
    if (rowsToText(st.iv) !== before) app.builderChange?.();
  });
  const table = tableOf(app);
  const preset = $('iv-preset');
  if (preset) {
    const keep = preset.value;
    options(preset, ['1', '2', '3', '4'], (n) => t(`ex${n}`));
    preset.value = keep || '1';
    $('iv-preset-label').textContent = t('ivPreset');
    $('iv-preset-add').textContent = t('ivPresetAdd');
    $('iv-preset-note').textContent = app.presetNote ? t(app.presetNote.key, { n: app.presetNote.n }) : '';
  }
  // Drawn from the state, which holds only valid values: no typed error survives a redraw.
  for (const k of Object.keys(app.fieldErrors)) if (k.startsWith('iv-')) delete app.fieldErrors[k];
  const box = $('iv-rows');
  box.replaceChildren();
  $('iv-empty').hidden = st.iv.length > 0;
  st.iv.forEach((row, i) => {
    const id = (f) => `iv-${i}-${f}`;
    const card = el('div', { class: `iv-row${row.on ? ' on' : ''}`, dataset: { i: String(i) } });
    const on = el('input', { type: 'checkbox', id: id('on'), checked: row.on });
    const title = el('label', { class: 'ex-title' }, on, ' ', el('span', { textContent: t('ivRow', { n: i + 1 }) }));
    const btn = (act, text, aria, disabled = false) => el('button', { type: 'button', class: 'iv-btn', textContent: text, disabled, 'aria-label': aria, title: aria, dataset: { act } });
    const tools = el('span', { class: 'iv-tools' },
      btn('up', '↑', t('ivUp', { n: i + 1 }), i === 0), btn('down', '↓', t('ivDown', { n: i + 1 }), i === st.iv.length - 1), btn('del', '✕', t('ivDelete', { n: i + 1 })));
    card.append(el('div', { class: 'iv-head' }, title, tools));

    // The hook: its name from the engine's table, its block when it is per block.
    const m = row.hook.match(/^blocks\.(\d+)\.(.+)$/);
    const base = m ? m[2] : row.hook;
    const hookSel = el('select', { class: 'iv-hook' });
    const names = table ? table.map(tableName) : [base];
    if (!names.includes(base)) names.unshift(base);
    options(hookSel, names, (v) => v);
    hookSel.value = base;
    const entry = table ? hookEntry(row.hook, table) : null;
    const perBlock = entry ? entry.per_block : !!m;
    const params = el('div', { class: 'params' });
    params.append(...field(id('hook'), t('ivHook'), hookSel));
    if (perBlock) params.append(...field(id('layer'), t('layer'), el('input', { type: 'text', inputmode: 'numeric', autocomplete: 'off', class: 'iv-layer', value: m ? m[1] : '0' })));
    const kindSel = el('select', { class: 'iv-kind' });
    options(kindSel, KINDS, (k) => t(`ivKind_${k}`));
    kindSel.value = row.kind;
    params.append(...field(id('kind'), t('ivOp'), kindSel));
    for (const p of KIND_PARAMS[row.kind])
      params.append(...field(id(p), t(p === 'value' ? 'ivValue' : p), el('input', { type: 'text', autocomplete: 'off', class: 'iv-param', dataset: { p }, value: formatField(row[p], st.lang) })));
    card.append(params);

    // Selectors: heads only where the hook has a head axis (the table's axes).
    const sels = el('div', { class: 'params' });
    for (const [f, label] of SELECTORS) {
      if (f === 'heads' && !(entry ? entry.axes.heads >= 0 : row.heads !== 'all')) continue;
      const mode = selectorMode(row[f]);
      const modeSel = el('select', { class: 'iv-mode', dataset: { f } });
      options(modeSel, SEL_MODES, (v) => t(`ivSel_${v}`));
      modeSel.value = mode;
      sels.append(...field(id(`${f}-mode`), t(label), modeSel));
      if (mode === 'range' || mode === 'list') {
        const text = el('input', { type: 'text', autocomplete: 'off', class: 'iv-sel', dataset: { f }, value: row[f], placeholder: mode === 'range' ? '2:5' : '0,2,-1' });
        sels.append(...field(id(f), t(mode === 'range' ? 'ivRangeLabel' : 'ivListLabel'), text));
      }
    }
    card.append(sels);
    box.append(card);
  });
  renderBuilderErrors(app);
}

export function renderBuilderErrors(app) {
  for (const span of document.querySelectorAll('#iv-rows .field-error')) {
    const fid = span.id.slice(0, -4);
    const err = app.fieldErrors[fid];
    span.hidden = !err;
    span.textContent = err ? app.t(err.key, err.vars) : '';
    $(fid)?.setAttribute('aria-invalid', String(!!err));
  }
}

/** Reads the rows' fields into the state; invalid values stay in the form with their error. */
export function readBuilder(app) {
  const { st } = app;
  const table = tableOf(app);
  const cfg = app.modelInfo?.config ?? null;
  for (const k of Object.keys(app.fieldErrors)) if (k.startsWith('iv-')) delete app.fieldErrors[k];
  st.iv.forEach((row, i) => {
    const get = (f) => document.getElementById(`iv-${i}-${f}`);
    if (!get('hook')) return;
    const setErr = (f, e) => { app.fieldErrors[`iv-${i}-${f}`] = e; };
    row.on = get('on').checked;
    row.kind = get('kind').value;
    const name = get('hook').value;
    const layerEl = get('layer');
    if (layerEl) {
      const s = layerEl.value.trim();
      const max = cfg ? cfg.n_layer - 1 : 1023;
      if (!/^\d+$/.test(s) || Number(s) > max) setErr('layer', { key: 'fieldRange', vars: { lo: 0, hi: max } });
      else row.hook = `blocks.${Number(s)}.${name}`;
    } else row.hook = name;
    const he = hookError(row.hook, table, cfg?.n_layer ?? null);
    if (he) setErr('hook', he);
    for (const p of KIND_PARAMS[row.kind]) {
      const input = get(p);
      if (!input) continue;
      const r = validateRowParam(p, input.value);
      if (r.error) setErr(p, r.error);
      else row[p] = r.value;
    }
    const entry = table ? hookEntry(row.hook, table) : null;
    for (const [f] of SELECTORS) {
      const modeEl = get(`${f}-mode`);
      if (!modeEl) { if (f === 'heads') row.heads = 'all'; continue; }
      const mode = modeEl.value;
      if (mode !== 'range' && mode !== 'list') { row[f] = mode; continue; }
      const text = get(f);
      // Just switched to a range or a list: start from a valid one for the learner to edit.
      if (!text) { row[f] = mode === 'range' ? '0:1' : '0'; continue; }
      const value = text.value;
      const r = parseSelector(value, f === 'heads' && cfg ? cfg.n_head : null);
      if (r.error || selectorMode(value) !== mode) setErr(f, r.error ?? { key: mode === 'range' ? 'ivRangeBad' : 'ivListBad', vars: { v: value } });
      else row[f] = value.trim();
    }
    if (entry && entry.axes.heads < 0) row.heads = 'all';
  });
  renderBuilderErrors(app);
}

// The chapter's exercises as presets: an exercise becomes the row the engine runs it as
// (rows.js exerciseRow), put first among the rows, where it applies as the exercise did
// (exercises apply before the rows, and the other exercises act at other hooks or commute).
// An exercise that is on moves: it is switched off and its row is on, so the run is the same;
// one that is off (or locked by a course author) gives a row switched off.
function mountPresets(app, writeControls, redraw) {
  const sel = el('select', { id: 'iv-preset' });
  const add = el('button', { type: 'button', id: 'iv-preset-add' });
  const note = el('p', { class: 'hint', id: 'iv-preset-note', 'aria-live': 'polite' });
  $('iv-add').parentElement.after(el('div', { class: 'row iv-presets' },
    el('label', {}, el('span', { id: 'iv-preset-label' }), ' ', sel), ' ', add), note);
  add.addEventListener('click', () => {
    const cfg = app.modelInfo?.config;
    if (!cfg) return;
    readBuilder(app);
    const n = Number(sel.value), key = `ex${n}`, ex = app.st.ex[key];
    const move = ex.on && !lockedKeys(app.st).includes(key);
    app.st.iv.unshift({ ...exerciseRow(n, ex, cfg), on: move });
    if (move) ex.on = false;
    for (const k of Object.keys(app.fieldErrors)) if (k.startsWith('iv-')) delete app.fieldErrors[k];
    app.presetNote = { key: move ? 'ivPresetMoved' : 'ivPresetAdded', n };
    writeControls();
    redraw();
  });
}

/** Wires the builder's controls, and has form.js's writeControls redraw the rows with the
 *  form. onChange: the state changed (URL and a run); writeControls: form.js's, for the
 *  exercise a preset switches off. */
export function bindBuilder(app, onChange, writeControls = () => {}) {
  app.builderChange = onChange;
  app.controlWriters.push(renderBuilder);
  const redraw = () => { renderBuilder(app); readBuilder(app); onChange(); };
  mountPresets(app, writeControls, redraw);
  // A new row is neutral (scale by 1): adding it changes no run until the learner sets it.
  // It starts as a copy of the last row's hook and selectors, or block 0's hook_resid_post.
  $('iv-add').addEventListener('click', () => {
    const last = app.st.iv[app.st.iv.length - 1];
    app.st.iv.push({ ...(last ? structuredClone(last) : defaultRow()), on: true, kind: 'scale', factor: 1 });
    redraw();
    document.getElementById(`iv-${app.st.iv.length - 1}-hook`)?.focus();
  });
  const box = $('iv-rows');
  box.addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-act]');
    if (!b) return;
    const i = Number(b.closest('.iv-row').dataset.i);
    readBuilder(app);
    const rows = app.st.iv;
    if (b.dataset.act === 'del') rows.splice(i, 1);
    else {
      const j = b.dataset.act === 'up' ? i - 1 : i + 1;
      [rows[i], rows[j]] = [rows[j], rows[i]];
    }
    // Errors are keyed by row index: a moved row takes its unsaved text back from the state.
    for (const k of Object.keys(app.fieldErrors)) if (k.startsWith('iv-')) delete app.fieldErrors[k];
    redraw();
  });
  // A new hook, operation or selector mode changes which fields exist: redraw the rows.
  box.addEventListener('change', (ev) => {
    if (ev.target.matches('select')) { readBuilder(app); redraw(); }
    else if (ev.target.type === 'checkbox') { readBuilder(app); ev.target.closest('.iv-row').classList.toggle('on', ev.target.checked); onChange(); }
  });
  box.addEventListener('input', (ev) => { if (ev.target.matches('input[type=text]')) { readBuilder(app); onChange(); } });
}
