// Predict, then reveal (predict=1): lesson 1's questions (lessons/chapter.md, the one place
// they are written) whose experiment has the interventions of the page's current run, worded
// by the file, their truths computed from that run by lesson-truths.js (the table `npx hooklab
// check` uses); the learner's answers, and whether the results are hidden until the reveal.
// With lesson=chapter open the questions are in the lesson's own panel, not repeated here.
import { $ } from '../dom.js';
import { setShown } from '../lazy.js';
import { fmtNum } from '../i18n.js';
import { finite } from '../analysis.js';
import { interventionsOf } from '../state.js';
import { parseLesson } from '../lesson-file.js';
import { lessonTruths } from '../lesson-truths.js';
import { LESSON_FILES } from '../lessons.js';

let chapter = null;
const chapterLesson = () => (chapter ??= parseLesson(LESSON_FILES.chapter.text, LESSON_FILES.chapter.file));

/** Lesson 1's questions for a state: those whose experiment has the same interventions. */
export function chapterQuestions(lesson, st) {
  const ivs = JSON.stringify(interventionsOf(st));
  if (ivs === '[]') return [];
  return lesson.questions.filter((q) => JSON.stringify(interventionsOf(lesson.experiments[q.experiment].state)) === ivs);
}

// The truths of a run's questions, computed once per result (then drawn again).
function truthsFor(app, lesson, qs) {
  const { result } = app;
  if (app.quiz?.for === result) return app.quiz.truths;
  app.quiz = { for: result, truths: null };
  const engine = { run: async () => ({ baseline: result.baseline, intervened: result.intervened }) };
  lessonTruths(lesson, engine, qs.map((q) => q.id)).then((list) => {
    if (app.quiz?.for !== result) return;
    app.quiz.truths = Object.fromEntries(list.map((r) => [r.id, r]));
    renderQuestions(app);
  }, () => {});
  return null;
}

export function renderQuestions(app) {
  const { st, t, result } = app;
  const box = $('questions');
  box.replaceChildren();
  const on = st.predict;
  $('reveal').hidden = !on || app.revealed || !result;
  const hide = on && !app.revealed;
  setShown($('result-body'), !hide);
  $('hidden-note').hidden = !hide;
  $('hidden-note').textContent = hide ? t('predictWaiting') : '';
  if (!on || !result || app.shownLesson === 'chapter') return;
  const lesson = chapterLesson();
  const lang = lesson.langs.includes(st.lang) ? st.lang : lesson.langs[0];
  const qs = chapterQuestions(lesson, result.state);
  if (!qs.length) {
    const p = document.createElement('p');
    p.className = 'hint';
    p.textContent = t('predictNone');
    box.append(p);
    return;
  }
  const truths = truthsFor(app, lesson, qs);
  for (const q of qs) {
    const fs = document.createElement('fieldset');
    fs.className = 'question';
    fs.dataset.q = q.id;
    const lg = document.createElement('legend');
    lg.textContent = q.text[lang];
    fs.append(lg);
    for (const c of q.choices) {
      const l = document.createElement('label');
      const r = document.createElement('input');
      r.type = 'radio';
      r.name = `q-${q.id}`;
      r.value = c.value;
      r.checked = app.answers[q.id] === c.value;
      r.disabled = app.revealed;
      r.addEventListener('change', () => { app.answers[q.id] = c.value; });
      l.append(r, ` ${c.label[lang]}`);
      fs.append(l);
    }
    const got = truths?.[q.id];
    if (app.revealed && got) {
      const p = document.createElement('p');
      const truth = got.truth;
      const held = app.answers[q.id] === undefined || truth === null ? null : app.answers[q.id] === truth;
      p.className = held === null ? 'hint' : held ? 'ok' : 'bad';
      const verdict = held === null ? '' : held ? `✓ ${t('predictHeld')} ` : `✗ ${t('predictFailed')} `;
      const label = truth === null ? '—' : q.choices.find((c) => c.value === truth)?.label[lang] ?? truth;
      p.textContent = `${verdict}${t('actual', { a: label })}${detail(app, q, got)}`;
      fs.append(p);
    }
    box.append(fs);
  }
}

// The figure behind the recovery question, or why there is none.
function detail({ t, st, result }, q, got) {
  if (q.truth !== 'recover') return '';
  const { net, reason } = got.detail ?? {};
  const l = Math.min(...interventionsOf(result.state).filter((iv) => iv.kind === 'scale_hidden').map((iv) => iv.layer));
  if (reason) return ` (${t(`reason_${reason}`, { l })})`;
  if (!finite(net)) return '';
  const n = fmtNum(Math.abs(net), st.lang, 2);
  return ` (${t(net < 0 ? 'netAmplified' : net > 100 ? 'netOvershot' : 'netUndid', { net: n })})`;
}
