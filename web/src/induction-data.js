// The guided path through induction (induction-lesson.js): its truths, computed from the
// engine's lab.heads results only (pure: no DOM; node tests may import it). Nothing about a
// model is assumed: the heads the path ablates are the ones the run scores highest, so the
// same steps work on the lesson model, on GPT-2 small, or on a model with no such heads.
import { uniformScore } from './known-heads.js';

/** A head counts as an induction or previous-token head at this score or more (the lesson
 *  model's circuits.json "threshold"), and at 3× chance at least. */
export const HEAD_THRESHOLD = 0.3;
/** The repeated random tokens' length R, and its range (the page asks for 2R + 1 <= context). */
export const R_DEFAULT = 40;
export const R_MIN = 30;
export const R_MAX = 50;
/** The English passage of step 2: ordinary text, where a previous-token head shows. */
export const PASSAGE = 'He looked at the door. She was a little tired, and the rain had not stopped since the morning. The President of the United States spoke to the press about the new plan for the schools, which many people in the city did not like at all. In the evening the family sat down to dinner and talked about the day.';

const finite = (x) => typeof x === 'number' && Number.isFinite(x);
export const mean = (xs) => {
  const f = xs.filter(finite);
  return f.length ? f.reduce((a, b) => a + b, 0) / f.length : null;
};

/** The largest R the model's context allows, within the path's range. */
export const maxR = (nPositions) => Math.max(1, Math.min(R_MAX, Math.floor((nPositions - 1) / 2)));

/** The two halves of lab.heads({repeat: R}).token_loss: entries 0..R-1 predict a first
 *  occurrence, R..2R-1 the repeat. {first, repeat}: mean nats per token (null: none finite). */
export function halves(tokenLoss, R) {
  return { first: mean(tokenLoss.slice(0, R)), repeat: mean(tokenLoss.slice(R, 2 * R)) };
}

/** Step 1's truth: the repeated half's mean against the first half's. 'same' within 10 %. */
export function compareHalves({ first, repeat }) {
  if (!finite(first) || !finite(repeat)) return null;
  if (repeat < 0.9 * first) return 'lower';
  if (repeat > 1.1 * first) return 'higher';
  return 'same';
}

/** Every head of a score grid, highest first: [{layer, head, value}] (nulls left out). */
export function ranked(grid) {
  const out = [];
  grid.forEach((row, layer) => row.forEach((value, head) => { if (finite(value)) out.push({ layer, head, value }); }));
  return out.sort((a, b) => b.value - a.value || a.layer - b.layer || a.head - b.head);
}

/** What a score found on one input: the best head, chance (uniform attention over the prefix,
 *  on these tokens), and the heads that count ({value >= max(HEAD_THRESHOLD, 3 × chance)};
 *  the best head alone when none does, flagged `weak`). */
export function found(result, score) {
  const all = ranked(result[score]);
  const chance = uniformScore(result.tokens, score);
  const bar = Math.max(HEAD_THRESHOLD, 3 * (chance ?? 0));
  const strong = all.filter((h) => h.value >= bar);
  return { best: all[0] ?? null, chance, bar, heads: strong.length ? strong : all.slice(0, 1), weak: !strong.length };
}

/** Zeroing heads: one intervention per block, on blocks.L.attn.hook_z (every position). */
export function zeroHeads(heads) {
  const byLayer = new Map();
  for (const { layer, head } of heads) byLayer.set(layer, [...(byLayer.get(layer) ?? []), head]);
  return [...byLayer].sort((a, b) => a[0] - b[0]).map(([layer, hs]) => ({ kind: 'zero', hook: `blocks.${layer}.attn.hook_z`, heads: [...hs].sort((a, b) => a - b) }));
}

/** Step 4's truth for one ablation: how far the repeated half's loss moved back toward the
 *  first half's (the model's, unablated): share = (ablated − base) / (first − base).
 *  'little' below a quarter, 'much' from a half, 'partway' between. */
export function ablationVerdict(base, ablated) {
  const gap = base.first - base.repeat;
  if (![gap, ablated.repeat].every(finite) || gap <= 0) return { share: null, verdict: null };
  const share = (ablated.repeat - base.repeat) / gap;
  return { share, verdict: share < 0.25 ? 'little' : share >= 0.5 ? 'much' : 'partway' };
}

/** The three ablations of step 4, from step 1's induction scores and step 2's previous-token
 *  scores: [{id, heads, interventions}]. */
export function ablations(induction, previous) {
  const sets = [
    { id: 'top', heads: induction.best ? [induction.best] : [] },
    { id: 'induction', heads: induction.heads },
    { id: 'previous', heads: previous.heads },
  ];
  return sets.map((s) => ({ ...s, interventions: zeroHeads(s.heads) }));
}

/** The path's words and inputs, from lesson 2's file (lessons/induction.md, parsed by
 *  lesson-file.js): the intro, the four steps' titles and texts ("## Title" then the text),
 *  the questions ({id: {text, choices: [[value, label]]}}), step 2's passage and step 1's R
 *  and seed. Throws when the file lacks a part the panel shows. */
export function pathParts(lesson, lang) {
  const texts = lesson.blocks.filter((b) => b.type === 'text' && b.lang === lang).map((b) => b.md);
  if (texts.length !== 5) throw new Error(`lesson ${lesson.id}: the induction path needs an intro and 4 step sections in ${lang}, got ${texts.length}`);
  const steps = texts.slice(1).map((md, i) => {
    const m = /^##\s+(.+)\n+([\s\S]+)$/.exec(md);
    if (!m) throw new Error(`lesson ${lesson.id}: step ${i + 1} (${lang}) must start with "## Title"`);
    return { title: m[1].trim(), text: m[2].trim() };
  });
  const questions = {};
  for (const id of ['halves', 'previous-block', 'induction-block', 'ablate-top', 'ablate-induction', 'ablate-previous']) {
    const q = lesson.questions.find((x) => x.id === id);
    if (!q) throw new Error(`lesson ${lesson.id}: the induction path needs the question ${id}`);
    questions[id] = { text: q.text[lang], choices: q.choices === 'block' ? null : q.choices.map((c) => [c.value, c.label[lang]]) };
  }
  const { repeated, passage } = lesson.experiments;
  if (!repeated?.state.heads.repeat || !passage) throw new Error(`lesson ${lesson.id}: the induction path needs the experiments "repeated" (repeat: R,SEED) and "passage" (prompt)`);
  return { intro: texts[0], steps, questions, passage: passage.state.prompt, r: repeated.state.heads.r, seed: Number(repeated.state.heads.seed) };
}
