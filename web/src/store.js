// The page's one mutable object: what the user asked for (`st`, the URL state, made of
// state.js's slices), what the worker loaded, the latest results, and the UI's own bits.
// Every module reads and writes this object, none keeps state of its own. Redraws follow it
// by subscription: whoever changes it says what changed (`changed(app, 'result')`), and each
// panel is subscribed to the changes it draws (panels/index.js's table).
import { makeT } from './i18n.js';

export function createApp(st, client) {
  return {
    st,
    t: makeT(st.lang),
    client,
    modelInfo: null, // what the worker loaded: {config, rawConfig, fromCache, bytes, weightBytes, key, origin, fileName?}
    loadedKey: null,
    defaultName: 'HookLab-Circuits 12×192',
    bundled: {}, // the bundled models' {name, bytes} from their files.json, for the picker (model-info.js)
    localFiles: null, // files picked so far for a local model
    result: null, // {state, model, baseline, intervened}
    lensResult: null, // {for: result, layers}
    lensStatus: null, // {key, vars} | {error} | null: the logit lens's progress line
    charts: {}, // Chart.js instances by key
    answers: {}, // predict mode: question id → true/false
    revealed: false,
    codeTab: 'hf',
    status: null, // {key, vars}: re-worded when the language changes
    tokenCount: null, // {n, ctx}
    error: null, // {key, vars, raw} or null
    fieldErrors: {}, // field id → {key, vars}
    controlWriters: [], // write(app) of each panel's own controls, run by form.js writeControls (panels add theirs when bound)
    refused: [], // link values replaced by defaults: ['ex3=9,abc', …]
    runTimer: 0,
    loading: null, // the model key being loaded
    embed: null,
    authorParams: null, // the author's values (URL at load, then set-state): author.js
    resultParts: {}, // view name → () => its result for the export, or null (export.js); panels add theirs
    pendingChecks: [], // () => a view name while its autorun has not finished, else null
    autoruns: [], // (app) => void, after each run: the views' automatic runs (autorun)
    subscribers: [], // [{topics, fn}] in the order they subscribed: subscribe() / changed()
  };
}

// What a change can be: every subscriber names the ones it draws.
export const TOPICS = Object.freeze({
  lang: 'the language: every text',
  model: 'a model loaded: its facts and the picker\'s labels',
  result: 'a run\'s result; predict mode revealed',
  view: 'how the results are shown: the chart\'s series and scale, the statistic, no model to show',
  predict: 'predict mode switched',
  lesson: 'a lesson opened, switched or closed (the chapter\'s questions come from it)',
});

/** fn(app) on each of the topics' changes, after the earlier subscribers. */
export function subscribe(app, topics, fn) {
  for (const t of topics) if (!(t in TOPICS)) throw new Error(`subscribe: no topic ${t}`);
  app.subscribers.push({ topics, fn });
}

/** Says what changed: each subscriber to any of the topics runs once, in subscription order. */
export function changed(app, ...topics) {
  for (const t of topics) if (!(t in TOPICS)) throw new Error(`changed: no topic ${t}`);
  for (const s of app.subscribers) if (s.topics.some((t) => topics.includes(t))) s.fn(app);
}

export function setLang(app, lang) {
  app.st.lang = lang;
  app.t = makeT(lang);
}
