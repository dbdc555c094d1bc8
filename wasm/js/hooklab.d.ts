// Types for the GPT-2 Hook Lab WebAssembly engine (wasm/js/hooklab.js).

/** The four files of a HuggingFace GPT-2 repo, as bytes. */
export type FileData = ArrayBuffer | ArrayBufferView | Blob | string;
export type FourFiles =
  | [config: FileData, weights: FileData, vocab: FileData, merges: FileData]
  | { 'config.json': FileData; 'model.safetensors': FileData; 'vocab.json': FileData; 'merges.txt': FileData }
  | { config: FileData; weights: FileData; vocab: FileData; merges: FileData };

export interface LoadOptions {
  /** One number in [0, 1] across all four files. */
  onProgress?: (fraction: number) => void;
  /** Node, a hub model named and not yet in the cache folder: the download's progress in [0, 1]. */
  onDownload?: (fraction: number) => void;
  /** Keep the weights as IEEE half in memory (half the memory; stats change by <= 1e-3). */
  f16?: boolean;
  /** Passed to fetch() for URL sources. */
  fetchOptions?: RequestInit;
  /**
   * Where URL sources keep whole files: read from it when there, written to it as they stream in
   * (kept only when the load succeeds). A Cache Storage cache, or a cache adapter.
   */
  cache?: Cache | CacheAdapter;
  /** Threads in the engine's pool, 1 to 256 (default: the hardware's, at most 8; 1 where the page is not cross-origin isolated). */
  threads?: number;
  /**
   * TransformerLens's weight processing, applied once at load (docs/engine.md): 'tl' for all four
   * (HookedTransformer.from_pretrained's defaults, the numbers an ARENA notebook shows), or some of them.
   * Unknown keys are an error. The model's config then carries `processing`.
   */
  process?: 'tl' | ProcessOptions;
}

/** load's {process}: load_and_process_state_dict's flags (all default false here). */
export interface ProcessOptions {
  fold_ln?: boolean;
  center_writing_weights?: boolean;
  center_unembed?: boolean;
  fold_value_biases?: boolean;
}

/** A file of a URL source: its URL, and what describe() learnt (NaN / null when unknown). */
export interface CachedFile {
  name: string;
  url: string;
  size?: number;
  sha256?: string | null;
}

/** Where downloads keep whole files (wasm/js/download.js). */
export interface CacheAdapter {
  /** A complete copy, or null; `expect` (size, sha256) rules out a copy that disagrees. */
  get(file: CachedFile, expect?: { size?: number; sha256?: string | null }): Promise<{ size: number; body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> } | null>;
  /** A writer for a download: `offset` bytes kept from an interrupted one are resumed from. */
  open(file: CachedFile, expect?: { size?: number; sha256?: string | null }): Promise<{
    offset: number;
    prefix(): AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
    write(chunk: Uint8Array): Promise<void>;
    restart(): Promise<void>;
    commit(): Promise<void>;
    abort(): Promise<void>;
    discard(): Promise<void>;
  }>;
}

/**
 * The adapter of a Cache Storage cache (browsers, workers): whole files only, keyed by URL, or by
 * content for the files listed in `files` (a model's files.json: name → size and sha256). With
 * `locks` (navigator.locks), a load that misses a file holds a lock named after the model until
 * done(), so that two frames loading it at once download it once.
 */
export function cacheStorage(cache: Cache, opts?: { files?: Record<string, { size: number; sha256: string }> | null; locks?: LockManager | null }): CacheAdapter & { done(): Promise<void> };
/** The adapter of a folder (node): <dir>/<file>; an interrupted download stays as <file>.incomplete and is resumed. */
export function folderCache(dir: string): CacheAdapter;

/** Which indices along an axis: "all" | "even" | "odd" | {range:[a,b]} | [i, j, ...]. */
export type Selector = 'all' | 'even' | 'odd' | { range: [number, number] } | number[];

/**
 * One intervention (README, "Interventions"). The engine refuses any key its kind does not take
 * (a typo such as `head` for `heads` is an error naming it, with a "did you mean"). The
 * exercises' optional `hook` and `features` are those the engine reports back (`interventions`
 * of a result): a reported intervention may be passed in again, and only with those values.
 */
export type Intervention =
  | { kind: 'zero_head_k'; layer: number; head: number; positions?: Selector; hook?: string; features?: Selector }
  | { kind: 'noise_even_neurons'; layer: number; mean?: number; std?: number; seed?: number; positions?: Selector; hook?: string; features?: Selector }
  | { kind: 'scale_hidden'; layer: number; factor: number; positions?: Selector; features?: Selector; hook?: string }
  | (GeneralIntervention & { kind: 'zero' })
  | (GeneralIntervention & { kind: 'scale'; factor: number })
  | (GeneralIntervention & { kind: 'add'; value: number })
  /**
   * value: one number, or a tensor (a cached activation patched in): the hook's whole tensor for
   * this prompt (each selected element takes the value at its own index) or the selected slice
   * alone, row-major. Not in generation. Reported back as {tensor_size: n}.
   */
  | (GeneralIntervention & { kind: 'set'; value: number | Float32Array | ArrayLike<number> | number[][] | number[][][] })
  | (GeneralIntervention & { kind: 'noise'; mean?: number; std?: number; seed?: number });

/** The general form's common keys: a hook point (with `layer` when the name leaves out "blocks.L.") and the selectors. */
export interface GeneralIntervention {
  hook: string;
  layer?: number;
  positions?: Selector;
  /** Only on hooks with a head axis (q, k, v, z, attention scores and patterns). */
  heads?: Selector;
  features?: Selector;
}

export interface RunOptions {
  /** Objects, or their JSON text (text keeps 64-bit seeds exact). */
  interventions?: (Intervention | string)[];
  /** How many of the most likely next tokens to report (default 10). */
  topk?: number;
  /** Hook names whose full tensors to return, e.g. "blocks.9.attn.hook_pattern". */
  capture?: string[] | string;
  /** true: logits_last (the last position's, a Float32Array). 'all': also logits_all [T, V] and token_loss (one whole forward, never resumed). */
  logits?: boolean | 'all';
  /** Read the residual after every block through ln_f and the unembedding (logit_lens). */
  logitLens?: boolean;
}

/** runWithCache's options: run's, with `hooks` in place of `capture`. */
export interface RunWithCacheOptions extends Omit<RunOptions, 'capture'> {
  /**
   * Which hooks to cache (default: all, as TransformerLens): full names, names without the block
   * ('resid_post', 'attn.hook_z': every block's), or a filter like TransformerLens's names_filter.
   */
  hooks?: string[] | string | ((name: string) => boolean);
}

/** A tensor: its shape and its values, row-major. */
export interface Tensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/**
 * TransformerLens's ActivationCache, without the batch axis: get('resid_post', 9) is
 * cache['resid_post', 9] ([pos, d_model]); get('blocks.9.hook_resid_post') the same tensor.
 * Aliases with a block: resid_pre, attn_out, resid_mid, mlp_out, resid_post, q, k, v, z,
 * attn_scores, pattern, pre, post, ln1, ln2, qkv; without: embed, pos_embed, ln_final, logits.
 */
export class ActivationCache {
  /** The run, as run() returns it (no captures). */
  readonly run: RunResult;
  /** A cached tensor; `layer` negative counts from the end. Unknown names throw (did you mean). */
  get(name: string, layer?: number): Tensor;
  has(name: string, layer?: number): boolean;
  /** The cached hooks' full names, in firing order. */
  names(): string[];
}

export interface ModelConfig {
  n_layer: number; n_head: number; n_embd: number; n_positions: number; vocab_size: number;
  layer_norm_epsilon: number; activation_function: string; d_head: number; d_mlp: number; name?: string;
  /** Present when the weights were loaded with TransformerLens's processing (LoadOptions.process): which. */
  processing?: Required<ProcessOptions>;
}

export interface HookStats { mean: (number | null)[]; std: (number | null)[]; min: (number | null)[]; max: (number | null)[]; norm: (number | null)[] }

/** A token and its probability at the last position. */
export interface TokenProb { id: number; token: string; prob: number | null }

/**
 * The native CLI's run JSON (small numbers that are not finite are null), except that the
 * bulk arrays are Float32Arrays (non-finite values there stay NaN / ±Infinity).
 */
export interface RunResult {
  model: ModelConfig;
  prompt: string;
  tokens: number[];
  token_strings: string[];
  /** n_layer + 1 entries, HuggingFace's output_hidden_states convention: [0] the embeddings
   *  (blocks.0.hook_resid_pre), [i + 1] the residual stream after block i, the last (index
   *  n_layer) after ln_f. Offset by one from resid_std: hidden_std[i + 1] == resid_std[i] for
   *  i < n_layer − 1; hidden_std[n_layer] is not resid_std[n_layer − 1] (ln_f lies between). */
  hidden_std: (number | null)[];
  /** n_layer entries: the residual stream after block i (blocks.i.hook_resid_post), before
   *  ln_f; resid_std[i] == hidden_std[i + 1] for i < n_layer − 1 (see hidden_std). */
  resid_std: (number | null)[];
  /** Keyed by hook name without "blocks.{i}." (20 hook points). */
  stats: Record<string, HookStats>;
  top: { id: number; token: string; logit: number | null; prob: number | null }[];
  logits_last?: Float32Array;
  /** With logits 'all': every position's logits, shape [T, V]; the last row is logits_last. */
  logits_all?: { shape: [number, number]; data: Float32Array };
  /** With logits 'all': [T - 1], the loss (nats) of predicting token t + 1 at position t (null where not finite), as heads(). */
  token_loss?: (number | null)[];
  captures?: Record<string, { shape: number[]; data: Float32Array }>;
  /** With logitLens: per block, the reading's top tokens and KL(final output || reading) in nats. */
  logit_lens?: { layer: number; top: TokenProb[]; kl: number | null }[];
  /**
   * The interventions in their normalised form (each kind's keys, the exercises' hook and
   * features added); they may be passed in again. A noise seed above 2^53 loses digits here.
   */
  interventions: Intervention[];
  /** The first hook where a non-finite value appeared, or null. */
  nonfinite: string | null;
}

/** Exactly one of prompt and repeat; seed goes with repeat (and only with it). */
export interface HeadsOptions {
  prompt?: string;
  /** R: the input is <|endoftext|> then R random tokens, twice (2R+1 <= the context). */
  repeat?: number;
  /** 0..2^64-1; as a string or BigInt above 2^53. */
  seed?: number | string | bigint;
  interventions?: (Intervention | string)[];
  /** Also return this block's attention patterns (the ones scored) as `pattern`. */
  pattern?: number;
}

/** hooklab heads' JSON. Each score array is [n_layer][n_head]; null where the score is
 *  undefined (induction with no repeated token, previous-token on one token) or not finite. */
export interface HeadsResult {
  tokens: number[];
  token_strings: string[];
  /** [T - 1]: the loss (nats) of predicting token t + 1 at position t, with the interventions;
   *  null where not finite. On {repeat: R}: entries 0..R-1 predict the first occurrence, R..2R-1
   *  the repeat (what induction heads make predictable). */
  token_loss: (number | null)[];
  /** Mean of A[i][j+1] over positions i whose token occurred before, j its latest earlier position. */
  induction: (number | null)[][];
  /** Mean over i >= 1 of A[i][i-1]. */
  previous_token: (number | null)[][];
  /** Mean over i of A[i][0]. */
  first_token: (number | null)[][];
  interventions: Intervention[];
  /** With opts.pattern: that block's hook_pattern, [head, query, key] row-major. */
  pattern?: { layer: number; shape: [number, number, number]; data: Float32Array };
}

/** Activation patching (issue #11). A TOKEN is text that is exactly one token (" Mary"), "#ID", or an id. */
export interface PatchOptions {
  clean: string;
  corrupted: string;
  answer: string | number;
  /** Not needed with a metric of the answer alone (prob, logprob, loss). */
  wrong?: string | number;
  /** Default 'resid_pre'. resid_pre / attn_out / mlp_out are patched by position, z by head (all positions). */
  hook?: 'resid_pre' | 'attn_out' | 'mlp_out' | 'z';
  by?: 'position' | 'head';
  /**
   * 'exact' (the default): the sweep, one patched run per slice. 'attribution': attribution
   * patching, the first-order estimate LD(corrupted) + sum over the slice of (clean - corrupted)
   * x dLD/d(activation) at the corrupted run, from two forwards and one backward in one call.
   */
  method?: 'exact' | 'attribution';
  /**
   * What each patched run measures at the last position: 'logit_diff' (the default: answer -
   * wrong), or the answer's 'prob', 'logprob' or 'loss' (-logprob). The result's rows, and its
   * clean_ / corrupted_ values, are then keyed by the metric's name (prob, clean_prob...) and
   * `metric` names it. Exact sweep only.
   */
  metric?: 'logit_diff' | 'prob' | 'logprob' | 'loss';
  /** Applied to the clean and the corrupted run alike. */
  interventions?: (Intervention | string)[];
  /**
   * Called before the sweep (done 0) and after each block with that block's logit differences;
   * with method 'attribution', once, when it is done (header: the result).
   */
  onProgress?: (p: { done: number; total: number; layer: number; row: number[] | null; header: Record<string, unknown> }) => void;
  /** Stops the sweep between blocks; the promise rejects with the signal's reason (an AbortError). */
  signal?: AbortSignal;
}

export interface PatchResult {
  hook: string;
  by: 'position' | 'head';
  clean_tokens: number[];
  corrupted_tokens: number[];
  clean_token_strings: string[];
  corrupted_token_strings: string[];
  answer_id: number;
  /** wrong_id and wrong: absent when no wrong token was given (a metric of the answer alone). */
  wrong_id?: number;
  answer: string;
  wrong?: string;
  /** Only with another metric than logit_diff; its rows and values then carry its name (prob, clean_prob, corrupted_prob). */
  metric?: 'prob' | 'logprob' | 'loss';
  clean_logit_diff: number | null;
  corrupted_logit_diff: number | null;
  /** [n_layer][T] (by position) or [n_layer][n_head] (z): logits[-1, answer] - logits[-1, wrong] when patched. */
  logit_diff: (number | null)[][];
  /** (patched - corrupted) / (clean - corrupted). */
  normalized: (number | null)[][];
  /** Forward-equivalents of work actually computed (FLOPs / one full forward's), the two unpatched runs included (attribution: 2). */
  forwards: number;
  /** Only with method 'attribution'. */
  method?: 'attribution';
  /** Only with method 'attribution': 1, the backward of the corrupted run. */
  backwards?: number;
  ms: number;
  n_layer: number;
  interventions: Intervention[];
}

/** Gradients of LD = logits[-1, answer] - logits[-1, wrong] (issue #26). A TOKEN as in PatchOptions. */
export interface GradientsOptions {
  prompt: string;
  answer: string | number;
  wrong: string | number;
  /** Full hook names ("blocks.3.hook_resid_pre", "hook_embed", "logits"); none: only input_x_gradient. */
  hooks?: string[] | string;
  /** Part of the function differentiated: a scaled slice scales its gradient, a zeroed / set / noised one passes 0. */
  interventions?: (Intervention | string)[];
}

/** The native CLI's gradients JSON, each gradient's values as a Float32Array. */
export interface GradientsResult {
  tokens: number[];
  token_strings: string[];
  answer_id: number;
  wrong_id: number;
  answer: string;
  wrong: string;
  /** LD of this run, its interventions applied. */
  logit_diff: number | null;
  /**
   * Per hook asked for: dLD/d(its value after its own interventions), in the hook's shape
   * (hook_z [T, n_head, d_head], scores and patterns [head, query, key], logits [1, vocab]), row-major.
   */
  gradients: Record<string, { shape: number[]; data: Float32Array }>;
  /** [T]: sum over d of (hook_embed + hook_pos_embed)[p, d] * dLD/d(blocks.0.hook_resid_pre)[p, d]. */
  input_x_gradient: (number | null)[];
  interventions: Intervention[];
  /** 1 and 1: one forward, one backward. */
  forwards: number;
  backwards: number;
  /** The engine's time for the forward and the backward. */
  ms: number;
}

export interface AttributeOptions {
  prompt: string;
  answer: string | number;
  wrong: string | number;
  /** Not on the residual stream (hook_resid_pre/mid/post, scale_hidden), hook_attn_out, ln_final or logits. */
  interventions?: (Intervention | string)[];
}

export interface AttributeResult {
  tokens: number[];
  token_strings: string[];
  answer_id: number;
  wrong_id: number;
  answer: string;
  wrong: string;
  logit_diff: number | null;
  /** embed, pos_embed, blocks.L.attn.head.H, blocks.L.attn.bias, blocks.L.mlp, ln_final.bias (and unembed.bias with processed weights): they sum to logit_diff. */
  components: { name: string; value: number | null }[];
  interventions: Intervention[];
}
export interface CompareResult {
  baseline: RunResult;
  intervened: RunResult;
  /** The intervened run was one the engine kept from an earlier call (no forward). */
  reused: boolean;
  /** The first block the intervened run computed: the blocks before came from a forward the engine kept (the baseline's, or an intervened run's that agrees with it there). n_layer when reused, without interventions, or when it computed none (only its captures or options differ from a kept run's). */
  firstBlock: number;
  kl: number | null;
  /** The baseline's top k, then the tokens that entered the intervened top k. */
  top: { id: number; token: string; pBase: number | null; pInt: number | null; delta: number | null }[];
  /** With logitLens: per block, KL between the two readings, and each reading's top token. */
  logit_lens?: { layer: number; kl: number | null; topBase: TokenProb; topInt: TokenProb }[];
}

export interface HookPoint {
  /** "hook_embed", or "blocks.{i}.attn.hook_z" for the hooks of every block. */
  name: string;
  per_block: boolean;
  /** What each dimension is: "pos", "head", "d_head", "d_model", "key_pos", "d_mlp", "d_vocab"... */
  dims: string[];
  shape: number[];
  /** Which dimension the positions / heads / features selectors address (-1: none). */
  axes: { positions: number; heads: number; features: number };
}

/** The Float32Arrays' buffers of a result, for a postMessage transfer list. */
export function transferables(result: unknown): ArrayBuffer[];

/** Generation with the interventions active (issue #12), decoding with a KV cache. */
export interface GenerateOptions {
  /** At least 1. */
  maxNewTokens: number;
  /** 0 (the default): greedy, the most likely token. */
  temperature?: number;
  /** Sample among the K most likely tokens; 0 (the default): no limit. */
  topK?: number;
  /** Nucleus sampling: the smallest most-likely set holding this much probability, in (0, 1]; default 1. */
  topP?: number;
  /** Draw `step` uses splitmix64(seed, step): the same tokens natively and in wasm. Default 0. */
  seed?: number | bigint | string;
  /** Applied at every step to every position as it is computed. */
  interventions?: (Intervention | string)[];
  /** Called with each new token as soon as it is computed. */
  onToken?: (t: GenerateStep & { index: number }) => void;
  /** Stops between tokens; the promise rejects with the signal's reason (an AbortError). */
  signal?: AbortSignal;
}

export interface GenerateStep {
  id: number;
  token: string;
  /** The model's probability of this token (softmax at temperature 1, whole vocabulary). */
  prob: number;
}

export interface GenerateResult {
  prompt_tokens: number[];
  /** A final <|endoftext|> included. */
  new_tokens: number[];
  /** The new tokens' text, a final <|endoftext|> left out. */
  text: string;
  steps: GenerateStep[];
  stopped: 'length' | 'endoftext' | 'context';
  /** Engine time, the prompt's forward included (with generateCompare, the steps shared with the other continuation). */
  ms: number;
  tokens_per_s: number;
  /** False when an intervention can change earlier positions as the sequence grows: every step recomputes it. */
  kv_cache: boolean;
  interventions: Intervention[];
}

/** generateCompare's options: generate's, with onToken told which continuation a token is for. */
export interface GenerateCompareOptions extends Omit<GenerateOptions, 'onToken'> {
  /** Called with each new token of either continuation as soon as it is computed. */
  onToken?: (which: 'baseline' | 'intervened', t: GenerateStep & { index: number }) => void;
}

/** The baseline (no interventions) and the intervened continuation: the native `generate --compare` JSON. */
export interface GenerateCompareResult {
  baseline: GenerateResult;
  intervened: GenerateResult;
}

/**
 * The option keys each entry point takes (one table, wasm/js/hooklab.js); any other key is a
 * HookLabError naming it, with a "did you mean" and this list. The option interfaces here list
 * exactly these keys.
 */
export const OPTION_KEYS: {
  readonly load: readonly (keyof LoadOptions)[];
  readonly run: readonly (keyof RunOptions)[];
  readonly runJSON: readonly (keyof RunOptions)[];
  readonly compare: readonly (keyof RunOptions)[];
  readonly runWithCache: readonly (keyof RunWithCacheOptions)[];
  readonly heads: readonly (keyof HeadsOptions)[];
  readonly headsJSON: readonly (keyof HeadsOptions)[];
  readonly patch: readonly (keyof PatchOptions)[];
  readonly attribute: readonly (keyof AttributeOptions)[];
  readonly gradients: readonly (keyof GradientsOptions)[];
  readonly generate: readonly (keyof GenerateOptions)[];
  readonly generateCompare: readonly (keyof GenerateCompareOptions)[];
};

/** "Did you mean": the candidate equal to key up to case, '_' and '-', else the closest within 2 edits; '' when none. */
export function closestKey(key: string, candidates: readonly string[]): string;

/** An engine error; the message is the engine's, meant to be shown as it is. */
export class HookLabError extends Error {}

export class HookLab {
  /** source: a folder path (node), a base URL laid out like a HuggingFace repo, or the four files.
   *  In node a name works too: "default" or "induction" (the models the package ships), or a hub model.
   *  In a browser "default" and "induction" are the package's own checkpoints, fetched relative to this
   *  module (new URL('../../checkpoints/NAME/', import.meta.url)): serve node_modules/gpt2-hooklab as is. */
  static load(source: string | URL | FourFiles, opts?: LoadOptions): Promise<HookLab>;
  readonly config: ModelConfig;
  run(prompt: string, opts?: RunOptions): RunResult;
  /**
   * Baseline (no interventions) against intervened, compared in the engine; the baseline's
   * forward is computed once per prompt, and the latest intervened runs are kept.
   * kl: KL(baseline || intervened) at the last position.
   */
  compare(prompt: string, opts?: RunOptions): CompareResult;
  /** The hook points in firing order, with shapes for a prompt of T tokens. */
  hooks(T?: number): HookPoint[];
  /** TransformerLens's run_with_cache: run() with the activations as an ActivationCache. */
  runWithCache(prompt: string, opts?: RunWithCacheOptions): ActivationCache;
  /**
   * A weight by TransformerLens's name, unprocessed (from_pretrained_no_processing) unless loaded with
   * {process} (then as that processing leaves it; b_U no longer zeros after fold_ln), in its shape, as a copy:
   * 'W_E' [d_vocab, d_model], 'W_pos' [n_ctx, d_model], 'W_U' [d_model, d_vocab], 'b_U' (zeros),
   * 'blocks.L.attn.W_Q' / W_K / W_V [n_head, d_model, d_head], b_Q / b_K / b_V [n_head, d_head],
   * W_O [n_head, d_head, d_model], b_O [d_model], 'blocks.L.mlp.W_in' [d_model, d_mlp], b_in,
   * W_out [d_mlp, d_model], b_out, 'blocks.L.ln1.w' / ln1.b / ln2.w / ln2.b, 'ln_final.w' / 'ln_final.b';
   * the state dict's 'embed.W_E', 'pos_embed.W_pos', 'unembed.W_U' too, and 'W_Q' ... 'b_out' stacked [n_layer, ...].
   */
  weight(name: string): Tensor;
  /** Every name weight() takes. */
  weightNames(): string[];
  /** The run JSON as text, byte for byte what the native CLI prints (indent 2: --pretty). */
  runJSON(prompt: string, opts?: RunOptions, indent?: number): string;
  /** Every head's scores from blocks.L.attn.hook_pattern, with the interventions applied. */
  heads(opts: HeadsOptions): HeadsResult;
  /** The same as text, byte for byte what the native CLI prints. */
  headsJSON(opts: HeadsOptions, indent?: number): string;
  tokenize(text: string): number[];
  decode(ids: ArrayLike<number>): string;
  /** Activation patching sweep, one block per step (progress, cancel); or {method: 'attribution'}: its estimate from one backward. */
  patch(opts: PatchOptions): Promise<PatchResult>;
  /** Direct logit attribution at the last position. */
  attribute(opts: AttributeOptions): AttributeResult;
  /** dLD/d(activation) at each hook asked for, and input x gradient: one forward, one backward. */
  gradients(opts: GradientsOptions): GradientsResult;
  /** Generation with the interventions active, one token per step (streaming, cancel). */
  generate(prompt: string, opts: GenerateOptions): Promise<GenerateResult>;
  /**
   * The baseline and the intervened continuation generated together (one forward per step
   * for both); each gives the tokens of generate() with the same options.
   */
  generateCompare(prompt: string, opts: GenerateCompareOptions): Promise<GenerateCompareResult>;
  /** One bare forward (no hooks), timed inside wasm, in milliseconds. */
  forwardMs(ids: ArrayLike<number>, allLogits?: boolean): number;
  flopsPerForward(tokens: number, allLogits?: boolean): number;
  /** Bytes the weights take in memory (F32, or F16 with {f16: true}); not the file's size. */
  readonly weightBytes: number;
  /** model.safetensors' size in bytes (NaN when the source did not say). */
  readonly fileBytes: number;
  /** Whether a URL source came entirely from the cache. */
  readonly fromCache: boolean;
  /** The wasm memory's current size (it only grows). */
  readonly memoryBytes: number;
  readonly kernel: string;
  /** Threads the engine uses (1: the single-threaded build). */
  readonly threads: number;
  dispose(): void;
}

/** A fresh instance of the raw Embind module (advanced use). */
export function loadModule(): Promise<unknown>;

export default HookLab;
