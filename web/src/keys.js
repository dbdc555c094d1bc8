// The one list of the page's state keys: the URL parameters, the <gpt2-hooklab> element's
// attributes and the embed API's set-state fields are these keys, with these values
// (issue #28). state.js parses them (with patch-state.js and generate-state.js); embed-api.js
// checks set-state messages against this table; the element forwards every attribute that is
// not its own, so a key added here is an attribute at once. A key not in the table is refused,
// naming it and the nearest key (closestKey, the engine's did-you-mean rule).
import { closestKey } from '../../wasm/js/errors.js';

// type: what a set-state message may send. text: a string; spec: a string, or null / false to
// switch it off (remove it); number: a number or a numeric string; flag: true / false or
// "1" / "0" / "true" / "false"; list: a comma-separated string (or null for none).
const K = (type, expects) => Object.freeze({ type, expects });
export const VIEWS = Object.freeze(['std', 'top', 'lens', 'generate', 'attn', 'mlp', 'stats', 'heads', 'tuple', 'code', 'export', 'patch']);
export const AUTORUN = Object.freeze(['patch', 'generate', 'heads']);
// The lessons (lessons/*.md, docs/lessons.md): lesson=chapter renders lesson 1 with
// panels/lesson-panel.js; lesson=induction opens lesson 2's guided path (panels/induction-lesson.js).
export const LESSONS = Object.freeze(['chapter', 'induction']);
/** A lesson file's link on the page's own origin: a relative path or one from the root,
 *  ending in .md, without a scheme, "//" or "..". The page fetches it (main.js). */
export const isLessonUrl = (v) => typeof v === 'string' && v.length <= 200 && /^(\.\/|\/)?[A-Za-z0-9_-][A-Za-z0-9_./-]*\.md$/.test(v) && !v.includes('//') && !v.includes('..');
export const KEYS = Object.freeze({
  model: K('text', 'one of "default", "induction", "gpt2", "gpt2-medium", "local"'),
  // TransformerLens's weight processing at load (HookLab.load's {process}: 'tl', from_pretrained's four).
  process: K('spec', '"tl" (the weights processed as TransformerLens\'s from_pretrained does: fold_ln, center_writing_weights, center_unembed, fold_value_biases), or "none" / null for the HuggingFace weights'),
  prompt: K('text', 'a text'),
  lang: K('text', '"en" or "vi"'),
  ex1: K('spec', '"L.H" (block and head, e.g. "9.2"), or null to switch exercise 1 off'),
  ex2: K('spec', '"L,mean,std,seed" (block, mean, std ≥ 0, whole-number seed, e.g. "9,10,1,0"), or null to switch exercise 2 off'),
  ex3: K('spec', '"L,factor" (block and factor, e.g. "9,0.1"), or null to switch exercise 3 off'),
  ex4: K('spec', '"L,factor" (block and factor, e.g. "9,10"), or null to switch exercise 4 off'),
  view: K('text', '"both", "resid" or "hf"'),
  scale: K('text', '"linear" or "log"'),
  topk: K('number', 'a whole number from 1 to 50'),
  hook: K('text', 'a hook name of the statistics panel, e.g. "hook_resid_post" or "attn.hook_z"'),
  stat: K('text', '"mean", "std", "min", "max" or "norm"'),
  hl: K('number', 'the statistics panel\'s block, a whole number'),
  lens: K('flag', 'true or false'),
  predict: K('flag', 'true or false'),
  embed: K('flag', 'true or false (the compact layout)'),
  iv: K('spec', 'builder rows "HOOK KIND[=ARGS] [pos=S] [heads=S] [feat=S] [off]" separated by ";", or null for none'),
  heads: K('spec', '"SCORE,L": previous_token, first_token or induction, and a block, e.g. "induction,5"'),
  repeat: K('spec', '"R,SEED" (repeated random tokens), or null for the prompt'),
  pclean: K('spec', 'the clean prompt, or null for the model\'s default pair'),
  pcorr: K('spec', 'the corrupted prompt, or null for the model\'s default pair'),
  pans: K('spec', 'the answer token (text, or "#ID"), or null for the default'),
  pwrong: K('spec', 'the wrong token (text, or "#ID"), or null for the default'),
  phook: K('text', '"resid_pre", "attn_out", "mlp_out" or "z"'),
  pmetric: K('text', '"normalized" or "logit_diff"'),
  pmethod: K('text', '"exact" or "attribution"'),
  gn: K('number', 'new tokens to generate, 1 to 1024'),
  gt: K('number', 'the sampling temperature, 0 to 10 (0: greedy)'),
  gk: K('number', 'top-k sampling, a whole number ≥ 0 (0: off)'),
  gp: K('number', 'top-p sampling, above 0 and at most 1'),
  gs: K('number', 'the sampling seed, a whole number ≥ 0'),
  // Author controls (docs/embedding.md).
  autorun: K('list', `what runs on load without a click: ${AUTORUN.map((v) => `"${v}"`).join(', ')} ("1": "patch"), comma-separated, or null`),
  locked: K('list', 'keys the learner cannot change, comma-separated (e.g. "ex3,prompt"), or null'),
  views: K('list', `the views shown, comma-separated, of ${VIEWS.join(', ')}; or null for all`),
  picker: K('text', '"shown" or "hidden" (the model picker)'),
  lesson: K('spec', '"chapter" (lesson 1: the chapter\'s questions), "induction" (lesson 2: the guided path through induction), a lesson file on the page\'s origin (e.g. "lessons/chapter.md", docs/lessons.md), or null'),
});
export const KEY_NAMES = Object.freeze(Object.keys(KEYS));

const isKey = (k) => Object.prototype.hasOwnProperty.call(KEYS, k);

/** The nearest key to a name that is not one ('' when none is close). */
export const nearestKey = (k) => closestKey(k, KEY_NAMES);

/** "unknown state key X (did you mean "Y"?)": for a name not in the table. */
export function unknownKeyText(k, what = 'state key') {
  const near = nearestKey(k);
  return `unknown ${what} ${k}${near ? ` (did you mean "${near}"?)` : ''}`;
}

/** Whether a set-state value has the key's type: null when it does, else the reason. */
export function typeError(k, v) {
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
export const expects = (k) => (isKey(k) ? KEYS[k].expects : null);

/** A comma list's items, trimmed, empty ones dropped. */
export const listItems = (s) => String(s ?? '').split(',').map((x) => x.trim()).filter(Boolean);
