// The same experiment in PyTorch: HuggingFace hooks, TransformerLens or nnsight, as tabs; and the
// programs of the Generate panel's and the heads view's code folds (generateCode, headsCode).
import { $, setText } from '../dom.js';
import { whenVisible } from '../lazy.js';
import { hfCode, tlCode } from '../codegen.js';
import { nnCode, nnGenerateCode } from '../codegen-nnsight.js';
import { hfGenerateCode, tlGenerateCode, hfHeadsCode, tlHeadsCode, nnHeadsNote } from '../codegen-generate.js';
import { isRow } from '../codegen-rows.js';
import { interventionsOf } from '../state.js';
import { hookTable, tableOf } from '../hook-table.js';
import { bundledSource } from '../model-name.js';

export const CODE_TABS = ['hf', 'tl', 'nn'];

export function renderCode(app) {
  const s = app.result?.state || app.st;
  const tab = app.codeTab;
  const hooks = tableOf(app);
  // The state is copied into the key: app.st changes in place.
  whenVisible($('code-section'), [JSON.stringify(s), tab, hooks, app.st.lang, !!app.modelInfo], () => {
    if (!hooks && interventionsOf(s).some(isRow)) {
      // The builder's rows are written from the engine's hook table: drawn once it is here.
      setText($('code'), app.t('cgNeedsTable'));
      if (app.modelInfo) hookTable(app).then(() => renderCode(app), () => {});
    } else {
      const info = { lang: app.st.lang, ...bundledSource(app), hooks };
      setText($('code'), tab === 'hf' ? hfCode(s, info) : tab === 'nn' ? `${nnCode(s, info)}\n\n# ${app.t('nnNotShown')}` : tlCode(s, info));
    }
  });
  app.genPanel?.refreshCode(); // the small code folds follow the state too
  app.headsCode?.refresh();
  for (const k of CODE_TABS) {
    $(`tab-${k}`).setAttribute('aria-selected', String(tab === k));
    $(`tab-${k}`).tabIndex = tab === k ? 0 : -1;
  }
}

// The small code folds' programs (code-tabs.js): the Generate panel's (state: app.st, as it
// generates; gen: its settings) and the heads view's (state: the run's; heads: the view's input,
// with the engine's repeated random tokens once it has drawn them).
function foldCode(app, s, write) {
  const hooks = tableOf(app);
  if (!hooks && interventionsOf(s).some(isRow)) {
    if (app.modelInfo) hookTable(app).then(() => { app.genPanel?.refreshCode(); app.headsCode?.refresh(); }, () => {});
    return app.t('cgNeedsTable');
  }
  return write({ lang: app.st.lang, ...bundledSource(app), hooks });
}

export function generateCode(app, tab, gen) {
  const s = app.st;
  return foldCode(app, s, (info) => ({ hf: hfGenerateCode, tl: tlGenerateCode, nn: nnGenerateCode })[tab](s, gen, info));
}

export function headsCode(app, tab) {
  const s = app.result?.state || app.st;
  if (tab === 'nn') return nnHeadsNote({ lang: app.st.lang });
  const h = app.st.heads;
  const heads = { repeat: h.repeat, r: h.r, seed: h.seed };
  if (h.repeat) {
    const v = app.headsResult?.key === app.headsAsked ? app.headsResult?.value : null;
    const req = app.headsResult?.req;
    if (!v || !req || req.repeat !== h.r || req.seed !== h.seed) return `# ${app.t('cgHeadsRunFirst')}`;
    heads.tokens = v.baseline.tokens;
  }
  return foldCode(app, s, (info) => (tab === 'hf' ? hfHeadsCode : tlHeadsCode)(s, heads, info));
}
