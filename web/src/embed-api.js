// postMessage API for a host page that embeds the lab in an iframe (directly, or through
// the <gpt2-hooklab> element). Inbound messages are accepted only from this page's own
// origin and from the origins listed in embed-origins.json (deployer's allow-list,
// {"allowedOrigins": ["https://course.example"]}), and only in these shapes:
//   {type: 'hooklab:set-state', state: {model?, prompt?, lang?, ex1?..ex4?, view?, scale?, topk?, predict?}}
//     (values are strings, numbers, booleans or null; null/false switches an exercise off)
//   {type: 'hooklab:get-state'}   → {type: 'hooklab:state', state: {...}}
//   {type: 'hooklab:get-result'}  → {type: 'hooklab:result', result: <export JSON> | null}
// Outbound, to the allowed parent origins: 'hooklab:state' on every change, 'hooklab:result'
// after every run, 'hooklab:error' for a refused message (to a known origin only).

const KEYS = new Set(['model', 'prompt', 'lang', 'ex1', 'ex2', 'ex3', 'ex4', 'view', 'scale', 'topk', 'predict', 'lens']);
const MAX_PROMPT = 4000;

export function validMessage(data) {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return 'not an object';
  if (typeof data.type !== 'string' || !data.type.startsWith('hooklab:')) return 'no hooklab type';
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

export function initEmbedApi({ getState, setState, getExport }) {
  const self = location.origin;
  let allowed = new Set([self]);
  fetch(new URL('embed-origins.json', location.href))
    .then((r) => (r.ok ? r.json() : {}))
    .then((j) => { for (const o of j.allowedOrigins || []) if (typeof o === 'string') allowed.add(o); })
    .catch(() => {});
  const parent = window.parent !== window ? window.parent : null;
  const toParent = (msg) => {
    if (!parent) return;
    for (const o of allowed) {
      try { parent.postMessage(msg, o); } catch { /* wrong origin: dropped */ }
    }
  };
  window.addEventListener('message', (ev) => {
    if (!allowed.has(ev.origin)) return; // silently: unknown origins get nothing back
    // Our own outbound messages (a top-level page hears itself): never answered.
    if (['hooklab:state', 'hooklab:result', 'hooklab:error'].includes(ev.data?.type)) return;
    const err = validMessage(ev.data);
    const reply = (msg) => ev.source?.postMessage(msg, ev.origin);
    if (err) {
      if (ev.data && typeof ev.data.type === 'string' && ev.data.type.startsWith('hooklab:')) reply({ type: 'hooklab:error', error: err });
      return;
    }
    if (ev.data.type === 'hooklab:set-state') setState(ev.data.state);
    if (ev.data.type === 'hooklab:get-result') return reply({ type: 'hooklab:result', result: getExport() });
    reply({ type: 'hooklab:state', state: Object.fromEntries(paramsOf(getState())) });
  });
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
