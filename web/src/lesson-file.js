// A lesson as a file (issue #28; the format: docs/lessons.md). One Markdown file holds the
// lesson's text in each of its languages, its experiments (page states: the URL keys of
// state.js's KEYS) and its predict-then-reveal questions (each names a truth of lesson-truths.js).
// Pure: no DOM, no engine; the page (panels/lesson-panel.js) and the node checker
// (`npx hooklab check`, wasm/js/lesson-check.js) both read lessons with parseLesson. Strict:
// an unknown key, truth, experiment, language or choice is an error naming it, with the
// nearest valid name (closestKey, the engine's did-you-mean rule).
import { closestKey } from '../../wasm/js/errors.js';
import { KEYS, stateFromParams } from './state.js';
import { TRUTHS, TRUTH_NAMES, needsError } from './lesson-truths.js';

export const LANGS = Object.freeze(['en', 'vi']);
// Keys an experiment may not set: they are the page's frame, not the experiment.
const NOT_IN_EXPERIMENTS = ['lang', 'lesson', 'embed', 'locked', 'views', 'autorun', 'picker', 'predict'];
const EXPERIMENT_KEYS = Object.keys(KEYS).filter((k) => !NOT_IN_EXPERIMENTS.includes(k));

export class LessonError extends Error {
  constructor(message) { super(message); this.name = 'LessonError'; }
}

const mean = (name, list) => {
  const near = closestKey(name, list);
  return near ? ` (did you mean "${near}"?)` : '';
};

/**
 * Reads a lesson file. Returns {id, model, langs, title: {lang: text}, blocks, experiments,
 * questions}: blocks in file order ({type: 'text', lang, md} | {type: 'experiment', id} |
 * {type: 'question', id}); experiments: {id: {id, keys (the URL strings), state}};
 * questions: [{id, experiment, truth, params, text: {lang}, choices: [{value, label: {lang}}] |
 * 'block'}]. Throws LessonError "FILE:LINE: …" at the first fault.
 */
export function parseLesson(text, file = 'lesson') {
  const lines = String(text).replace(/\r\n?/g, '\n').split('\n');
  const fail = (i, msg) => { throw new LessonError(`${file}:${i + 1}: ${msg}`); };
  const kv = (i, line, where) => {
    const m = /^([A-Za-z0-9_.-]+(?: [A-Za-z0-9_-]+)?)\s*:\s?(.*)$/.exec(line);
    if (!m) fail(i, `expected "key: value" in ${where}, got "${line.trim()}"`);
    return [m[1], m[2].trim()];
  };
  if (lines[0] !== '---') fail(0, 'a lesson starts with its front matter: a line "---", then "id: …", "langs: en, vi", "title.en: …"');
  const front = {};
  let i = 1;
  for (; i < lines.length && lines[i] !== '---'; i++) {
    if (!lines[i].trim() || lines[i].startsWith('#')) continue;
    const [k, v] = kv(i, lines[i], 'the front matter');
    if (k in front) fail(i, `"${k}" is given twice`);
    front[k] = { v, i };
  }
  if (i >= lines.length) fail(0, 'the front matter is not closed by a line "---"');
  const FRONT = ['id', 'model', 'langs', ...LANGS.map((l) => `title.${l}`)];
  for (const [k, { i: at }] of Object.entries(front)) if (!FRONT.includes(k)) fail(at, `unknown front-matter key "${k}"${mean(k, FRONT)}; the keys are ${FRONT.join(', ')}`);
  for (const k of ['id', 'langs']) if (!front[k]) fail(0, `the front matter needs "${k}"`);
  if (!/^[a-z0-9-]+$/.test(front.id.v)) fail(front.id.i, `id "${front.id.v}": lower-case letters, digits and "-" only`);
  const langs = front.langs.v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const l of langs) if (!LANGS.includes(l)) fail(front.langs.i, `unknown language "${l}"${mean(l, LANGS)}; the page speaks ${LANGS.join(', ')}`);
  if (!langs.length || new Set(langs).size !== langs.length) fail(front.langs.i, 'langs: each language once, e.g. "en, vi"');
  const title = {};
  for (const l of langs) {
    if (!front[`title.${l}`]) fail(0, `the front matter needs "title.${l}"`);
    title[l] = front[`title.${l}`].v;
  }
  for (const l of LANGS) if (!langs.includes(l) && front[`title.${l}`]) fail(front[`title.${l}`].i, `title.${l} is given but "${l}" is not in langs`);
  const lesson = { id: front.id.v, model: front.model?.v ?? 'default', langs, title, blocks: [], experiments: {}, questions: [] };
  const texts = Object.fromEntries(langs.map((l) => [l, 0]));

  const pending = []; // questions, checked once every experiment is known
  for (i++; i < lines.length; i++) {
    const line = lines[i];
    if (!line.trim()) continue;
    let m;
    if ((m = /^:::\s*(\S+)\s*$/.exec(line))) {
      const lang = m[1];
      if (!langs.includes(lang)) fail(i, `unknown language section ":::${lang}"${mean(lang, langs)}; this lesson's langs are ${langs.join(', ')}`);
      const start = i;
      const body = [];
      let fence = false;
      for (i++; i < lines.length; i++) {
        if (/^\s*```/.test(lines[i])) fence = !fence;
        if (!fence && /^:::\s*$/.test(lines[i])) break;
        if (!fence && /^:::/.test(lines[i])) fail(i, 'a language section cannot hold another (close it with a line ":::")');
        body.push(lines[i]);
      }
      if (i >= lines.length) fail(start, `the section ":::${lang}" is not closed by a line ":::"`);
      lesson.blocks.push({ type: 'text', lang, md: body.join('\n').trim() });
      texts[lang]++;
      continue;
    }
    if ((m = /^```(\S+)(?:\s+(\S+))?\s*$/.exec(line)) && (m[1] === 'experiment' || m[1] === 'question' || closestKey(m[1], ['experiment', 'question']))) {
      const kind = m[1];
      if (kind !== 'experiment' && kind !== 'question') fail(i, `unknown block "${kind}"${mean(kind, ['experiment', 'question'])}`);
      const id = m[2];
      if (!id || !/^[A-Za-z0-9_-]+$/.test(id)) fail(i, `a ${kind} block needs an id after "${kind}" (letters, digits, "-", "_")`);
      const start = i;
      const fields = {};
      for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) {
        if (!lines[i].trim() || lines[i].trim().startsWith('#')) continue;
        const [k, v] = kv(i, lines[i], `${kind} ${id}`);
        if (k in fields) fail(i, `"${k}" is given twice in ${kind} ${id}`);
        fields[k] = { v, i };
      }
      if (i >= lines.length) fail(start, `the ${kind} block "${id}" is not closed by a line "\`\`\`"`);
      if (kind === 'experiment') {
        if (lesson.experiments[id]) fail(start, `experiment "${id}" is declared twice`);
        const keys = {};
        for (const [k, { v, i: at }] of Object.entries(fields)) {
          if (!EXPERIMENT_KEYS.includes(k)) fail(at, NOT_IN_EXPERIMENTS.includes(k) ? `"${k}" is the page's, not an experiment's` : `unknown key "${k}" in experiment ${id}${mean(k, EXPERIMENT_KEYS)}; an experiment's keys are the page's URL keys (docs/embedding.md)`);
          keys[k] = v;
        }
        const refused = [];
        const state = stateFromParams(keys, 'en', refused);
        if (refused.length) {
          const r = refused[0];
          fail(fields[r.key]?.i ?? start, `bad value for ${r.key} in experiment ${id}: "${r.value}"; expected ${KEYS[r.key]?.expects ?? 'a valid value'}`);
        }
        lesson.experiments[id] = { id, keys, state };
        lesson.blocks.push({ type: 'experiment', id });
      } else {
        if (pending.some((q) => q.id === id)) fail(start, `question "${id}" is declared twice`);
        pending.push({ id, fields, start });
        lesson.blocks.push({ type: 'question', id });
      }
      continue;
    }
    fail(i, `text outside a language section: put it between ":::${langs[0]}" and ":::" (or in an experiment or question block)`);
  }
  for (const l of langs) if (!texts[l]) fail(0, `no ":::${l}" section: every language of langs needs its text`);

  const expIds = Object.keys(lesson.experiments);
  for (const { id, fields, start } of pending) {
    const at = (k) => fields[k]?.i ?? start;
    const need = (k) => { if (!fields[k]) fail(start, `question ${id} needs "${k}"`); return fields[k].v; };
    const truth = need('truth');
    if (!TRUTHS[truth]) fail(at('truth'), `unknown truth "${truth}"${mean(truth, TRUTH_NAMES)}; the truths are ${TRUTH_NAMES.join(', ')} (web/src/lesson-truths.js)`);
    const T = TRUTHS[truth];
    const exp = need('experiment');
    if (!lesson.experiments[exp]) fail(at('experiment'), `unknown experiment "${exp}"${mean(exp, expIds)}; this lesson declares ${expIds.join(', ') || 'none'}`);
    const ne = needsError(truth, lesson.experiments[exp].state);
    if (ne) fail(at('experiment'), `question ${id}: ${ne}`);
    const params = {};
    for (const [p, allowed] of Object.entries(T.params)) {
      const v = need(p);
      if (allowed === 'experiment') { if (!lesson.experiments[v]) fail(at(p), `unknown experiment "${v}"${mean(v, expIds)} for ${p}`); }
      else if (!allowed.includes(v)) fail(at(p), `bad ${p} "${v}"${mean(v, allowed)}; truth ${truth} takes ${allowed.join(', ')}`);
      params[p] = v;
    }
    const text = {};
    for (const l of langs) text[l] = need(l);
    let choices = 'block';
    const given = Object.keys(fields).filter((k) => k.startsWith('choice ')).map((k) => k.slice(7));
    if (T.choices === 'block') {
      if (given.length) fail(at(`choice ${given[0]}`), `truth ${truth} is answered with a block number: question ${id} takes no choices`);
    } else {
      for (const c of given) if (!T.choices.includes(c)) fail(at(`choice ${c}`), `unknown choice "${c}"${mean(c, T.choices)}; truth ${truth} answers ${T.choices.join(', ')}`);
      choices = T.choices.map((c) => {
        if (!fields[`choice ${c}`]) fail(start, `question ${id} needs "choice ${c}: ${langs.map((l) => `(${l} label)`).join(' | ')}"`);
        const parts = fields[`choice ${c}`].v.split('|').map((s) => s.trim());
        if (parts.length !== langs.length || parts.some((s) => !s)) fail(at(`choice ${c}`), `choice ${c}: one label per language, "${langs.join(' | ')}" order, separated by "|"`);
        return { value: c, label: Object.fromEntries(langs.map((l, j) => [l, parts[j]])) };
      });
    }
    const allowedKeys = ['truth', 'experiment', ...Object.keys(T.params), ...langs, ...(T.choices === 'block' ? [] : T.choices.map((c) => `choice ${c}`))];
    for (const k of Object.keys(fields)) if (!allowedKeys.includes(k)) fail(at(k), `unknown key "${k}" in question ${id}${mean(k, allowedKeys)}; it takes ${allowedKeys.join(', ')}`);
    lesson.questions.push({ id, experiment: exp, truth, params, text, choices });
  }
  return lesson;
}

/**
 * Checks answers ({questionId: value}) against a lesson: throws LessonError for an unknown
 * question id or a value that is not one of the question's choices (a typo is an error, not
 * a wrong answer). Returns the answers as strings.
 */
export function checkAnswers(lesson, answers, file = 'answers') {
  if (!answers || typeof answers !== 'object' || Array.isArray(answers)) throw new LessonError(`${file}: expected a JSON object {"question id": "answer", …}`);
  const ids = lesson.questions.map((q) => q.id);
  const out = {};
  for (const [k, v] of Object.entries(answers)) {
    const q = lesson.questions.find((x) => x.id === k);
    if (!q) throw new LessonError(`${file}: unknown question "${k}"${mean(k, ids)}; lesson ${lesson.id} asks ${ids.join(', ')}`);
    if (typeof v !== 'string' && typeof v !== 'number') throw new LessonError(`${file}: the answer to ${k} must be a string, got ${JSON.stringify(v)}`);
    const s = String(v);
    if (q.choices === 'block') {
      if (!/^(0|[1-9][0-9]{0,3})$/.test(s)) throw new LessonError(`${file}: the answer to ${k} is a block number (0, 1, …), got ${JSON.stringify(v)}`);
    } else {
      const values = q.choices.map((c) => c.value);
      if (!values.includes(s)) throw new LessonError(`${file}: answer "${s}" to ${k} is not one of its choices${mean(s, values)}; ${k} takes ${values.join(', ')}`);
    }
    out[k] = s;
  }
  return out;
}
