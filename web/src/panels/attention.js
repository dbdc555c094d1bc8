// Exercise 1: the attention pattern of the silenced head, baseline and intervened.
import { $, showTok, setText } from '../dom.js';
import { whenVisible, setShown } from '../lazy.js';
import { fmtNum } from '../i18n.js';
import { headMatrix } from '../analysis.js';
import { lazyTable } from '../charts.js';
import { drawHeatmap } from '../heatmap.js';

export function renderAttention(app) {
  const on = app.result.state.ex.ex1.on;
  setShown($('attn-section'), on);
  if (on) whenVisible($('attn-section'), [app.result, app.st.lang], () => drawAttention(app));
}

function drawAttention(app) {
  const { st, t, result } = app;
  const e = result.state.ex.ex1;
  const name = `blocks.${e.layer}.attn.hook_pattern`;
  const cb = result.baseline.captures?.[name], ci = result.intervened.captures?.[name];
  if (!cb || !ci) return;
  setText($('attn-title'), t('attnTitle', { h: e.head, l: e.layer }));
  const toks = result.baseline.token_strings;
  const mb = headMatrix(cb, e.head), mi = headMatrix(ci, e.head);
  for (const [id, m, label] of [['fig-attn-base', mb, t('baseline')], ['fig-attn-int', mi, t('intervened')]]) {
    const fig = $(id);
    let canvas = fig.querySelector('canvas');
    if (!canvas) {
      canvas = document.createElement('canvas');
      canvas.setAttribute('role', 'img');
      fig.append(canvas);
    }
    canvas.setAttribute('aria-label', `${t('attnTitle', { h: e.head, l: e.layer })} — ${label}`);
    drawHeatmap(canvas, m, toks, { title: label });
  }
  lazyTable($('attn-table'), [result, st.lang], () => {
    const T = toks.length;
    const rows = [];
    for (let q = 0; q < T; q++) rows.push([`${q} ${showTok(toks[q])}`, ...Array.from({ length: T }, (_, k) => (k > q ? '' : `${fmtNum(mb[q][k], st.lang)} → ${fmtNum(mi[q][k], st.lang)}`))]);
    return [[`${t('query')} \\ ${t('key')}`, ...toks.map((x, k) => `${k} ${showTok(x)}`)], rows, `${t('baseline')} → ${t('intervened')}`];
  });
}
