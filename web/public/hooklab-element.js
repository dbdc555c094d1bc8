// <gpt2-hooklab> — the lab as a custom element for course pages.
//
//   <script type="module" src="https://…/hooklab-element.js"></script>
//   <gpt2-hooklab model="default" lang="vi" prompt="The quick brown fox" ex3="9,0.1" ex4="9,10"></gpt2-hooklab>
//
// Attributes (the same as the page's URL parameters): model, prompt, lang, ex1 ("L.H"),
// ex2 ("L,mean,std,seed"), ex3 / ex4 ("L,factor"), view, scale, topk, predict, lens; plus
// src (the lab's index.html; default: next to this script), height (CSS, default 720px)
// and compact ("false" for the full layout; default: the compact embed layout).
// Course pages on another origin load this script as a module: its server must send CORS
// (web/serve.mjs does, for this file). The lab runs in an iframe; attribute changes after the first load are sent to it with
// postMessage (no reload). Events: 'hooklab-state' and 'hooklab-result' (detail: the data).
const STATE_ATTRS = ['model', 'prompt', 'lang', 'ex1', 'ex2', 'ex3', 'ex4', 'view', 'scale', 'topk', 'predict', 'lens'];
const scriptBase = new URL('./', import.meta.url);

class Gpt2HookLab extends HTMLElement {
  static get observedAttributes() { return [...STATE_ATTRS, 'src', 'height', 'compact']; }

  constructor() {
    super();
    this.attachShadow({ mode: 'open' });
    this.frame = document.createElement('iframe');
    this.frame.setAttribute('title', 'GPT-2 Hook Lab');
    this.frame.setAttribute('part', 'frame');
    this.frame.style.cssText = 'border:0;width:100%;display:block';
    this.shadowRoot.append(this.frame);
    this.loaded = false;
    this.onMessage = this.onMessage.bind(this);
  }

  get labUrl() { return new URL(this.getAttribute('src') || 'index.html', scriptBase); }

  connectedCallback() {
    window.addEventListener('message', this.onMessage);
    if (!this.style.display) this.style.display = 'block';
    this.frame.style.height = this.getAttribute('height') || '720px';
    this.frame.addEventListener('load', () => { this.loaded = true; }, { once: true });
    this.frame.src = this.buildSrc();
  }

  disconnectedCallback() { window.removeEventListener('message', this.onMessage); }

  buildSrc() {
    const u = this.labUrl;
    for (const a of STATE_ATTRS) if (this.hasAttribute(a)) u.searchParams.set(a, this.getAttribute(a));
    if (this.getAttribute('compact') !== 'false') u.searchParams.set('embed', '1');
    return u.href;
  }

  attributeChangedCallback(name, oldV, newV) {
    if (oldV === newV || !this.isConnected || !this.frame.src) return;
    if (name === 'height') { this.frame.style.height = newV || '720px'; return; }
    if (name === 'src' || name === 'compact' || !this.loaded) { this.loaded = false; this.frame.src = this.buildSrc(); return; }
    this.setState({ [name]: newV });
  }

  setState(state) {
    this.frame.contentWindow?.postMessage({ type: 'hooklab:set-state', state }, this.labUrl.origin);
  }

  getResult() {
    return new Promise((resolve) => {
      const h = (ev) => {
        if (ev.source !== this.frame.contentWindow || ev.data?.type !== 'hooklab:result' || !('result' in ev.data) || !ev.data.result?.baseline) return;
        window.removeEventListener('message', h);
        resolve(ev.data.result);
      };
      window.addEventListener('message', h);
      this.frame.contentWindow?.postMessage({ type: 'hooklab:get-result' }, this.labUrl.origin);
    });
  }

  onMessage(ev) {
    if (ev.source !== this.frame.contentWindow || ev.origin !== this.labUrl.origin) return;
    const d = ev.data;
    if (!d || typeof d.type !== 'string') return;
    if (d.type === 'hooklab:state') this.dispatchEvent(new CustomEvent('hooklab-state', { detail: d.state }));
    if (d.type === 'hooklab:result') this.dispatchEvent(new CustomEvent('hooklab-result', { detail: d.result }));
  }
}

if (!customElements.get('gpt2-hooklab')) customElements.define('gpt2-hooklab', Gpt2HookLab);
export { Gpt2HookLab };
