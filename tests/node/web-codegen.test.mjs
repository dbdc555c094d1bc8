// The code panel (web/src/codegen.js): every number a valid Python literal, the code valid
// Python in both languages for every model kind, the HF code runnable as shown and printing
// the page's numbers, and the tuple explorer's version table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { hfCode, tlCode, tupleText, pyNum } from '../../web/src/codegen.js';
import { nnCode } from '../../web/src/codegen-nnsight.js';
import { CODEGEN_STRINGS } from '../../web/src/codegen-strings.js';
import { readFileSync } from 'node:fs';
import { defaultState } from '../../web/src/state.js';
import { STRINGS, makeT } from '../../web/src/i18n.js';
import { derivedTolerance, klTolerance, maxAbs } from '../tolerance.mjs';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const hasPython = spawnSync(PY, ['-c', 'import ast'], { encoding: 'utf8' }).status === 0;
const python = (code, input = '') => spawnSync(PY, ['-c', code], { input, encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });

// A state with the given exercises on ({ex3: {factor: 1e38}} etc.).
function state(ex = {}, { model = 'default', lang = 'en', prompt = 'The jury said that the city' } = {}) {
  const st = defaultState(lang);
  st.model = model;
  st.prompt = prompt;
  for (const [k, v] of Object.entries(ex)) Object.assign(st.ex[k], { on: true }, v);
  return st;
}

const NUMBERS = [1e38, 1e21, 1e-30, 0, -0, -3, -2.5, 0.1, 10, 123456789012, 5e-324, 1.7976931348623157e308];

test('pyNum writes a Python float literal equal to the number', (t) => {
  for (const x of NUMBERS) {
    const s = pyNum(x);
    assert.doesNotMatch(s, /e[+-]?\d+\./, `${x} -> ${s}`); // the old bug: 1e+38.0
    assert.match(s, /^-?(\d+\.\d*|\d+(\.\d*)?e[+-]?\d+)$/, `${x} -> ${s}`);
  }
  assert.equal(pyNum(1e38), '1e+38');
  assert.equal(pyNum(0), '0.0');
  assert.equal(pyNum(-3), '-3.0');
  assert.equal(pyNum(0.1), '0.1');
  assert.equal(pyNum(1e-30), '1e-30');
  if (!hasPython) return t.skip('python3 not found: literal values not checked by Python');
  const r = python('import ast,sys\nfor l in sys.stdin.read().splitlines():\n    v = ast.literal_eval(l)\n    assert type(v) is float, l\n    print(repr(v))', NUMBERS.map(pyNum).join('\n'));
  assert.equal(r.status, 0, r.stderr);
  const back = r.stdout.trim().split('\n').map(Number);
  NUMBERS.forEach((x, i) => assert.ok(Object.is(back[i], x) || back[i] === x, `${x} came back as ${back[i]}`));
});

const EXERCISES = [
  {},
  { ex3: { factor: 1e38 } },
  { ex4: { factor: 1e-30 } },
  { ex3: { factor: 0 }, ex4: { factor: -3, layer: 2 } },
  { ex1: { layer: 9, head: 2 }, ex2: { mean: -2.5, std: 0, seed: 7 }, ex3: { factor: 0.1 }, ex4: { factor: 10 } },
];
const MODELS = [['default', { modelUrl: 'http://127.0.0.1:8080/lab/models/default/' }], ['default', {}], ['gpt2', {}], ['gpt2-medium', {}], ['local', {}]];

function allVariants() {
  const out = [];
  for (const lang of ['en', 'vi'])
    for (const [model, info] of MODELS)
      for (const ex of EXERCISES) {
        const st = state(ex, { model, lang, prompt: 'Line one\n"quoted" \\ back\u2028 and ✓ tiếng Việt' });
        out.push({ name: `hf ${lang} ${model} ${JSON.stringify(ex)}`, code: hfCode(st, { lang, ...info }) });
        out.push({ name: `tl ${lang} ${model} ${JSON.stringify(ex)}`, code: tlCode(st, { lang, ...info }) });
        out.push({ name: `nnsight ${lang} ${model} ${JSON.stringify(ex)}`, code: nnCode(st, { lang, ...info }) });
      }
  for (const lang of ['en', 'vi'])
    for (const tf of ['4', '5'])
      for (const withAttn of [false, true])
        out.push({ name: `tuple ${lang} ${tf} ${withAttn}`, code: tupleText({ T: 7, C: { n_embd: 192, n_head: 12 }, layer: 9, withAttn, tf, lang }) });
  return out;
}

test('the generated code never writes an invalid number', () => {
  for (const { name, code } of allVariants()) {
    assert.doesNotMatch(code, /\d(e[+-]?\d+)\.0\b/, name);
    assert.doesNotMatch(code, /\bNaN\b|\bInfinity\b|undefined/, name);
  }
  const c = hfCode(state({ ex4: { factor: 1e38 } }));
  assert.match(c, /output\[0\]\.mul\(1e\+38\)/);
  assert.match(tlCode(state({ ex3: { factor: 1e-30 } })), /resid \* 1e-30\b/);
});

test('every generated program is valid Python (ast.parse), in both languages and for every model', (t) => {
  if (!hasPython) return t.skip('python3 not found');
  const variants = allVariants();
  const r = python('import ast,json,sys\nfor v in json.load(sys.stdin):\n    try:\n        ast.parse(v["code"])\n    except SyntaxError as e:\n        print(v["name"], e)', JSON.stringify(variants));
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '', `syntax errors:\n${r.stdout}`);
});

test('the nnsight tab: in the page beside HF and TL, its label and its code in the page language', () => {
  const html = readFileSync(join(REPO, 'web/index.html'), 'utf8');
  assert.match(html, /<button role="tab" id="tab-nn"[^>]*aria-controls="code"[^>]*data-i18n="codeNn"/);
  assert.equal(makeT('en')('codeNn'), 'nnsight trace');
  assert.equal(makeT('vi')('codeNn'), 'trace của nnsight');
  for (const k of Object.keys(CODEGEN_STRINGS.en).filter((k) => k.startsWith('nn'))) assert.ok(CODEGEN_STRINGS.vi[k], `vi ${k}`);
  const st = (lang) => state({ ex1: { layer: 9, head: 2 } }, { lang });
  const en = nnCode(st('en'), { lang: 'en' }), vi = nnCode(st('vi'), { lang: 'vi' });
  assert.notEqual(en, vi);
  assert.match(en, /# Exercise 1: zero the Key of head 2 in block 9\./);
  assert.match(vi, /# Bài 1: đặt Key của head 2 trong khối 9 về 0\./);
  for (const c of [en, vi]) {
    assert.match(c, /remote=True/); // what changes for a larger model, said in the tab
    assert.match(c, /at\(9, "c_attn", zero_head_k_0\)/);
  }
});

test('TransformerLens-processed weights (process=tl, issue #27): the TL code loads them as from_pretrained does, the HF and nnsight code say theirs are not', async () => {
  const { tlDlaCode, tlPatchCode } = await import('../../web/src/codegen.js');
  const { tlInputGradCode } = await import('../../web/src/codegen-gradients.js');
  const proc = (ex, opts) => ({ ...state(ex, opts), process: 'tl' });
  // A hub model: from_pretrained with its default processing, as the page computed.
  const hub = tlCode(proc({}, { model: 'gpt2' }));
  assert.match(hub, /^model = HookedTransformer\.from_pretrained\("gpt2"\)  # /m);
  assert.doesNotMatch(hub, /from_pretrained_no_processing/);
  assert.doesNotMatch(tlCode(state({}, { model: 'gpt2' })), /from_pretrained\("gpt2"\)/); // unprocessed: no_processing only
  // A folder: the same four flags on, in float32 (the embedded model's file is F16).
  const local = tlCode(proc());
  assert.match(local, /convert_gpt2_weights\(hf, cfg\), fold_ln=True, center_writing_weights=True,\n\s+center_unembed=True, fold_value_biases=True\)/);
  assert.match(local, /GPT2LMHeadModel\.from_pretrained\(MODEL\)\.float\(\)\.eval\(\)/);
  // ln_final is LayerNormPre: no .w / .b to apply; the page's value is TL's hook_normalized.
  assert.doesNotMatch(local, /model\.ln_final\.[wb]\b/);
  assert.match(local, /\("ln_final\.hook_normalized", lambda x, hook: final\.append\(x\.std\(\)\.item\(\)\)\)\]/);
  // The Patching view's code: the same load; the DLA without ln_final's weight, with b_U's part.
  const pair = { clean: 'When Mary and John', corrupted: 'When John and Mary', answer: ' Mary', wrong: ' John', hook: 'resid_pre', metric: 'normalized' };
  assert.match(tlPatchCode(proc({}, { model: 'gpt2' }), pair), /HookedTransformer\.from_pretrained\("gpt2"\)/);
  assert.match(tlInputGradCode(proc({}, { model: 'gpt2' }), pair), /HookedTransformer\.from_pretrained\("gpt2"\)/);
  const dla = tlDlaCode(proc({}, { model: 'gpt2' }), pair);
  assert.doesNotMatch(dla, /model\.ln_final\.[wb]\b/);
  assert.match(dla, /unembed_bias = \(model\.b_U\[answer\] - model\.b_U\[wrong\]\)\.item\(\)/);
  assert.match(dla, /print\("sum", sum\(parts\.values\(\)\) \+ ln_bias \+ unembed_bias/);
  // HF and nnsight load HF's weights: said at the top, in the page's language.
  assert.ok(hfCode(proc()).includes(`# ${STRINGS.en.cgHfUnprocessed.split('\n')[0]}`));
  assert.ok(nnCode(proc({}, { lang: 'vi' }), { lang: 'vi' }).includes(`# ${STRINGS.vi.cgHfUnprocessed.split('\n')[0]}`));
  assert.doesNotMatch(hfCode(state()), /TransformerLens's from_pretrained does/);
});

test('which model the code loads: the hub name, the page URL or the repo folder; never GPT-2 small for the embedded model', () => {
  const hub = hfCode(state({}, { model: 'gpt2' }));
  assert.match(hub, /^MODEL = "openai-community\/gpt2"$/m);
  assert.match(hfCode(state({}, { model: 'gpt2-medium' })), /^MODEL = "openai-community\/gpt2-medium"$/m);
  assert.match(tlCode(state({}, { model: 'gpt2' })), /HookedTransformer\.from_pretrained_no_processing\("gpt2"\)/);

  const url = 'https://lab.example/course/models/default/';
  const def = hfCode(state(), { modelUrl: url, modelName: 'HookLab-Circuits 12×192' });
  assert.match(def, new RegExp(`^MODEL_URL = "${url.replace(/[./]/g, '\\$&')}"$`, 'm'));
  assert.match(def, /urllib\.request\.urlretrieve\(MODEL_URL \+ f/);
  assert.match(def, /for f in \["config\.json", "model\.safetensors", "vocab\.json", "merges\.txt"\]/);
  assert.match(def, /HookLab-Circuits 12×192 is this project's own model \(not GPT-2 small\)/);
  assert.match(hfCode(state()), /^MODEL = "checkpoints\/default"$/m); // no page URL: a clone's folder
  assert.match(hfCode(state(), { modelUrl: 'file:///x/models/default/' }), /^MODEL = "checkpoints\/default"$/m);

  for (const info of [{ modelUrl: url }, {}]) {
    const tl = tlCode(state(), info);
    assert.doesNotMatch(tl, /\.from_pretrained(_no_processing)?\("gpt2/); // GPT-2 small's shapes: wrong model
    assert.doesNotMatch(tl, /^[^#]*hf_model=/m);
    assert.match(tl, /HookedTransformerConfig\(/);
    assert.match(tl, /convert_gpt2_weights\(hf, cfg\), fold_ln=False/);
    assert.match(tl, /from_pretrained\("gpt2", hf_model=\.\.\.\) would take GPT-2 small's shapes/);
  }
  assert.match(hfCode(state({}, { model: 'local' })), /^MODEL = "\.\/my-model"$/m);
});

test('the code prints what the page shows, and its comments follow the page language', () => {
  const st = state({ ex1: {}, ex3: { factor: 0.1 } });
  for (const code of [hfCode(st), tlCode(st)]) {
    assert.match(code, /print\("  intervened:", \[round\(x, 5\) for x in intervened\[0\]\]\)/); // resid_std
    assert.match(code, /print\("  intervened:", \[round\(x, 5\) for x in intervened\[1\]\]\)/); // hidden_std
    assert.match(code, /KL\(baseline \|\| intervened\)/);
    assert.match(code, /lp\.topk\(10\)/);
  }
  const en = makeT('en'), vi = makeT('vi');
  const keys = Object.keys(STRINGS.en).filter((k) => k.startsWith('cg'));
  assert.ok(keys.length > 20);
  for (const k of keys) assert.ok(STRINGS.vi[k], `vi has ${k}`);
  const stVi = state({ ex1: {}, ex2: {}, ex3: {}, ex4: {} }, { lang: 'vi' });
  for (const code of [hfCode(stVi, { lang: 'vi', modelUrl: 'http://x/models/default/' }), tlCode(stVi, { lang: 'vi' }),
    tupleText({ T: 3, C: { n_embd: 192, n_head: 12 }, withAttn: true, lang: 'vi' }), tupleText({ T: 3, C: { n_embd: 192, n_head: 12 }, tf: '5', withAttn: true, lang: 'vi' })]) {
    const comments = code.split('\n').filter((l) => l.includes('#')).map((l) => l.slice(l.indexOf('#') + 1).trim());
    for (const k of keys) {
      const e = en(k).split('{')[0].trim();
      if (e.length > 12 && e !== vi(k).split('{')[0].trim()) assert.ok(!comments.some((c) => c.includes(e)), `English "${e}" in the Vietnamese code`);
    }
    assert.ok(comments.some((c) => /[ạảãàáâậầấẩẫăắằẳẵặđêềếểễệôồốổỗộơờớởỡợưừứửữự]/.test(c)), 'Vietnamese comments');
  }
});

test('the tuple explorer says what each transformers version gives a hook on a block inside model(**inputs)', () => {
  const C = { n_embd: 192, n_head: 12 };
  let s = tupleText({ T: 5, C, layer: 9, withAttn: false, tf: '4' });
  assert.match(s, /register_forward_hook/);
  assert.match(s, /model\(\*\*inputs\)/);
  assert.match(s, /before the GPT-2 cache rewrite[^\n]*len\(output\) == 2/); // (hidden_states, present)
  assert.match(s, /present = \(key, value\), each torch\.Size\(\[1, 12, 5, 16\]\)/);
  assert.match(s, /later 4\.x[^\n]*len\(output\) == 1/);
  assert.match(s, /output\[0\]\.shape\s+# torch\.Size\(\[1, 5, 192\]\)/);
  assert.doesNotMatch(s, /\(tuple, 1\)/); // the old claim, wrong inside model(**inputs) with use_cache
  s = tupleText({ T: 5, C, layer: 3, withAttn: true, tf: '4' });
  assert.match(s, /len\(output\) == 3/);
  assert.match(s, /output\[2\]\.shape\s+# torch\.Size\(\[1, 12, 5, 5\]\)/);
  assert.match(s, /later 4\.x[^\n]*len\(output\) == 2/);
  assert.match(s, /blocks\.3\.hook_resid_post/);
  s = tupleText({ T: 5, C, layer: 9, withAttn: true, tf: '5' });
  assert.match(s, /output\[0\]\.shape\s+# torch\.Size\(\[5, 192\]\)/);
  assert.match(s, /out\.attentions\[9\]\.shape == torch\.Size\(\[1, 12, 5, 5\]\)/);
  assert.match(s, /first 5\.x releases still return a tuple/);
});

// A stand-in `transformers` module in dir: HF's public names over tools/reference.py.
function writeStandIn(dir) {
  mkdirSync(join(dir, 'transformers'));
  writeFileSync(join(dir, 'transformers/__init__.py'), `# stand-in: HF's public names over tools/reference.py
import sys, types, torch
sys.path.insert(0, ${JSON.stringify(join(REPO, 'tools'))})
import reference

class GPT2LMHeadModel:
    @staticmethod
    def from_pretrained(path):
        m = reference.load_model(path)
        m.config = types.SimpleNamespace(**m.transformer.config)
        return m

class GPT2TokenizerFast:
    @staticmethod
    def from_pretrained(path):
        return GPT2TokenizerFast(reference.load_encoder(path))
    def __init__(self, enc):
        self.enc = enc
    def __call__(self, text, return_tensors=None):
        return {"input_ids": torch.tensor([self.enc.encode(text)])}
    def decode(self, i):
        return self.enc.decode([int(i)])
`);
}

// The HF program's printed numbers (PyTorch, tools/reference.py) against the engine's runs `base`
// and `int` (with logits) of the same prompt: two float32 implementations whose sums differ in
// order, no golden. The tolerance is derived (tests/tolerance.mjs, tools/golden_compare.py's
// formula) from the model, the token count and each engine run's own scales: a std curve within
// activation_rel times the curve's largest value, plus half a unit of the 5th decimal the program
// rounds it to; the KL as klTolerance() says.
function samePrinted(stdout, base, int, klEngine, what) {
  const lists = stdout.split('\n').filter((l) => l.includes(':') && l.includes('[')).map((l) => JSON.parse(l.slice(l.indexOf('['))));
  assert.equal(lists.length, 4, stdout);
  const tb = derivedTolerance(base.model, base.tokens.length, base.stats), ti = derivedTolerance(int.model, int.tokens.length, int.stats);
  [[base.resid_std, tb], [int.resid_std, ti], [base.hidden_std, tb], [int.hidden_std, ti]].forEach(([w, tol], k) => {
    assert.equal(lists[k].length, w.length);
    const bound = tol.activation(maxAbs(w)) + 5e-6;
    // (a) engine vs PyTorch, no golden: tolerance derived from the engine run's own scales.
    w.forEach((x, i) => assert.ok(Math.abs(lists[k][i] - x) <= bound, `${what}: list ${k}[${i}]: python ${lists[k][i]} vs engine ${x}, tolerance ${bound}`));
  });
  const kl = Number(stdout.split('\n').find((l) => l.startsWith('KL(')).split(' ').pop());
  const bound = klTolerance(tb, ti, base.logits_last, int.logits_last);
  // (a) engine vs PyTorch, no golden: the KL's tolerance from the two runs' logit tolerances.
  assert.ok(Math.abs(kl - klEngine) <= bound, `${what}: KL python ${kl} vs engine ${klEngine}, tolerance ${bound}`);
}

// The HF program runs as shown against the project's PyTorch reference (tools/reference.py:
// HF's module structure with real forward hooks), through a stand-in `transformers` module,
// and prints the engine's numbers for the embedded model.
test('the HuggingFace code runs as shown and prints the engine\'s per-layer std and KL', async (t) => {
  if (python('import torch').status !== 0) return t.skip('no PyTorch for python3');
  if (!existsSync(join(REPO, 'wasm/dist/hooklab.wasm'))) return t.skip('wasm engine not built (npm run build:wasm)');
  const { HookLab } = await import('../../wasm/js/hooklab.js');
  const dir = mkdtempSync(join(tmpdir(), 'hooklab-codegen-'));
  try {
    writeStandIn(dir);
    const lab = await HookLab.load(join(REPO, 'checkpoints/default'));
    const prompt = 'The jury said that the city';
    const cases = [{ ex3: { factor: 0.1 } }, { ex1: { layer: 9, head: 2 }, ex4: { factor: 10, layer: 5 } }, { ex3: { factor: 0.1, layer: 5 }, ex4: { factor: 10 } }];
    for (const ex of cases) {
      const st = state(ex, { prompt });
      const code = hfCode(st);
      const r = spawnSync(PY, ['-c', code], { cwd: REPO, encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1', PYTHONPATH: dir } });
      assert.equal(r.status, 0, r.stderr);
      const { interventionsOf } = await import('../../web/src/state.js');
      const base = lab.run(prompt, { logits: true }), int = lab.run(prompt, { interventions: interventionsOf(st), logits: true });
      samePrinted(r.stdout, base, int, lab.compare(prompt, { interventions: interventionsOf(st) }).kl, JSON.stringify(ex));
    }
    lab.dispose?.();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// The builder's rows: one per hook point (every op but noise, whose numbers are PyTorch's, and
// noise with std 0), as HuggingFace hooks run against the reference, must print the engine's
// numbers for the same JSON; the TransformerLens code must parse.
const ROW_CASES = [
  'hook_embed scale=0.5 pos=0:3', 'hook_pos_embed add=0.25 feat=even', 'blocks.1.hook_resid_pre set=0.1 pos=-1',
  'blocks.2.ln1.hook_normalized scale=3 feat=0:40', 'blocks.3.attn.hook_qkv zero feat=odd', 'blocks.4.attn.hook_q scale=2 heads=1,3',
  'blocks.4.attn.hook_k add=1 heads=0 pos=1:4', 'blocks.5.attn.hook_v set=0.5 heads=even feat=0:4',
  'blocks.6.attn.hook_attn_scores set=0 heads=2 pos=odd', 'blocks.6.attn.hook_pattern scale=0.5 heads=0,1 feat=0', 'blocks.7.attn.hook_z zero heads=5',
  'blocks.7.hook_attn_out scale=-1', 'blocks.8.hook_resid_mid add=2 pos=2', 'blocks.8.ln2.hook_normalized zero feat=list', 'blocks.9.mlp.hook_pre scale=0.1 pos=even',
  'blocks.9.mlp.hook_post noise=0.5,0,3 feat=1:100', 'blocks.10.hook_mlp_out set=0', 'blocks.10.hook_resid_post scale=1.5 pos=0',
  'ln_final.hook_normalized add=-0.5 feat=odd', 'logits scale=2 feat=0:1000',
].map((r) => r.replace('feat=list', 'feat=0,5,-1'));

test('builder rows: the HuggingFace hooks print the engine\'s numbers, on every hook point', async (t) => {
  if (python('import torch').status !== 0) return t.skip('no PyTorch for python3');
  if (!existsSync(join(REPO, 'wasm/dist/hooklab.wasm'))) return t.skip('wasm engine not built (npm run build:wasm)');
  const { HookLab } = await import('../../wasm/js/hooklab.js');
  const { stateFromParams, interventionsOf } = await import('../../web/src/state.js');
  const dir = mkdtempSync(join(tmpdir(), 'hooklab-codegen-'));
  const lab = await HookLab.load(join(REPO, 'checkpoints/default'));
  const hooks = lab.hooks(1); // the rows' axes and order are the engine's table's
  try {
    writeStandIn(dir);
    const prompt = 'The jury said that the city';
    // Three rows at a time (and the exercises) keep the Python runs few.
    const groups = [];
    for (let i = 0; i < ROW_CASES.length; i += 3) groups.push(ROW_CASES.slice(i, i + 3));
    groups.push(['blocks.6.hook_resid_mid scale=0', 'blocks.6.attn.hook_pattern set=0.1 pos=3', 'blocks.6.attn.hook_attn_scores add=5 feat=0', 'blocks.6.hook_resid_pre scale=2']);
    for (const g of groups) {
      const refused = [];
      const st = stateFromParams(new URLSearchParams({ prompt, iv: g.join(';'), ex1: '6.1' }), 'en', refused);
      assert.deepEqual(refused, []);
      assert.equal(st.iv.length, g.length);
      const ivs = interventionsOf(st);
      const tl = tlCode(st, { hooks });
      assert.equal(python('import ast,sys; ast.parse(sys.stdin.read())', tl).status, 0, tl);
      const code = hfCode(st, { hooks });
      const r = spawnSync(PY, ['-c', code], { cwd: REPO, encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1', PYTHONPATH: dir } });
      assert.equal(r.status, 0, `${g.join('; ')}\n${r.stderr}`);
      const base = lab.run(prompt, { logits: true }), int = lab.run(prompt, { interventions: ivs, logits: true });
      samePrinted(r.stdout, base, int, lab.compare(prompt, { interventions: ivs }).kl, g.join('; '));
    }
  } finally {
    lab.dispose?.();
    rmSync(dir, { recursive: true, force: true });
  }
});

// The rows' axes and firing order come from the engine's hook table, never a list of the page's.
test('builder rows: axes and order from the engine\'s hook table; without it, refused', async (t) => {
  if (!existsSync(join(REPO, 'wasm/dist/hooklab.wasm'))) return t.skip('wasm engine not built (npm run build:wasm)');
  const { HookLab } = await import('../../wasm/js/hooklab.js');
  const { stateFromParams } = await import('../../web/src/state.js');
  const lab = await HookLab.load(join(REPO, 'build/ckpt/mid'));
  const hooks = lab.hooks(1);
  lab.dispose();
  // Listed last-first: the HF registrations follow the engine's firing order.
  const st = stateFromParams(new URLSearchParams({ iv: 'logits scale=2;blocks.1.attn.hook_pattern zero heads=0 pos=1 feat=0;hook_embed zero' }), 'en', []);
  assert.throws(() => hfCode(st), /hook table/);
  assert.throws(() => tlCode(st), /hook table/);
  const hf = hfCode(st, { hooks }), tl = tlCode(st, { hooks });
  const pat = hooks.find((h) => h.name === 'blocks.{i}.attn.hook_pattern').axes;
  const want = `{${pat.positions + 1}: [1], ${pat.heads + 1}: [0], ${pat.features + 1}: [0]}`;
  assert.ok(hf.includes(want) && tl.includes(want), want);
  // Rows 0-2 are functions row_3..row_5 (after the exercises' numbers): registered
  // hook_embed (row_5), the attention of block 1, logits (row_3), as the table orders them.
  const order = ['hook_embed', 'blocks.{i}.attn.hook_pattern', 'logits'].map((n) => hooks.findIndex((h) => h.name === n));
  assert.deepEqual(order, [...order].sort((a, b) => a - b));
  assert.match(hf, /^intervened = run\(\[\(model\.transformer\.wte, row_5\), \(blocks\[1\]\.attn, attention_1\), \(model\.lm_head, row_3\)\]\)$/m);
  const stBad = stateFromParams(new URLSearchParams({ iv: 'blocks.1.attn.hook_nothing zero' }), 'en', []);
  assert.equal(stBad.iv.length, 1); // the link's rows are checked for spelling only
  assert.throws(() => hfCode(stBad, { hooks }), /not in the engine's hook table/);
});
