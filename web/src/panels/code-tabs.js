// A small "code" fold with tabs: the HuggingFace, TransformerLens and nnsight programs for a
// panel's current state (the Generate panel, the heads view), the code panel's tabs in
// miniature. The program is written only while the fold is open (code(tab) on each refresh).
import { makeT } from '../i18n.js';
import './code-tabs-strings.js';

export const MINI_TABS = ['hf', 'tl', 'nn'];

/**
 * Appends the fold to `root`. opts {lang, name: a class and id prefix, code(tab): the program's text}.
 * @returns {refresh(), setLang(lang), element}
 */
export function mountCodeTabs(root, { lang = 'en', name, code }) {
  let tab = 'hf';
  const details = document.createElement('details');
  details.className = `code-mini ${name}-code`;
  const summary = document.createElement('summary');
  const list = document.createElement('div');
  list.className = 'tabs';
  list.setAttribute('role', 'tablist');
  const pre = document.createElement('pre');
  pre.className = 'code';
  pre.id = `${name}-code`;
  pre.setAttribute('role', 'tabpanel');
  pre.tabIndex = 0;
  const buttons = {};
  for (const k of MINI_TABS) {
    const b = document.createElement('button');
    b.type = 'button';
    b.setAttribute('role', 'tab');
    b.dataset.tab = k;
    b.setAttribute('aria-controls', pre.id);
    b.addEventListener('click', () => show(k));
    b.addEventListener('keydown', (ev) => {
      if (ev.key !== 'ArrowRight' && ev.key !== 'ArrowLeft') return;
      const i = MINI_TABS.indexOf(tab) + (ev.key === 'ArrowRight' ? 1 : -1);
      show(MINI_TABS[(i + MINI_TABS.length) % MINI_TABS.length]);
      buttons[tab].focus();
    });
    buttons[k] = b;
    list.append(b);
  }
  details.append(summary, list, pre);
  root.append(details);

  function labels() {
    const t = makeT(lang);
    summary.textContent = t('miniCode');
    list.setAttribute('aria-label', t('miniCodeTabs'));
    for (const k of MINI_TABS) buttons[k].textContent = t(`miniTab_${k}`);
  }
  function refresh() {
    for (const k of MINI_TABS) {
      buttons[k].setAttribute('aria-selected', String(k === tab));
      buttons[k].tabIndex = k === tab ? 0 : -1;
    }
    if (details.open) pre.textContent = code(tab);
  }
  function show(k) {
    tab = k;
    refresh();
  }
  details.addEventListener('toggle', refresh);
  labels();
  refresh();
  return {
    refresh,
    setLang(l) { lang = l; labels(); refresh(); },
    element: details,
  };
}
