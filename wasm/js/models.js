// The files of a HuggingFace GPT-2 repo and the models known by name: one list for the
// JS API, the node CLI, the page and its worker.

/** The four files, by role. */
export const FILES = { config: 'config.json', weights: 'model.safetensors', vocab: 'vocab.json', merges: 'merges.txt' };
/** The four file names, the small ones first (they are needed before the weights). */
export const MODEL_FILES = [FILES.config, FILES.vocab, FILES.merges, FILES.weights];

const WEBTEXT = {
  en: 'WebText (~40 GB of web pages linked from Reddit), by OpenAI, 2019',
  vi: 'WebText (~40 GB trang web được liên kết từ Reddit), do OpenAI huấn luyện năm 2019',
};

// A repo's files' sizes as the hub serves them (bytes): its config and F32 weights, and GPT-2's
// tokenizer, the same two files in every size's repo.
const sizes = (config, weights) => ({
  bytes: weights, files: { [FILES.config]: config, [FILES.vocab]: 1042301, [FILES.merges]: 456318, [FILES.weights]: weights },
});

/** Short names a learner types, the hub repos they mean and the names shown for them (params;
 *  bytes: the F32 file; files: each file's size, where known). */
export const HUB_MODELS = {
  gpt2: { repo: 'openai-community/gpt2', name: 'GPT-2 small', params: 124439808, ...sizes(665, 548105171), trainedOn: WEBTEXT },
  'gpt2-medium': { repo: 'openai-community/gpt2-medium', name: 'GPT-2 medium', params: 354823168, ...sizes(718, 1519918112), trainedOn: WEBTEXT },
  'gpt2-large': { repo: 'openai-community/gpt2-large', name: 'GPT-2 large', trainedOn: WEBTEXT },
  'gpt2-xl': { repo: 'openai-community/gpt2-xl', name: 'GPT-2 XL', trainedOn: WEBTEXT },
};

/** What loading a hub model downloads: the sum of its files' sizes (bytes). */
export const downloadBytes = (model) => Object.values(model.files).reduce((a, b) => a + b, 0);

/** The hub repo of a short name or an "org/name". */
export function repoOf(name) {
  if (Object.hasOwn(HUB_MODELS, name)) return HUB_MODELS[name].repo;
  if (/^[\w.-]+\/[\w.-]+$/.test(name)) return name;
  throw new Error(`"${name}" is not a model name (${Object.keys(HUB_MODELS).join(', ')}) or a hub repo "org/name"`);
}

/** Where the hub serves a repo's files: <endpoint>/<repo>/resolve/<revision>/. */
export function hubBase(repo, { endpoint = 'https://huggingface.co', revision = 'main' } = {}) {
  return `${endpoint.replace(/\/+$/, '')}/${repo}/resolve/${encodeURIComponent(revision)}/`;
}
