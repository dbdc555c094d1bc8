// The Generate panel as a view of the page (panels/index.js's table): its part of the page
// is generate-panel.js's widget in #generate-section, asking through the one client (the
// streamed generate request); its settings are the `generate` slice's keys (gn…gs, in the
// URL and set-state); with autorun=generate it generates after each run whose input
// (model, prompt, interventions, settings) it has not generated yet, and the export and the
// embed API read its result.
import { $ } from '../dom.js';
import { interventionsOf } from '../state.js';
import { loadedModelId } from '../model-name.js';
import { generateCode } from './code.js';
import { mountGeneratePanel } from './generate-panel.js';

export function mountGenerateView(app, page) {
  const panel = mountGeneratePanel($('generate-section'), {
    client: app.client, lang: app.st.lang, settings: app.st.gen,
    getInput: () => ({ prompt: app.st.prompt, interventions: interventionsOf(app.st) }),
    onSettings: (s) => { app.st.gen = { ...s }; page.syncUrl(); },
    onResult: () => { if (window.parent !== window) app.notifyResult(); },
    code: (tab, gen) => generateCode(app, tab, gen),
  });
  app.genPanel = panel;
  app.resultParts.generation = () => panel.result();
  app.controlWriters.push(() => panel.setSettings(app.st.gen)); // set-state's gn…gs
  const key = () => JSON.stringify([loadedModelId(app), app.st.prompt, interventionsOf(app.st), app.st.gen]);
  const auto = () => app.st.autorun.includes('generate');
  app.pendingChecks.push(() => (auto() && (panel.busy() || app.genAutoKey !== key()) ? 'generate' : null));
  app.autoruns.push(() => {
    if (!auto() || panel.busy() || app.genAutoKey === key()) return;
    app.genAutoKey = key();
    panel.generate();
  });
}

export const renderGenerateView = (app) => app.genPanel?.setLang(app.st.lang);
