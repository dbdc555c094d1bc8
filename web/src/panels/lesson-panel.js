// A lesson file in the page (lesson=chapter, …; the format: docs/lessons.md, read by
// lesson-file.js): its text in the page's language, its experiments as buttons that put the
// page in their state, and its predict-then-reveal questions. A reveal computes the truth
// with the same truth table and the same experiment state as `npx hooklab check`
// (lesson-truths.js), on the page's own run of that state. Wired by main.js, which passes
// the engine requests and the way to open an experiment (a panel imports lower modules only).
import { makeT } from '../i18n.js';
import { describeError } from '../errors.js';
import { lessonTruths } from '../lesson-truths.js';
import { el, verdict } from './predict-ui.js';
import './lesson-panel-strings.js';
import './induction-lesson-strings.js'; // lsNoAnswer, lsReveal, lsRunning

// Inline Markdown: `code`, **bold**, *emphasis*, [text](link) (links to http(s) or relative only).
function inline(text) {
  const out = [];
  const re = /`([^`]+)`|\*\*([^*]+)\*\*|\*([^*]+)\*|\[([^\]]+)\]\(([^)\s]+)\)/g;
  let last = 0, m;
  while ((m = re.exec(text))) {
    if (m.index > last) out.push(text.slice(last, m.index));
    if (m[1] !== undefined) out.push(el('code', { text: m[1] }));
    else if (m[2] !== undefined) out.push(el('strong', { text: m[2] }));
    else if (m[3] !== undefined) out.push(el('em', { text: m[3] }));
    else out.push(/^(https?:\/\/|\.{0,2}\/|#)/.test(m[5]) ? el('a', { href: m[5], text: m[4] }) : m[4]);
    last = re.lastIndex;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** A lesson's Markdown as DOM (headings, paragraphs, "- " lists, fenced code): text only, no HTML. */
export function markdown(md) {
  const frag = document.createDocumentFragment();
  const lines = md.split('\n');
  for (let i = 0; i < lines.length;) {
    const line = lines[i];
    if (!line.trim()) { i++; continue; }
    let m;
    if (/^```/.test(line)) {
      const body = [];
      for (i++; i < lines.length && !/^```/.test(lines[i]); i++) body.push(lines[i]);
      i++;
      frag.append(el('pre', {}, el('code', { text: body.join('\n') })));
    } else if ((m = /^(#{1,4})\s+(.*)$/.exec(line))) {
      frag.append(el(`h${Math.min(6, m[1].length + 2)}`, {}, ...inline(m[2])));
      i++;
    } else if (/^\s*[-*]\s+/.test(line)) {
      const ul = el('ul');
      for (; i < lines.length && /^\s*[-*]\s+/.test(lines[i]); i++) ul.append(el('li', {}, ...inline(lines[i].replace(/^\s*[-*]\s+/, ''))));
      frag.append(ul);
    } else {
      const para = [];
      for (; i < lines.length && lines[i].trim() && !/^(```|#{1,4}\s|\s*[-*]\s)/.test(lines[i]); i++) para.push(lines[i].trim());
      frag.append(el('p', {}, ...inline(para.join(' '))));
    }
  }
  return frag;
}

/**
 * Mounts a parsed lesson into `root` (a <section>).
 * @param opts {lang, lesson (parseLesson's), engine ({run, heads}: lesson-truths.js),
 *   open(experiment): puts the page in the experiment's state}
 * @returns {setLang(lang), result(): {id, answers, truths}}
 */
export function mountLessonPanel(root, opts) {
  const { lesson } = opts;
  let lang = lesson.langs.includes(opts.lang) ? opts.lang : lesson.langs[0];
  let t = makeT(opts.lang === 'vi' ? 'vi' : 'en');
  const answers = {}, truths = {}, errors = {};
  let busy = null;
  root.classList.add('lesson-file');
  root.dataset.lesson = lesson.id;

  function question(q) {
    const fs = el('fieldset', { class: 'question', 'data-q': q.id }, el('legend', { text: q.text[lang] }));
    const revealed = q.id in truths;
    if (q.choices === 'block') {
      const input = el('input', { type: 'number', min: '0', step: '1', id: `lf-${q.id}`, 'aria-label': q.text[lang] });
      input.value = answers[q.id] ?? '';
      input.disabled = revealed;
      input.addEventListener('change', () => { answers[q.id] = /^\d+$/.test(input.value) ? String(Number(input.value)) : undefined; });
      fs.append(el('label', { for: `lf-${q.id}`, text: `${t('lfBlock')} ` }), input);
    } else {
      for (const c of q.choices) {
        const r = el('input', { type: 'radio', name: `lf-${q.id}`, value: c.value });
        r.checked = answers[q.id] === c.value;
        r.disabled = revealed;
        r.addEventListener('change', () => { answers[q.id] = c.value; });
        fs.append(el('label', {}, r, ` ${c.label[lang]}`));
      }
    }
    if (!revealed) {
      const b = el('button', { type: 'button', class: 'primary', 'data-reveal': q.id, text: busy === q.id ? t('lsRunning') : t('lsReveal') });
      b.disabled = !!busy;
      b.addEventListener('click', () => reveal(q));
      fs.append(b);
      if (errors[q.id]) fs.append(el('p', { class: 'error', role: 'alert', text: errors[q.id] }));
    } else {
      const truth = truths[q.id].truth;
      const label = truth === null ? '—' : q.choices === 'block' ? t('lfBlockN', { l: truth }) : q.choices.find((c) => c.value === truth)?.label[lang] ?? truth;
      fs.append(verdict(t, answers[q.id], truth));
      fs.append(el('p', { class: 'lesson-truth', 'data-truth': truth ?? '', text: t('actual', { a: label }) }));
    }
    return fs;
  }

  async function reveal(q) {
    busy = q.id;
    delete errors[q.id];
    render();
    try {
      const [r] = await lessonTruths(lesson, opts.engine, [q.id]);
      truths[q.id] = r;
    } catch (e) {
      const d = describeError(e.message);
      errors[q.id] = t('lsError', { msg: t(d.key, d.vars) });
    } finally {
      busy = null;
      render();
    }
  }

  function render() {
    const qs = Object.fromEntries(lesson.questions.map((q) => [q.id, q]));
    root.replaceChildren(el('h2', { class: 'lesson-title', text: lesson.title[lang] }));
    for (const b of lesson.blocks) {
      if (b.type === 'text') { if (b.lang === lang) root.append(el('div', { class: 'lesson-text', lang }, markdown(b.md))); }
      else if (b.type === 'experiment') {
        const x = lesson.experiments[b.id];
        const keys = Object.entries(x.keys).map(([k, v]) => `${k}=${v}`).join(' · ');
        root.append(el('p', { class: 'lesson-experiment', 'data-experiment': b.id },
          el('button', { type: 'button', onclick: () => opts.open(x), text: t('lfOpen') }), ' ', el('code', { text: keys })));
      } else root.append(question(qs[b.id]));
    }
  }

  render();
  return {
    setLang(l) {
      t = makeT(l === 'vi' ? 'vi' : 'en');
      lang = lesson.langs.includes(l) ? l : lesson.langs[0];
      render();
    },
    result: () => ({ id: lesson.id, answers: { ...answers }, truths: Object.fromEntries(Object.entries(truths).map(([k, v]) => [k, v.truth])) }),
  };
}
