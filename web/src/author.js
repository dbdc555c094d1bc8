// The course author's controls (issue #28; docs/embedding.md), from the URL, the element's
// attributes or set-state: `locked` keys (their controls disabled, and the author's value
// copied back over any change the learner makes), `views` (the result views shown), `picker`
// (the model picker hidden; the model is then locked too) and, in the compact embed with a
// patching experiment, the Patching view first. The author's values are app.authorParams:
// the URL the page was opened with, updated by every set-state.
import { $ } from './dom.js';
import { stateFromParams, copyKeys, KEYS, VIEW_PARTS } from './state.js';

/** The keys the learner cannot change: `locked`, and the model when the picker is hidden. */
export function lockedKeys(st) {
  const keys = new Set(st.locked ?? []);
  if (st.picker === 'hidden') keys.add('model');
  return [...keys];
}

/** An element the author locked keeps its other code's `disabled` (a picker with no options). */
export const isLocked = (el) => el?.dataset.locked === '1';

/** Copies the author's values of the locked keys over the learner's; true when any changed. */
export function enforceLocks(app) {
  const keys = lockedKeys(app.st);
  if (!keys.length || !app.authorParams) return false;
  return copyKeys(app.st, stateFromParams(app.authorParams, app.st.lang), keys);
}

/** A set-state patch becomes the author's value of its keys. */
export function authorPatch(app, patch) {
  app.authorParams ??= new URLSearchParams();
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || v === false) app.authorParams.delete(k);
    else app.authorParams.set(k, String(v));
  }
}

/** Disables the locked keys' controls, shows the chosen views, hides the picker. */
export function applyAuthor(app) {
  const { st, t } = app;
  const locked = new Set(lockedKeys(st));
  for (const [k, { controls }] of Object.entries(KEYS)) {
    if (!controls) continue;
    for (const el of document.querySelectorAll(controls)) {
      if (locked.has(k)) {
        el.disabled = true;
        el.dataset.locked = '1';
        el.title = t('lockedTitle');
      } else if (isLocked(el)) {
        el.disabled = false;
        delete el.dataset.locked;
        el.removeAttribute('title');
      }
    }
  }
  // Reset would change a locked key: its copy-back would undo that part only, so it stays.
  const note = $('locked-note');
  note.hidden = !locked.size;
  note.textContent = locked.size ? t('lockedNote', { keys: [...locked].join(', ') }) : '';
  const views = st.views ? new Set(st.views) : null;
  for (const [v, sels] of Object.entries(VIEW_PARTS)) {
    for (const sel of sels) for (const el of document.querySelectorAll(sel)) el.classList.toggle('view-off', !!views && !views.has(v));
  }
  $('top-section').classList.toggle('view-off', !!views && !views.has('top') && !views.has('lens'));
  $('intro').classList.toggle('view-off', !!views);
  document.body.classList.toggle('no-picker', st.picker === 'hidden');
  // The compact embed shows a patching experiment's results first.
  const patchFirst = (st.autorun ?? []).includes('patch') || (!!views && views.has('patch'));
  document.body.classList.toggle('patch-first', patchFirst);
  // Likewise heads, generation or a lesson: the lesson, else the first autorun view, else the
  // first of the views; its result comes before the other views (style.css).
  const leads = ['heads', 'generate'];
  const lead = patchFirst ? 'patch' : st.lesson === 'induction' ? 'lesson'
    : (st.autorun ?? []).find((v) => leads.includes(v)) ?? (st.views ?? []).find((v) => leads.includes(v)) ?? null;
  for (const v of ['heads', 'generate', 'lesson']) document.body.classList.toggle(`${v}-first`, lead === v);
}
