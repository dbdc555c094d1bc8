// The attention heat-map: Chart.js has no matrix chart, so a small canvas (the numbers
// are in the data table beside it). Colour: a light-to-dark blue ramp (one hue, readable
// for every colour vision); masked future positions are hatched grey; non-finite cells ✕.

export function ramp(v) {
  // 0 → #f7fbff, 1 → #08306b (ColorBrewer Blues end points), linear in RGB.
  const t = Math.max(0, Math.min(1, v));
  const a = [247, 251, 255], b = [8, 48, 107];
  return `rgb(${a.map((x, i) => Math.round(x + (b[i] - x) * t)).join(',')})`;
}

/**
 * The page's canvas figures start alike: W × H CSS pixels drawn at the device's pixel ratio
 * (sharp on every screen), a white ground (PNG exports are not transparent), the title at the
 * top left. aspect: the CSS keeps the aspect ratio instead of the height, so the width may
 * shrink on a narrow screen. Returns the 2D context, in CSS pixels, with the labels' font.
 */
export function canvasSetup(canvas, W, H, { title = '', aspect = false } = {}) {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = W * dpr;
  canvas.height = H * dpr;
  canvas.style.width = `${W}px`;
  if (aspect) canvas.style.aspectRatio = `${W} / ${H}`;
  else canvas.style.height = `${H}px`;
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, W, H);
  if (title) {
    ctx.fillStyle = '#222';
    ctx.font = '600 13px system-ui, sans-serif';
    ctx.fillText(title, 4, 16);
  }
  ctx.font = '11px system-ui, sans-serif';
  return ctx;
}

// Attention weights are probabilities: the colour scale is fixed to 0..1.
export function drawHeatmap(canvas, matrix, labels, { title } = {}) {
  const T = matrix.length;
  const labelW = Math.min(110, 12 + 7 * Math.max(...labels.map((s) => s.length), 3));
  const cell = Math.max(12, Math.min(36, Math.floor(320 / Math.max(T, 1))));
  const top = 24 + labelW * 0.75;
  const W = labelW + cell * T + 50, H = top + cell * T + 10;
  const ctx = canvasSetup(canvas, W, H, { title });
  const short = (s) => (s.length > 12 ? `${s.slice(0, 11)}…` : s).replace(/\n/g, '⏎');
  for (let q = 0; q < T; q++) {
    ctx.fillStyle = '#222';
    ctx.textAlign = 'right';
    ctx.fillText(short(labels[q]), labelW - 4, top + q * cell + cell * 0.7);
    for (let k = 0; k < T; k++) {
      const x = labelW + k * cell, y = top + q * cell;
      const v = matrix[q][k];
      if (k > q) {
        ctx.fillStyle = '#e6e6e6';
        ctx.fillRect(x, y, cell, cell);
        ctx.strokeStyle = '#c8c8c8';
        ctx.beginPath();
        ctx.moveTo(x, y + cell);
        ctx.lineTo(x + cell, y);
        ctx.stroke();
      } else if (typeof v !== 'number' || !Number.isFinite(v)) {
        ctx.fillStyle = '#fff';
        ctx.fillRect(x, y, cell, cell);
        ctx.fillStyle = '#D55E00';
        ctx.textAlign = 'center';
        ctx.fillText('✕', x + cell / 2, y + cell * 0.7);
      } else {
        ctx.fillStyle = ramp(v);
        ctx.fillRect(x, y, cell, cell);
      }
    }
  }
  // Key labels, rotated.
  ctx.save();
  ctx.fillStyle = '#222';
  ctx.textAlign = 'left';
  for (let k = 0; k < T; k++) {
    ctx.save();
    ctx.translate(labelW + k * cell + cell * 0.65, top - 4);
    ctx.rotate(-Math.PI / 4);
    ctx.fillText(short(labels[k]), 0, 0);
    ctx.restore();
  }
  ctx.restore();
  // Colour bar.
  const bx = labelW + cell * T + 12;
  for (let i = 0; i < 100; i++) {
    ctx.fillStyle = ramp(1 - i / 99);
    ctx.fillRect(bx, top + (i * cell * T) / 100, 10, (cell * T) / 100 + 1);
  }
  ctx.fillStyle = '#222';
  ctx.textAlign = 'left';
  ctx.fillText('1', bx + 12, top + 8);
  ctx.fillText('0', bx + 12, top + cell * T);
}

// A small attention map without token labels (the heads grid's thumbnails, where labels
// would be a few pixels tall): cells only, the causal future hatched, a thin frame.
// Returns its geometry {pad, cell, W} for mapping the pointer back to a cell.
export function drawThumb(canvas, matrix, { size = 200 } = {}) {
  const T = matrix.length, pad = 2;
  const cell = Math.max(3, Math.floor(size / Math.max(T, 1)));
  const W = 2 * pad + cell * T;
  const ctx = canvasSetup(canvas, W, W, { aspect: true });
  for (let q = 0; q < T; q++) {
    for (let k = 0; k < T; k++) {
      const x = pad + k * cell, y = pad + q * cell, v = matrix[q][k];
      if (k > q) ctx.fillStyle = '#e6e6e6';
      else if (typeof v !== 'number' || !Number.isFinite(v)) ctx.fillStyle = '#D55E00';
      else ctx.fillStyle = ramp(v);
      ctx.fillRect(x, y, cell, cell);
    }
  }
  ctx.strokeStyle = '#888';
  ctx.strokeRect(pad - 0.5, pad - 0.5, cell * T + 1, cell * T + 1);
  return { pad, cell, W };
}
