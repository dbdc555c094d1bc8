// postMessage API for a host page that embeds the lab in an iframe (directly, or through
// the <gpt2-hooklab> element). Inbound messages are accepted only from this page's own
// origin and from the origins listed in embed-origins.json next to index.html (deployer's
// allow-list, {"allowedOrigins": ["https://course.example"]}; in the repo web/public/), and
// only in these shapes (v: the API version, 1; optional inbound, always sent outbound):
//   {type: 'hooklab:set-state', v?: 1, state: {KEY: value, …}}   KEY: state.js's KEYS, the URL's keys
//     (values are strings, numbers, booleans or null as KEYS says; null/false switches off)
//   {type: 'hooklab:get-state', v?: 1, id?}   → {type: 'hooklab:state', v: 1, state: {...}, id?}
//   {type: 'hooklab:get-result', v?: 1, id?}  → {type: 'hooklab:result', v: 1, result: <export JSON> | null, id?}
// Outbound, to the parent window's own origin when it is allowed (never a guess: a
// postMessage whose target origin is not the recipient's makes the browser log an error):
// 'hooklab:state' on every change, 'hooklab:result' after every run and every view's result
// (no id), 'hooklab:size' when the page's height changes ({height} in CSS px), 'hooklab:error'
// for a refused message (to a known origin only), for a set-state value the lab cannot use
// (which field, what it expects; the message's other fields are applied), and at load for the
// URL's (the element's attributes') keys and values it cannot use.
// A refused origin is named in the console with the file to edit: otherwise a course page on
// another origin sees nothing happen and has no way to tell why. Stable fields: docs/embedding.md.
import { KEYS, typeError, expects, unknownKeyText } from './state.js';

export const API_VERSION = 1;
const MAX_PROMPT = 4000;
const TYPES = ['hooklab:set-state', 'hooklab:get-state', 'hooklab:get-result'];

export function validMessage(data) {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return 'not an object';
  if (typeof data.type !== 'string' || !data.type.startsWith('hooklab:')) return 'no hooklab type';
  if ('id' in data && !((typeof data.id === 'string' && data.id.length <= 100) || Number.isFinite(data.id))) return 'id must be a short string or a finite number';
  if ('v' in data && data.v !== API_VERSION) return `unsupported version v: ${JSON.stringify(data.v)}; this lab speaks v: ${API_VERSION}`;
  if (!TYPES.includes(data.type)) return `unknown type ${data.type}`;
  if (data.type !== 'hooklab:set-state') return null;
  const s = data.state;
  if (!s || typeof s !== 'object' || Array.isArray(s)) return 'state must be an object';
  for (const [k, v] of Object.entries(s)) {
    if (!Object.prototype.hasOwnProperty.call(KEYS, k)) return unknownKeyText(k);
    const e = typeError(k, v);
    if (e) return e;
    if (typeof v === 'string' && v.length > MAX_PROMPT) return `${k} is too long`;
    if (typeof v === 'number' && !Number.isFinite(v)) return `${k} must be finite`;
  }
  return null;
}

export const ORIGINS_FILE = 'embed-origins.json';

export function refusedOriginWarning(origin) {
  return `GPT-2 Hook Lab: ignored postMessage calls from ${origin}: that origin is not allowed to control this lab. `
    + `Add it to "allowedOrigins" in ${new URL(ORIGINS_FILE, location.href).href} (web/public/${ORIGINS_FILE} in the repository), e.g. {"allowedOrigins": ["${origin}"]}.`;
}

// The embedding page's origin, where the browser tells it (ancestorOrigins: Chromium,
// Safari; the referrer otherwise).
function parentOrigin() {
  try {
    if (location.ancestorOrigins?.length) return location.ancestorOrigins[0];
    if (document.referrer) return new URL(document.referrer).origin;
  } catch { /* unknown */ }
  return null;
}

// What each key takes (state.js KEYS), for the hooklab:error that refuses a value.
export const EXPECTS = Object.fromEntries(Object.keys(KEYS).map((k) => [k, expects(k)]));

/** The hooklab:error text for refused set-state values: [{key, value, reason?}]. */
export function fieldErrorText(bad) {
  return bad.map(({ key, value, reason, unknown }) => (unknown ? unknownKeyText(key, 'key')
    : `${key}: ${JSON.stringify(value)} cannot be used${reason ? ` (${reason})` : ''}; expected ${EXPECTS[key] ?? 'a valid value'}`)).join('; ');
}

/** The fields of a hooklab:error: [{key, value, expected, suggestion?}]. */
export const errorFields = (bad) => bad.map(({ key, value, unknown, near }) => ({ key, value, expected: EXPECTS[key] ?? null, ...(unknown ? { suggestion: near || null } : {}) }));

export function initEmbedApi({ getState, setState, getExport }) {
  const V = { v: API_VERSION };
  const self = location.origin;
  const allowed = new Set([self]);
  const parent = window.parent !== window ? window.parent : null;
  const warned = new Set();
  const warn = (origin) => {
    if (warned.has(origin)) return;
    warned.add(origin);
    console.warn(refusedOriginWarning(origin));
  };
  // Everything waits for the allow-list: a message sent before it is known would be lost
  // (outbound, the first hooklab-state) or refused (inbound, an early set-state).
  // The parent's origin: from the browser at load, else learnt from its first allowed message.
  let parentAt = null;
  const ready = fetch(new URL(ORIGINS_FILE, location.href))
    .then((r) => (r.ok ? r.json() : {}))
    .then((j) => { for (const o of j.allowedOrigins || []) if (typeof o === 'string') allowed.add(o); })
    .catch(() => {})
    .then(() => {
      const po = parent && parentOrigin();
      if (po && po !== 'null') {
        parentAt = po;
        if (!allowed.has(po)) warn(po);
      }
    });
  // Only to the parent's own origin, and only when it is allowed. Where the browser does not
  // tell the parent's origin (no ancestorOrigins, no referrer) and no message has come from
  // it yet, each allowed origin is tried: only the parent's own receives it.
  const toParent = (msg) => {
    if (!parent) return;
    ready.then(() => {
      const targets = parentAt ? (allowed.has(parentAt) ? [parentAt] : []) : [...allowed];
      for (const o of targets) {
        try { parent.postMessage({ ...msg, ...V }, o); } catch { /* wrong origin: dropped */ }
      }
    });
  };
  window.addEventListener('message', (ev) => ready.then(() => onMessage(ev)));
  function onMessage(ev) {
    const isOurs = ev.data && typeof ev.data === 'object' && typeof ev.data.type === 'string' && ev.data.type.startsWith('hooklab:');
    if (!allowed.has(ev.origin)) {
      if (isOurs) warn(ev.origin); // nothing goes back to an unknown origin
      return;
    }
    if (parent && ev.source === parent && !parentAt) parentAt = ev.origin;
    // Our own outbound messages (a top-level page hears itself): never answered.
    if (['hooklab:state', 'hooklab:result', 'hooklab:error', 'hooklab:size'].includes(ev.data?.type)) return;
    const err = validMessage(ev.data);
    const id = ev.data && typeof ev.data === 'object' && 'id' in ev.data && !err ? { id: ev.data.id } : {};
    const reply = (msg) => ev.source?.postMessage({ ...msg, ...V, ...id }, ev.origin);
    if (err) {
      if (isOurs) reply({ type: 'hooklab:error', error: err });
      return;
    }
    if (ev.data.type === 'hooklab:set-state') {
      // Values the lab cannot use are not applied: said, with what each field expects.
      const bad = setState(ev.data.state) ?? [];
      if (bad.length) reply({ type: 'hooklab:error', error: fieldErrorText(bad), fields: errorFields(bad) });
    }
    if (ev.data.type === 'hooklab:get-result') return reply({ type: 'hooklab:result', result: getExport() });
    reply({ type: 'hooklab:state', state: Object.fromEntries(paramsOf(getState())) });
  }
  let paramsOf = () => new URLSearchParams();
  // The page's height, for a host that sizes the frame to its content (<gpt2-hooklab
  // height="auto">): sent when it changes, at most once per frame.
  let lastHeight = -1, pending = false;
  const sendSize = () => {
    pending = false;
    const h = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (h === lastHeight) return;
    lastHeight = h;
    toParent({ type: 'hooklab:size', height: h });
  };
  if (parent && typeof ResizeObserver === 'function') {
    new ResizeObserver(() => { if (!pending) { pending = true; requestAnimationFrame(sendSize); } }).observe(document.documentElement);
  }
  return {
    setParamsOf(f) { paramsOf = f; },
    stateChanged(q) { toParent({ type: 'hooklab:state', state: Object.fromEntries(q) }); },
    /** The URL's (the element's attributes') keys and values the lab could not use, at load. */
    refusedAtLoad(bad) { if (bad.length) toParent({ type: 'hooklab:error', error: fieldErrorText(bad), fields: errorFields(bad) }); },
    /** After a run or a view's result: the run's summary and every view's result (export.js). */
    resultChanged(obj) {
      if (!obj) return;
      const { baseline, intervened } = obj;
      toParent({ type: 'hooklab:result', result: { model: obj.model, prompt: obj.prompt, interventions: obj.interventions,
        resid_std: [baseline.resid_std, intervened.resid_std], hidden_std: [baseline.hidden_std, intervened.hidden_std],
        top1: [baseline.top[0], intervened.top[0]], nonfinite: intervened.nonfinite,
        views: obj.views, patching: obj.patching, attribution_patching: obj.attribution_patching, gradients: obj.gradients,
        heads: obj.heads, generation: obj.generation, rows: obj.rows, pending: obj.pending } });
    },
  };
}
