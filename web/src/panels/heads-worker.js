// For the engine worker: the per-head scores of one input, baseline and intervened, in one
// request ({prompt} or {repeat, seed}; interventions as for runs).
export function headsForPage(lab, { prompt, repeat, seed, interventions = [] }) {
  const input = prompt !== undefined ? { prompt } : { repeat, seed };
  return {
    baseline: lab.heads(input),
    intervened: interventions.length ? lab.heads({ ...input, interventions }) : null,
  };
}
