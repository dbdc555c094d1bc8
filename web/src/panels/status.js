// The status line, the token count, the error box (in the page's words, the engine's own
// text in a details box), and the note about refused link values. Each is kept in the
// store as a key plus numbers, so a change of language re-words it.
import { $, setText } from '../dom.js';

export function setStatus(app, key, vars = {}) {
  app.status = key ? { key, vars } : null;
  renderStatus(app);
}

export function showError(app, err) {
  app.error = err;
  renderStatus(app);
  if (!err) $('result-body').classList.remove('stale');
}

export function renderStatus(app) {
  const { t } = app;
  setText($('status'), app.status ? t(app.status.key, app.status.vars) : '');
  setText($('token-count'), app.tokenCount ? t('tokens', app.tokenCount) : '');
  const el = $('error');
  const err = app.error;
  el.hidden = !err;
  el.replaceChildren();
  if (err) {
    const p = document.createElement('p');
    p.textContent = `${t('errorPrefix')}: ${t(err.key, err.vars)}`;
    el.append(p);
    if (err.raw) {
      const d = document.createElement('details');
      const s = document.createElement('summary');
      s.textContent = t('engineMessage');
      const code = document.createElement('code');
      code.textContent = err.raw;
      d.append(s, code);
      el.append(d);
    }
  }
  const note = $('url-note');
  note.hidden = !app.refused.length;
  note.textContent = app.refused.length ? t('urlRefused', { items: app.refused.join(', ') }) : '';
}
