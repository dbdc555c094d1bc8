// Local model files, dropped or picked, matched to the engine's four by name (HF's names
// or GPT-2's original encoder.json / vocab.bpe). Pure: no DOM.
export const FILE_NAMES = { config: 'config.json', safetensors: 'model.safetensors', vocab: 'vocab.json', merges: 'merges.txt' };

// prev: the files matched so far (a drop may bring them in several goes).
// → {files, missing: [file names still needed]}
export function matchFiles(prev, list) {
  const files = { ...(prev || {}) };
  for (const f of list) {
    const n = f.name.toLowerCase();
    if (n.endsWith('.safetensors')) files.safetensors = f;
    else if (n === 'config.json') files.config = f;
    else if (n === 'vocab.json' || n === 'encoder.json') files.vocab = f;
    else if (n === 'merges.txt' || n === 'vocab.bpe') files.merges = f;
  }
  const missing = Object.keys(FILE_NAMES).filter((k) => !files[k]).map((k) => FILE_NAMES[k]);
  return { files, missing };
}
