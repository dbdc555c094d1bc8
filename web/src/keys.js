// The vocabulary of the page's state keys (issue #28): the URL parameters, the <gpt2-hooklab>
// element's attributes and the embed API's set-state fields are one set of keys, with these
// value types. Each key is declared once, in its slice of the page state (state.js SLICES:
// its type, what it expects and the controls that show it); state.js gathers them into KEYS
// with keyTable below. embed-api.js checks set-state messages against that table; the element
// forwards every attribute that is not its own, so a key a slice declares is an attribute at
// once. A key not in the table is refused, naming it and the nearest key (closestKey, the
// engine's did-you-mean rule).
import { closestKey } from '../../wasm/js/errors.js';

// type: what a set-state message may send. text: a string; spec: a string, or null / false to
// switch it off (remove it); number: a number or a numeric string; flag: true / false or
// "1" / "0" / "true" / "false"; list: a comma-separated string (or null for none).
// expects: what the key takes, in words (a function where it is computed: the views' list).
// controls: the selector of the controls that show the key (a course author's lock disables them).
// at: where the key's value lives in the page state, a dotted path ('ex.ex1') or several (a key
// of two fields); none for the author's own controls (a lock copies these paths).
export const K = (type, expects, controls = null, at = []) => Object.freeze({
  type, controls, get expects() { return typeof expects === 'function' ? expects() : expects; },
  paths: Object.freeze([at].flat().map((a) => Object.freeze(a.split('.')))),
});
// The lessons (lessons/*.md, docs/lessons.md): lesson=chapter renders lesson 1 with
// panels/lesson-panel.js; lesson=induction opens lesson 2's guided path (panels/induction-lesson.js).
export const LESSONS = Object.freeze(['chapter', 'induction']);
/** A lesson file's link on the page's own origin: a relative path or one from the root,
 *  ending in .md, without a scheme, "//" or "..". The page fetches it (main.js). */
export const isLessonUrl = (v) => typeof v === 'string' && v.length <= 200 && /^(\.\/|\/)?[A-Za-z0-9_-][A-Za-z0-9_./-]*\.md$/.test(v) && !v.includes('//') && !v.includes('..');

/** The table of keys ({name: K(...)}) and what reads it: the names, the nearest key to a name
 *  that is not one, the messages for an unknown key and a value of the wrong type. */
export function keyTable(keys) {
  const KEYS = Object.freeze({ ...keys });
  const KEY_NAMES = Object.freeze(Object.keys(KEYS));
  const isKey = (k) => Object.prototype.hasOwnProperty.call(KEYS, k);
  /** The nearest key to a name that is not one ('' when none is close). */
  const nearestKey = (k) => closestKey(k, KEY_NAMES);
  /** "unknown state key X (did you mean "Y"?)": for a name not in the table. */
  function unknownKeyText(k, what = 'state key') {
    const near = nearestKey(k);
    return `unknown ${what} ${k}${near ? ` (did you mean "${near}"?)` : ''}`;
  }
  /** Whether a set-state value has the key's type: null when it does, else the reason. */
  function typeError(k, v) {
    if (!isKey(k)) return unknownKeyText(k);
    const { type } = KEYS[k];
    const t = v === null ? 'null' : typeof v;
    const ok = {
      text: ['string'], spec: ['string', 'null', 'boolean'], number: ['number', 'string'], flag: ['boolean', 'string', 'null'], list: ['string', 'null'],
    }[type];
    if (!ok.includes(t) || (type === 'spec' && v === true)) return `bad value for ${k}: ${t === 'object' ? (Array.isArray(v) ? 'an array' : 'an object') : JSON.stringify(v)}; expected ${KEYS[k].expects}`;
    return null;
  }
  /** What a key takes, for messages. */
  const expects = (k) => (isKey(k) ? KEYS[k].expects : null);
  return { KEYS, KEY_NAMES, nearestKey, unknownKeyText, typeError, expects };
}

/** A comma list's items, trimmed, empty ones dropped. */
export const listItems = (s) => String(s ?? '').split(',').map((x) => x.trim()).filter(Boolean);
