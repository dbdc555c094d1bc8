// The same experiment in PyTorch: HuggingFace hooks or TransformerLens, as tabs.
import { $ } from '../dom.js';
import { hfCode, tlCode } from '../codegen.js';

export function renderCode(app) {
  const s = app.result?.state || app.st;
  const tab = app.codeTab;
  $('code').textContent = tab === 'hf' ? hfCode(s) : tlCode(s);
  $('tab-hf').setAttribute('aria-selected', String(tab === 'hf'));
  $('tab-tl').setAttribute('aria-selected', String(tab === 'tl'));
  $('tab-hf').tabIndex = tab === 'hf' ? 0 : -1;
  $('tab-tl').tabIndex = tab === 'tl' ? 0 : -1;
}
