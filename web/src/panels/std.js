// The two std-per-layer charts (residual stream, HF hidden_states) and the caption that
// says how much of the change the network undid, where that is defined.
import { $, setText } from '../dom.js';
import { whenVisible, setShown } from '../lazy.js';
import { fmtNum } from '../i18n.js';
import { compensationReport, finite } from '../analysis.js';
import { interventionsOf } from '../state.js';
import { figureShell, setFigureText, lazyTable, upsertChart, lineConfig } from '../charts.js';
import { chartPng } from '../export.js';
import '../processing-strings.js';

const shown = (st) => ({ resid: st.view !== 'hf', hf: st.view !== 'resid' });

export function renderStd(app) {
  const { st } = app;
  const show = shown(st);
  setShown($('fig-resid'), show.resid);
  setShown($('fig-hf'), show.hf);
  document.querySelector('#std-section .charts2').classList.toggle('single', st.view !== 'both');
  whenVisible($('std-section'), [app.result, st.view, st.scale, st.lang], () => drawStd(app));
}

function drawStd(app) {
  const { st, t, result, charts } = app;
  const b = result.baseline, i = result.intervened, L = b.resid_std.length;
  const show = shown(st);
  const residLabels = Array.from({ length: L }, (_, k) => String(k));
  const hfLabels = ['emb', ...Array.from({ length: L - 1 }, (_, k) => String(k)), `ln_f(${L - 1})`];
  const figs = [
    ['resid', 'fig-resid', residLabels, Array.from(b.resid_std), Array.from(i.resid_std), t('residTitle')],
    ['hf', 'fig-hf', hfLabels, Array.from(b.hidden_std), Array.from(i.hidden_std), t('hfTitle')],
  ];
  for (const [key, id, labels, bv, iv, title] of figs) {
    const fig = figureShell($(id), { onPng: () => chartPng(app, key, `hooklab-${key}-std.png`) });
    setFigureText(fig, { title, png: t('downloadPng'), table: t('dataTable') });
    if (!show[key]) continue;
    charts[key] = upsertChart(charts[key], fig.querySelector('canvas'),
      lineConfig({ labels, base: bv, int: iv, labelsText: { baseline: t('baseline'), intervened: t('intervened') }, scale: st.scale, yTitle: t('stdAxis'), xTitle: t('blockAxis') }));
    lazyTable(fig.querySelector('.table-wrap'), [result, st.lang], () => [[t('blockAxis'), t('baseline'), t('intervened'), '×'],
      labels.map((l, k) => [l, fmtNum(bv[k], st.lang, 5), fmtNum(iv[k], st.lang, 5), finite(bv[k]) && finite(iv[k]) && bv[k] ? fmtNum(iv[k] / bv[k], st.lang) : '—']), title]);
  }
  setText($('std-caption'), stdCaption(app));
}

// The caption: what the interventions imposed, what is left before and after ln_f, and the
// network's share only where compensationReport defines it.
function stdCaption({ t, st, result }) {
  const b = result.baseline, i = result.intervened;
  const n = b.hidden_std.length - 1;
  const f = (x) => fmtNum(x, st.lang);
  const tl = result.process === 'tl'; // the weights TransformerLens-processed: ln_f has no gain or bias
  const noScale = t(tl ? 'captionNoScaleTl' : 'captionNoScale', { b: f(b.hidden_std[n]), i: f(i.hidden_std[n]) });
  const c = compensationReport(interventionsOf(result.state), b, i);
  if (!c) return noScale;
  if (c.reason === 'nonfinite') return `${t('nonfinite', { hook: i.nonfinite || '?' })} ${noScale}`;
  const head = [c.rL, c.rLast, c.rF].every(finite) ? `${t('capHead', { l: c.layer, rL: f(c.rL), rLast: f(c.rLast), rF: f(c.rF) })} ` : '';
  let verdict;
  if (c.reason) verdict = t(`reason_${c.reason}`, { l: c.layer });
  else {
    const pct = (x) => fmtNum(Math.abs(x), st.lang, 2);
    const key = c.net < 0 ? 'capAmplified' : c.net > 100 ? 'capOvershot' : 'capUndid';
    verdict = t(key, { net: pct(c.net), lnf: pct(c.lnf) });
  }
  return `${head}${verdict} ${t(tl ? 'capLnfTl' : 'capLnf', { b: f(b.hidden_std[n]) })}`;
}
