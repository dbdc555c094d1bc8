// The loss-per-token view: at each position t of the prompt, the loss (nats) of the token at
// t + 1, baseline and intervened (the worker's tokenLoss request: lab.run's token_loss). It
// builds its own fold of the page; folded, it asks nothing; open, once per run state (its
// key: the loaded model, the prompt and the interventions), drawn as a chart and a table.
import { $, setText } from '../dom.js';
import { whenVisible } from '../lazy.js';
import { fmtNum } from '../i18n.js';
import { interventionsOf } from '../state.js';
import { describeError } from '../errors.js';
import { figureShell, setFigureText, lazyTable, upsertChart, lineConfig } from '../charts.js';
import { chartPng } from '../export.js';
import './token-loss-strings.js';

/** Builds the fold after the heads view; toggling it is the `loss` key (page.syncUrl). */
export function mountTokenLoss(app, page) {
  const sec = document.createElement('details');
  sec.className = 'panel needs-run fold';
  sec.id = 'loss-section';
  sec.innerHTML = '<summary><h2 id="loss-title"></h2></summary><p class="hint" id="loss-help"></p>'
    + '<p class="hint" id="loss-status" aria-live="polite"></p><p id="loss-summary"></p><figure id="fig-loss" class="chart-fig"></figure>';
  $('heads-section').after(sec);
  sec.open = !!app.st.loss;
  sec.addEventListener('toggle', () => {
    if (app.st.loss === sec.open) return;
    app.st.loss = sec.open;
    page.syncUrl();
    renderTokenLoss(app);
  });
}

// Another local model of the same key is told apart by its files' size.
const keyOf = (app, r) => JSON.stringify([app.loadedKey, app.loadedProcess, app.modelInfo?.fileBytes, r.state.prompt, interventionsOf(r.state)]);

export function renderTokenLoss(app) {
  const { t, st } = app;
  const sec = $('loss-section');
  if (sec.open !== !!st.loss) sec.open = !!st.loss; // a link or set-state opened or folded it
  setText($('loss-title'), t('lossTitle'));
  setText($('loss-help'), t('lossHelp'));
  const r = app.result;
  if (!sec.open || !r) return;
  const key = keyOf(app, r);
  if (app.tokenLoss?.key === key) return draw(app);
  if (app.tokenLossAsked === key) return;
  app.tokenLossAsked = key;
  setText($('loss-status'), t('lossAsking'));
  app.client.tokenLoss({ prompt: r.state.prompt, interventions: interventionsOf(r.state) }).then((v) => {
    if (!v || app.tokenLossAsked !== key) return; // superseded by a newer run
    app.tokenLoss = { key, ...v };
    draw(app);
  }, (e) => {
    if (app.tokenLossAsked !== key) return;
    app.tokenLossAsked = null;
    const d = describeError(e.message);
    setText($('loss-status'), t(d.key, d.vars));
  });
}

function draw(app) {
  const { t, st, tokenLoss: v } = app;
  const f = (x) => (x === null ? '—' : fmtNum(x, st.lang));
  const n = v.baseline.length;
  setText($('loss-status'), n ? '' : t('lossShort'));
  setText($('loss-summary'), n ? summary(app, v, f) : '');
  const fig = $('fig-loss');
  fig.hidden = !n;
  if (!n) return;
  whenVisible(fig, [v, st.lang, st.scale], () => {
    const shell = figureShell(fig, { onPng: () => chartPng(app, 'loss', 'hooklab-loss-per-token.png') });
    setFigureText(shell, { title: t('lossFigTitle'), png: t('downloadPng'), table: t('dataTable') });
    const next = v.token_strings.slice(1);
    const labels = next.map((s, p) => `${p} → ${JSON.stringify(s)}`);
    app.charts.loss = upsertChart(app.charts.loss, shell.querySelector('canvas'),
      lineConfig({ labels, base: v.baseline, int: v.intervened, labelsText: { baseline: t('baseline'), intervened: t('intervened') }, scale: st.scale, yTitle: t('lossAxis'), xTitle: t('lossPosAxis') }));
    lazyTable(shell.querySelector('.table-wrap'), [v, st.lang], () => [[t('lossPos'), t('lossNext'), t('baseline'), t('intervened'), t('lossChange')],
      next.map((s, p) => [String(p), JSON.stringify(s), fmtNum(v.baseline[p], st.lang, 5), fmtNum(v.intervened[p], st.lang, 5),
        v.baseline[p] === null || v.intervened[p] === null ? '—' : fmtNum(v.intervened[p] - v.baseline[p], st.lang, 5)]), t('lossFigTitle')]);
  });
}

// The means, and the position whose loss rose most (or fell most when none rose).
function summary({ t }, v, f) {
  const ok = v.baseline.map((b, p) => (b !== null && v.intervened[p] !== null ? p : -1)).filter((p) => p >= 0);
  const mean = (a) => ok.reduce((s, p) => s + a[p], 0) / (ok.length || 1);
  const same = v.baseline === v.intervened || v.baseline.every((b, p) => b === v.intervened[p]);
  if (same) return t('lossMeanSame', { n: ok.length, b: f(mean(v.baseline)) });
  let hi = ok[0];
  for (const p of ok) if (v.intervened[p] - v.baseline[p] > v.intervened[hi] - v.baseline[hi]) hi = p;
  const d = v.intervened[hi] - v.baseline[hi];
  let lo = ok[0];
  for (const p of ok) if (v.intervened[p] - v.baseline[p] < v.intervened[lo] - v.baseline[lo]) lo = p;
  const at = d > 0 ? hi : lo;
  const tok = JSON.stringify(v.token_strings[at + 1]);
  return `${t('lossMean', { n: ok.length, b: f(mean(v.baseline)), i: f(mean(v.intervened)) })} ${t(d > 0 ? 'lossRise' : 'lossFall', { p: at, tok, d: f(v.intervened[at] - v.baseline[at]) })}`;
}
