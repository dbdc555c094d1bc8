// The block × head overview: for one score, a grid with a row per block and a column per
// head, baseline and intervened side by side, the highest heads named, and a data table
// of every head (baseline, intervened, Δ). Clicking a cell picks that block for the grid.
import { renderTable } from '../charts.js';
import { canvasSetup } from '../heatmap.js';
import { ramp, scoreRows, strongest } from './heads-data.js';

const CELL = 22, PAD_L = 34, PAD_T = 40;

// One result's [n_layer][n_head] scores as a canvas; null cells hatched grey.
function drawScores(canvas, scores, title) {
  const L = scores.length, H = scores[0].length;
  const ctx = canvasSetup(canvas, PAD_L + H * CELL + 8, PAD_T + L * CELL + 8, { title });
  ctx.fillStyle = '#222';
  ctx.textAlign = 'center';
  for (let h = 0; h < H; h++) ctx.fillText(String(h), PAD_L + h * CELL + CELL / 2, PAD_T - 6);
  ctx.textAlign = 'right';
  for (let l = 0; l < L; l++) {
    ctx.fillStyle = '#222';
    ctx.fillText(String(l), PAD_L - 6, PAD_T + l * CELL + CELL * 0.7);
    for (let h = 0; h < H; h++) {
      const v = scores[l][h], x = PAD_L + h * CELL, y = PAD_T + l * CELL;
      if (v === null) {
        ctx.fillStyle = '#e6e6e6';
        ctx.fillRect(x, y, CELL, CELL);
        ctx.strokeStyle = '#c8c8c8';
        ctx.beginPath();
        ctx.moveTo(x, y + CELL);
        ctx.lineTo(x + CELL, y);
        ctx.stroke();
      } else {
        ctx.fillStyle = ramp(v);
        ctx.fillRect(x, y, CELL, CELL);
      }
    }
  }
}

function cellAt(canvas, ev, L, H) {
  const r = canvas.getBoundingClientRect();
  const h = Math.floor((ev.clientX - r.left - PAD_L) / CELL), l = Math.floor((ev.clientY - r.top - PAD_T) / CELL);
  return l >= 0 && l < L && h >= 0 && h < H ? { layer: l, head: h } : null;
}

/**
 * @param container an element the panel owns (emptied and refilled)
 * @param opts {baseline, intervened (or null), score: one of SCORE_KEYS, t, fmt(x) → text,
 *              onPick({layer, head})}
 */
export function renderHeadsOverview(container, { baseline, intervened, score, t, fmt, onPick }) {
  container.replaceChildren();
  const name = t(`headsScore_${score}`);
  const def = document.createElement('p');
  def.className = 'caption';
  def.textContent = `${name}: ${t(`headsDef_${score}`)}`;
  container.append(def);
  if (baseline[score].every((row) => row.every((v) => v === null))) {
    const p = document.createElement('p');
    p.className = 'caption';
    p.textContent = t('headsInductionNull');
    container.append(p);
    return;
  }
  const L = baseline[score].length, H = baseline[score][0].length;
  const box = document.createElement('div');
  box.className = 'charts2';
  for (const [res, label] of [[baseline, t('baseline')], [intervened, t('intervened')]]) {
    if (!res) continue;
    const fig = document.createElement('figure');
    const canvas = document.createElement('canvas');
    const title = `${t('headsOverview', { score: name })} — ${label}`;
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', title);
    drawScores(canvas, res[score], label);
    canvas.addEventListener('click', (ev) => {
      const c = cellAt(canvas, ev, L, H);
      if (c && onPick) onPick(c);
    });
    canvas.title = t('headsPick');
    const cap = document.createElement('figcaption');
    cap.textContent = t('headsStrongest', {
      list: strongest(res, score, 3).map((s) => `${s.layer}.${s.head} (${fmt(s.value)})`).join(', '),
    });
    fig.append(canvas, cap);
    box.append(fig);
  }
  container.append(box);
  const details = document.createElement('details');
  const summary = document.createElement('summary');
  summary.textContent = t('dataTable');
  const wrap = document.createElement('div');
  wrap.className = 'table-wrap';
  const none = t('headsNull');
  const show = (x) => (x === null ? none : fmt(x));
  const headers = [t('headsBlockHead'), t('baseline'), ...(intervened ? [t('intervened'), 'Δ'] : [])];
  const rows = scoreRows(baseline, intervened, score).map((r) =>
    [`${r.layer}.${r.head}`, show(r.base), ...(intervened ? [show(r.int), show(r.delta)] : [])]);
  renderTable(wrap, headers, rows, t('headsOverview', { score: name }));
  details.append(summary, wrap);
  container.append(details);
}
