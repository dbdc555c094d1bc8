// What to look for on the loaded model: the one table of heads known per model (pure: no
// DOM; node tests may import it). The heads view and by-head patching (panels/heads.js,
// panels/patching.js) word it through the look* strings (heads-strings.js).
//
// An entry matches a model by its identity: a hub model by its repo (wasm/js/models.js), a
// model trained by this project by its config.json "hooklab" record (name, and the step
// and tokens seen, so that a retrained model of the same name does not inherit the claim).
// Heads are [layer, head] or [layer, head, score]; an empty list is a claim too ("measured:
// none"). source: 'measured' (by this project, evidence in the `evidence` string) or
// 'literature' (cites: the `cite` strings). A new default model declares its heads here:
//   { match: { hooklab: { name: 'HookLab-… 12×192', step: N } }, source: 'measured',
//     heads: { induction: [[5, 1, 0.62]], previous_token: [[2, 1, 0.71]] }, evidence: 'lookEvidence_…' }

/** The roles a note can name, in the order it names them. `score`: the heads panel's score
 *  for that role (the panel outlines those heads on its grid for that score). */
export const ROLES = [
  { key: 'induction', score: 'induction' },
  { key: 'previous_token', score: 'previous_token' },
  { key: 'name_mover', score: null },
];

export const KNOWN_HEADS = [
  {
    // The embedded default (checkpoints/default): measured by
    // `tools/circuits_report.py --model checkpoints/default` (its circuits.json; the model card
    // quotes it), as the induction lesson's model below; the by-head patching note quotes its
    // patching.md (`tools/exercise_report.py --patching`).
    id: 'hooklab-circuits-12x192',
    match: { hooklab: { name: 'HookLab-Circuits 12×192', step: 9694, tokens_seen: 9926656 } },
    source: 'measured',
    heads: {
      induction: [[1, 11, 0.918], [1, 8, 0.903], [1, 4, 0.897], [1, 0, 0.888], [1, 10, 0.878], [1, 9, 0.852], [1, 2, 0.769], [1, 7, 0.738], [1, 3, 0.57], [1, 5, 0.436]],
      previous_token: [[0, 5, 0.997], [0, 7, 0.904], [0, 4, 0.573]],
    },
    evidence: 'lookEvidence_circuits',
    advice: 'lookAdvice_circuits',
    patchZ: 'lookPatchZ_circuits',
  },
  {
    // The induction lesson's model (checkpoints/induction): measured by
    // `tools/circuits_report.py --model checkpoints/induction` (its circuits.json; the model
    // card quotes it). Induction: <|endoftext|> + 50 random tokens, twice, seeds 0-4 (chance
    // 0.014); previous-token: the first 127 tokens of 4 held-out Brown documents (chance 0.035);
    // a head is listed at a score of at least 0.3 (circuits.json "threshold").
    id: 'hooklab-induction-2x192',
    match: { hooklab: { name: 'HookLab-Induction 2×192', step: 4229, tokens_seen: 5680128 } },
    source: 'measured',
    heads: {
      induction: [[1, 4, 0.918], [1, 0, 0.909], [1, 10, 0.908], [1, 11, 0.895], [1, 5, 0.893], [1, 7, 0.882], [1, 9, 0.882], [1, 3, 0.88], [1, 8, 0.857], [1, 2, 0.809], [1, 1, 0.794]],
      previous_token: [[0, 5, 0.502], [0, 7, 0.49], [0, 4, 0.489]],
    },
    evidence: 'lookEvidence_induction',
    advice: 'lookAdvice_lesson',
  },
  {
    id: 'gpt2-small',
    match: { repo: 'openai-community/gpt2' },
    source: 'literature',
    heads: {
      induction: [[5, 1], [5, 5], [6, 9], [7, 2], [7, 10]],
      previous_token: [[4, 11]],
      name_mover: [[9, 6], [9, 9], [10, 0]],
    },
    cite: { induction: 'lookCite_induction', previous_token: 'lookCite_ioi', name_mover: 'lookCite_ioi' },
    advice: 'lookAdvice_gpt2',
    patchZ: 'lookPatchZ_gpt2',
  },
];

/** The model's identity as the table matches it: {repo} for a hub model, {hooklab} for a
 *  model with a "hooklab" config record; null fields where unknown. info: app.modelInfo;
 *  hubRepo(key): the repo of a hub model's short name, or undefined. */
export function modelIdentity(info, hubRepo = () => undefined) {
  if (!info) return null;
  return { repo: hubRepo(info.key) ?? null, hooklab: info.rawConfig?.hooklab ?? null };
}

/** The table's entry for a model identity, or null. */
export function knownHeadsFor(id, table = KNOWN_HEADS) {
  if (!id) return null;
  return table.find(({ match }) => {
    if (match.repo) return id.repo === match.repo;
    if (match.hooklab) return !!id.hooklab && Object.entries(match.hooklab).every(([k, v]) => id.hooklab[k] === v);
    return false;
  }) ?? null;
}

/** A head as the page writes it: "L4H9" (block 4, head 9), never "4.9", which reads as a decimal. */
export const headLabel = (layer, head) => `L${layer}H${head}`;

/** The heads an entry names for a score of the heads panel: [{layer, head}]. */
export function knownForScore(entry, score) {
  if (!entry) return [];
  const out = [];
  for (const r of ROLES) if (r.score === score) for (const [layer, head] of entry.heads[r.key] ?? []) out.push({ layer, head });
  return out;
}

/**
 * What uniform attention over the causal prefix scores on these tokens (A[i][j] = 1/(i+1)),
 * by the engine's definitions (model/src/heads.cpp): previous-token, the mean over i ≥ 1;
 * first-token, the mean over every i; induction, the mean over the positions i whose token
 * occurred before. null where the score is undefined (one token; no repeated token).
 * On TransformerLens's repeated random tokens (2R+1 tokens) the induction chance is the mean
 * of 1/(i+1) over the second copy, i = R+1 … 2R: 0.0329 for R = 20.
 */
export function uniformScore(tokens, score) {
  const T = tokens.length;
  let sum = 0, n = 0;
  const seen = new Set();
  for (let i = 0; i < T; i++) {
    const use = score === 'first_token' || (score === 'previous_token' && i >= 1) || (score === 'induction' && seen.has(tokens[i]));
    seen.add(tokens[i]);
    if (use) { sum += 1 / (i + 1); n++; }
  }
  return n ? sum / n : null;
}

/**
 * The note's text for the heads view: what to look for, the evidence or the citations, the
 * advice, and the input shown (its highest score, and chance). t: i18n; fmt(x) → text;
 * name: the model's display name; result: lab.heads' baseline JSON (tokens and scores);
 * score: the score shown.
 */
export function headsNote({ entry, name, result, score, t, fmt }) {
  const parts = [];
  if (entry) {
    const roles = ROLES.filter((r) => entry.heads[r.key]);
    const list = (r) => entry.heads[r.key].map(([l, h, s]) => (s === undefined ? headLabel(l, h) : `${headLabel(l, h)} (${fmt(s)})`)).join(', ');
    if (roles.every((r) => !entry.heads[r.key].length)) {
      parts.push(t('lookNone', { name, roles: roles.map((r) => t(`lookRolePl_${r.key}`)).join(t('lookAnd')) }));
    } else {
      parts.push(t(entry.source === 'literature' ? 'lookIntro_literature' : 'lookIntro_measured', { name }));
      parts.push(`${roles.map((r) => {
        const cite = entry.cite?.[r.key] ? ` (${t(entry.cite[r.key])})` : '';
        return `${t(`lookRolePl_${r.key}`)}: ${entry.heads[r.key].length ? list(r) : t('lookNoneShort')}${cite}`;
      }).join('; ')}.`);
    }
    if (entry.evidence) parts.push(t(entry.evidence));
    if (entry.advice) parts.push(t(entry.advice));
  } else {
    parts.push(t('lookUnknown', { name }));
  }
  parts.push(t('lookNotation'));
  if (result) parts.push(inputLine({ result, score, t, fmt }));
  return parts.filter(Boolean).join(' ');
}

// The input shown: its highest score for the score shown, and what uniform attention gives.
function inputLine({ result, score, t, fmt }) {
  const chance = uniformScore(result.tokens, score);
  if (chance === null) return '';
  let best = null;
  result[score].forEach((row, l) => row.forEach((v, h) => { if (v !== null && (!best || v > best.v)) best = { v, l, h }; }));
  const vars = { score: t(`headsScore_${score}`), chance: fmt(chance), n: result.tokens.length };
  return best ? t('lookInput', { ...vars, best: fmt(best.v), head: headLabel(best.l, best.h) }) : t('lookChance', vars);
}

/** The note for by-head patching (hook z), or null when the table says nothing for it. */
export function patchZNote({ entry, name, t }) {
  if (!entry?.patchZ) return null;
  const names = (key) => (entry.heads[key] ?? []).map(([l, h]) => headLabel(l, h)).join(', ');
  return `${t(entry.patchZ, { name, movers: names('name_mover'), induction: names('induction') })} ${t('lookNotation')}`;
}
