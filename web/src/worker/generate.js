// The Generate panel's request (issue #12): the baseline and the intervened continuation
// together (lab.generateCompare: one forward per step for both, so each step reads the
// weights once), each token streamed as a {which, token} event; cancelling the request
// stops it between tokens, and the tokens streamed so far stay on the page.
// args: {prompt, interventions, maxNewTokens, temperature, topK, topP, seed}; ctx: the
// dispatcher's (signal, emit).
export async function generate(lab, args, { signal, emit }) {
  if (!lab) throw new Error('no model is loaded');
  const settings = { maxNewTokens: args.maxNewTokens, temperature: args.temperature, topK: args.topK, topP: args.topP,
    seed: args.seed, interventions: args.interventions || [], signal };
  try {
    return await lab.generateCompare(args.prompt, { ...settings, onToken: (which, token) => emit({ which, token }) });
  } catch (e) {
    if (e?.name === 'AbortError' || signal?.aborted) return { stoppedByUser: true };
    throw e;
  }
}
