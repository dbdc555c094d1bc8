// The engine's and the worker's error messages, in the page's language. Each known message
// maps to an i18n key (numbers taken from the message); the engine's own text is kept
// for a details box. An unknown message gets the generic key.

const RULES = [
  // Activation patching and attribution (lab.patch, lab.attribute).
  [/the clean prompt is (\d+) tokens and the corrupted prompt is (\d+)/, 'errPatchLengths', ['a', 'b']],
  [/(answer|wrong) ("(?:[^"\\]|\\.)*") is (\d+) tokens, (.*?); it must be exactly one token/, 'errPatchSplit', ['which', 'text', 'n', 'parts']],
  [/(answer|wrong) (#\d+) is outside the vocabulary \(ids 0\.\.(\d+)\)/, 'errPatchVocab', ['which', 'id', 'max']],
  [/the (clean|corrupted) prompt is empty/, 'errPatchEmpty', ['which']],
  [/the (clean|corrupted) prompt is (\d+) tokens long but this model's context is (\d+)/, 'errPatchLong', ['which', 'n', 'ctx']],
  [/(answer|wrong) is empty/, 'errPatchEmpty', ['which']],
  [/direct logit attribution: the intervention on (\S+) changes the residual stream/, 'errDlaResid', ['hook']],
  [/the prompt is empty/, 'errPromptEmpty'],
  [/the prompt (?:is|has) (\d+) tokens(?: long)? but (?:this|the) model's context is (\d+)/, 'errPromptLong', ['n', 'ctx']],
  [/layer (-?\d+) is out of range \(the model has blocks 0\.\.(\d+)/, 'errLayer', ['l', 'max']],
  [/capture blocks\.(-?\d+)\.\S+: layer out of range \(0\.\.(\d+)\)/, 'errLayer', ['l', 'max']],
  [/head (-?\d+) is out of range \(the model has heads 0\.\.(\d+)/, 'errHead', ['h', 'max']],
  [/intervention: (positions|features|heads)[^]*? is out of range \(valid: 0\.\.(-?\d+)\)/, 'errIvRange', ['what', 'max']],
  [/model\.safetensors is truncated/, 'errTruncated'],
  [/(\d+(?:\.\d+)? ?(?:GiB|GB|MB))\b[^]*too (?:big|large)|too (?:big|large)[^]*?(\d+(?:\.\d+)? ?(?:GiB|GB|MB))/, 'errTooBig', ['size', 'size']],
  [/too (?:big|large)/, 'errTooBig'],
  [/WebAssembly engine could not be loaded|does not export HookLab/, 'errEngineMissing'],
  [/simd|exception handling/i, 'errBrowser'],
  [/access denied \(HTTP (\d+)\)|not found \(HTTP (\d+)\)|: HTTP (\d+)$/, 'errHttp', ['status', 'status', 'status']],
  [/download failed|Failed to fetch|NetworkError/, 'errDownload'],
  [/model\.safetensors/, 'errSafetensors'],
  [/config\.json/, 'errConfig'],
  [/vocab\.json/, 'errVocab'],
  [/merges\.txt/, 'errMerges'],
  [/must be (?:a )?finite/, 'errNotFinite'],
  [/not valid UTF-8/, 'errUtf8'],
  [/no model is loaded/, 'errNoModel'],
  [/engine worker failed/, 'errWorker'],
];

// → {key, vars, raw}
export function describeError(message) {
  const raw = String(message ?? '');
  for (const [re, key, names = []] of RULES) {
    const m = raw.match(re);
    if (!m) continue;
    const vars = {};
    names.forEach((n, i) => { if (m[i + 1] !== undefined) vars[n] = m[i + 1]; });
    if (key === 'errTooBig' && !vars.size) vars.size = '?'; // a message without its size
    return { key, vars, raw };
  }
  return { key: 'errEngine', vars: {}, raw };
}
