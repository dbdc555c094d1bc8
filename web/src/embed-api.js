// postMessage API for a host page that embeds the lab in an iframe (directly, or through
// the <gpt2-hooklab> element). Inbound messages are accepted only from this page's own
// origin and from the origins listed in embed-origins.json next to index.html (deployer's
// allow-list, {"allowedOrigins": ["https://course.example"]}; in the repo web/public/), and
// only in these shapes:
//   {type: 'hooklab:set-state', state: {model?, prompt?, lang?, ex1?..ex4?, view?, scale?, topk?, predict?}}
//     (values are strings, numbers, booleans or null; null/false switches an exercise off)
//   {type: 'hooklab:get-state', id?}   → {type: 'hooklab:state', state: {...}, id?}
//   {type: 'hooklab:get-result', id?}  → {type: 'hooklab:result', result: <export JSON> | null, id?}
// Outbound, to the parent window's own origin when it is allowed (never a guess: a
// postMessage whose target origin is not the recipient's makes the browser log an error):
// 'hooklab:state' on every change, 'hooklab:result' after every run (a summary, no id),
// 'hooklab:error' for a refused message (to a known origin only), and for a set-state
// value the lab cannot use (which field, what it expects; the message's other fields
// are applied).
// A refused origin is named in the console with the file to edit: otherwise a course page on
// another origin sees nothing happen and has no way to tell why.

const KEYS = new Set(['model', 'prompt', 'lang', 'ex1', 'ex2', 'ex3', 'ex4', 'view', 'scale', 'topk', 'predict', 'lens']);
const MAX_PROMPT = 4000;

export function validMessage(data) {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return 'not an object';
  if (typeof data.type !== 'string' || !data.type.startsWith('hooklab:')) return 'no hooklab type';
  if ('id' in data && !((typeof data.id === 'string' && data.id.length <= 100) || Number.isFinite(data.id))) return 'id must be a short string or a finite number';
  if (data.type === 'hooklab:get-state' || data.type === 'hooklab:get-result') return null;
  if (data.type !== 'hooklab:set-state') return `unknown type ${data.type}`;
  const s = data.state;
  if (!s || typeof s !== 'object' || Array.isArray(s)) return 'state must be an object';
  for (const [k, v] of Object.entries(s)) {
    if (!KEYS.has(k)) return `unknown state key ${k}`;
    if (!(v === null || ['string', 'number', 'boolean'].includes(typeof v))) return `bad value for ${k}`;
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

// What each set-state field takes, for the hooklab:error that refuses a value.
export const EXPECTS = {
  model: 'one of "default", "gpt2", "gpt2-medium", "local"',
  lang: '"en" or "vi"',
  prompt: 'a text',
  ex1: '"L.H" (block and head, e.g. "9.2"), or null to switch exercise 1 off',
  ex2: '"L,mean,std,seed" (block, mean, std ≥ 0, whole-number seed, e.g. "9,10,1,0"), or null to switch exercise 2 off',
  ex3: '"L,factor" (block and factor, e.g. "9,0.1"), or null to switch exercise 3 off',
  ex4: '"L,factor" (block and factor, e.g. "9,10"), or null to switch exercise 4 off',
  view: '"both", "resid" or "hf"',
  scale: '"linear" or "log"',
  topk: 'a whole number from 1 to 50',
  predict: 'true or false',
  lens: 'true or false',
};

/** The hooklab:error text for refused set-state values: [{key, value, reason?}]. */
export function fieldErrorText(bad) {
  return bad.map(({ key, value, reason }) => `${key}: ${JSON.stringify(value)} cannot be used${reason ? ` (${reason})` : ''}; expected ${EXPECTS[key] ?? 'a valid value'}`).join('; ');
}

export function initEmbedApi({ getState, setState, getExport }) {
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
        try { parent.postMessage(msg, o); } catch { /* wrong origin: dropped */ }
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
    if (['hooklab:state', 'hooklab:result', 'hooklab:error'].includes(ev.data?.type)) return;
    const err = validMessage(ev.data);
    const id = ev.data && typeof ev.data === 'object' && 'id' in ev.data && !err ? { id: ev.data.id } : {};
    const reply = (msg) => ev.source?.postMessage({ ...msg, ...id }, ev.origin);
    if (err) {
      if (isOurs) reply({ type: 'hooklab:error', error: err });
      return;
    }
    if (ev.data.type === 'hooklab:set-state') {
      // Values the lab cannot use are not applied: said, with what each field expects.
      const bad = setState(ev.data.state) ?? [];
      if (bad.length) reply({ type: 'hooklab:error', error: fieldErrorText(bad), fields: bad.map(({ key, value }) => ({ key, value, expected: EXPECTS[key] ?? null })) });
    }
    if (ev.data.type === 'hooklab:get-result') return reply({ type: 'hooklab:result', result: getExport() });
    reply({ type: 'hooklab:state', state: Object.fromEntries(paramsOf(getState())) });
  }
  let paramsOf = () => new URLSearchParams();
  return {
    setParamsOf(f) { paramsOf = f; },
    stateChanged(q) { toParent({ type: 'hooklab:state', state: Object.fromEntries(q) }); },
    resultChanged(obj) {
      if (!obj) return;
      const { baseline, intervened } = obj;
      toParent({ type: 'hooklab:result', result: { model: obj.model, prompt: obj.prompt, interventions: obj.interventions,
        resid_std: [baseline.resid_std, intervened.resid_std], hidden_std: [baseline.hidden_std, intervened.hidden_std],
        top1: [baseline.top[0], intervened.top[0]], nonfinite: intervened.nonfinite } });
    },
  };
}
