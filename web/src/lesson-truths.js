// The one table of lesson truths (issue #28, "lessons as files"): every predict-then-reveal
// question of a lesson file (lesson-file.js) names one entry here, and its true answer is
// computed from the run of the question's experiment, the same way in the page (through the
// worker) and in node (`npx hooklab check`, on lab directly). Pure: no DOM, no engine; the
// runs come in through an `engine` object:
//   engine.run({prompt, interventions, capture, topk, experiment}) → {baseline, intervened}
//     (lab.compare; experiment: the lesson's, for the page, which runs it in its own state)
//   engine.heads({prompt} | {repeat, seed}, interventions?) → lab.heads result
// The chapter's truths are analysis.js's (quizTruths); the induction path's are
// induction-data.js's.
import { quizTruths } from './analysis.js';
import { stateFromParams, interventionsOf } from './state.js';
import { halves, compareHalves, found, ablations, ablationVerdict } from './induction-data.js';

const YES_NO = Object.freeze(['yes', 'no']);
const yesNo = (b) => (b === null || b === undefined ? null : b ? 'yes' : 'no');

// A chapter question: quizTruths' answer with this id for the experiment's run.
const chapter = (id, doc) => ({
  needs: 'run',
  choices: YES_NO,
  params: {},
  doc,
  async compute(ctx) {
    const r = await ctx.run();
    const q = quizTruths(r.interventions, r.state.ex, r.baseline, r.intervened).find((x) => x.id === id);
    return { truth: q ? yesNo(q.truth) : null, detail: q && 'net' in q ? { net: q.net, reason: q.reason } : {} };
  },
});

const repeatOf = (ctx) => {
  const st = ctx.state;
  if (!st.heads.repeat) return null;
  return { repeat: st.heads.r, seed: st.heads.seed };
};

export const TRUTHS = Object.freeze({
  recover: chapter('recover', 'a scale exercise: do the later blocks themselves undo at least a quarter of the imposed change (log scale)?'),
  hf1: chapter('hf1', 'a scale exercise: is the std after ln_f within 5 % of the baseline\'s?'),
  uniform: chapter('uniform', 'exercise 1: is the ablated head\'s pattern uniform over the causal prefix?'),
  top1: chapter('top1', 'does the top next token change?'),
  // The induction path (panels/induction-lesson.js's steps).
  halves: {
    needs: 'repeat', choices: Object.freeze(['lower', 'same', 'higher']), params: {},
    doc: 'repeated random tokens: the repeated half\'s mean loss against the first half\'s (same: within 10 %)',
    async compute(ctx) {
      const h = halves((await ctx.heads()).token_loss, ctx.state.heads.r);
      return { truth: compareHalves(h), detail: h };
    },
  },
  'best-block': {
    needs: 'heads', choices: 'block', params: { score: Object.freeze(['previous_token', 'induction']) },
    doc: 'the block of the head with the highest score (previous_token or induction) on the experiment\'s input',
    async compute(ctx, p) {
      const f = found(await ctx.heads(), p.score);
      return { truth: f.best ? String(f.best.layer) : null, detail: { head: f.best, chance: f.chance, bar: f.bar, heads: f.heads } };
    },
  },
  ablation: {
    needs: 'repeat', choices: Object.freeze(['little', 'partway', 'much']),
    params: { set: Object.freeze(['top', 'induction', 'previous']), previous: 'experiment' },
    doc: 'zeroing a set of heads (top: the best induction head; induction: all found; previous: the previous-token heads found on the experiment named by `previous`): how far the repeated half\'s loss moves back to the first half\'s',
    async compute(ctx, p) {
      const rep = await ctx.heads();
      const base = halves(rep.token_loss, ctx.state.heads.r);
      const prev = await ctx.heads(p.previous);
      const a = ablations(found(rep, 'induction'), found(prev, 'previous_token')).find((x) => x.id === p.set);
      const abl = await ctx.headsWith(a.interventions);
      const h = halves(abl.token_loss, ctx.state.heads.r);
      const v = ablationVerdict(base, h);
      return { truth: v.verdict, detail: { heads: a.heads, share: v.share, halves: h } };
    },
  },
});
export const TRUTH_NAMES = Object.freeze(Object.keys(TRUTHS));

/** Why an experiment's state cannot feed a truth (null when it can). st: the page state. */
export function needsError(name, st) {
  const need = TRUTHS[name].needs;
  if (need === 'repeat' && !st.heads.repeat) return `truth ${name} needs an experiment with repeat (repeated random tokens, "R,SEED")`;
  return null;
}

/** The page state of an experiment's keys (a plain object of URL-style strings). */
export const experimentState = (keys) => stateFromParams(keys, 'en');

/** The heads request of an experiment: repeated tokens, or its prompt. */
export function headsInput(st) {
  return st.heads.repeat ? { repeat: st.heads.r, seed: st.heads.seed } : { prompt: st.prompt };
}

/**
 * A lesson's truths, one per question: [{id, truth, detail}] (truth null where the run does
 * not define one). lesson: parseLesson's result; engine: see above. Each experiment runs once.
 */
export async function lessonTruths(lesson, engine, only = null) {
  const cache = new Map();
  const once = (key, f) => { if (!cache.has(key)) cache.set(key, f()); return cache.get(key); };
  const expOf = (id) => lesson.experiments[id];
  const ctxFor = (expId) => {
    const st = expOf(expId).state;
    return {
      state: st,
      run: () => once(`run:${expId}`, async () => {
        const interventions = interventionsOf(st);
        const capture = st.ex.ex1.on ? [`blocks.${st.ex.ex1.layer}.attn.hook_pattern`] : [];
        const r = await engine.run({ prompt: st.prompt, interventions, capture, topk: st.topk, experiment: expOf(expId) });
        return { state: st, interventions, baseline: r.baseline, intervened: r.intervened };
      }),
      heads: (other = expId) => once(`heads:${other}`, () => engine.heads(headsInput(expOf(other).state))),
      headsWith: (interventions) => once(`heads:${expId}:${JSON.stringify(interventions)}`, () => engine.heads({ ...headsInput(st), interventions })),
    };
  };
  const out = [];
  for (const q of lesson.questions) {
    if (only && !only.includes(q.id)) continue;
    const { truth, detail } = await TRUTHS[q.truth].compute(ctxFor(q.experiment), q.params);
    out.push({ id: q.id, truth, detail });
  }
  return out;
}
