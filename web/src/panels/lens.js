// The logit lens: KL per layer (computed by the engine, asked for by run.js).
import { $, showTok, figCaption, setText } from '../dom.js';
import { whenVisible, setShown } from '../lazy.js';
import { fmtNum } from '../i18n.js';
import { finite } from '../analysis.js';
import { figureShell, setFigureText, lazyTable, upsertChart, INT_STYLE, reducedMotion } from '../charts.js';
import { chartPng } from '../export.js';

export function renderLens(app) {
  const { st, t, result, lensResult } = app;
  const fig = $('fig-lens');
  const ok = st.lens && result && lensResult?.for === result;
  setShown(fig, ok);
  const ls = st.lens ? app.lensStatus : null;
  setText($('lens-status'), !ls ? '' : ls.error ? `${t('errorPrefix')}: ${t(ls.error.key, ls.error.vars)}` : t(ls.key, ls.vars));
  if (ok) whenVisible(fig, [lensResult, st.lang], () => drawLens(app));
}

function drawLens(app) {
  const { st, t, lensResult, charts } = app;
  const fig = $('fig-lens');
  const L = lensResult.layers;
  figureShell(fig, { onPng: () => chartPng(app, 'lens', 'hooklab-logit-lens.png') });
  const title = t('lensTitle');
  setFigureText(fig, { title, png: t('downloadPng'), table: t('dataTable') });
  const labels = L.map((x) => String(x.layer));
  const kl = L.map((x) => (finite(x.kl) ? x.kl : null));
  charts.lens = upsertChart(charts.lens, fig.querySelector('canvas'), {
    type: 'line',
    data: { labels, datasets: [{ label: 'KL', data: kl, borderColor: INT_STYLE.borderColor, backgroundColor: INT_STYLE.borderColor, pointStyle: 'rectRot', pointRadius: 4, borderWidth: 2, spanGaps: false, nonfinite: L.map((x) => !finite(x.kl)) }] },
    options: { responsive: true, maintainAspectRatio: false, animation: reducedMotion() ? false : { duration: 250 },
      scales: { x: { title: { display: true, text: t('blockAxis') } }, y: { min: 0, title: { display: true, text: t('klAxis') } } } },
  });
  setText(figCaption(fig), t('lensCaption'));
  lazyTable(fig.querySelector('.table-wrap'), [lensResult, st.lang], () => [[t('blockAxis'), 'KL', t('top1Base'), t('top1Int')],
    L.map((x) => [String(x.layer), fmtNum(x.kl, st.lang, 4), `${showTok(x.topBase?.token)} ${fmtNum(x.topBase?.prob, st.lang)}`, `${showTok(x.topInt?.token)} ${fmtNum(x.topInt?.prob, st.lang)}`]), title]);
}
