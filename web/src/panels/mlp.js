// Exercise 2: the post-GELU neurons at one position, and the histogram of all of them.
import { $, showTok, figCaption, setText } from '../dom.js';
import { whenVisible, setShown } from '../lazy.js';
import { fmtNum } from '../i18n.js';
import { neuronRow, histogram, finite, finiteRange } from '../analysis.js';
import { figureShell, setFigureText, lazyTable, upsertChart, barConfig, BASE_STYLE, INT_STYLE } from '../charts.js';
import { chartPng } from '../export.js';

export function renderMlp(app) {
  const on = app.result.state.ex.ex2.on;
  setShown($('mlp-section'), on);
  if (on) whenVisible($('mlp-section'), [app.result, app.st.lang, $('mlp-pos').value], () => drawMlp(app));
}

function drawMlp(app) {
  const { st, t, result, charts } = app;
  const e = result.state.ex.ex2;
  setText($('mlp-heading'), t('mlpSection', { l: e.layer }));
  const name = `blocks.${e.layer}.mlp.hook_post`;
  const cb = result.baseline.captures?.[name], ci = result.intervened.captures?.[name];
  if (!cb || !ci) return;
  const [T, D] = cb.shape;
  const sel = $('mlp-pos');
  const toks = result.baseline.token_strings;
  const want = sel.value === '' || Number(sel.value) >= T ? T - 1 : Number(sel.value);
  const opts = toks.map((x, k) => `${k} ${showTok(x)}`);
  if (sel.options.length !== T || opts.some((o, k) => sel.options[k].text !== o)) sel.replaceChildren(...opts.map((o, k) => new Option(o, String(k))));
  sel.value = String(want);
  const N = Math.min(64, D);
  const rb = neuronRow(cb, want).slice(0, N), ri = neuronRow(ci, want).slice(0, N);
  const fig = figureShell($('fig-mlp'), { onPng: () => chartPng(app, 'mlp', 'hooklab-mlp-neurons.png') });
  const title = t('mlpTitle', { l: e.layer, p: `${want} ${showTok(toks[want])}` });
  setFigureText(fig, { title, png: t('downloadPng'), table: t('dataTable') });
  const labels = Array.from({ length: N }, (_, k) => String(k));
  charts.mlp = upsertChart(charts.mlp, fig.querySelector('canvas'), barConfig({
    labels,
    datasets: [
      { label: t('baseline'), data: rb.map((v) => (finite(v) ? v : null)), backgroundColor: BASE_STYLE.borderColor },
      { label: t('intervened'), data: ri.map((v) => (finite(v) ? v : null)), backgroundColor: INT_STYLE.borderColor },
    ],
    xTitle: t('neuron'), yTitle: t('value'),
  }));
  setText(figCaption(fig), t('mlpCaption', { n: N, d: D, m: fmtNum(e.mean, st.lang) }));
  lazyTable(fig.querySelector('.table-wrap'), [result, st.lang, want], () => [[t('neuron'), t('baseline'), t('intervened')], labels.map((l, k) => [l, fmtNum(rb[k], st.lang, 4), fmtNum(ri[k], st.lang, 4)]), title]);

  // Histogram of every value (all positions, all neurons), both runs.
  const range = finiteRange(cb.data, ci.data) || { lo: 0, hi: 1 };
  const lo = Math.min(range.lo, 0), hi = Math.max(range.hi, 1);
  const hb = histogram(cb.data, lo, hi, 40), hi2 = histogram(ci.data, lo, hi, 40);
  const fig2 = figureShell($('fig-mlp-hist'), { onPng: () => chartPng(app, 'mlpHist', 'hooklab-mlp-histogram.png') });
  const title2 = t('mlpHistTitle', { l: e.layer });
  setFigureText(fig2, { title: title2, png: t('downloadPng'), table: t('dataTable') });
  const hl = hb.map((x) => fmtNum((x.lo + x.hi) / 2, st.lang, 2));
  charts.mlpHist = upsertChart(charts.mlpHist, fig2.querySelector('canvas'), barConfig({
    labels: hl,
    datasets: [
      { label: t('baseline'), data: hb.map((x) => x.count), backgroundColor: BASE_STYLE.borderColor },
      { label: t('intervened'), data: hi2.map((x) => x.count), backgroundColor: INT_STYLE.borderColor },
    ],
    xTitle: t('value'), yTitle: t('count'),
  }));
  lazyTable(fig2.querySelector('.table-wrap'), [result, st.lang], () => [[t('value'), t('baseline'), t('intervened')],
    hb.map((x, k) => [`${fmtNum(x.lo, st.lang)} … ${fmtNum(x.hi, st.lang)}`, String(x.count), String(hi2[k].count)]), title2]);
}
