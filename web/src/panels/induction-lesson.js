// The guided path through induction (issue #25): repeated random tokens → find the
// previous-token head → find the induction heads → ablate them and watch the loss on the
// repeated half. Each step is predict-then-reveal, as the chapter's questions are
// (questions.js): the learner commits to a guess, then the reveal runs lab.heads on the
// loaded model and says what it found, with every number from that run (the truths:
// induction-data.js). Opened by the link key lesson=induction; wired by main.js,
// which passes the worker's heads request and the lesson model's loader (a panel imports
// lower modules only).
import { makeT, fmtNum } from '../i18n.js';
import { upsertChart, renderTable, OI, reducedMotion } from '../charts.js';
import { describeError } from '../errors.js';
import { renderHeadsOverview } from './heads-overview.js';
import { headLabel, knownForScore } from '../known-heads.js';
import { R_MIN, maxR, halves, compareHalves, found, ablations, ablationVerdict, pathParts } from '../induction-data.js';
import { el, verdict as verdictOf } from './predict-ui.js';
import './heads-strings.js';
import './heads-page-strings.js';
import './induction-lesson-strings.js';


/**
 * Mounts the path into `root` (a <details>).
 * @param opts {lang, file (lesson 2, lessons/induction.md, parsed by lesson-file.js), heads(req) → Promise<{baseline, intervened}> (the worker's lab.heads),
 *   model() → {key, config, name, entry (known-heads.js), stamp} or null while none is loaded,
 *   lesson() → {name, size} of the lesson model, or null where the page has none,
 *   loadLesson(): loads it, onOpen(open): the panel was opened or closed (URL state)}
 * @returns {setLang(lang), update(), open(), result()}
 */
export function mountInductionLesson(root, opts) {
  let lang = opts.lang === 'vi' ? 'vi' : 'en';
  let t = makeT(lang);
  // The path's words, questions and inputs: lesson 2's file (lessons/induction.md), the one
  // `npx hooklab check lessons/induction.md` grades with the same truths.
  let P = pathParts(opts.file, lang);
  let S = fresh();
  let chart = null;
  let seq = 0; // the latest request; an older answer is dropped

  function fresh(model = null) {
    return { stamp: model?.stamp ?? null, r: Math.min(P.r, maxR(model?.config.n_positions ?? 1024)), seed: P.seed, answers: {}, revealed: {}, res: {}, busy: null, error: null };
  }
  const fmt = (x, d = 3) => fmtNum(x, lang, d);
  const nats = (x) => fmtNum(x, lang, 2);
  const list = (hs) => hs.map((h) => `${headLabel(h.layer, h.head)} (${fmt(h.value)})`).join(', ');
  const names = (hs) => hs.map((h) => headLabel(h.layer, h.head)).join(', ');

  root.classList.add('lesson');
  const summary = el('summary', {}, el('h2'));
  const body = el('div', { class: 'lesson-body' });
  root.append(summary, body);
  root.addEventListener('toggle', () => { opts.onOpen?.(root.open); if (root.open) update(); });

  // A radio question: [value, label] options; its answer kept in S.answers[id].
  function radios(id, legend, options) {
    const fs = el('fieldset', { class: 'question', 'data-q': id }, el('legend', { text: legend }));
    for (const [value, label] of options) {
      const r = el('input', { type: 'radio', name: `ls-${id}`, value });
      r.checked = S.answers[id] === value;
      r.disabled = !!S.revealed[id.split('-')[0]];
      r.addEventListener('change', () => { S.answers[id] = value; });
      fs.append(el('label', {}, r, ` ${label}`));
    }
    return fs;
  }
  // A block question (as a select: a model may have many blocks).
  function blockQuestion(id, legend, L) {
    const sel = el('select', { id: `ls-${id}` });
    sel.append(new Option(t('lsChoose'), ''));
    for (let l = 0; l < L; l++) sel.append(new Option(t('lsBlock', { l }), String(l)));
    sel.value = S.answers[id] ?? '';
    sel.disabled = !!S.revealed[id];
    sel.addEventListener('change', () => { S.answers[id] = sel.value || undefined; });
    return el('fieldset', { class: 'question', 'data-q': id }, el('legend', {}, el('label', { for: `ls-${id}`, text: legend })), sel);
  }
  // "✓ Your guess held." / "✗ …" for an answer against the truth (predict-ui.js).
  const verdict = (answer, truth) => verdictOf(t, answer, truth);
  function revealButton(step, run) {
    const b = el('button', { type: 'button', class: 'primary', 'data-reveal': String(step), text: S.busy === step ? t('lsRunning') : t('lsReveal') });
    b.disabled = !!S.busy || !opts.model();
    b.addEventListener('click', run);
    return b;
  }

  // Runs a reveal: the requests, then the state and the redraw; errors said in the step.
  async function reveal(step, work) {
    const my = ++seq;
    const stamp = S.stamp;
    S.busy = step;
    S.error = null;
    render();
    try {
      const out = await work();
      if (my !== seq || stamp !== S.stamp) return;
      Object.assign(S.res, out);
      S.revealed[step] = true;
    } catch (e) {
      if (my !== seq) return;
      const d = describeError(e.message);
      S.error = { step, text: t('lsError', { msg: t(d.key, d.vars) }) };
    } finally {
      if (my === seq) { S.busy = null; render(); }
    }
  }

  const run1 = () => reveal(1, async () => {
    const { baseline } = await opts.heads({ repeat: S.r, seed: String(S.seed) });
    return { rep: { r: S.r, seed: S.seed, result: baseline, halves: halves(baseline.token_loss, S.r) } };
  });
  const run2 = () => reveal(2, async () => {
    const { baseline } = await opts.heads({ prompt: P.passage });
    return { prev: { result: baseline, found: found(baseline, 'previous_token') } };
  });
  const run3 = () => reveal(3, async () => ({ ind: { found: found(S.res.rep.result, 'induction') } }));
  const run4 = () => reveal(4, async () => {
    const { r, seed, halves: base } = S.res.rep;
    const out = [];
    for (const a of ablations(S.res.ind.found, S.res.prev.found)) {
      const { intervened } = await opts.heads({ repeat: r, seed: String(seed), interventions: a.interventions });
      const h = halves(intervened.token_loss, r);
      out.push({ ...a, halves: h, ...ablationVerdict(base, h), tokenLoss: intervened.token_loss });
    }
    return { abl: out };
  });

  function step(n, title, ...kids) {
    return el('section', { class: 'lesson-step', 'data-step': String(n) },
      el('h3', {}, el('span', { class: 'hint', text: `${t('lsStep', { n })} · ` }), title), ...kids);
  }
  const check = (how) => el('p', { class: 'hint lesson-check', text: t('lsCheck', { how }) });
  const errorOf = (n) => (S.error?.step === n ? el('p', { class: 'error', role: 'alert', text: S.error.text }) : null);

  function lossChart(fig) {
    const { r, result, halves: h } = S.res.rep;
    const loss = result.token_loss;
    const labels = loss.map((_, i) => String(i));
    const half = (a, b, v) => loss.map((_, i) => (i >= a && i < b ? v : null));
    const config = {
      type: 'line',
      data: {
        labels,
        datasets: [
          { label: t('ls1Series'), data: loss.map((v) => (Number.isFinite(v) ? v : null)), borderColor: OI.blue, backgroundColor: OI.blue, borderWidth: 2, pointRadius: 2 },
          { label: t('ls1MeanFirst', { x: nats(h.first) }), data: half(0, r, h.first), borderColor: OI.vermillion, backgroundColor: OI.vermillion, borderDash: [6, 4], borderWidth: 2, pointRadius: 0 },
          { label: t('ls1MeanRepeat', { x: nats(h.repeat) }), data: half(r, 2 * r, h.repeat), borderColor: OI.green, backgroundColor: OI.green, borderDash: [2, 3], borderWidth: 2, pointRadius: 0 },
        ],
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: reducedMotion() ? false : { duration: 250 },
        interaction: { mode: 'index', intersect: false },
        plugins: { legend: { labels: { boxWidth: 18 } } },
        scales: { x: { title: { display: true, text: t('ls1AxisX') }, ticks: { maxTicksLimit: 8 } }, y: { min: 0, title: { display: true, text: t('ls1AxisY') } } },
      },
    };
    const canvas = el('canvas', { role: 'img', 'aria-label': t('ls1Chart') });
    fig.append(el('h4', { class: 'fig-title', text: t('ls1Chart') }), el('div', { class: 'canvas-box' }, canvas),
      el('figcaption', { class: 'caption', text: t('ls1Caption', { a: r - 1, b: r, c: 2 * r - 1 }) }));
    chart?.destroy();
    chart = upsertChart(null, canvas, config);
    const wrap = el('div', { class: 'table-wrap' });
    renderTable(wrap, [t('ls1Table'), t('ls1Half'), t('ls1AxisY')], loss.map((v, i) => [String(i), t(i < r ? 'ls1HalfFirst' : 'ls1HalfRepeat'), nats(v)]), t('ls1Chart'));
    fig.append(el('details', {}, el('summary', { text: t('dataTable') }), wrap));
  }

  function render() {
    const model = opts.model();
    const lesson = opts.lesson?.();
    setTitle();
    body.replaceChildren();
    body.append(el('p', { class: 'caption', text: P.intro }));
    if (!model) { body.append(el('p', { class: 'hint', text: t('lsNoModel') })); return; }
    const head = el('p', { class: 'lesson-model', text: `${t('lsOn', { name: model.name })} ` });
    if (lesson && model.key !== 'induction') {
      head.append(el('button', { type: 'button', class: 'lesson-load', onclick: () => opts.loadLesson(), text: t('lsLoad', lesson) }));
      head.append(el('span', { class: 'hint', text: ` ${t('lsLoadHint', lesson)}` }));
    }
    body.append(head);
    const L = model.config.n_layer;
    const R = S.res;

    // Step 1.
    const s1 = step(1, P.steps[0].title, el('p', { text: P.steps[0].text }));
    body.append(s1); // in the page before its chart is made (Chart.js measures its box)
    const rIn = el('input', { id: 'ls-r', type: 'number', min: String(Math.min(R_MIN, maxR(model.config.n_positions))), max: String(maxR(model.config.n_positions)), step: '1', value: String(S.r) });
    const seedIn = el('input', { id: 'ls-seed', type: 'number', min: '0', step: '1', value: String(S.seed) });
    const setInput = () => {
      const r = Number(rIn.value), s = Number(seedIn.value);
      if (!rIn.checkValidity() || !Number.isInteger(r) || !seedIn.checkValidity() || !Number.isSafeInteger(s)) return;
      if (r === S.r && s === S.seed) return;
      Object.assign(S, { r, seed: s, answers: {}, revealed: {}, res: {} });
      render();
    };
    rIn.addEventListener('change', setInput);
    seedIn.addEventListener('change', setInput);
    rIn.disabled = seedIn.disabled = !!S.busy;
    s1.append(el('div', { class: 'row' }, el('label', {}, 'R ', rIn), el('label', {}, `${t('seed')} `, seedIn)));
    s1.append(radios('1', P.questions.halves.text, P.questions.halves.choices));
    if (!S.revealed[1]) s1.append(revealButton(1, run1), errorOf(1));
    else {
      const { r, seed, result, halves: h } = R.rep;
      const truth = compareHalves(h);
      s1.append(verdict(S.answers[1], truth));
      s1.append(el('p', { class: 'lesson-found', 'data-found': '1', text: t('ls1Found', { n: result.tokens.length, r, seed, first: nats(h.first), repeat: nats(h.repeat), verdict: truth ? t(`lsCmp_${truth}`) : '—', v: model.config.vocab_size, uniform: nats(Math.log(model.config.vocab_size)) }) }));
      const fig = el('figure', { class: 'chart-fig lesson-fig' });
      s1.append(fig);
      lossChart(fig);
      s1.append(check(t('ls1How', { r, seed })));
    }
    if (!S.revealed[1]) return;

    // Step 2.
    const s2 = step(2, P.steps[1].title, el('p', { text: P.steps[1].text }), el('blockquote', { class: 'lesson-passage', text: P.passage }));
    body.append(s2);
    s2.append(blockQuestion('2', P.questions['previous-block'].text, L));
    if (!S.revealed[2]) s2.append(revealButton(2, run2), errorOf(2));
    else {
      const f = R.prev.found;
      s2.append(verdict(S.answers[2], f.best?.layer));
      s2.append(el('p', { class: 'lesson-found', 'data-found': '2', text: t(f.weak ? 'ls2Weak' : 'ls2Found', { best: fmt(f.best.value), head: headLabel(f.best.layer, f.best.head), l: f.best.layer, chance: fmt(f.chance), bar: fmt(f.bar), list: list(f.heads) }) }));
      const ov = el('div', { class: 'lesson-grid' });
      s2.append(ov);
      renderHeadsOverview(ov, { baseline: R.prev.result, intervened: null, score: 'previous_token', t, fmt, known: knownForScore(model.entry, 'previous_token') });
      s2.append(check(t('ls2How')));
    }
    if (!S.revealed[2]) return;

    // Step 3.
    const s3 = step(3, P.steps[2].title, el('p', { text: P.steps[2].text }));
    body.append(s3);
    s3.append(blockQuestion('3', P.questions['induction-block'].text, L));
    if (!S.revealed[3]) s3.append(revealButton(3, run3), errorOf(3));
    else {
      const f = R.ind.found, p = R.prev.found;
      s3.append(verdict(S.answers[3], f.best?.layer));
      s3.append(el('p', { class: 'lesson-found', 'data-found': '3', text: t(f.weak ? 'ls3Weak' : 'ls3Found', { best: fmt(f.best.value), head: headLabel(f.best.layer, f.best.head), l: f.best.layer, chance: fmt(f.chance), bar: fmt(f.bar), n: f.heads.length, list: list(f.heads) }) }));
      s3.append(el('p', { text: t('ls3Order', { p: p.best.layer, i: f.best.layer, order: t(p.best.layer < f.best.layer ? 'ls3Before' : 'ls3NotBefore') }) }));
      const ov = el('div', { class: 'lesson-grid' });
      s3.append(ov);
      renderHeadsOverview(ov, { baseline: R.rep.result, intervened: null, score: 'induction', t, fmt, known: knownForScore(model.entry, 'induction') });
      s3.append(check(t('ls3How', { r: R.rep.r, seed: R.rep.seed })));
    }
    if (!S.revealed[3]) return;

    // Step 4.
    const base = R.rep.halves;
    const s4 = step(4, P.steps[3].title, el('p', { text: `${P.steps[3].text} ${t('ls4Now', { base: nats(base.repeat), first: nats(base.first) })}` }));
    body.append(s4);
    const sets = ablations(R.ind.found, R.prev.found);
        for (const a of sets) { const q = P.questions[`ablate-${a.id}`]; s4.append(radios(`4-${a.id}`, `${q.text} (${names(a.heads)})`, q.choices)); }
    if (!S.revealed[4]) s4.append(revealButton(4, run4), errorOf(4));
    else {
      for (const a of R.abl) {
        const box = s4.querySelector(`[data-q="4-${a.id}"]`);
        box.append(verdict(S.answers[`4-${a.id}`], a.verdict));
        box.append(el('p', { class: 'lesson-found', 'data-found': `4-${a.id}`, text: t('ls4Found', { heads: names(a.heads), abl: nats(a.halves.repeat), base: nats(base.repeat), pct: a.share === null ? '—' : fmtNum(100 * a.share, lang, 1), first: nats(base.first), verdict: a.verdict ? t(`lsVerdict_${a.verdict}`) : '—', first2: nats(a.halves.first) }) }));
      }
      const wrap = el('div', { class: 'table-wrap' });
      renderTable(wrap, [t('ls4Zeroed'), t('ls4First'), t('ls4Repeat')],
        [[t('ls4None'), nats(base.first), nats(base.repeat)], ...R.abl.map((a) => [names(a.heads), nats(a.halves.first), nats(a.halves.repeat)])],
        t('ls4Table', { r: R.rep.r, seed: R.rep.seed }));
      s4.append(wrap);
      const v = Object.fromEntries(R.abl.map((a) => [a.id, a.verdict]));
      const need = v.induction === 'much' && v.previous === 'much' ? 'ls4NeedBoth' : v.induction === 'much' ? 'ls4NeedInduction' : v.previous === 'much' ? 'ls4NeedPrevious' : 'ls4NeedNeither';
      s4.append(el('p', { class: 'lesson-summary', text: t('ls4Summary', { need: t(need), top: t(v.top === 'little' ? 'ls4TopLittle' : 'ls4TopMore') }) }));
      s4.append(check(t('ls4How', { r: R.rep.r, seed: R.rep.seed })));
    }
  }

  function setTitle() { summary.firstChild.textContent = t('lsTitle'); }

  // A new model (or the first): the path starts again on it. Drawn when open and changed
  // (not on every run of the page: the learner's place stays as it is).
  let drawn = null;
  function update() {
    if (opts.wantOpen?.() && !root.open) root.open = true;
    const model = opts.model();
    const stamp = model?.stamp ?? null;
    if (stamp !== S.stamp) { seq++; S = fresh(model); drawn = null; }
    const key = `${stamp}|${lang}|${JSON.stringify(opts.lesson?.() ?? null)}`;
    if (root.open && drawn !== key) { drawn = key; render(); } else if (!root.open) setTitle();
  }

  setTitle();
  return {
    setLang(l) { lang = l === 'vi' ? 'vi' : 'en'; t = makeT(lang); P = pathParts(opts.file, lang); drawn = null; update(); },
    update,
    open() { root.open = true; update(); },
    // For tests and exports: what the path ran and found so far.
    result: () => ({ r: S.r, seed: S.seed, answers: { ...S.answers }, revealed: { ...S.revealed },
      halves: S.res.rep?.halves ?? null, tokenLoss: S.res.rep?.result.token_loss ?? null,
      previous: S.res.prev?.found ?? null, induction: S.res.ind?.found ?? null,
      ablations: S.res.abl?.map(({ id, heads, interventions, halves: h, share, verdict: vd }) => ({ id, heads, interventions, halves: h, share, verdict: vd })) ?? null }),
  };
}
