// The same experiment in PyTorch: HuggingFace hooks or TransformerLens, as tabs.
import { $, setText } from '../dom.js';
import { whenVisible } from '../lazy.js';
import { hfCode, tlCode } from '../codegen.js';
import { isRow } from '../codegen-rows.js';
import { interventionsOf } from '../state.js';
import { hookTable, tableOf } from '../hook-table.js';

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
      const info = { lang: app.st.lang, modelName: app.defaultName, modelUrl: new URL('models/default/', location.href).href, hooks };
      setText($('code'), tab === 'hf' ? hfCode(s, info) : tlCode(s, info));
    }
  });
  $('tab-hf').setAttribute('aria-selected', String(tab === 'hf'));
  $('tab-tl').setAttribute('aria-selected', String(tab === 'tl'));
  $('tab-hf').tabIndex = tab === 'hf' ? 0 : -1;
  $('tab-tl').tabIndex = tab === 'tl' ? 0 : -1;
}
