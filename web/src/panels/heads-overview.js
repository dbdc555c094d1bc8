// The block × head overview: for one score, a grid with a row per block and a column per
// head (axis titles, a colour bar), baseline and intervened side by side, the highest heads
// named (as L4H9: block 4, head 9), the heads the loaded model is known for outlined, and a
// data table of every head (baseline, intervened, Δ). Clicking a cell picks that block.
import { renderTable } from '../charts.js';
import { canvasSetup } from '../heatmap.js';
import { ramp, scoreRows, strongest } from './heads-data.js';
import { headLabel } from '../known-heads.js';
import './heads-strings.js';

const CELL = 22, PAD_L = 34, PAD_T = 40, BAR = 46;

// One result's [n_layer][n_head] scores as a canvas; null cells hatched grey; `known`
// ([{layer, head}]) outlined; the axes titled; a 0..1 colour bar on the right.
function drawScores(canvas, scores, title, { known = [], axisHead = 'head', axisBlock = 'block' } = {}) {
  const L = scores.length, H = scores[0].length;
  const gridW = PAD_L + H * CELL;
  const ctx = canvasSetup(canvas, gridW + BAR, PAD_T + L * CELL + 8, { title, aspect: true }); // may shrink on a phone
  ctx.fillStyle = '#222';
  ctx.textAlign = 'right';
  ctx.fillText(axisHead, gridW, 16);
  ctx.save();
  ctx.translate(10, PAD_T + (L * CELL) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = 'center';
  ctx.fillText(axisBlock, 0, 0);
  ctx.restore();
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
  ctx.strokeStyle = '#D55E00';
  ctx.lineWidth = 3;
  for (const { layer, head } of known) if (layer < L && head < H) ctx.strokeRect(PAD_L + head * CELL + 1.5, PAD_T + layer * CELL + 1.5, CELL - 3, CELL - 3);
  ctx.lineWidth = 1;
  // The colour bar: 1 at the top, 0 at the bottom (scores are fractions of attention).
  const bx = gridW + 10, bh = L * CELL;
  for (let i = 0; i < 100; i++) {
    ctx.fillStyle = ramp(1 - i / 99);
    ctx.fillRect(bx, PAD_T + (i * bh) / 100, 10, bh / 100 + 1);
  }
  ctx.strokeStyle = '#888';
  ctx.strokeRect(bx + 0.5, PAD_T + 0.5, 9, bh - 1);
  ctx.fillStyle = '#222';
  ctx.textAlign = 'left';
  ctx.fillText('1', bx + 13, PAD_T + 8);
  ctx.fillText('0', bx + 13, PAD_T + bh);
}

// The cell under the pointer; the canvas may be shrunk by CSS (max-width: 100%).
function cellAt(canvas, ev, L, H) {
  const r = canvas.getBoundingClientRect();
  const k = r.width ? parseFloat(canvas.style.width) / r.width : 1;
  const h = Math.floor(((ev.clientX - r.left) * k - PAD_L) / CELL), l = Math.floor(((ev.clientY - r.top) * k - PAD_T) / CELL);
  return l >= 0 && l < L && h >= 0 && h < H ? { layer: l, head: h } : null;
}

/**
 * @param container an element the panel owns (emptied and refilled)
 * @param opts {baseline, intervened (or null), score: one of SCORE_KEYS, t, fmt(x) → text,
 *              onPick({layer, head}), known: heads to outline [{layer, head}] (optional)}
 */
export function renderHeadsOverview(container, { baseline, intervened, score, t, fmt, onPick, known = [] }) {
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
  box.className = 'charts2 heads-ov';
  for (const [res, label] of [[baseline, t('baseline')], [intervened, t('intervened')]]) {
    if (!res) continue;
    const fig = document.createElement('figure');
    const canvas = document.createElement('canvas');
    const title = `${t('headsOverview', { score: name })} — ${label}`;
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', title);
    drawScores(canvas, res[score], label, { known, axisHead: t('headsAxisHead'), axisBlock: t('headsAxisBlock') });
    canvas.addEventListener('click', (ev) => {
      const c = cellAt(canvas, ev, L, H);
      if (c && onPick) onPick(c);
    });
    canvas.title = t('headsPick');
    const cap = document.createElement('figcaption');
    cap.textContent = t('headsStrongest', {
      list: strongest(res, score, 3).map((s) => `${headLabel(s.layer, s.head)} (${fmt(s.value)})`).join(', '),
    });
    fig.append(canvas, cap);
    box.append(fig);
  }
  container.append(box);
  const colour = document.createElement('p');
  colour.className = 'caption';
  colour.textContent = known.length ? `${t('headsColour')} ${t('headsOutline')}` : t('headsColour');
  container.append(colour);
  const details = document.createElement('details');
  const summary = document.createElement('summary');
  summary.textContent = t('dataTable');
  const wrap = document.createElement('div');
  wrap.className = 'table-wrap';
  const none = t('headsNull');
  const show = (x) => (x === null ? none : fmt(x));
  const headers = [t('headsBlockHead'), t('baseline'), ...(intervened ? [t('intervened'), 'Δ'] : [])];
  const rows = scoreRows(baseline, intervened, score).map((r) =>
    [headLabel(r.layer, r.head), show(r.base), ...(intervened ? [show(r.int), show(r.delta)] : [])]);
  renderTable(wrap, headers, rows, t('headsOverview', { score: name }));
  details.append(summary, wrap);
  container.append(details);
}
