// Issue #28, "Lessons as files": the lesson format's parser refuses what it does not know
// (with a did-you-mean), the truth table computes the chapter's and the induction path's
// truths from the engine's runs (the same functions the page's panels use), and
// `hooklab check` grades answers: 0 all right, 1 some wrong (reported), 2 invalid input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseLesson, checkAnswers, LessonError } from '../../web/src/lesson-file.js';
import { TRUTHS, TRUTH_NAMES, lessonTruths } from '../../web/src/lesson-truths.js';
import { LESSONS } from '../../web/src/keys.js';
import { quizTruths } from '../../web/src/analysis.js';
import { halves, compareHalves, found, ablations, ablationVerdict, PASSAGE, pathParts } from '../../web/src/induction-data.js';
import { LESSON_STRINGS } from '../../web/src/panels/induction-lesson-strings.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const read = (f) => readFileSync(join(REPO, f), 'utf8');
const built = existsSync(join(REPO, 'wasm/dist/hooklab.wasm'));
const CLI = join(REPO, 'wasm/js/cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'lessons-'));

const MIN = `---
id: mini
langs: en, vi
title.en: Mini
title.vi: Nhỏ
---

:::en
Some **text**.
:::

:::vi
Chữ.
:::

\`\`\`experiment shrink
ex3: 9,0.1
\`\`\`

\`\`\`question q1
experiment: shrink
truth: recover
en: Recovers?
vi: Hồi lại?
choice yes: Yes | Có
choice no: No | Không
\`\`\`
`;

test('the two lessons parse: lesson 1 (the chapter) and lesson 2 (induction), each in English and Vietnamese', () => {
  const files = readdirSync(join(REPO, 'lessons')).filter((f) => f.endsWith('.md')).map((f) => f.slice(0, -3)).sort();
  assert.deepEqual(files, [...LESSONS].sort(), 'lessons/*.md are the page\'s lesson= names');
  const ch = parseLesson(read('lessons/chapter.md'), 'lessons/chapter.md');
  assert.equal(ch.id, 'chapter');
  assert.deepEqual(ch.langs, ['en', 'vi']);
  assert.match(ch.title.vi, /Bài 1/);
  assert.ok(ch.blocks.filter((b) => b.type === 'text' && b.lang === 'vi').map((b) => b.md).join('').length > 1000, 'lesson 1 has its Vietnamese text');
  assert.deepEqual(new Set(ch.questions.map((q) => q.truth)), new Set(['recover', 'hf1', 'uniform', 'top1']));
  const ind = parseLesson(read('lessons/induction.md'), 'lessons/induction.md');
  assert.equal(ind.model, 'induction');
  assert.deepEqual(ind.questions.map((q) => q.truth), ['halves', 'best-block', 'best-block', 'ablation', 'ablation', 'ablation']);
  assert.equal(ind.experiments.passage.state.prompt, PASSAGE, 'step 2 reads the panel\'s passage');
  // The induction panel reads its words from this file (pathParts): no copy in its strings.
  for (const lang of ['en', 'vi']) {
    const P = pathParts(ind, lang);
    assert.equal(P.steps.length, 4);
    assert.equal(P.questions.halves.text, ind.questions[0].text[lang]);
    assert.deepEqual(P.questions['ablate-top'].choices.map(([v]) => v), ['little', 'partway', 'much']);
    assert.deepEqual([P.passage, P.r, P.seed], [PASSAGE, 40, 0]);
    for (const k of ['ls1Q', 'ls1Text', 'ls4Q_top', 'ls4_much', 'lsIntro']) assert.ok(!(k in LESSON_STRINGS[lang]), `${k} is the lesson file's, not a string of the panel`);
  }
  assert.throws(() => pathParts({ ...ind, questions: ind.questions.slice(1) }, 'en'), /needs the question halves/);
  assert.equal(ind.experiments.repeated.state.heads.r, 40);
});

test('the parser is strict: every unknown name is an error naming it, with the nearest valid one', () => {
  assert.equal(parseLesson(MIN).questions[0].id, 'q1');
  const bad = (from, to, re) => {
    assert.ok(MIN.includes(from), from);
    assert.throws(() => parseLesson(MIN.replace(from, to), 'x.md'), (e) => e instanceof LessonError && re.test(e.message), `${to} → ${re}`);
  };
  bad('truth: recover', 'truth: recovr', /x\.md:\d+: unknown truth "recovr" \(did you mean "recover"\?\)/);
  bad('truth: recover', 'trut: recover', /unknown key "trut" in question q1 \(did you mean "truth"\?\)|question q1 needs "truth"/);
  bad('ex3: 9,0.1', 'ex33: 9,0.1', /unknown key "ex33" in experiment shrink \(did you mean "ex3"\?\)/);
  bad('ex3: 9,0.1', 'ex3: 9,abc', /bad value for ex3 in experiment shrink: "9,abc"/);
  bad('experiment: shrink', 'experiment: shrnk', /unknown experiment "shrnk" \(did you mean "shrink"\?\)/);
  bad('choice yes: Yes | Có', 'choice yse: Yes | Có', /unknown choice "yse" \(did you mean "yes"\?\)/);
  bad('choice no: No | Không', 'choice no: No', /one label per language/);
  bad('vi: Hồi lại?', 'vj: Hồi lại?', /unknown key "vj" in question q1 \(did you mean "vi"\?\)|question q1 needs "vi"/);
  bad('title.vi: Nhỏ', 'titel.vi: Nhỏ', /unknown front-matter key "titel.vi" \(did you mean "title.vi"\?\)/);
  bad(':::vi\nChữ.', ':::vn\nChữ.', /unknown language section ":::vn"/);
  bad('```question q1', '```questoin q1', /unknown block "questoin" \(did you mean "question"\?\)/);
  bad('\n:::en\n', '\nstray text\n:::en\n', /text outside a language section/);
  bad('ex3: 9,0.1', 'lesson: chapter', /"lesson" is the page's, not an experiment's/);
  bad('truth: recover', 'truth: halves', /truth halves needs an experiment with repeat/);
});

test('answers are checked strictly: an unknown question id or choice is an error, not a wrong answer', () => {
  const l = parseLesson(MIN);
  assert.deepEqual(checkAnswers(l, { q1: 'no' }), { q1: 'no' });
  assert.throws(() => checkAnswers(l, { q2: 'no' }), /unknown question "q2" \(did you mean "q1"\?\)/);
  assert.throws(() => checkAnswers(l, { q1: 'yse' }), /answer "yse" to q1 is not one of its choices \(did you mean "yes"\?\)/);
  assert.throws(() => checkAnswers(l, ['no']), /expected a JSON object/);
});

test('the truth table: every entry declares its choices and parameters', () => {
  assert.deepEqual(TRUTH_NAMES, ['recover', 'hf1', 'uniform', 'top1', 'halves', 'best-block', 'ablation']);
  for (const [n, T] of Object.entries(TRUTHS)) {
    assert.ok(T.choices === 'block' || (Array.isArray(T.choices) && T.choices.length >= 2), n);
    assert.equal(typeof T.compute, 'function', n);
    assert.ok(typeof T.doc === 'string' && T.doc.length > 10, n);
  }
});

test('the truths are the page\'s: analysis.js for lesson 1, induction-data.js for lesson 2', { skip: !built && 'wasm engine not built' }, async () => {
  const { HookLab } = await import('../../wasm/js/hooklab.js');
  const lab = await HookLab.load(join(REPO, 'checkpoints/default'));
  try {
    const ch = parseLesson(read('lessons/chapter.md'));
    const engine = { run: async ({ prompt, interventions, capture, topk }) => lab.compare(prompt, { interventions, capture, topk }), heads: async (r) => lab.heads(r) };
    const got = await lessonTruths(ch, engine);
    for (const q of ch.questions) {
      const st = ch.experiments[q.experiment].state;
      const ivs = [];
      if (st.ex.ex1.on) ivs.push({ kind: 'zero_head_k', layer: st.ex.ex1.layer, head: st.ex.ex1.head });
      if (st.ex.ex3.on) ivs.push({ kind: 'scale_hidden', layer: st.ex.ex3.layer, factor: st.ex.ex3.factor });
      if (st.ex.ex4.on) ivs.push({ kind: 'scale_hidden', layer: st.ex.ex4.layer, factor: st.ex.ex4.factor });
      const r = lab.compare(st.prompt, { interventions: ivs, capture: st.ex.ex1.on ? [`blocks.${st.ex.ex1.layer}.attn.hook_pattern`] : [] });
      const want = quizTruths(ivs, st.ex, r.baseline, r.intervened).find((x) => x.id === q.truth).truth;
      assert.equal(got.find((x) => x.id === q.id).truth, want ? 'yes' : 'no', q.id);
    }
    // The chapter's numbers (docs/lesson.md): × 0.1 at block 9 is 70 % undone by the later
    // blocks (yes), at block 5 58 % (yes); after ln_f the std is × 0.92, not within 5 % (no).
    const by = Object.fromEntries(got.map((x) => [x.id, x.truth]));
    assert.deepEqual([by['shrink-recover'], by['early-recover'], by['shrink-hf1'], by.uniform], ['yes', 'yes', 'no', 'yes']);
  } finally { lab.dispose(); }
  const il = await HookLab.load(join(REPO, 'checkpoints/induction'));
  try {
    const ind = parseLesson(read('lessons/induction.md'));
    const got = Object.fromEntries((await lessonTruths(ind, { run: null, heads: async (r) => il.heads(r) })).map((x) => [x.id, x.truth]));
    const rep = il.heads({ repeat: 40, seed: '0' }), prev = il.heads({ prompt: PASSAGE });
    const base = halves(rep.token_loss, 40);
    assert.equal(got.halves, compareHalves(base));
    assert.equal(got['previous-block'], String(found(prev, 'previous_token').best.layer));
    assert.equal(got['induction-block'], String(found(rep, 'induction').best.layer));
    for (const a of ablations(found(rep, 'induction'), found(prev, 'previous_token'))) {
      const h = halves(il.heads({ repeat: 40, seed: '0', interventions: a.interventions }).token_loss, 40);
      assert.equal(got[`ablate-${a.id}`], ablationVerdict(base, h).verdict, a.id);
    }
  } finally { il.dispose(); }
});

const check = (...args) => spawnSync(process.execPath, [CLI, 'check', ...args], { encoding: 'utf8', cwd: REPO });
const answers = (name, obj) => { const p = join(tmp, name); writeFileSync(p, JSON.stringify(obj)); return p; };

test('hooklab check: right answers exit 0, a wrong one exits 1 and is reported, a typo exits 2 with a did-you-mean', { skip: !built && 'wasm engine not built' }, () => {
  const j = check('lessons/chapter.md', answers('none.json', {}), '--json');
  assert.equal(j.status, 1, j.stderr);
  const truths = Object.fromEntries(JSON.parse(j.stdout).questions.map((q) => [q.id, q.truth]));
  assert.equal(Object.keys(truths).length, 6);
  const right = check('lessons/chapter.md', answers('right.json', truths));
  assert.equal(right.status, 0, right.stdout + right.stderr);
  assert.match(right.stdout, /^✓ shrink-recover: answered "yes"; truth "yes"$/m);
  assert.match(right.stdout, /6 of 6 correct/);
  const flip = { ...truths, 'grow-recover': truths['grow-recover'] === 'yes' ? 'no' : 'yes' };
  const wrong = check('lessons/chapter.md', answers('wrong.json', flip));
  assert.equal(wrong.status, 1);
  assert.match(wrong.stdout, new RegExp(`^✗ grow-recover: answered "${flip['grow-recover']}"; truth "${truths['grow-recover']}"$`, 'm'));
  assert.match(wrong.stdout, /5 of 6 correct/);
  const typo = check('lessons/chapter.md', answers('typo.json', { ...truths, 'shrink-recovr': 'no' }));
  assert.equal(typo.status, 2);
  assert.equal(typo.stdout, '');
  assert.match(typo.stderr, /unknown question "shrink-recovr" \(did you mean "shrink-recover"\?\)/);
  const badChoice = check('lessons/chapter.md', answers('choice.json', { uniform: 'Yes' }));
  assert.equal(badChoice.status, 2);
  assert.match(badChoice.stderr, /answer "Yes" to uniform is not one of its choices \(did you mean "yes"\?\)/);
  const badLesson = join(tmp, 'bad.md');
  writeFileSync(badLesson, MIN.replace('truth: recover', 'truth: recovr'));
  const bl = check(badLesson, answers('q.json', { q1: 'no' }));
  assert.equal(bl.status, 2);
  assert.match(bl.stderr, /bad\.md:\d+: unknown truth "recovr" \(did you mean "recover"\?\)/);
  const flag = check('lessons/chapter.md', answers('f.json', {}), '--modle', 'x');
  assert.equal(flag.status, 2);
  assert.match(flag.stderr, /unknown option --modle for hooklab check \(did you mean --model\?\)/);
});

test('hooklab check grades lesson 2 on the induction model, --model overriding the lesson\'s', { skip: !built && 'wasm engine not built' }, () => {
  const j = check('lessons/induction.md', answers('i.json', { halves: 'lower' }), '--json');
  assert.equal(j.status, 1);
  const out = JSON.parse(j.stdout);
  assert.match(out.model, /checkpoints[/\\]induction$/);
  assert.equal(out.questions.find((q) => q.id === 'halves').correct, true);
  const all = Object.fromEntries(out.questions.map((q) => [q.id, q.truth]));
  assert.equal(check('lessons/induction.md', answers('i2.json', all)).status, 0);
  const other = check('lessons/induction.md', answers('i3.json', all), '--model', 'checkpoints/default', '--json');
  assert.match(JSON.parse(other.stdout).model, /checkpoints\/default$/);
});

test('the package ships the lesson files and the modules hooklab check imports', () => {
  const pkg = JSON.parse(read('package.json'));
  const seen = new Set();
  const walk = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const [, spec] of read(file).matchAll(/^import\s[^'"]*['"](\.[^'"]+)['"]/gm)) walk(join(file, '..', spec).replace(/\\/g, '/'));
    for (const [, spec] of read(file).matchAll(/await import\(['"](\.[^'"]+)['"]\)/g)) walk(join(file, '..', spec).replace(/\\/g, '/'));
  };
  walk('wasm/js/cli.js');
  for (const f of [...seen, 'lessons/chapter.md', 'lessons/induction.md']) assert.ok(pkg.files.includes(f), `package.json "files" lacks ${f}`);
});

test('docs/lessons.md\'s example is a valid lesson, and names every truth of the table', () => {
  const doc = read('docs/lessons.md');
  const example = doc.match(/~~~text\n([\s\S]*?)~~~/)[1];
  const l = parseLesson(example, 'docs/lessons.md example');
  assert.deepEqual([l.id, l.questions[0].truth, l.questions[0].choices[1].label.vi], ['mini', 'recover', 'Không']);
  for (const n of TRUTH_NAMES) assert.ok(doc.includes(`| \`${n}\` |`), `docs/lessons.md documents the truth ${n}`);
});

test('lesson= takes a lesson\'s name or a lesson file on the page\'s origin, nothing else', async () => {
  const { stateFromParams } = await import('../../web/src/state.js');
  const { isLessonUrl } = await import('../../web/src/keys.js');
  for (const v of ['chapter', 'induction', 'lessons/chapter.md', './my-lesson.md', '/course/week1/l3.md']) {
    const refused = [];
    assert.equal(stateFromParams({ lesson: v }, 'en', refused).lesson, v, v);
    assert.deepEqual(refused, [], v);
  }
  for (const v of ['chaptr', 'https://evil.example/l.md', '//evil.example/l.md', '../secret.md', 'lessons/x.txt', 'a b.md']) {
    const refused = [];
    assert.equal(stateFromParams({ lesson: v }, 'en', refused).lesson, undefined, v);
    assert.equal(refused[0]?.key, 'lesson', v);
    assert.equal(isLessonUrl(v), false, v);
  }
});
