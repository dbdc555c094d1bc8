// Predict, then reveal: the questions for the current run (truths from analysis.js),
// the learner's answers, and whether the results are hidden until the reveal.
import { $ } from '../dom.js';
import { setShown } from '../lazy.js';
import { fmtNum } from '../i18n.js';
import { quizTruths, finite } from '../analysis.js';
import { interventionsOf } from '../state.js';

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
  if (!on || !result) return;
  const s = result.state;
  for (const q of quizTruths(interventionsOf(s), s.ex, result.baseline, result.intervened)) {
    const vars = { ...q.vars };
    if ('f' in vars) vars.f = fmtNum(vars.f, st.lang);
    const fs = document.createElement('fieldset');
    fs.className = 'question';
    const lg = document.createElement('legend');
    lg.textContent = t(q.key, vars);
    fs.append(lg);
    for (const [val, label] of [[true, t('yes')], [false, t('no')]]) {
      const l = document.createElement('label');
      const r = document.createElement('input');
      r.type = 'radio';
      r.name = `q-${q.id}`;
      r.value = String(val);
      r.checked = app.answers[q.id] === val;
      r.disabled = app.revealed;
      r.addEventListener('change', () => { app.answers[q.id] = val; });
      l.append(r, ` ${label}`);
      fs.append(l);
    }
    if (app.revealed) {
      const p = document.createElement('p');
      const held = app.answers[q.id] === undefined || q.truth === null ? null : app.answers[q.id] === q.truth;
      p.className = held === null ? 'hint' : held ? 'ok' : 'bad';
      const verdict = held === null ? '' : held ? `✓ ${t('predictHeld')} ` : `✗ ${t('predictFailed')} `;
      p.textContent = `${verdict}${t('actual', { a: q.truth === null ? '—' : q.truth ? t('yes') : t('no') })}${detail(app, q)}`;
      fs.append(p);
    }
    box.append(fs);
  }
}

// The figure behind the recovery question, or why there is none.
function detail({ t, st }, q) {
  if (q.id !== 'recover') return '';
  if (q.reason) return ` (${t(`reason_${q.reason}`, { l: q.vars.l })})`;
  if (!finite(q.net)) return '';
  const net = fmtNum(Math.abs(q.net), st.lang, 2);
  return ` (${t(q.net < 0 ? 'netAmplified' : q.net > 100 ? 'netOvershot' : 'netUndid', { net })})`;
}
