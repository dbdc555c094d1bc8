// Any hook point: one statistic (mean/std/min/max/norm, computed by the engine on every
// run) per block, and the std per position of the chosen hook at one block (a capture).
import { $, showTok, figCaption, setText } from '../dom.js';
import { whenVisible, setShown } from '../lazy.js';
import { fmtNum } from '../i18n.js';
import { positionStd, finite } from '../analysis.js';
import { STATS, positionHookName } from '../state.js';
import { figureShell, setFigureText, lazyTable, upsertChart, lineConfig } from '../charts.js';
import { chartPng } from '../export.js';
import { tableOf } from '../hook-table.js';
import { hookEntry } from '../rows.js';

const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);

// The controls stay current (the form reads them back); the charts and tables are drawn
// when the panel is on screen.
export function renderStats(app) {
  const { st, t, result } = app;
  const hooks = Object.keys(result.baseline.stats || {});
  const sel = $('stat-hook');
  if (sel.options.length !== hooks.length || [...sel.options].some((o, k) => o.value !== hooks[k]))
    sel.replaceChildren(...hooks.map((h) => new Option(h, h)));
  const hook = hooks.includes(st.hook) ? st.hook : 'hook_resid_post';
  sel.value = hook;
  for (const o of $('stat-kind').options) setText(o, t(`stat_${o.value}`));
  $('stat-kind').value = st.stat;
  whenVisible($('stats-section'), [result, st.lang, hook, st.stat, st.hookLayer, tableOf(app)], () => drawStats(app, hook));
}

function drawStats(app, hook) {
  const { st, t, result, charts } = app;
  const stats = result.baseline.stats || {};
  const labelsText = { baseline: t('baseline'), intervened: t('intervened') };
  const statName = t(`stat_${STATS.includes(st.stat) ? st.stat : 'std'}`);

  const bv = Array.from(stats[hook]?.[st.stat] ?? []);
  const iv = Array.from(result.intervened.stats?.[hook]?.[st.stat] ?? []);
  const labels = bv.length > 1 ? bv.map((_, k) => String(k)) : [hook];
  const fig = figureShell($('fig-stats'), { onPng: () => chartPng(app, 'stats', 'hooklab-hook-stat.png') });
  const title = cap(t('statsChartTitle', { stat: statName, hook }));
  setFigureText(fig, { title, png: t('downloadPng'), table: t('dataTable') });
  charts.stats = upsertChart(charts.stats, fig.querySelector('canvas'),
    lineConfig({ labels, base: bv, int: iv, labelsText, scale: 'linear', yTitle: statName, xTitle: t('blockAxis') }));
  setText(figCaption(fig), t('statsCaption'));
  lazyTable(fig.querySelector('.table-wrap'), [result, st.lang, hook, st.stat], () => [[t('blockAxis'), t('baseline'), t('intervened')],
    labels.map((l, k) => [l, fmtNum(bv[k], st.lang, 5), fmtNum(iv[k], st.lang, 5)]), title]);

  // Per position: the capture of the chosen hook at the chosen block.
  const table = tableOf(app);
  if (!table) { $('pos-none').hidden = $('fig-pos').hidden = true; return; } // a new model: its first run brings it
  const name = positionHookName({ ...st, hook }, table);
  const cb = name && result.baseline.captures?.[name], ci = name && result.intervened.captures?.[name];
  const figPos = $('fig-pos');
  $('pos-none').hidden = !!name;
  $('pos-none').textContent = name ? '' : t('posNone');
  setShown(figPos, !!(cb && ci));
  if (!(cb && ci)) return;
  const entry = hookEntry(name, table);
  const pb = positionStd(cb, entry), pi = positionStd(ci, entry);
  const toks = result.baseline.token_strings;
  const pl = pb.map((_, q) => `${q} ${showTok(toks[q])}`);
  const f2 = figureShell(figPos, { onPng: () => chartPng(app, 'pos', 'hooklab-position-std.png') });
  const title2 = t('posTitle', { name });
  setFigureText(f2, { title: title2, png: t('downloadPng'), table: t('dataTable') });
  charts.pos = upsertChart(charts.pos, f2.querySelector('canvas'),
    lineConfig({ labels: pl, base: pb, int: pi, labelsText, scale: 'linear', yTitle: t('stdAxis'), xTitle: t('position') }));
  setText(figCaption(f2), t('posCaption'));
  lazyTable(f2.querySelector('.table-wrap'), [result, st.lang, name], () => [[t('position'), t('baseline'), t('intervened'), '×'],
    pl.map((l, q) => [l, fmtNum(pb[q], st.lang, 5), fmtNum(pi[q], st.lang, 5), finite(pb[q]) && finite(pi[q]) && pb[q] ? fmtNum(pi[q] / pb[q], st.lang) : '—']), title2]);
}
