// Next-token probabilities, baseline vs intervened, and the final KL.
import { $, showTok, setText } from '../dom.js';
import { whenVisible } from '../lazy.js';
import { fmtNum } from '../i18n.js';
import { finite } from '../analysis.js';
import { interventionsOf } from '../state.js';
import { figureShell, setFigureText, lazyTable, upsertChart, barConfig, BASE_STYLE, INT_STYLE } from '../charts.js';
import { chartPng } from '../export.js';

// A token's row, and each of its two bars (Chart.js's default 0.8 x 0.9 of the row, halved).
const ROW_PX = 34, BAR_PX = 12;

export function renderTop(app) {
  whenVisible($('top-section'), [app.result, app.st.lang], () => drawTop(app));
}

function drawTop(app) {
  const { st, t, result, charts } = app;
  const k = result.state.topk;
  const rows = result.compare.top; // computed in the engine (lab.compare)
  const fig = figureShell($('fig-top'), { onPng: () => chartPng(app, 'top', 'hooklab-next-token.png') });
  const title = t('topTitle', { k });
  setFigureText(fig, { title, png: t('downloadPng'), table: t('dataTable') });
  // With interventions the chart lists the union of both top-k lists, k to 2k tokens: its
  // box is sized for 2k so that toggling an exercise does not move the page below it (and
  // Chart.js need not resize its canvas); bars keep one thickness however many there are.
  const slots = interventionsOf(result.state).length ? 2 * k : k;
  const box = fig.querySelector('.canvas-box'), height = `${Math.max(220, Math.max(slots, rows.length) * ROW_PX + 60)}px`;
  const resized = box.style.height !== height;
  if (resized) box.style.height = height;
  charts.top = upsertChart(charts.top, fig.querySelector('canvas'), barConfig({
    labels: rows.map((r) => showTok(r.token)),
    datasets: [
      { label: t('baseline'), data: rows.map((r) => r.pBase), backgroundColor: BASE_STYLE.borderColor, borderColor: BASE_STYLE.borderColor, maxBarThickness: BAR_PX },
      { label: t('intervened'), data: rows.map((r) => r.pInt), backgroundColor: INT_STYLE.borderColor, borderColor: '#000', borderWidth: 1, maxBarThickness: BAR_PX },
    ],
    horizontal: true,
    xTitle: 'P',
  }), { resized });
  lazyTable(fig.querySelector('.table-wrap'), [result, st.lang], () => [[t('token'), t('probBase'), t('probInt'), t('delta')],
    rows.map((r) => [showTok(r.token), fmtNum(r.pBase, st.lang, 4), fmtNum(r.pInt, st.lang, 4), finite(r.delta) ? (r.delta >= 0 ? '+' : '') + fmtNum(r.delta, st.lang, 3) : '—']), title]);
  const kl = result.compare.kl;
  setText($('kl'), `${t('kl', { kl: kl === null ? '✕' : fmtNum(kl, st.lang, 4) })} ${t('klNote')}`);
}
