// The heads request: the per-head scores of one input, baseline and intervened, in one
// request ({prompt} or {repeat, seed}; interventions as for runs; pattern: a block whose
// scored patterns to include, for the grid, which then works on either input).
export function headsForPage(lab, { prompt, repeat, seed, interventions = [], pattern }) {
  const input = prompt !== undefined ? { prompt } : { repeat, seed };
  if (pattern !== undefined) input.pattern = pattern;
  return {
    baseline: lab.heads(input),
    intervened: interventions.length ? lab.heads({ ...input, interventions }) : null,
  };
}
