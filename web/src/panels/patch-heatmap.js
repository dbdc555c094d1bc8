// A block × column heat-map on a diverging scale (centre 0), for the patching sweeps and the
// per-head attribution: a canvas with the column labels on top, the value of the cell under
// the pointer or the keyboard cursor (arrow keys) in a live line below it, a colour bar, and
// the numbers in a data table.
import { renderTable } from '../charts.js';
import { canvasSetup } from '../heatmap.js';
import { divergingColor } from './patch-data.js';

const ROW_W = 30, PAD_R = 56, MIN_CELL = 10, MAX_CELL = 40;

function layout(nCols, colLabels, width) {
  const cell = Math.max(MIN_CELL, Math.min(MAX_CELL, Math.floor((width - ROW_W - PAD_R) / Math.max(nCols, 1))));
  const longest = Math.max(...colLabels.map((s) => s.length), 1);
  const top = 8 + Math.min(90, 6 * longest) * 0.75 + 10;
  return { cell, top };
}

const short = (s) => (s.length > 12 ? `${s.slice(0, 11)}…` : s).replace(/\n/g, '⏎');

function draw(canvas, { matrix, colLabels, max }, L, cursor) {
  const rows = matrix.length, cols = matrix[0].length;
  const W = ROW_W + cols * L.cell + PAD_R, H = L.top + rows * L.cell + 8;
  const ctx = canvasSetup(canvas, W, H, { aspect: true }); // its title is the figure's heading
  for (let r = 0; r < rows; r++) {
    ctx.fillStyle = '#222';
    ctx.textAlign = 'right';
    ctx.fillText(String(r), ROW_W - 6, L.top + r * L.cell + L.cell * 0.65);
    for (let c = 0; c < cols; c++) {
      const x = ROW_W + c * L.cell, y = L.top + r * L.cell, v = matrix[r][c];
      const col = divergingColor(v, max);
      ctx.fillStyle = col ?? '#fff';
      ctx.fillRect(x, y, L.cell, L.cell);
      if (!col) {
        ctx.fillStyle = '#D55E00';
        ctx.textAlign = 'center';
        ctx.fillText('✕', x + L.cell / 2, y + L.cell * 0.7);
      }
    }
  }
  ctx.fillStyle = '#222';
  ctx.textAlign = 'left';
  for (let c = 0; c < cols; c++) {
    ctx.save();
    ctx.translate(ROW_W + c * L.cell + L.cell * 0.6, L.top - 4);
    ctx.rotate(-Math.PI / 4);
    ctx.fillText(short(colLabels[c]), 0, 0);
    ctx.restore();
  }
  if (cursor) {
    ctx.strokeStyle = '#000';
    ctx.lineWidth = 2;
    ctx.strokeRect(ROW_W + cursor.c * L.cell + 1, L.top + cursor.r * L.cell + 1, L.cell - 2, L.cell - 2);
  }
  // The colour bar: +max at the top, 0 in the middle, -max at the bottom.
  const bx = ROW_W + cols * L.cell + 10, bh = rows * L.cell;
  for (let i = 0; i < 100; i++) {
    ctx.fillStyle = divergingColor(max * (1 - (2 * i) / 99), max);
    ctx.fillRect(bx, L.top + (i * bh) / 100, 10, bh / 100 + 1);
  }
  ctx.fillStyle = '#222';
  ctx.textAlign = 'left';
  const lab = (x) => String(+x.toPrecision(2));
  ctx.fillText(lab(max), bx + 13, L.top + 8);
  ctx.fillText('0', bx + 13, L.top + bh / 2 + 4);
  ctx.fillText(lab(-max), bx + 13, L.top + bh);
}

/**
 * @param fig a <figure> the map owns (emptied and refilled)
 * @param opts {matrix [rows][cols], rowLabel(r) → text, colLabels: short texts for the canvas,
 *   colNames: the table's and readout's column names, title, max (the scale's half-width),
 *   readout(r, c, value) → text, hint, caption, tableCaption, rowHead, fmt(x) → text, dataTable}
 */
export function renderDivergingMap(fig, opts) {
  const { matrix, colLabels, colNames, title, max, readout, hint, caption, rowHead, rowLabel, fmt, dataTable, tableCaption } = opts;
  fig.replaceChildren();
  fig.classList.add('pmap');
  const h = document.createElement('h3');
  h.className = 'fig-title';
  h.textContent = title;
  const box = document.createElement('div');
  box.className = 'pmap-box';
  const canvas = document.createElement('canvas');
  canvas.tabIndex = 0;
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', `${title}. ${hint}`);
  box.append(canvas);
  const out = document.createElement('p');
  out.className = 'pmap-readout';
  out.setAttribute('aria-live', 'polite');
  out.textContent = hint;
  const cap = document.createElement('p');
  cap.className = 'caption';
  cap.textContent = caption;
  const details = document.createElement('details');
  const summary = document.createElement('summary');
  summary.textContent = dataTable;
  const wrap = document.createElement('div');
  wrap.className = 'table-wrap';
  renderTable(wrap, [rowHead, ...colNames], matrix.map((row, r) => [rowLabel(r), ...row.map(fmt)]), tableCaption);
  details.append(summary, wrap);
  fig.append(h, box, out, cap, details);

  const rows = matrix.length, cols = matrix[0].length;
  const L = layout(cols, colLabels, Math.max(280, fig.clientWidth || box.clientWidth || 600));
  let cursor = null;
  const show = (r, c) => { out.textContent = readout(r, c, matrix[r][c]); };
  const redraw = () => draw(canvas, { matrix, colLabels, max }, L, cursor);
  redraw();
  // The canvas may be shrunk by CSS (max-width: 100%): map the pointer back to its cells.
  const cellAt = (ev) => {
    const rect = canvas.getBoundingClientRect();
    const k = (ROW_W + cols * L.cell + PAD_R) / rect.width;
    const c = Math.floor(((ev.clientX - rect.left) * k - ROW_W) / L.cell), r = Math.floor(((ev.clientY - rect.top) * k - L.top) / L.cell);
    return r >= 0 && r < rows && c >= 0 && c < cols ? { r, c } : null;
  };
  canvas.addEventListener('mousemove', (ev) => {
    const at = cellAt(ev);
    if (at) show(at.r, at.c);
  });
  canvas.addEventListener('focus', () => {
    cursor ??= { r: rows - 1, c: cols - 1 };
    redraw();
    show(cursor.r, cursor.c);
  });
  canvas.addEventListener('blur', () => { cursor = null; redraw(); });
  canvas.addEventListener('keydown', (ev) => {
    const d = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] }[ev.key];
    if (!d) return;
    ev.preventDefault();
    cursor = { r: Math.max(0, Math.min(rows - 1, cursor.r + d[0])), c: Math.max(0, Math.min(cols - 1, cursor.c + d[1])) };
    redraw();
    show(cursor.r, cursor.c);
  });
}
