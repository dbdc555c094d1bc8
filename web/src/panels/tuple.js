// The tuple explorer: what a HuggingFace block returns, with this run's shapes (the text
// itself is codegen.js's tupleText).
import { $, setText } from '../dom.js';
import { whenVisible } from '../lazy.js';
import { tupleText } from '../codegen.js';

export function renderTuple(app) {
  const withAttn = $('tuple-attn').checked, tf = $('tuple-tf').value;
  whenVisible($('tuple-section'), [app.result, app.modelInfo, app.st.lang, withAttn, tf], () => {
    const { result, modelInfo, t, st } = app;
    const s = result.state, T = result.baseline.tokens.length;
    const layer = [s.ex.ex3, s.ex.ex4, s.ex.ex1, s.ex.ex2].find((e) => e.on)?.layer ?? 9;
    setText($('tuple'), tupleText({ T, C: modelInfo.config, layer, withAttn, tf, lang: st.lang }));
    setText($('tuple-help'), t('tupleHelp', { t: T }));
  });
}
