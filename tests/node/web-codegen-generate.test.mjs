// The Generate panel's and the heads view's code (web/src/codegen-generate.js): valid Python in
// both languages for every model kind, the interventions written as the code panel writes them,
// greedy generation said as such, the heads view's repeated tokens the engine's own ids, and the
// strings in English and Vietnamese. Run as shown against the engine: tests/peers/test_code_gen_heads.py.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

import { hfCode, tlCode } from '../../web/src/codegen.js';
import { hfGenerateCode, tlGenerateCode, hfHeadsCode, tlHeadsCode, nnHeadsNote } from '../../web/src/codegen-generate.js';
import { nnCode, nnGenerateCode } from '../../web/src/codegen-nnsight.js';
import { CODEGEN_GENERATE_STRINGS } from '../../web/src/codegen-generate-strings.js';
import { CODE_TABS_STRINGS } from '../../web/src/panels/code-tabs-strings.js';
import { defaultState } from '../../web/src/state.js';
import { GEN_DEFAULTS } from '../../web/src/generate-state.js';

const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const hasPython = spawnSync(PY, ['-c', 'import ast'], { encoding: 'utf8' }).status === 0;

function state(ex = {}, { model = 'default', lang = 'en', prompt = 'The jury said that the city', process } = {}) {
  const st = defaultState(lang);
  st.model = model;
  st.prompt = prompt;
  if (process) st.process = process;
  for (const [k, v] of Object.entries(ex)) Object.assign(st.ex[k], { on: true }, v);
  return st;
}

const EXERCISES = [{}, { ex3: { factor: 0.1 } }, { ex1: { layer: 9, head: 2 }, ex2: { mean: -2.5, std: 0, seed: 7 }, ex3: { factor: 0.1 }, ex4: { factor: 10 } }];
const MODELS = [['default', { modelUrl: 'http://127.0.0.1:8080/lab/models/default/' }], ['default', {}], ['gpt2', {}], ['local', {}]];
const GEN = { ...GEN_DEFAULTS, maxNewTokens: 7 };
const REPEAT = { repeat: true, r: 3, seed: '5', tokens: [50256, 11, 22, 33, 11, 22, 33] };

function allVariants() {
  const out = [];
  for (const lang of ['en', 'vi'])
    for (const [model, info] of MODELS)
      for (const ex of EXERCISES)
        for (const process of [undefined, 'tl']) {
          const st = state(ex, { model, lang, process, prompt: 'Line one\n"quoted" \\ back and ✓ tiếng Việt' });
          const name = `${lang} ${model} ${process || ''} ${JSON.stringify(ex)}`;
          out.push({ name: `gen hf ${name}`, code: hfGenerateCode(st, GEN, { lang, ...info }) });
          out.push({ name: `gen tl ${name}`, code: tlGenerateCode(st, GEN, { lang, ...info }) });
          out.push({ name: `gen nn ${name}`, code: nnGenerateCode(st, GEN, { lang, ...info }) });
          for (const heads of [{ repeat: false }, REPEAT]) {
            out.push({ name: `heads hf ${name} ${heads.repeat}`, code: hfHeadsCode(st, heads, { lang, ...info }) });
            out.push({ name: `heads tl ${name} ${heads.repeat}`, code: tlHeadsCode(st, heads, { lang, ...info }) });
          }
        }
  return out;
}

test('every generation and head-score program is valid Python (ast.parse), for every model and language', (t) => {
  if (!hasPython) return t.skip('python3 not found');
  const variants = allVariants();
  const r = spawnSync(PY, ['-c', 'import ast,json,sys\nfor v in json.load(sys.stdin):\n    try:\n        ast.parse(v["code"])\n    except SyntaxError as e:\n        print(v["name"], e)'],
    { input: JSON.stringify(variants), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '', `syntax errors:\n${r.stdout}`);
  for (const { name, code } of variants) {
    if (!/ gpt2 /.test(name) || / hf /.test(name)) assert.equal(code.match(/^MODEL = /gm)?.length, 1, `${name}: one MODEL line (the peers point it at a checkpoint)`);
    assert.doesNotMatch(code, /\bNaN\b|\bInfinity\b|undefined/, name);
  }
});

test('the interventions are the code panel\'s own hooks, and generation is greedy with every hook on at each step', () => {
  const st = state(EXERCISES[2]);
  const hf = hfGenerateCode(st, GEN), tl = tlGenerateCode(st, GEN);
  for (const def of ['def zero_head_k_0(module, inp, output):', 'def noise_even_1(module, inp, output):', 'def scale_block_2(module, inp, output):']) {
    assert.ok(hfCode(st).includes(def) && hf.includes(def), def);
  }
  assert.match(hf, /intervened = generate\(\[\(blocks\[9\]\.attn\.c_attn, zero_head_k_0\), \(blocks\[9\]\.mlp\.act, noise_even_1\)/);
  assert.ok(tlCode(st).includes('def scale_2(resid, hook):') && tl.includes('def scale_2(resid, hook):'));
  assert.match(tl, /model\.run_with_hooks\(torch\.tensor\(\[ids\]\), fwd_hooks=fwd_hooks\)/);
  assert.match(hf, /MAX_NEW = 7\n/);
  assert.match(hf, /logits\.argmax\(\)/);
  assert.doesNotMatch(hf, /multinomial|sample/);
  // A sampling panel gets the greedy program, and says so.
  assert.match(hfGenerateCode(st, { ...GEN, temperature: 0.7 }), /temperature 0\.7 .*greedy/);
  // nnsight: one trace per step, the code panel's edits in it.
  const nn = nnGenerateCode(st, GEN);
  const edits = nnCode(st).match(/^interventions = \[[\s\S]*?^\]$/m)[0];
  assert.ok(nn.includes(edits), 'the code panel\'s nnsight edits');
  assert.match(nn, /with torch\.no_grad\(\), model\.trace\(torch\.tensor\(\[ids\]\)\):\n {12}forward\(edits \+ \[at\(n_layer, "lm_head"/);
  assert.match(nn, /^intervened = generate\(interventions\)$/m);
  assert.match(nnHeadsNote({ lang: 'vi' }), /^# Trang chưa viết chương trình nnsight/);
});

test('head scores: the engine\'s definition, and the repeated random tokens are the ids the engine drew', () => {
  const st = state({ ex3: { factor: 0.1 } });
  const tl = tlHeadsCode(st, REPEAT);
  assert.match(tl, /^ids = \[50256, 11, 22, 33, 11, 22, 33\]$/m);
  assert.doesNotMatch(tl, /to_tokens|randint|manual_seed/); // not re-drawn
  assert.match(tl, /model\.run_with_cache\(tokens, names_filter=/);
  assert.match(tl, /with torch\.no_grad\(\), model\.hooks\(fwd_hooks=fwd_hooks\):/);
  assert.match(tl, /intervened = head_scores\(\[\("blocks\.9\.hook_resid_post", scale_0\)\]\)/);
  const hf = hfHeadsCode(st, { repeat: false });
  assert.match(hf, /attn_implementation="eager"/);
  assert.match(hf, /output_attentions=True/);
  assert.match(hf, /^ids = tok\("The jury said that the city"\)\["input_ids"\]$/m);
  assert.throws(() => tlHeadsCode(st, { repeat: true, r: 3, seed: '5' }), /engine's/);
});

test('the strings: English and Vietnamese have the same keys, and the code follows the page language', () => {
  for (const S of [CODEGEN_GENERATE_STRINGS, CODE_TABS_STRINGS]) {
    assert.deepEqual(Object.keys(S.vi).sort(), Object.keys(S.en).sort());
    for (const k of Object.keys(S.en)) assert.ok(S.vi[k] && S.en[k], k);
  }
  const vi = hfGenerateCode(state({}, { lang: 'vi' }), GEN, { lang: 'vi' });
  assert.ok(vi.includes(CODEGEN_GENERATE_STRINGS.vi.cgGenLoop));
  assert.ok(!vi.includes(CODEGEN_GENERATE_STRINGS.en.cgGenLoop));
});
