// The Generate panel (issue #12): the baseline and the intervened continuation of the
// prompt side by side, streamed token by token from the engine worker, each token tinted
// by the model's probability of it; stop, seed and sampling settings, URL state, export.
// It asks through the engine client (worker-api.js: the protocol's 'generate' request, its
// tokens as events, Stop cancels it; the worker side is worker/generate.js); wired by main.js
// (mount, URL settings via state.js and generate-state.js).
// Its strings are generate-strings.js's (in i18n.js's table).
import { makeT } from '../i18n.js';
import { GEN_DEFAULTS } from '../generate-state.js';
import { mountCodeTabs } from './code-tabs.js';
import './generate-strings.js';

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const kid of kids) e.append(kid);
  return e;
}

/**
 * Mounts the panel into `root`.
 * @param opts {client: the EngineClient, lang: 'en'|'vi', getInput: () => ({prompt, interventions}),
 *   settings: initial settings (genStateFromParams), onSettings(settings): called when they change (URL state),
 *   code(tab, settings): the equivalent program ('hf' | 'tl' | 'nn') for the code fold (none without it),
 *   onResult(result): called when a generation finishes (the embed API's hooklab:result)}
 * @returns {setLang(lang), refreshCode(), settings(), generate(), stop(), setSettings(s), result(), busy()}
 */
export function mountGeneratePanel(root, opts) {
  let lang = opts.lang === 'vi' ? 'vi' : 'en';
  const t = (key) => makeT(lang)(key);
  const settings = { ...GEN_DEFAULTS, ...(opts.settings || {}) };
  let current = null;  // the request in flight: {job (the client's promise), request}
  let lastResult = null;  // what Export writes

  const inputs = {
    maxNewTokens: el('input', { type: 'number', min: '1', max: '1024', step: '1' }),
    temperature: el('input', { type: 'number', min: '0', max: '10', step: '0.1' }),
    topK: el('input', { type: 'number', min: '0', step: '1' }),
    topP: el('input', { type: 'number', min: '0.01', max: '1', step: '0.05' }),
    seed: el('input', { type: 'number', min: '0', step: '1' }),
  };
  const labels = {};
  const controls = el('div', { class: 'gen-controls' });
  for (const [k, input] of Object.entries(inputs)) {
    input.value = String(settings[k]);
    input.addEventListener('change', () => {
      const x = Number(input.value);
      if (input.checkValidity() && Number.isFinite(x)) {
        settings[k] = x;
        opts.onSettings?.({ ...settings });
        code?.refresh();
      } else {
        input.value = String(settings[k]);
      }
    });
    labels[k] = el('span');
    controls.append(el('label', {}, labels[k], ' ', input));
  }
  const goBtn = el('button', { type: 'button', class: 'gen-go', onclick: () => generate() });
  const stopBtn = el('button', { type: 'button', class: 'gen-stop', onclick: () => stop() });
  const exportBtn = el('button', { type: 'button', class: 'gen-export', onclick: () => exportJson() });
  stopBtn.disabled = true;
  exportBtn.disabled = true;
  controls.append(goBtn, stopBtn, exportBtn);
  const hint = el('p', { class: 'hint' });
  const legend = el('p', { class: 'hint' });
  const status = el('p', { class: 'hint', 'aria-live': 'polite' });
  const cols = {};
  const heads = {};
  const colWrap = el('div', { class: 'gen-cols' });
  for (const which of ['baseline', 'intervened']) {
    heads[which] = el('h3');
    cols[which] = el('div', { class: 'gen-text', 'aria-live': 'off' });
    colWrap.append(el('div', { class: `gen-col gen-${which}` }, heads[which], cols[which], el('p', { class: 'hint gen-why' })));
  }
  const title = el('h2');
  root.append(title, controls, hint, colWrap, legend, status);
  // The equivalent code (greedy, under the page's interventions): opts.code(tab, settings).
  const code = opts.code ? mountCodeTabs(root, { lang, name: 'gen', code: (tab) => opts.code(tab, { ...settings }) }) : null;

  function render() {
    title.textContent = t('genTitle');
    for (const k of Object.keys(inputs)) labels[k].textContent = t(k === 'maxNewTokens' ? 'genMaxNew' : `gen${k[0].toUpperCase()}${k.slice(1)}`);
    goBtn.textContent = t('genGenerate');
    stopBtn.textContent = t('genStop');
    exportBtn.textContent = t('genExport');
    hint.textContent = t('genGreedy');
    legend.textContent = t('genLegend');
    heads.baseline.textContent = t('genBaseline');
    heads.intervened.textContent = t('genIntervened');
  }

  function tokenSpan(t) {
    // Darker = likelier; a floor keeps unlikely tokens visible as tokens.
    const a = 0.08 + 0.62 * Math.max(0, Math.min(1, t.prob));
    const span = el('span', { class: 'gen-tok', title: `${JSON.stringify(t.token)} p = ${t.prob.toPrecision(3)}` });
    span.style.background = `rgba(0, 114, 178, ${a.toFixed(3)})`;
    if (a > 0.45) span.style.color = '#fff';
    span.textContent = t.token;
    return span;
  }

  function finish(done, m) {
    if (current !== done) return;
    current = null;
    goBtn.disabled = false;
    stopBtn.disabled = true;
    if (m.error) {
      status.textContent = m.error.message;
      return;
    }
    lastResult = { ...done.request, ...m.value };
    exportBtn.disabled = false;
    opts.onResult?.(lastResult);
    for (const which of ['baseline', 'intervened']) {
      const r = m.value[which];
      const why = colWrap.querySelector(`.gen-${which} .gen-why`);
      why.textContent = r ? `${t(`genWhy_${r.stopped}`)} · ${r.tokens_per_s.toFixed(1)} ${t('genTokensPerS')}` : t('genStopped');
    }
    status.textContent = m.value.stoppedByUser ? t('genStopped') : '';
  }

  function generate() {
    if (current) return;
    const { prompt, interventions } = opts.getInput();
    const request = { prompt, interventions, ...settings };
    for (const which of ['baseline', 'intervened']) {
      cols[which].replaceChildren(el('span', { class: 'prompt' }, prompt));
      colWrap.querySelector(`.gen-${which} .gen-why`).textContent = '';
    }
    goBtn.disabled = true;
    stopBtn.disabled = false;
    status.textContent = t('genRunning');
    const done = { request };
    done.job = opts.client.generate(request, { onEvent: (e) => { if (current === done) cols[e.which].append(tokenSpan(e.token)); } });
    current = done;
    done.job.then((value) => finish(done, { value }), (error) => finish(done, { error }));
  }

  function stop() {
    current?.job.cancel();
  }

  function exportJson() {
    if (!lastResult) return;
    const blob = new Blob([JSON.stringify(lastResult, null, 2) + '\n'], { type: 'application/json' });
    const a = el('a', { href: URL.createObjectURL(blob), download: 'hooklab-generate.json' });
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  render();
  return {
    setLang(l) { lang = l === 'vi' ? 'vi' : 'en'; render(); code?.setLang(lang); },
    /** Writes the code fold again (the state's prompt or interventions changed). */
    refreshCode() { code?.refresh(); },
    settings: () => ({ ...settings }),
    generate,
    stop,
    /** New settings from the page state (a set-state, Reset): the inputs follow. */
    setSettings(s) {
      for (const k of Object.keys(inputs)) if (s && k in s) { settings[k] = s[k]; inputs[k].value = String(s[k]); }
      code?.refresh();
    },
    result: () => lastResult, // what Export writes, or null
    busy: () => !!current,
  };
}
