// Strict inputs (issue #28, item 1): every option object of the JS API, every options JSON
// the binding reads, every intervention and every CLI flag is checked against the keys its
// entry point takes; anything else is a clear error naming it, with a "did you mean" and the
// keys taken, never silently ignored ({interventon: [...]} used to return the baseline).
// The documented calls still work, and what the engine reports as applied feeds back in.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { HookLab, HookLabError, OPTION_KEYS, closestKey } from '../../wasm/js/hooklab.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NATIVE = join(ROOT, 'build/hooklab');
const MID = join(ROOT, 'build/ckpt/mid');
const CLI = join(ROOT, 'wasm/js/cli.js');
const P = 'When Mary and John went to the store, John gave a drink to';
const EX1 = { kind: 'zero_head_k', layer: 9, head: 2 };

let lab;
before(async () => { lab = await HookLab.load(MID); });
after(() => lab?.dispose());

// A HookLabError whose message matches every pattern.
const refused = (...res) => (e) => {
  assert.ok(e instanceof HookLabError, `not a HookLabError: ${e}`);
  for (const re of res) assert.match(e.message, re);
  return true;
};
const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const takes = (fn) => new RegExp(`; ${fn} takes ${esc(OPTION_KEYS[fn].join(', '))}$`);

test('the issue: a misspelt "interventions" is an error naming it, not the baseline', () => {
  assert.throws(() => lab.run(P, { interventon: [EX1] }),
    refused(/^run: unknown option "interventon" \(did you mean "interventions"\?\)/, takes('run')));
  assert.throws(() => lab.compare(P, { intervention: [EX1] }), refused(/did you mean "interventions"/));
  // The lab stays usable, and the right spelling runs the intervention.
  assert.deepEqual(lab.run(P, { interventions: [EX1] }).interventions.map((iv) => iv.kind), ['zero_head_k']);
});

test('the issue: {"kind":"zero", "head": 3} is refused, not every head zeroed', () => {
  const iv = { kind: 'zero', hook: 'blocks.3.attn.hook_z', head: 3 };
  for (const call of [() => lab.run(P, { interventions: [iv] }), () => lab.run(P, { interventions: [JSON.stringify(iv)] }),
    () => lab.heads({ prompt: P, interventions: [iv] }), () => lab.attribute({ prompt: P, answer: ' Mary', wrong: ' John', interventions: [iv] })])
    assert.throws(call, refused(/intervention "zero": unknown key "head" \(did you mean "heads"\?\); zero takes kind, hook, layer, positions, heads, features/));
  // What was meant: head 3 only.
  const r = lab.run(P, { interventions: [{ ...iv, head: undefined, heads: [3] }] });
  assert.deepEqual(r.interventions[0].heads, [3]);
});

test('every kind refuses a misspelt key, with its suggestion', () => {
  const cases = [
    [{ kind: 'zero_head_k', layer: 9, haed: 2 }, 'haed', 'head'],
    [{ kind: 'noise_even_neurons', layer: 9, sed: 1 }, 'sed', 'seed'],
    [{ kind: 'scale_hidden', layer: 9, factr: 0.1 }, 'factr', 'factor'],
    [{ kind: 'zero', hook: 'blocks.3.attn.hook_z', position: [0] }, 'position', 'positions'],
    [{ kind: 'scale', hook: 'blocks.3.hook_resid_post', facotr: 2 }, 'facotr', 'factor'],
    [{ kind: 'add', hook: 'hook_embed', valu: 1 }, 'valu', 'value'],
    [{ kind: 'set', hook: 'hook_embed', value: 1, feature: [0] }, 'feature', 'features'],
    [{ kind: 'noise', hook: 'hook_embed', sd: 2 }, 'sd', 'std'],
  ];
  for (const [iv, key, near] of cases)
    assert.throws(() => lab.run(P, { interventions: [iv] }),
      refused(new RegExp(`intervention "${iv.kind}": unknown key "${key}" \\(did you mean "${near}"\\?\\); ${iv.kind} takes kind`)), key);
});

test('each JS API function refuses an unknown option: its name, the key, a suggestion, the keys it takes', async () => {
  const bad = { bogus: 1 };
  const sync = {
    run: () => lab.run(P, bad),
    runJSON: () => lab.runJSON(P, bad),
    compare: () => lab.compare(P, bad),
    runWithCache: () => lab.runWithCache(P, bad),
    heads: () => lab.heads({ prompt: P, ...bad }),
    headsJSON: () => lab.headsJSON({ prompt: P, ...bad }),
    attribute: () => lab.attribute({ prompt: P, answer: ' Mary', wrong: ' John', ...bad }),
    gradients: () => lab.gradients({ prompt: P, answer: ' Mary', wrong: ' John', hooks: ['hook_embed'], ...bad }),
  };
  for (const [fn, call] of Object.entries(sync))
    assert.throws(call, refused(new RegExp(`^${fn}: unknown option "bogus"; `), takes(fn)), fn);
  const async_ = {
    load: () => HookLab.load(MID, bad),
    patch: () => lab.patch({ clean: P, corrupted: P, answer: ' Mary', wrong: ' John', ...bad }),
    generate: () => lab.generate(P, { maxNewTokens: 1, ...bad }),
    generateCompare: () => lab.generateCompare(P, { maxNewTokens: 1, ...bad }),
  };
  for (const [fn, call] of Object.entries(async_))
    await assert.rejects(call(), refused(new RegExp(`^${fn}: unknown option "bogus"; `), takes(fn)), fn);
  assert.deepEqual(Object.keys(OPTION_KEYS).sort(), [...Object.keys(sync), ...Object.keys(async_)].sort());

  // The confusions a learner makes: another function's spelling, snake_case, a lost letter.
  const near = [
    [() => lab.generate(P, { maxNewTokens: 1, topk: 3 }), 'generate', 'topk', 'topK'],
    [() => lab.generate(P, { max_new_tokens: 1 }), 'generate', 'max_new_tokens', 'maxNewTokens'],
    [() => lab.generateCompare(P, { maxNewTokens: 1, intervention: [] }), 'generateCompare', 'intervention', 'interventions'],
    [() => lab.run(P, { topK: 3 }), 'run', 'topK', 'topk'],
    [() => lab.run(P, { logit_lens: true }), 'run', 'logit_lens', 'logitLens'],
    [() => lab.run(P, { captures: ['blocks.0.hook_resid_post'] }), 'run', 'captures', 'capture'],
    [() => lab.heads({ prompt: P, patern: 3 }), 'heads', 'patern', 'pattern'],
    [() => lab.patch({ clean: P, corupted: P, answer: ' Mary', wrong: ' John' }), 'patch', 'corupted', 'corrupted'],
    [() => lab.attribute({ promt: P, answer: ' Mary', wrong: ' John' }), 'attribute', 'promt', 'prompt'],
    [() => lab.gradients({ prompt: P, answer: ' Mary', wrong: ' John', hook: 'hook_embed' }), 'gradients', 'hook', 'hooks'],
    [() => lab.patch({ clean: P, corrupted: P, answer: ' Mary', wrong: ' John', mehtod: 'attribution' }), 'patch', 'mehtod', 'method'],
    [() => HookLab.load(MID, { onprogress: () => {} }), 'load', 'onprogress', 'onProgress'],
    [() => HookLab.load(MID, { thread: 1 }), 'load', 'thread', 'threads'],
  ];
  for (const [call, fn, key, want] of near) {
    const check = refused(new RegExp(`^${fn}: unknown option "${key}" \\(did you mean "${want}"\\?\\)`));
    try {
      await call();
      assert.fail(`${fn} ${key}: no error`);
    } catch (e) {
      check(e);
    }
  }
});

test('options that are not an object, interventions that are not one, are refused', () => {
  assert.throws(() => lab.run(P, [EX1]), refused(/^run: the options must be an object .*got an array \(interventions go in \{interventions: \[\.\.\.\]\}\)/));
  assert.throws(() => lab.run(P, null), refused(/^run: the options must be an object/));
  assert.throws(() => lab.run(P, 'topk'), refused(/got a string/));
  assert.throws(() => lab.run(P, { interventions: EX1 }), refused(/^interventions: expected an array, got an object/));
  assert.throws(() => lab.run(P, { interventions: [null] }), refused(/^interventions\[0\]: expected an intervention object or its JSON text, got null/));
  assert.throws(() => lab.run(P, { interventions: [EX1, [EX1]] }), refused(/^interventions\[1\]: .* got an array/));
  assert.throws(() => lab.tokenize({ text: 'x' }), refused(/^tokenize: the text must be a string, got an object/));
  assert.throws(() => lab.decode(['x']), refused(/^decode: token ids are integers, got x at index 0/));
  assert.throws(() => lab.decode(5), refused(/^decode: expected an array of token ids/));
  assert.throws(() => lab.decode([2 ** 40]), refused(/^decode: token ids are integers|outside the vocabulary/));
  assert.equal(lab.decode(lab.tokenize('Hello world')), 'Hello world');
});

test('the binding refuses an unknown key in options JSON that reaches it from elsewhere', () => {
  const engine = lab._live();
  const cases = [
    ['run', () => engine.run(JSON.stringify({ prompt: P, topK: 3 }), '[]'), /^run: unknown key "topK" \(did you mean "topk"\?\); run takes prompt, topk, logits, capture, logit_lens$/],
    ['runJSON', () => engine.runJSON(JSON.stringify({ prompt: P, logitLens: true }), '[]', -1), /^runJSON: unknown key "logitLens" \(did you mean "logit_lens"\?\)/],
    ['compare', () => engine.compare(JSON.stringify({ prompt: P, interventions: [] }), '[]'), /^compare: unknown key "interventions"; compare takes prompt/],
    ['heads', () => engine.heads(JSON.stringify({ prompt: P, patern: 1 }), '[]'), /^heads: unknown key "patern" \(did you mean "pattern"\?\); heads takes prompt, repeat, seed, pattern$/],
    ['headsJSON', () => engine.headsJSON(JSON.stringify({ prompt: P, repaet: 4 }), '[]', -1), /^headsJSON: unknown key "repaet" \(did you mean "repeat"\?\)/],
    ['patchBegin', () => engine.patchBegin(JSON.stringify({ clean: P, corrupted: P, answer: ' Mary', wrong: ' John', hooks: 'z' }), '[]'), /^patchBegin: unknown key "hooks" \(did you mean "hook"\?\)/],
    ['attribute', () => engine.attribute(JSON.stringify({ prompt: P, answer: ' Mary', wrong: ' John', by: 'head' }), '[]', -1), /^attribute: unknown key "by"; attribute takes prompt, answer, wrong$/],
    ['gradients', () => engine.gradients(JSON.stringify({ prompt: P, answer: ' Mary', wrong: ' John', hook: 'hook_embed' }), '[]'), /^gradients: unknown key "hook" \(did you mean "hooks"\?\); gradients takes prompt, answer, wrong, hooks$/],
    ['attributionPatch', () => engine.attributionPatch(JSON.stringify({ clean: P, corrupted: P, answer: ' Mary', wrong: ' John', method: 'attribution' }), '[]', -1), /^attributionPatch: unknown key "method" \(did you mean "metric"\?\); attributionPatch takes clean, corrupted, answer, wrong, hook, by, metric$/],
    ['run (not JSON)', () => engine.run('{prompt:', '[]'), /^run: the options are not valid JSON$/],
    ['run (not an object)', () => engine.run('[]', '[]'), /^run: the options must be a JSON object$/],
    ['run (no prompt)', () => engine.run('{}', '[]'), /^run: "prompt" is required$/],
    ['run (interventions not texts)', () => engine.run(JSON.stringify({ prompt: P }), '[{}]'), /^interventions: expected an array of JSON texts$/],
  ];
  for (const [what, call, re] of cases) {
    const r = call();
    assert.equal(r.value, undefined, what);
    assert.match(r.error, re, what);
  }
  assert.ok(lab.run(P).top.length > 0);
});

test('the documented calls still work (README, wasm/README, hooklab.d.ts)', async () => {
  const progress = [];
  const lab1 = await HookLab.load(MID, { onProgress: (p) => progress.push(p), f16: false, threads: 1, fetchOptions: {}, cache: undefined });
  try {
    assert.equal(progress.at(-1), 1);
    const ivs = [EX1, { kind: 'noise_even_neurons', layer: 9, mean: 10, std: 1, seed: 0 }, { kind: 'scale_hidden', layer: 9, factor: 0.1 },
      { kind: 'zero', hook: 'blocks.3.attn.hook_z', heads: [3], positions: 'even' }, { kind: 'scale', hook: 'attn.hook_pattern', layer: 2, factor: 0.5, features: { range: [0, 2] } },
      { kind: 'add', hook: 'hook_embed', value: 1, positions: [-1] }, { kind: 'set', hook: 'blocks.1.mlp.hook_post', value: 0, features: 'odd' },
      '{"kind":"noise","hook":"blocks.0.hook_resid_pre","mean":0,"std":1,"seed":18446744073709551615}'];
    const out = lab1.run(P, { interventions: ivs, topk: 10, capture: ['blocks.9.attn.hook_pattern'], logits: true, logitLens: true });
    assert.equal(out.interventions.length, ivs.length);
    assert.ok(out.logits_last instanceof Float32Array && out.logit_lens.length === lab1.config.n_layer);
    assert.ok(lab1.runJSON(P, { interventions: ivs, topk: 3 }, 2).startsWith('{'));
    const cmp = lab1.compare(P, { interventions: [EX1], logitLens: true });
    assert.ok(cmp.baseline && cmp.intervened && cmp.logit_lens);
    assert.equal(lab1.heads({ prompt: P, interventions: [EX1], pattern: 9 }).pattern.layer, 9);
    assert.equal(lab1.heads({ repeat: 5, seed: '7' }).tokens.length, 11);
    const steps = [];
    const ac = new AbortController();
    const pair = JSON.parse(readFileSync(join(ROOT, 'tests/golden/mid__patching.json'), 'utf8'));
    const patched = await lab1.patch({ clean: pair.clean, corrupted: pair.corrupted, answer: pair.answer, wrong: pair.wrong,
      hook: 'z', by: 'head', interventions: [EX1], onProgress: (p) => steps.push(p.done), signal: ac.signal });
    assert.equal(patched.by, 'head');
    assert.equal(steps.at(-1), lab1.config.n_layer);
    assert.ok(lab1.attribute({ prompt: pair.clean, answer: pair.answer, wrong: 1757, interventions: [EX1] }).components.length > 0);
    const tokens = [];
    const g = await lab1.generate(P, { maxNewTokens: 3, temperature: 0.8, topK: 20, topP: 0.9, seed: 5, interventions: [EX1],
      onToken: (t) => tokens.push(t.id), signal: ac.signal });
    assert.deepEqual(tokens, g.new_tokens);
    const both = await lab1.generateCompare(P, { maxNewTokens: 2, seed: 1n, interventions: [EX1], onToken: () => {}, signal: ac.signal });
    assert.ok(both.baseline && both.intervened);
    assert.deepEqual(lab1.run(P, {}).tokens, lab1.tokenize(P));
    assert.deepEqual(lab1.run(P, undefined).tokens, lab1.tokenize(P));
  } finally {
    lab1.dispose();
  }
});

test('an intervention as the engine reports it feeds back in and gives the same run', async () => {
  const ivs = [EX1, { kind: 'noise_even_neurons', layer: 8, seed: 4 }, { kind: 'scale_hidden', layer: 9, factor: 0.1, positions: [0, -1] },
    { kind: 'zero', hook: 'attn.hook_z', layer: 3, heads: 'odd' }, { kind: 'noise', hook: 'blocks.2.attn.hook_pattern', std: 0.01, seed: 9, heads: [1] }];
  const first = lab.run(P, { interventions: ivs });
  const again = lab.run(P, { interventions: first.interventions });
  assert.deepEqual(again.interventions, first.interventions);
  assert.deepEqual(again.hidden_std, first.hidden_std);
  assert.deepEqual(again.top, first.top);
  // The reported form of every entry point parses too.
  const h = lab.heads({ prompt: P, interventions: ivs });
  assert.deepEqual(lab.heads({ prompt: P, interventions: h.interventions }).induction, h.induction);
  const g = await lab.generate(P, { maxNewTokens: 2, interventions: ivs });
  assert.deepEqual((await lab.generate(P, { maxNewTokens: 2, interventions: g.interventions })).new_tokens, g.new_tokens);
  // A reported hook or features changed by hand is refused, not ignored.
  const moved = { ...first.interventions[0], hook: 'blocks.8.attn.hook_qkv' };
  assert.throws(() => lab.run(P, { interventions: [moved] }), refused(/zero_head_k acts on its own hook point, "blocks.9.attn.hook_qkv"/));
  assert.throws(() => lab.run(P, { interventions: [{ ...EX1, features: 'even' }] }), refused(/zero_head_k fixes its own features/));
});

// hooklab.d.ts's option interfaces must list exactly OPTION_KEYS, and each method take its interface.
test('hooklab.d.ts agrees with the table', () => {
  const dts = readFileSync(join(ROOT, 'wasm/js/hooklab.d.ts'), 'utf8');
  const body = (name) => {
    const at = dts.search(new RegExp(`export interface ${name}\\b`));
    assert.ok(at >= 0, `interface ${name} missing`);
    const open = dts.indexOf('{', at);
    let depth = 0, end = open;
    for (; end < dts.length; ++end) {
      if (dts[end] === '{') ++depth;
      if (dts[end] === '}' && --depth === 0) break;
    }
    return { head: dts.slice(at, open), text: dts.slice(open + 1, end) };
  };
  const keysOf = (name) => {
    const { head, text } = body(name);
    const own = [...text.matchAll(/^ {2}(?:readonly )?(\w+)\??:/gm)].map((m) => m[1]);
    const base = head.match(/extends Omit<(\w+), ([^>]+)>/);
    if (!base) return own;
    const dropped = [...base[2].matchAll(/'(\w+)'/g)].map((m) => m[1]);
    return [...new Set([...keysOf(base[1]).filter((k) => !dropped.includes(k)), ...own])];
  };
  const iface = {
    load: 'LoadOptions', run: 'RunOptions', runJSON: 'RunOptions', compare: 'RunOptions', runWithCache: 'RunWithCacheOptions',
    heads: 'HeadsOptions', headsJSON: 'HeadsOptions',
    patch: 'PatchOptions', attribute: 'AttributeOptions', gradients: 'GradientsOptions', generate: 'GenerateOptions',
    generateCompare: 'GenerateCompareOptions',
  };
  const klass = dts.slice(dts.indexOf('export class HookLab {'));
  for (const [fn, name] of Object.entries(iface)) {
    assert.deepEqual([...keysOf(name)].sort(), [...OPTION_KEYS[fn]].sort(), `${fn}: ${name} vs OPTION_KEYS.${fn}`);
    assert.match(klass, new RegExp(`\\b${fn}\\([^)]*opts\\??: ${name}\\b`), `HookLab.${fn} takes ${name}`);
  }
  assert.match(dts, /export const OPTION_KEYS/);
  assert.match(dts, /export function closestKey/);
});

test('closestKey: the engine\'s did-you-mean rule', () => {
  assert.equal(closestKey('interventon', OPTION_KEYS.run), 'interventions');
  assert.equal(closestKey('sed', ['kind', 'layer', 'mean', 'std', 'seed']), 'seed');
  assert.equal(closestKey('top_p', OPTION_KEYS.generate), 'topP');
  assert.equal(closestKey('captrue', OPTION_KEYS.run), 'capture');
  assert.equal(closestKey('bogus', OPTION_KEYS.run), '');
  assert.equal(closestKey('x', ['by']), '');
});

// Both CLIs: a flag the command does not take (a typo, or another command's) is one line on
// stderr and exit 1, the same line natively and in node.
test('an unknown CLI flag is an error in both CLIs, with the same message', () => {
  const bins = existsSync(NATIVE) ? [[NATIVE], [process.execPath, CLI]] : [[process.execPath, CLI]];
  const iv = '{"kind":"zero","hook":"blocks.3.attn.hook_z","head":3}';
  const cases = [
    [['run', '--model', MID, '--prompt', 'x', '--bogus'], /^hooklab: unknown option --bogus for hooklab run; run takes --model, --prompt, --intervene, --topk, --logits, --all-logits, --capture, --process, --f16, --pretty, --threads \(see hooklab --help\)$/],
    [['run', '--model', MID, '--prompt', 'x', '--top-k', '3'], /unknown option --top-k for hooklab run \(did you mean --topk\?\)/],
    [['run', '--model', MID, '--prompt', 'x', '--temperature', '1'], /unknown option --temperature for hooklab run \(an option of hooklab generate\)/],
    [['run', '--model', MID, '--prompt', 'x', '--intervenes', iv], /did you mean --intervene\?/],
    [['run', '--model', MID, '--prompt', 'x', '--text', 'y'], /unknown option --text for hooklab run \(an option of hooklab tokenize\)/],
    [['generate', '--model', MID, '--prompt', 'x', '--max-new-tokens', '2', '--topk', '3'], /unknown option --topk for hooklab generate \(did you mean --top-k\?\)/],
    [['generate', '--model', MID, '--prompt', 'x', '--max_new_tokens', '2'], /did you mean --max-new-tokens\?/],
    [['heads', '--model', MID, '--prompt', 'x', '--topk', '3'], /unknown option --topk for hooklab heads \(an option of hooklab run\)/],
    [['patch', '--model', MID, '--prompt', 'x'], /unknown option --prompt for hooklab patch \(an option of hooklab run, heads, attribute, gradients, generate, bench\)/],
    [['gradients', '--model', MID, '--prompt', 'x', '--hooks', 'hook_embed'], /unknown option --hooks for hooklab gradients \(did you mean --hook\?\); gradients takes --model, --prompt, --answer, --wrong, --hook, --intervene, --process, --f16, --pretty, --threads \(see hooklab --help\)$/],
    [['gradients', '--model', MID, '--prompt', 'x', '--method', 'attribution'], /unknown option --method for hooklab gradients \(an option of hooklab patch\)/],
    [['patch', '--model', MID, '--method', 'approx'], /^hooklab: option --method needs exact or attribution, got "approx"$/],
    [['attribute', '--model', MID, '--prompt', 'x', '--clean', 'y'], /unknown option --clean for hooklab attribute \(an option of hooklab patch\)/],
    [['tokenize', '--model', MID, '--prompt', 'x'], /unknown option --prompt for hooklab tokenize/],
    [['bench', '--model', MID, '--prompt', 'x', '--logits'], /unknown option --logits for hooklab bench \(an option of hooklab run\)/],
    [['run', '--model', MID, '--prompt', 'x', 'stray'], /unknown option stray for hooklab run;/],
    [['runn', '--model', MID], /^hooklab: unknown command "runn" \(see hooklab --help\)$/],
    [['run', '--model', MID, '--prompt', 'x', '--process', 'fold_ln,centre_unembed'], /^hooklab: --process: unknown weight processing "centre_unembed" \(did you mean center_unembed\?\); the options: /],
    [['tokenize', '--model', MID, '--text', 'x', '--process', 'tl'], /^hooklab: unknown option --process for hooklab tokenize \(an option of hooklab run, heads, patch/],
    [['run', '--model', MID, '--prompt', 'x', '--intervene', iv], /^hooklab: intervention "zero": unknown key "head" \(did you mean "heads"\?\)/],
  ];
  for (const [args, re] of cases) {
    const lines = bins.map(([bin, ...pre]) => {
      const r = spawnSync(bin, [...pre, ...args], { encoding: 'utf8' });
      const what = `${bin === NATIVE ? 'native' : 'node'} ${args.join(' ')}`;
      assert.equal(r.status, 1, what);
      assert.equal(r.stdout, '', what);
      assert.equal(r.stderr.split('\n').length, 2, `${what}: ${r.stderr}`);
      assert.match(r.stderr.trimEnd(), re, what);
      return r.stderr;
    });
    if (lines.length === 2) assert.equal(lines[1], lines[0], args.join(' '));
  }
});

test('load {process}: TransformerLens\'s weight processing, strict keys, the config says so', async () => {
  await assert.rejects(HookLab.load(MID, { process: { fold_lnn: true } }),
    refused(/^load: unknown weight processing "fold_lnn" \(did you mean "fold_ln"\?\); process takes fold_ln, center_writing_weights, center_unembed, fold_value_biases$/));
  await assert.rejects(HookLab.load(MID, { process: { fold_ln: 1 } }), refused(/process\.fold_ln must be a boolean/));
  await assert.rejects(HookLab.load(MID, { process: 'all' }), refused(/process must be 'tl' or an object/));
  assert.equal(lab.config.processing, undefined);
  const tl = await HookLab.load(MID, { process: 'tl' });
  try {
    assert.deepEqual(tl.config.processing, { fold_ln: true, center_writing_weights: true, center_unembed: true, fold_value_biases: true });
    const a = lab.run(P, { logits: true }).logits_last, b = tl.run(P, { logits: true }).logits_last;
    // center_unembed: each logit moves by one constant; differences stay (mid's derived logit tolerance, twice).
    const tol = 2 * JSON.parse(readFileSync(join(ROOT, 'tests/golden/mid__clean.json'), 'utf8')).tolerance.logit_abs;
    for (const i of [1, 100, 4000]) assert.ok(Math.abs((a[i] - a[0]) - (b[i] - b[0])) <= tol, `logit ${i}`);
    assert.ok(tl.weight('b_U').data.some((x) => x !== 0));
    assert.ok(tl.weight('b_V').data.every((x) => x === 0));
  } finally {
    tl.dispose();
  }
});
