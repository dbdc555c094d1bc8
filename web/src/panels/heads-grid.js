// Every head's attention pattern for one block, baseline and intervened side by side, as
// thumbnails without token labels (heatmap.js drawThumb: labels would be unreadable at this
// size); the tokens and weight of the cell under the pointer in a line below (and the
// tooltip), each head's scores in its caption, and each pattern's numbers with the tokens
// in a data table.
import { renderTable } from '../charts.js';
import { drawThumb } from '../heatmap.js';
import { showTok } from '../dom.js';
import { SCORE_KEYS, patternsOf } from './heads-data.js';
import './heads-strings.js';

/**
 * @param container an element the panel owns (emptied and refilled)
 * @param opts {layer, tokens (token strings), baseline, intervened (or null): block layer's
 *              patterns as {shape: [H, T, T], data}: lab.heads' `pattern` (either input) or a
 *              lab.run capture of blocks.{layer}.attn.hook_pattern; scores: {baseline,
 *              intervened} heads JSON (optional), t, fmt(x) → text}
 */
export function renderHeadGrid(container, { layer, tokens, baseline, intervened, scores, t, fmt }) {
  container.replaceChildren();
  const h2 = document.createElement('h3');
  h2.textContent = t('headsGridTitle', { l: layer });
  const hint = document.createElement('p');
  hint.className = 'caption';
  hint.textContent = t('headsThumbHint');
  container.append(h2, hint);
  const pb = patternsOf(baseline), pi = intervened ? patternsOf(intervened) : null;
  const grid = document.createElement('div');
  grid.className = 'heads-grid';
  grid.style.display = 'flex';
  grid.style.flexWrap = 'wrap';
  grid.style.gap = '12px';
  const none = t('headsNull');
  const show = (x) => (x === null || x === undefined || Number.isNaN(x) ? none : fmt(x)); // NaN: a pattern's non-finite value
  pb.forEach((mb, h) => {
    const fig = document.createElement('figure');
    fig.className = 'heat-fig';
    const head = t('headsHead', { h });
    const title = document.createElement('p');
    title.className = 'thumb-title';
    title.textContent = pi ? `${head}: ${t('baseline')} | ${t('intervened')}` : head;
    const readout = document.createElement('p');
    readout.className = 'pmap-readout';
    readout.setAttribute('aria-live', 'polite');
    fig.append(title);
    for (const [m, label] of [[mb, t('baseline')], [pi?.[h], t('intervened')]]) {
      if (!m) continue;
      const canvas = document.createElement('canvas');
      canvas.setAttribute('role', 'img');
      canvas.setAttribute('aria-label', `${t('headsGridTitle', { l: layer })}, ${head} — ${label}`);
      const g = drawThumb(canvas, m);
      canvas.addEventListener('mousemove', (ev) => {
        const r = canvas.getBoundingClientRect();
        const s = r.width ? g.W / r.width : 1;
        const k = Math.floor(((ev.clientX - r.left) * s - g.pad) / g.cell), q = Math.floor(((ev.clientY - r.top) * s - g.pad) / g.cell);
        if (q < 0 || k < 0 || q >= m.length || k > q) return;
        const text = `${head} — ${label}: ${t('headsCellReadout', { q, qt: showTok(tokens[q]), k, kt: showTok(tokens[k]), v: show(m[q][k]) })}`;
        readout.textContent = text;
        canvas.title = text;
      });
      fig.append(canvas);
    }
    fig.append(readout);
    const cap = document.createElement('figcaption');
    if (scores) {
      cap.textContent = SCORE_KEYS.map((k) => {
        const b = scores.baseline[k][layer][h], i = scores.intervened?.[k][layer][h];
        return `${t(`headsScore_${k}`)} ${show(b)}${scores.intervened ? ` → ${show(i)}` : ''}`;
      }).join(' · ');
    }
    const details = document.createElement('details');
    const summary = document.createElement('summary');
    summary.textContent = t('dataTable');
    const wrap = document.createElement('div');
    wrap.className = 'table-wrap';
    const T = tokens.length;
    const rows = [];
    for (let q = 0; q < T; q++) {
      rows.push([`${q} ${tokens[q]}`, ...Array.from({ length: T }, (_, k) => {
        if (k > q) return '';
        return pi ? `${show(mb[q][k])} → ${show(pi[h][q][k])}` : show(mb[q][k]);
      })]);
    }
    renderTable(wrap, [`${t('query')} \\ ${t('key')}`, ...tokens.map((x, k) => `${k} ${x}`)], rows,
      `${head}${pi ? ` — ${t('baseline')} → ${t('intervened')}` : ''}`);
    details.append(summary, wrap);
    fig.append(cap, details);
    grid.append(fig);
  });
  container.append(grid);
}
