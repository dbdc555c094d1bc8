// Chart.js charts (every chart but the attention heat-map), each in a <figure> with a
// title, a PNG button and a data table behind it.
import {
  Chart, LineController, LineElement, PointElement, LinearScale, LogarithmicScale, CategoryScale,
  BarController, BarElement, Legend, Tooltip, Title,
} from 'chart.js';
import { whenVisible } from './lazy.js';
import { setText } from './dom.js';

Chart.register(LineController, LineElement, PointElement, LinearScale, LogarithmicScale, CategoryScale, BarController, BarElement, Legend, Tooltip, Title);

// Okabe–Ito, colour-blind safe.
export const OI = { blue: '#0072B2', vermillion: '#D55E00', orange: '#E69F00', green: '#009E73', sky: '#56B4E9', purple: '#CC79A7', yellow: '#F0E442', black: '#000000' };
export const BASE_STYLE = { borderColor: OI.blue, backgroundColor: OI.blue, pointStyle: 'circle', borderDash: [] };
export const INT_STYLE = { borderColor: OI.vermillion, backgroundColor: OI.vermillion, pointStyle: 'rectRot', borderDash: [6, 4] };

export const reducedMotion = () => typeof matchMedia === 'function' && matchMedia('(prefers-reduced-motion: reduce)').matches;

// White background for PNG export.
const whiteBg = {
  id: 'whiteBg',
  beforeDraw(chart) {
    const { ctx, width, height } = chart;
    ctx.save();
    ctx.globalCompositeOperation = 'destination-over';
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, width, height);
    ctx.restore();
  },
};

// Marks non-finite points (null data with a matching "nonfinite" flag) with ✕ on the x axis.
const nonfiniteMarks = {
  id: 'nonfiniteMarks',
  afterDatasetsDraw(chart) {
    const { ctx, chartArea, scales } = chart;
    chart.data.datasets.forEach((ds, di) => {
      if (!ds.nonfinite || chart.getDatasetMeta(di).hidden) return;
      ctx.save();
      ctx.fillStyle = ds.borderColor;
      ctx.font = 'bold 14px system-ui, sans-serif';
      ctx.textAlign = 'center';
      ds.nonfinite.forEach((bad, i) => {
        if (!bad) return;
        const x = scales.x.getPixelForValue(i);
        ctx.fillText('✕', x, chartArea.bottom - 4 - di * 14);
      });
      ctx.restore();
    });
  },
};

// Builds the figure skeleton once: heading, canvas, caption slot, PNG button, table.
export function figureShell(fig, { onPng }) {
  if (fig.dataset.ready) return fig;
  fig.dataset.ready = '1';
  fig.innerHTML = '';
  const head = document.createElement('div');
  head.className = 'fig-head';
  const h = document.createElement('h3');
  h.className = 'fig-title';
  const png = document.createElement('button');
  png.type = 'button';
  png.className = 'png-btn';
  png.addEventListener('click', onPng);
  head.append(h, png);
  const box = document.createElement('div');
  box.className = 'canvas-box';
  const canvas = document.createElement('canvas');
  canvas.setAttribute('role', 'img');
  box.append(canvas);
  const details = document.createElement('details');
  const summary = document.createElement('summary');
  const table = document.createElement('div');
  table.className = 'table-wrap';
  details.append(summary, table);
  fig.append(head, box, details);
  return fig;
}

export function setFigureText(fig, { title, png, table }) {
  setText(fig.querySelector('.fig-title'), title);
  const b = fig.querySelector('.png-btn');
  setText(b, png);
  b.setAttribute('aria-label', `${png}: ${title}`);
  setText(fig.querySelector('summary'), table);
  fig.querySelector('canvas').setAttribute('aria-label', title);
}

export function renderTable(container, headers, rows, caption) {
  const t = document.createElement('table');
  if (caption) {
    const c = document.createElement('caption');
    c.textContent = caption;
    t.append(c);
  }
  const thead = t.createTHead().insertRow();
  for (const h of headers) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = h;
    thead.append(th);
  }
  const tb = t.createTBody();
  for (const r of rows) {
    const tr = tb.insertRow();
    r.forEach((v, i) => {
      const cell = i === 0 ? document.createElement('th') : document.createElement('td');
      if (i === 0) cell.scope = 'row';
      cell.textContent = v;
      tr.append(cell);
    });
  }
  container.replaceChildren(t);
  return t;
}

// A data table, built when the reader can see it (its <details> open and on screen): most
// stay folded, and formatting every number of every table was much of a run's redraw.
// build() returns [headers, rows, caption]; key: its inputs (lazy.js).
export function lazyTable(container, key, build) {
  whenVisible(container, key, () => renderTable(container, ...build()));
}

function baseOptions(extra = {}) {
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: reducedMotion() ? false : { duration: 250 },
    interaction: { mode: 'index', intersect: false },
    plugins: { legend: { labels: { usePointStyle: true } }, title: { display: false } },
    ...extra,
  };
}

// A chart off screen keeps its latest config and draws it when it scrolls into view
// (lazy.js): a run then redraws only what the reader sees. Whatever reads a chart (exports,
// tests) calls flushLazy first, which draws it at once (no animation: a PNG must show the
// final frame).
function applyConfig(existing, config, mode, resized) {
  existing.data.labels = config.data.labels;
  keepDatasets(existing.data, config.data.datasets);
  // Assigning options makes Chart.js re-resolve every option (most of a toggle's redraw):
  // only when they changed (a new language, scale or axis), not for new data.
  const key = optionsKey(config.options);
  if (key !== existing.$hooklabOptions) {
    existing.options = config.options;
    existing.$hooklabOptions = key;
  }
  // A box resized by the caller: resize() measures it and updates once, where Chart.js's
  // own ResizeObserver would draw a second time, a frame later.
  if (resized) existing.resize();
  else existing.update(mode);
  return existing;
}

// A new dataset object makes Chart.js destroy its controller and elements and build them
// anew; the same object given new fields is only updated. So each dataset object stays
// while the count and types match, its fields replaced by the new ones (a field the new
// dataset lacks is removed: the chart shows exactly the new config).
function keepDatasets(data, next) {
  const old = data.datasets;
  if (old.length !== next.length || old.some((d, k) => d.type !== next[k].type)) {
    data.datasets = next;
    return;
  }
  old.forEach((d, k) => {
    for (const f of Object.keys(d)) if (!(f in next[k])) delete d[f];
    Object.assign(d, next[k]);
  });
}

// resized: the caller changed the size of the canvas's box.
export function upsertChart(existing, canvas, config, { resized = false } = {}) {
  if (existing && existing.canvas === canvas && existing.config.type === config.type) {
    whenVisible(canvas, null, (forced) => applyConfig(existing, config, forced || reducedMotion() ? 'none' : undefined, resized));
    return existing;
  }
  if (existing) existing.destroy();
  const chart = new Chart(canvas, { ...config, plugins: [whiteBg, nonfiniteMarks, ...(config.plugins || [])] });
  chart.$hooklabOptions = optionsKey(config.options);
  whenVisible(canvas, null, () => {}); // watched from now on; drawn by the constructor
  return chart;
}

// The options are plain data (no callbacks), so their JSON text identifies them.
const optionsKey = (options) => JSON.stringify(options);

const toPoint = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function lineConfig({ labels, base, int, labelsText, scale, yTitle, xTitle }) {
  const logOk = (arr) => arr.map((v) => (scale === 'log' && toPoint(v) !== null && v <= 0 ? null : toPoint(v)));
  return {
    type: 'line',
    data: {
      labels,
      datasets: [
        { label: labelsText.baseline, data: logOk(base), ...BASE_STYLE, borderWidth: 2, pointRadius: 3, spanGaps: false, nonfinite: base.map((v) => toPoint(v) === null) },
        { label: labelsText.intervened, data: logOk(int), ...INT_STYLE, borderWidth: 2, pointRadius: 4, spanGaps: false, nonfinite: int.map((v) => toPoint(v) === null) },
      ],
    },
    options: baseOptions({
      scales: {
        x: { title: { display: true, text: xTitle } },
        y: { type: scale === 'log' ? 'logarithmic' : 'linear', title: { display: true, text: yTitle } },
      },
    }),
  };
}

export function barConfig({ labels, datasets, yTitle, xTitle, horizontal = false }) {
  return {
    type: 'bar',
    data: { labels, datasets },
    options: baseOptions({
      indexAxis: horizontal ? 'y' : 'x',
      scales: {
        x: { title: { display: !!xTitle, text: xTitle }, ...(horizontal ? { min: 0 } : {}) },
        y: { title: { display: !!yTitle, text: yTitle } },
      },
    }),
  };
}

