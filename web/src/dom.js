// Small DOM helpers shared by the panels and the form.
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

// A field's error ({key, vars} or nothing) in a live span after its label, in the page's language.
export function showFieldError(app, id, err) {
  const input = $(id);
  let span = document.getElementById(`${id}-err`);
  if (!span) {
    span = document.createElement('span');
    span.id = `${id}-err`;
    span.className = 'field-error';
    span.setAttribute('aria-live', 'polite');
    input.closest('label').after(span);
    input.setAttribute('aria-describedby', span.id);
  }
  span.hidden = !err;
  span.textContent = err ? app.t(err.key, err.vars) : '';
  input.setAttribute('aria-invalid', String(!!err));
}
