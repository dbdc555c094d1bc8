// <gpt2-hooklab> — the lab as a custom element for course pages.
//
//   <script type="module" src="https://…/hooklab-element.js"></script>
//   <gpt2-hooklab model="default" lang="vi" prompt="The quick brown fox" ex3="9,0.1" ex4="9,10"></gpt2-hooklab>
//
// Attributes: every key of the page's URL (the one list, web/src/keys.js: model, prompt,
// lang, ex1..ex4, view, scale, topk, hook, stat, hl, lens, predict, iv, heads, repeat, the
// patching keys pclean pcorr pans pwrong phook pmetric pmethod, the generation keys gn gt gk
// gp gs, and the author's controls autorun, locked, views, picker). The element has no list
// of its own: it forwards every attribute that is not its own or a global HTML attribute, and
// the lab refuses a key it does not know with a hooklab-error naming the nearest one (a
// typo'd attribute is never silently ignored). Its own: src (the lab's index.html; default:
// next to this script), height (CSS, default 720px; "auto": the frame's content height, which
// the lab reports) and compact ("false" for the full layout; default: the compact embed).
// Course pages on another origin load this script as a module: its server must send CORS
// (web/serve.mjs does, for this file). The lab runs in an iframe; attribute changes after the
// first load are sent to it with postMessage (no reload). Events: 'hooklab-state' and
// 'hooklab-result' (detail: the data), 'hooklab-error' when the lab refuses a message, a key
// or a value (detail: {message, fields}: the lab's text, and [{key, value, expected,
// suggestion?}] for keys and values it cannot use, else null); el.state is the last state the
// lab reported; el.getResult() resolves to the full export (every view's result), once the
// run and every autorun view have finished. Messages carry v: 1 (docs/embedding.md).
// A course page on ANOTHER origin than the lab must be listed in the lab's embed-origins.json
// (next to its index.html): until then the lab ignores it, logs a console warning naming the
// origin, and getResult() rejects after its timeout saying so.
const OWN = ['src', 'height', 'compact'];
const GLOBAL = new Set(['id', 'class', 'style', 'title', 'hidden', 'slot', 'part', 'exportparts', 'tabindex', 'dir', 'is', 'nonce', 'autofocus',
  'inert', 'draggable', 'contenteditable', 'spellcheck', 'translate', 'accesskey', 'enterkeyhint', 'inputmode', 'popover', 'role',
  'itemscope', 'itemprop', 'itemtype', 'itemid', 'itemref', 'autocapitalize', 'virtualkeyboardpolicy', 'writingsuggestions']);
const isStateAttr = (a) => !OWN.includes(a) && !GLOBAL.has(a) && !/^(data-|aria-|on)/.test(a);
const V = 1; // the postMessage API's version
const scriptBase = new URL('./', import.meta.url);

class Gpt2HookLab extends HTMLElement {
  static get observedAttributes() { return OWN; } // the lab's keys: a MutationObserver (any name)

  constructor() {
    super();
    this.attachShadow({ mode: 'open' });
    this.frame = document.createElement('iframe');
    this.frame.setAttribute('title', 'GPT-2 Hook Lab');
    this.frame.setAttribute('part', 'frame');
    // Threads inside the frame need the host page isolated too and this permission (web/README, Threads).
    this.frame.setAttribute('allow', 'cross-origin-isolated');
    this.frame.style.cssText = 'border:0;width:100%;display:block';
    this.shadowRoot.append(this.frame);
    this.loaded = false;
    this.frame.addEventListener('load', () => { if (this.frame.src) this.loaded = true; }); // every load of the lab (not about:blank)
    this.state = null;
    this.requests = 0;
    this.onMessage = this.onMessage.bind(this);
    // Every other attribute is a lab key: its changes go to the lab (set-state).
    this.observer = new MutationObserver((records) => {
      const state = {};
      for (const r of records) if (isStateAttr(r.attributeName)) state[r.attributeName] = this.getAttribute(r.attributeName);
      if (!Object.keys(state).length || !this.isConnected || !this.frame.src) return;
      if (!this.loaded) { this.frame.src = this.buildSrc(); return; }
      this.setState(state);
    });
  }

  get autoHeight() { return this.getAttribute('height') === 'auto'; }

  get labUrl() { return new URL(this.getAttribute('src') || 'index.html', scriptBase); }

  connectedCallback() {
    window.addEventListener('message', this.onMessage);
    if (!this.style.display) this.style.display = 'block';
    this.frame.style.height = this.autoHeight ? '720px' : this.getAttribute('height') || '720px';
    this.observer.observe(this, { attributes: true });
    this.frame.src = this.buildSrc();
  }

  disconnectedCallback() { window.removeEventListener('message', this.onMessage); this.observer.disconnect(); }

  buildSrc() {
    const u = this.labUrl;
    for (const a of this.getAttributeNames()) if (isStateAttr(a)) u.searchParams.set(a, this.getAttribute(a));
    if (this.getAttribute('compact') !== 'false') u.searchParams.set('embed', '1');
    return u.href;
  }

  attributeChangedCallback(name, oldV, newV) {
    if (oldV === newV || !this.isConnected || !this.frame.src) return;
    if (name === 'height') { if (newV !== 'auto') this.frame.style.height = newV || '720px'; return; }
    this.loaded = false; // src, compact: a new page
    this.frame.src = this.buildSrc();
  }

  setState(state) {
    this.frame.contentWindow?.postMessage({ type: 'hooklab:set-state', v: V, state }, this.labUrl.origin);
  }

  // Resolves to the lab's full export (docs/embedding.md: the run, and every view's result);
  // waits while no run has finished, or an autorun view (a patching sweep…) is still running.
  // Rejects after `timeout` ms, e.g. when the lab refuses this page's origin.
  getResult({ timeout = 20000 } = {}) {
    const id = `getResult-${++this.requests}-${Date.now()}`;
    const lab = this.labUrl.origin;
    return new Promise((resolve, reject) => {
      let answered = false;
      const done = () => { clearTimeout(timer); window.removeEventListener('message', h); };
      const timer = setTimeout(() => {
        done();
        if (answered) return reject(new Error(`<gpt2-hooklab>: getResult(): the lab at ${lab} has no finished run after ${timeout} ms (still loading its model, or the run failed: see the lab).`));
        const cross = lab !== location.origin;
        reject(new Error(`<gpt2-hooklab>: getResult(): no answer from the lab at ${lab} within ${timeout} ms.`
          + (cross ? ` Is this page's origin (${location.origin}) listed in "allowedOrigins" of ${new URL('embed-origins.json', this.labUrl).href}? The lab's console names every origin it refused.` : ' Has the lab loaded?')));
      }, timeout);
      const ask = () => this.frame.contentWindow?.postMessage({ type: 'hooklab:get-result', v: V, id }, lab);
      const h = (ev) => {
        if (ev.source !== this.frame.contentWindow || ev.origin !== lab || ev.data?.type !== 'hooklab:result') return;
        if (ev.data.id === id) {
          answered = true;
          if (ev.data.result) { done(); resolve(ev.data.result); }
          // else: no run has finished yet; ask again after the next one (a broadcast, no id)
        } else if (!('id' in ev.data)) ask();
      };
      window.addEventListener('message', h);
      ask();
    });
  }

  onMessage(ev) {
    if (ev.source !== this.frame.contentWindow || ev.origin !== this.labUrl.origin) return;
    const d = ev.data;
    if (!d || typeof d.type !== 'string') return;
    if ('id' in d) return; // an answer to one request (getResult), not an event
    if (d.type === 'hooklab:size') {
      // height="auto": the frame as tall as the lab's page.
      if (this.autoHeight && Number.isFinite(d.height) && d.height > 0) this.frame.style.height = `${Math.ceil(d.height)}px`;
      return;
    }
    if (d.type === 'hooklab:state') {
      this.state = d.state;
      this.dispatchEvent(new CustomEvent('hooklab-state', { detail: d.state }));
    }
    if (d.type === 'hooklab:result') this.dispatchEvent(new CustomEvent('hooklab-result', { detail: d.result }));
    if (d.type === 'hooklab:error') this.dispatchEvent(new CustomEvent('hooklab-error', { detail: { message: String(d.error ?? ''), fields: Array.isArray(d.fields) ? d.fields : null } }));
  }
}

if (!customElements.get('gpt2-hooklab')) customElements.define('gpt2-hooklab', Gpt2HookLab);
export { Gpt2HookLab };
