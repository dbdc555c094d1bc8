// The tuple explorer: what a HuggingFace block returns, with this run's shapes (the text
// itself is codegen.js's tupleText).
import { $ } from '../dom.js';
import { tupleText } from '../codegen.js';

export function renderTuple(app) {
  const { result, modelInfo, t, st } = app;
  const b = result.baseline, s = result.state, T = b.tokens.length;
  const layer = [s.ex.ex3, s.ex.ex4, s.ex.ex1, s.ex.ex2].find((e) => e.on)?.layer ?? 9;
  $('tuple').textContent = tupleText({ T, C: modelInfo.config, layer, withAttn: $('tuple-attn').checked, tf: $('tuple-tf').value, lang: st.lang });
  $('tuple-help').textContent = t('tupleHelp', { t: T });
}
