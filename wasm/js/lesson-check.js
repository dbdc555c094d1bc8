// hooklab check LESSON.md ANSWERS.json [--model DIR] [--json]: the autograder of a lesson
// file (docs/lessons.md). Runs the lesson's experiments with the engine in node, computes each
// question's truth with the page's truth table (web/src/lesson-truths.js), compares the
// answers and prints one line per question. Exit status: 0 all answered right, 1 some wrong
// or unanswered, 2 invalid input (a lesson or answers file that does not parse, an unknown
// question id or choice: a typo is an error naming the key, never a wrong answer).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseLesson, checkAnswers, LessonError } from '../../web/src/lesson-file.js';
import { lessonTruths } from '../../web/src/lesson-truths.js';
import { closestKey } from './errors.js';

export const CHECK_USAGE = '  hooklab check LESSON.md ANSWERS.json [--model DIR] [--json] [--threads N]\n' +
  '    grades ANSWERS.json ({"question id": "answer"}) against the truths the lesson\'s experiments compute;\n' +
  '    exit 0: all right, 1: some wrong or unanswered, 2: invalid input (unknown question id, choice or key)\n';
const FLAGS = ['--model', '--json', '--threads'];

class InputError extends Error {}

// The lesson's model: a checkpoint of the package by name ("default", "induction"), else a
// folder or a name fetched before (the CLI's resolveModel).
async function modelDir(name, resolveModel) {
  const own = fileURLToPath(new URL(`../../checkpoints/${name}`, import.meta.url));
  if (/^[a-z0-9-]+$/.test(name) && existsSync(own)) return own;
  return resolveModel(name);
}

/** Runs the command; returns the exit status (it writes the report itself). */
export async function checkCommand(args, { HookLab, resolveModel, out = process.stdout, err = process.stderr }) {
  let lessonPath, answersPath, model, json = false, threads;
  try {
    const files = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      if (a.startsWith('--')) {
        if (!FLAGS.includes(a)) {
          const near = closestKey(a.slice(2), FLAGS.map((f) => f.slice(2)));
          throw new InputError(`unknown option ${a} for hooklab check${near ? ` (did you mean --${near}?)` : ''}; check takes ${FLAGS.join(', ')}`);
        }
        if (a === '--json') { json = true; continue; }
        if (i + 1 >= args.length) throw new InputError(`option ${a} needs a value`);
        const v = args[++i];
        if (a === '--model') model = v;
        else {
          if (!/^[0-9]{1,3}$/.test(v)) throw new InputError(`option --threads needs a non-negative integer, got "${v}"`);
          threads = parseInt(v, 10);
        }
      } else files.push(a);
    }
    if (files.length !== 2) throw new InputError(`hooklab check takes a lesson file and an answers file, got ${files.length} file${files.length === 1 ? '' : 's'}\n${CHECK_USAGE}`);
    [lessonPath, answersPath] = files;
    const read = (p) => {
      try { return readFileSync(p, 'utf8'); } catch (e) { throw new InputError(`cannot read ${p}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`); }
    };
    const lesson = parseLesson(read(lessonPath), lessonPath);
    let raw;
    try { raw = JSON.parse(read(answersPath)); } catch (e) { if (e instanceof InputError) throw e; throw new InputError(`${answersPath}: not valid JSON (${e.message})`); }
    const answers = checkAnswers(lesson, raw, answersPath);
    const dir = await modelDir(model ?? lesson.model, resolveModel);
    let lab;
    try { lab = await HookLab.load(dir, threads ? { threads } : {}); } catch (e) { throw new InputError(`cannot load the model ${dir}: ${e.message}`); }
    let truths;
    try {
      const engine = {
        run: async ({ prompt, interventions, capture, topk }) => lab.compare(prompt, { interventions, capture, topk }),
        heads: async (req) => lab.heads(req),
      };
      truths = await lessonTruths(lesson, engine);
    } finally {
      lab.dispose();
    }
    const rows = lesson.questions.map((q) => {
      const t = truths.find((x) => x.id === q.id);
      const answer = answers[q.id] ?? null;
      return { id: q.id, truth_fn: q.truth, answer, truth: t.truth, correct: answer !== null && t.truth !== null && answer === t.truth, detail: t.detail };
    });
    const right = rows.filter((r) => r.correct).length;
    if (json) out.write(JSON.stringify({ lesson: lesson.id, model: dir, questions: rows, correct: right, total: rows.length }, null, 2) + '\n');
    else {
      out.write(`lesson ${lesson.id} (${lessonPath}), model ${dir}\n`);
      for (const r of rows) {
        const mark = r.correct ? '✓' : '✗';
        const said = r.answer === null ? 'no answer' : `answered "${r.answer}"`;
        out.write(`${mark} ${r.id}: ${said}; truth "${r.truth ?? '— (not defined for this run)'}"\n`);
      }
      out.write(`${right} of ${rows.length} correct\n`);
    }
    return right === rows.length ? 0 : 1;
  } catch (e) {
    if (e instanceof InputError || e instanceof LessonError) {
      err.write(`hooklab check: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
