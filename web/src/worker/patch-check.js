// The Patching form checked as it is typed (the worker's patchCheck request), in the
// engine's own words, without a forward.

/**
 * The sweep's input errors as the engine words them (model/src/patching.cpp, config.cpp),
 * found without a forward: for checking the form as it is typed. deps: {tokenize(text) → ids,
 * tokenString(id) → text, vocabSize, ctx}. Returns the engine-style messages (errors.js maps
 * them to the page's words and errorField to their field), at most one per field.
 */
export function patchInputErrors({ clean, corrupted, answer, wrong }, { tokenize, tokenString, vocabSize, ctx }) {
  const out = [];
  const prompt = (text, what) => {
    const ids = tokenize(text);
    if (!ids.length) { out.push(`the ${what} prompt is empty: type at least one character`); return null; }
    if (ids.length > ctx) { out.push(`the ${what} prompt is ${ids.length} tokens long but this model's context is ${ctx} tokens; shorten it`); return null; }
    return ids;
  };
  const a = prompt(clean, 'clean');
  const b = a ? prompt(corrupted, 'corrupted') : null;
  if (a && b && a.length !== b.length)
    out.push(`the clean prompt is ${a.length} tokens and the corrupted prompt is ${b.length}: patching needs the same number of tokens in both`);
  for (const [text, what] of [[answer, 'answer'], [wrong, 'wrong']]) {
    if (/^#\d+$/.test(text)) {
      if (text.length > 10 || Number(text.slice(1)) >= vocabSize) out.push(`${what} ${text} is outside the vocabulary (ids 0..${vocabSize - 1})`);
      continue;
    }
    const ids = tokenize(text);
    if (!ids.length) out.push(`${what} is empty: give one token (text such as " Mary") or #ID`);
    else if (ids.length > 1) {
      const parts = ids.map((id) => `${JSON.stringify(tokenString(id))} (#${id})`).join(' + ');
      out.push(`${what} ${JSON.stringify(text)} is ${ids.length} tokens, ${parts}; it must be exactly one token: give one of them, or #ID`);
    }
  }
  return out;
}
