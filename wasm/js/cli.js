#!/usr/bin/env node
// hooklab (node): the native CLI's commands, flags and JSON, on the WebAssembly engine.
// One JSON object on stdout, or one line on stderr and exit status 1; never half a result.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { fetchModel, modelCacheDir } from './download.js';
import { MODEL_FILES, repoOf } from './models.js';

const isComplete = (dir) => MODEL_FILES.every((f) => existsSync(join(dir, f)));

// The engine is built, not committed: before the build, say what to run (a static import
// would die first with node's ERR_MODULE_NOT_FOUND stack trace).
if (!existsSync(new URL('../dist/hooklab.mjs', import.meta.url)) || !existsSync(new URL('../dist/hooklab.wasm', import.meta.url))) {
  process.stderr.write('hooklab: the WebAssembly engine is not built yet (wasm/dist/hooklab.{mjs,wasm} missing): run "npm run build:wasm" first\n');
  process.exit(1);
}
const { HookLab, HookLabError, loadModule, closestKey, PROCESS_KEYS } = await import('./hooklab.js');

const THREADS_USAGE = '  --threads N: threads in the engine\'s pool (default: the hardware\'s, at most 8)\n';

// --threads N: a count HookLab.load then checks (1..256).
function threadsValue(flag, v) {
  if (!/^[0-9]{1,9}$/.test(v)) throw new CliError(`option ${flag} needs a non-negative integer, got "${v}"`);
  return parseInt(v, 10);
}

// The flags each command takes (issue #28): any other flag, a typo or one of another
// command ("run --top-k", "generate --topk"), is an error, never silently ignored. The same
// table and messages, byte for byte, as the native CLI's (model/cli/hooklab.cpp, kFlags).
const FLAGS = {
  run: ['--model', '--prompt', '--intervene', '--topk', '--logits', '--all-logits', '--capture', '--process', '--f16', '--pretty', '--threads'],
  tokenize: ['--model', '--text', '--f16'],
  heads: ['--model', '--prompt', '--repeat', '--seed', '--intervene', '--pattern', '--process', '--f16', '--pretty'],
  patch: ['--model', '--clean', '--corrupted', '--answer', '--wrong', '--hook', '--by', '--method', '--metric', '--intervene',
    '--process', '--f16', '--pretty', '--threads'],
  attribute: ['--model', '--prompt', '--answer', '--wrong', '--intervene', '--process', '--f16', '--pretty', '--threads'],
  gradients: ['--model', '--prompt', '--answer', '--wrong', '--hook', '--intervene', '--process', '--f16', '--pretty', '--threads'],
  generate: ['--model', '--prompt', '--max-new-tokens', '--temperature', '--top-k', '--top-p', '--seed', '--intervene',
    '--compare', '--process', '--f16', '--pretty', '--threads'],
  bench: ['--model', '--prompt', '--iters', '--all-logits', '--process', '--f16', '--threads'],
};
// fetch is the node CLI's own (not in FLAGS, whose hints must match the native CLI's).
const FETCH_FLAGS = ['--out', '--endpoint'];

// Throws unless `a` is one of cmd's flags: "unknown option A for hooklab CMD (did you mean
// --X? | an option of hooklab C); CMD takes ... (see hooklab --help)".
function checkFlag(cmd, a, mine = FLAGS[cmd]) {
  if (mine.includes(a)) return;
  let msg = `unknown option ${a} for hooklab ${cmd}`;
  const start = a.search(/[^-]/);
  const near = start > 0 ? closestKey(a.slice(start), mine.map((f) => f.slice(2))) : '';
  const others = Object.keys(FLAGS).filter((c) => c !== cmd && FLAGS[c].includes(a));
  // Another command's flag is named as such, unless it is one of cmd's up to case, '_', '-'.
  const folded = (x) => x.replace(/[-_]/g, '').replace(/[A-Z]/g, (c) => c.toLowerCase());
  if (near && (!others.length || folded(near) === folded(a))) msg += ` (did you mean --${near}?)`;
  else if (others.length) msg += ` (an option of hooklab ${others.join(', ')})`;
  throw new CliError(`${msg}; ${cmd} takes ${mine.join(', ')} (see hooklab --help)`);
}

// The patch, attribute, gradients and generate commands' lines: in the full usage and in each command's own.
const PATCH_LINES =
  '  hooklab patch --model DIR --clean TEXT --corrupted TEXT --answer TOKEN --wrong TOKEN\n' +
  '                --hook resid_pre|attn_out|mlp_out|z [--by position|head] [--method exact|attribution] [--intervene JSON]...\n' +
  '                [--metric logit_diff|prob|logprob|loss] [--f16] [--pretty] [--threads N]\n' +
  '    --method attribution: the first-order estimate from one backward (default exact: the sweep)\n' +
  '    --metric: what each patched run measures (default logit_diff; the others, of the answer, need no --wrong)\n' +
  '  hooklab attribute --model DIR --prompt TEXT --answer TOKEN --wrong TOKEN [--intervene JSON]... [--f16] [--pretty] [--threads N]\n' +
  '  hooklab gradients --model DIR --prompt TEXT --answer TOKEN --wrong TOKEN --hook NAME [--hook NAME]...\n' +
  '                    [--intervene JSON]... [--f16] [--pretty] [--threads N]\n' +
  '    dLD/d(activation) at each hook (full names: blocks.3.hook_resid_pre), LD = logits[-1, answer] - logits[-1, wrong]\n' +
  '    TOKEN: text that is exactly one token (" Mary") or #ID\n';
const GENERATE_LINES =
  '  hooklab generate --model DIR --prompt TEXT --max-new-tokens N [--temperature T] [--top-k K] [--top-p P]\n' +
  '                   [--seed S] [--intervene JSON]... [--compare] [--f16] [--pretty] [--threads N]\n' +
  '    --compare: the baseline (no interventions) and the intervened generation together\n';

const USAGE =
  'usage:\n' +
  '  hooklab run --model DIR --prompt TEXT [--intervene JSON]... [--topk K] [--logits] [--all-logits] [--capture HOOK]... [--f16] [--pretty] [--threads N]\n' +
  '    --all-logits: every position\'s logits, logits_all [T][V] (and logits_last), and token_loss [T-1]\n' +
  '  hooklab tokenize --model DIR --text TEXT [--f16]\n' +
  '  hooklab heads --model DIR (--prompt TEXT | --repeat R --seed S) [--intervene JSON]... [--pattern L] [--f16] [--pretty]\n' +
  PATCH_LINES +
  GENERATE_LINES +
  '  hooklab bench --model DIR --prompt TEXT [--iters N] [--all-logits] [--f16] [--threads N]\n' +
  '  --process LIST (every command but tokenize): TransformerLens\'s weight processing at load, comma-separated:\n' +
  '    fold_ln, center_writing_weights, center_unembed, fold_value_biases; or tl (all four, as from_pretrained)\n' +
  '  hooklab fetch gpt2|gpt2-medium|ORG/NAME [--out DIR] [--endpoint URL]\n' +
  '  hooklab check LESSON.md ANSWERS.json [--model DIR] [--json] [--threads N]\n' +
  '    grades a lesson file\'s questions (docs/lessons.md); exit 0: all right, 1: some wrong, 2: invalid input\n' +
  'DIR may also be a model name fetched before (gpt2, gpt2-medium, ORG/NAME): its cached copy is used.\n' +
  THREADS_USAGE;

class CliError extends Error {}

// --process LIST: TransformerLens's weight processing at load (HookLab.load's {process}), as
// the native CLI takes it: fold_ln,center_writing_weights,center_unembed,fold_value_biases or tl.
let loadProcess;
function processValue(v) {
  if (v === 'tl') return 'tl';
  const p = {};
  for (const k of v.split(',')) {
    if (!PROCESS_KEYS.includes(k)) {
      const near = closestKey(k, PROCESS_KEYS);
      throw new CliError(`--process: unknown weight processing "${k}"${near ? ` (did you mean ${near}?)` : ''}; ` +
        'the options: fold_ln, center_writing_weights, center_unembed, fold_value_biases, or tl for all four');
    }
    p[k] = true;
  }
  return p;
}

async function main(argv) {
  if (argv.length < 1) throw new CliError('missing command (see hooklab --help)');
  const cmd = argv[0];
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (cmd === 'fetch') return fetchCommand(argv.slice(1));
  if (cmd === 'heads') return headsCommand(argv.slice(1));
  if (cmd === 'patch' || cmd === 'attribute' || cmd === 'gradients') return patchCommand(cmd, argv.slice(1));
  if (cmd === 'generate') return generateCommand(argv.slice(1));
  if (cmd === 'check') { // a lesson file's autograder (lesson-check.js): exit 0, 1 or 2, its own report
    const { checkCommand } = await import('./lesson-check.js');
    return checkCommand(argv.slice(1), { HookLab, resolveModel });
  }
  if (!FLAGS[cmd]) throw new CliError(`unknown command "${cmd}" (see hooklab --help)`);
  let modelDir = '', prompt = '', havePrompt = false, pretty = false, f16 = false, allLogits = false, iters = 10, threads;
  const opt = { interventions: [], topk: 10, logits: false, capture: [] };
  let M = null;  // the wasm module, for JSON checks exactly as the engine parses
  for (let i = 1; i < argv.length; ++i) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new CliError(`option ${a} needs a value`);
      return argv[++i];
    };
    const intValue = () => {
      const v = value();
      if (v === '' || v.length > 9 || !/^[0-9]+$/.test(v)) throw new CliError(`option ${a} needs a non-negative integer, got "${v}"`);
      return parseInt(v, 10);
    };
    checkFlag(cmd, a);
    if (a === '--model') modelDir = value();
    else if (a === '--prompt' || a === '--text') { prompt = value(); havePrompt = true; }
    else if (a === '--intervene') {
      const v = value();
      M ??= await loadModule();
      if (!M.jsonValid(v)) throw new CliError(`--intervene: not valid JSON: ${v}`);
      opt.interventions.push(v);  // as text: parsed by the engine, 64-bit seeds exact
    }
    else if (a === '--topk') opt.topk = intValue();
    else if (a === '--logits') opt.logits = true;
    else if (a === '--capture') opt.capture.push(value());
    else if (a === '--f16') f16 = true;
    else if (a === '--process') loadProcess = processValue(value());
    else if (a === '--pretty') pretty = true;
    else if (a === '--iters') iters = Math.max(1, intValue());
    else if (a === '--all-logits') allLogits = true;
    else if (a === '--threads') threads = threadsValue(a, value());
    else throw new CliError(`unknown option ${a} (see hooklab --help)`);
  }
  if (!modelDir) throw new CliError('--model DIR is required');
  if (!havePrompt) throw new CliError(cmd === 'tokenize' ? '--text is required' : '--prompt is required');
  const lab = await HookLab.load(await resolveModel(modelDir), { process: loadProcess, f16, threads });

  let out;
  if (cmd === 'run') {
    out = lab.runJSON(prompt, allLogits ? { ...opt, logits: 'all' } : opt, pretty ? 2 : -1);
  } else if (cmd === 'tokenize') {
    out = JSON.stringify(lab.tokenize(prompt));
  } else if (cmd === 'bench') {
    // Bare forward, no hooks: what the kernels and the pass cost.
    const ids = lab.tokenize(prompt);
    lab.forwardMs(ids, allLogits);  // warm-up
    const ms = [];
    for (let i = 0; i < iters; ++i) ms.push(lab.forwardMs(ids, allLogits));
    ms.sort((x, y) => x - y);
    const med = ms[Math.floor(ms.length / 2)];
    const flops = lab.flopsPerForward(ids.length, allLogits);
    // Keys sorted, as the native CLI's JSON library writes them.
    out = JSON.stringify({
      all_logits: allLogits, f16, gflops_at_median: flops / (med * 1e6), iters, kernel: lab.kernel, ms_median: med,
      ms_min: ms[0], threads: lab.threads, tokens: ids.length, weight_bytes: lab.weightBytes,
    });
  } else {
    throw new CliError(`unknown command "${cmd}" (see hooklab --help)`);
  }
  lab.dispose();
  process.stdout.write(out + '\n');
}

// A folder, or the name of a hub model fetched before.
async function resolveModel(name) {
  if (existsSync(name)) return name;
  let repo;
  try {
    repo = repoOf(name);
  } catch {
    return name;  // the loader says the folder is missing
  }
  const dir = await modelCacheDir(name);
  if (!isComplete(dir)) throw new CliError(`no folder "${name}" and ${repo} is not downloaded yet: run "npx hooklab fetch ${name}" first`);
  return dir;
}

// heads: every head's previous-token, first-token and induction scores. Its own flags, as
// natively (--seed here draws tokens, not noise).
async function headsCommand(args) {
  let modelDir = '', pretty = false, f16 = false;
  const opt = { interventions: [] };
  for (let i = 0; i < args.length; ++i) {
    const a = args[i];
    const value = () => {
      if (i + 1 >= args.length) throw new CliError(`option ${a} needs a value`);
      return args[++i];
    };
    checkFlag('heads', a);
    if (a === '--model') modelDir = value();
    else if (a === '--prompt') opt.prompt = value();
    else if (a === '--repeat') {
      const v = value();
      if (v === '' || v.length > 9 || !/^[0-9]+$/.test(v)) throw new CliError(`option --repeat needs a positive integer, got "${v}"`);
      opt.repeat = parseInt(v, 10);
    }
    else if (a === '--seed') opt.seed = value();  // text: the engine checks it, 64 bits exact
    else if (a === '--pattern') {
      const v = value();
      if (v === '' || v.length > 9 || !/^[0-9]+$/.test(v)) throw new CliError(`option --pattern needs a block number, got "${v}"`);
      opt.pattern = parseInt(v, 10);
    }
    else if (a === '--intervene') {
      const v = value();
      if (!(await loadModule()).jsonValid(v)) throw new CliError(`--intervene: not valid JSON: ${v}`);
      opt.interventions.push(v);
    }
    else if (a === '--f16') f16 = true;
    else if (a === '--process') loadProcess = processValue(value());
    else if (a === '--pretty') pretty = true;
    else throw new CliError(`unknown option ${a} (see hooklab --help)`);
  }
  if (!modelDir) throw new CliError('--model DIR is required');
  const lab = await HookLab.load(await resolveModel(modelDir), { process: loadProcess, f16 });
  const out = lab.headsJSON(opt, pretty ? 2 : -1);
  lab.dispose();
  process.stdout.write(out + '\n');
}

async function fetchCommand(args) {
  let name = '', out = '', endpoint;
  for (let i = 0; i < args.length; ++i) {
    const a = args[i];
    const value = () => {
      if (i + 1 >= args.length) throw new CliError(`option ${a} needs a value`);
      return args[++i];
    };
    if (a === '--out') out = value();
    else if (a === '--endpoint') endpoint = value();
    else if (a.startsWith('-')) checkFlag('fetch', a, FETCH_FLAGS);
    else if (!name) name = a;
    else throw new CliError(`unexpected argument ${a}`);
  }
  if (!name) throw new CliError('fetch: which model? (gpt2, gpt2-medium or ORG/NAME)');
  let repo;
  try {
    repo = repoOf(name);
  } catch (e) {
    throw new CliError(e.message);
  }
  out ||= await modelCacheDir(name);
  // One progress bar across all four files, on stderr (stdout keeps the JSON result).
  let last = -1;
  const bar = (p) => {
    const pct = Math.floor(p * 100);
    if (pct === last) return;
    last = pct;
    const fill = Math.round(p * 30);
    const line = `${repo} [${'#'.repeat(fill)}${'.'.repeat(30 - fill)}] ${pct}%`;
    if (process.stderr.isTTY) process.stderr.write(`\r${line}`);
    else if (pct % 10 === 0) process.stderr.write(`${line}\n`);
  };
  let r;
  try {
    r = await fetchModel(name, out, { onProgress: bar, ...(endpoint ? { endpoint } : {}) });
  } catch (e) {
    throw new CliError(`fetch ${repo}: ${e.message}`);
  }
  if (process.stderr.isTTY) process.stderr.write('\n');
  process.stdout.write(JSON.stringify({ repo, dir: r.dir, files: r.files }) + '\n');
}

// ---------------------------------------------------------------- patch, attribute and gradients
// The native CLI's flags and JSON (issues #11, #26); the sweep's progress goes to stderr on a TTY.

const PATCH_USAGE = 'usage:\n' + PATCH_LINES + THREADS_USAGE;

async function patchCommand(cmd, args) {
  const o = {};
  const interventions = [];
  const hooks = [];  // gradients: every --hook, in order
  let modelDir = '', f16 = false, pretty = false, threads, method = 'exact';
  const flags = { '--clean': 'clean', '--corrupted': 'corrupted', '--answer': 'answer', '--wrong': 'wrong',
    '--hook': 'hook', '--by': 'by', '--prompt': 'prompt', '--metric': 'metric' };
  for (let i = 0; i < args.length; ++i) {
    const a = args[i];
    const value = () => {
      if (i + 1 >= args.length) throw new CliError(`option ${a} needs a value`);
      return args[++i];
    };
    if (a === '--help' || a === '-h') { process.stdout.write(PATCH_USAGE); return; }
    checkFlag(cmd, a);
    if (a === '--model') modelDir = value();
    else if (a === '--hook') { o.hook = value(); hooks.push(o.hook); }
    else if (flags[a]) o[flags[a]] = value();
    else if (a === '--method') {
      method = value();
      if (method !== 'exact' && method !== 'attribution') throw new CliError(`option --method needs exact or attribution, got "${method}"`);
    }
    else if (a === '--intervene') {
      const v = value();
      if (!(await loadModule()).jsonValid(v)) throw new CliError(`--intervene: not valid JSON: ${v}`);
      interventions.push(v);
    }
    else if (a === '--f16') f16 = true;
    else if (a === '--process') loadProcess = processValue(value());
    else if (a === '--pretty') pretty = true;
    else if (a === '--threads') threads = threadsValue(a, value());
    else throw new CliError(`unknown option ${a} (see hooklab ${cmd} --help)`);  // unreachable: checkFlag
  }
  if (!modelDir) throw new CliError('--model DIR is required');
  if (cmd === 'patch') {
    if (o.clean === undefined || o.corrupted === undefined) throw new CliError('--clean and --corrupted are required');
    if (o.hook === undefined) throw new CliError('--hook resid_pre|attn_out|mlp_out|z is required');
  } else if (o.prompt === undefined) {
    throw new CliError('--prompt is required');
  }
  const wrongOptional = cmd === 'patch' && o.metric !== undefined && o.metric !== 'logit_diff';
  if (o.answer === undefined || (o.wrong === undefined && !wrongOptional)) throw new CliError('--answer and --wrong are required (one token each: text or #ID)');
  if (cmd === 'gradients' && !hooks.length)
    throw new CliError('--hook NAME is required (a full hook name, e.g. blocks.3.hook_resid_pre; several: --hook A --hook B)');
  const lab = await HookLab.load(await resolveModel(modelDir), { process: loadProcess, f16, threads });
  const onProgress = ({ done, total }) => {
    if (process.stderr.isTTY && method === 'exact') process.stderr.write(`\rpatching: block ${done}/${total}${done === total ? '\n' : ''}`);
  };
  let out;
  try {
    if (cmd === 'patch') out = await lab.patch({ ...o, method, interventions, onProgress });
    else if (cmd === 'attribute') out = lab.attribute({ ...o, interventions });
    else {
      out = lab.gradients({ prompt: o.prompt, answer: o.answer, wrong: o.wrong, hooks, interventions });
      // The native CLI's JSON: each gradient {"data", "shape"} (keys sorted, as its JSON library writes them).
      for (const [name, g] of Object.entries(out.gradients)) out.gradients[name] = { data: Array.from(g.data), shape: g.shape };
    }
  } finally {
    lab.dispose();
  }
  process.stdout.write(JSON.stringify(out, null, pretty ? 2 : undefined) + '\n');
}

// ---------------------------------------------------------------- generate
// The native CLI's flags and JSON (issue #12).

const GENERATE_USAGE = 'usage:\n' + GENERATE_LINES + THREADS_USAGE;

async function generateCommand(args) {
  const o = { interventions: [] };
  let modelDir = '', prompt, f16 = false, pretty = false, compare = false, threads;
  for (let i = 0; i < args.length; ++i) {
    const a = args[i];
    const value = () => {
      if (i + 1 >= args.length) throw new CliError(`option ${a} needs a value`);
      return args[++i];
    };
    const intValue = () => {
      const v = value();
      if (v === '' || v.length > 9 || !/^[0-9]+$/.test(v)) throw new CliError(`option ${a} needs a non-negative integer, got "${v}"`);
      return parseInt(v, 10);
    };
    // As strtod: NaN is a number here (the engine then says why it is not allowed).
    const numberValue = () => {
      const v = value();
      const x = Number(v);
      if (v.trim() === '' || (Number.isNaN(x) && !/^[+-]?nan$/i.test(v.trim()))) throw new CliError(`option ${a} needs a number, got "${v}"`);
      return x;
    };
    if (a === '--help' || a === '-h') { process.stdout.write(GENERATE_USAGE); return; }
    checkFlag('generate', a);
    if (a === '--model') modelDir = value();
    else if (a === '--prompt') prompt = value();
    else if (a === '--max-new-tokens') o.maxNewTokens = intValue();
    else if (a === '--temperature') o.temperature = numberValue();
    else if (a === '--top-k') o.topK = intValue();
    else if (a === '--top-p') o.topP = numberValue();
    else if (a === '--seed') {
      const v = value();
      if (!/^[0-9]{1,20}$/.test(v) || BigInt(v) >= 2n ** 64n) throw new CliError(`option ${a} needs an integer in [0, 2^64), got "${v}"`);
      o.seed = v;
    }
    else if (a === '--intervene') {
      const v = value();
      if (!(await loadModule()).jsonValid(v)) throw new CliError(`--intervene: not valid JSON: ${v}`);
      o.interventions.push(v);
    }
    else if (a === '--compare') compare = true;
    else if (a === '--f16') f16 = true;
    else if (a === '--process') loadProcess = processValue(value());
    else if (a === '--pretty') pretty = true;
    else if (a === '--threads') threads = threadsValue(a, value());
    else throw new CliError(`unknown option ${a} (see hooklab generate --help)`);  // unreachable: checkFlag
  }
  if (!modelDir) throw new CliError('--model DIR is required');
  if (prompt === undefined) throw new CliError('--prompt is required');
  if (o.maxNewTokens === undefined) throw new CliError('--max-new-tokens N is required');
  if (o.maxNewTokens < 1) throw new CliError('--max-new-tokens must be at least 1');
  const lab = await HookLab.load(await resolveModel(modelDir), { process: loadProcess, f16, threads });
  try {
    const out = compare ? await lab.generateCompare(prompt, o) : await lab.generate(prompt, o);
    process.stdout.write(JSON.stringify(out, null, pretty ? 2 : undefined) + '\n');
  } finally {
    lab.dispose();
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = typeof code === 'number' ? code : 0; },
  (e) => {
    const msg = e instanceof HookLabError || e instanceof CliError ? e.message : `internal error: ${e && e.message}`;
    process.stderr.write(`hooklab: ${msg.replace(/\n/g, ' ')}\n`);
    process.exitCode = 1;
  },
);
