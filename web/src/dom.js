// Small DOM helpers shared by the panels.
export const $ = (id) => document.getElementById(id);

export function download(href, name) {
  const a = document.createElement('a');
  a.href = href;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
}

export function downloadBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  download(url, name);
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// The caption paragraph under a figure's chart, created once.
export function figCaption(fig) {
  let cap = fig.querySelector('.fig-cap');
  if (!cap) {
    cap = document.createElement('p');
    cap.className = 'caption fig-cap';
    fig.querySelector('.canvas-box').after(cap);
  }
  return cap;
}

// A token as the page shows it: quoted, so spaces and newlines are visible.
export const showTok = (s) => JSON.stringify(s ?? '');

// Writes text only when it changed: an unchanged panel costs the browser no style or
// layout work on the next frame.
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}
