// The engine worker's side of the Generate panel (issue #12): a 'generate' request makes
// the baseline and the intervened continuation together (lab.generateCompare: one forward
// per step for both, so each step reads the weights once), streaming each token as a
// {id, type: 'token', which, token} message; 'generateStop' aborts between tokens. Wiring
// (engine-worker.js registers it as the generate handler and routes generateStop to stop()).

export function createGenerateHandlers({ getLab, post }) {
  let controller = null;
  return {
    // msg: {prompt, interventions, maxNewTokens, temperature, topK, topP, seed}
    async generate(msg, id) {
      const lab = getLab();
      if (!lab) throw new Error('no model is loaded');
      controller = new AbortController();
      const { signal } = controller;
      const settings = { maxNewTokens: msg.maxNewTokens, temperature: msg.temperature, topK: msg.topK, topP: msg.topP,
        seed: msg.seed, interventions: msg.interventions || [], signal };
      try {
        return await lab.generateCompare(msg.prompt, { ...settings,
          onToken: (which, token) => post({ id, type: 'token', which, token }) });
      } catch (e) {
        // The tokens streamed so far stay on the page.
        if (e?.name === 'AbortError') return { stoppedByUser: true };
        throw e;
      } finally {
        controller = null;
      }
    },
    // Not queued behind the running request: it must reach the loop between two tokens.
    stop() {
      controller?.abort();
    },
  };
}
