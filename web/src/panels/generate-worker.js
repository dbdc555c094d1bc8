// The engine worker's side of the Generate panel (issue #12): a 'generate' request makes
// the baseline continuation, then the intervened one, streaming each token as a
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
        seed: msg.seed, signal };
      const out = {};
      try {
        for (const which of ['baseline', 'intervened']) {
          const interventions = which === 'baseline' ? [] : msg.interventions || [];
          out[which] = await lab.generate(msg.prompt, { ...settings, interventions,
            onToken: (token) => post({ id, type: 'token', which, token }) });
        }
      } catch (e) {
        if (e?.name === 'AbortError') return { ...out, stoppedByUser: true };
        throw e;
      } finally {
        controller = null;
      }
      return out;
    },
    // Not queued behind the running request: it must reach the loop between two tokens.
    stop() {
      controller?.abort();
    },
  };
}
