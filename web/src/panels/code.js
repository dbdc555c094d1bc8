// The same experiment in PyTorch: HuggingFace hooks, TransformerLens or nnsight, as tabs.
import { $, setText } from '../dom.js';
import { whenVisible } from '../lazy.js';
import { hfCode, tlCode } from '../codegen.js';
import { nnCode } from '../codegen-nnsight.js';
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
  for (const k of CODE_TABS) {
    $(`tab-${k}`).setAttribute('aria-selected', String(tab === k));
    $(`tab-${k}`).tabIndex = tab === k ? 0 : -1;
  }
}
