// The Patching view's pure parts (issue #11, page): URL keys, the default pairs (the embedded
// model's pair is the one its model card reports), the diverging scale, the sweep's rows and
// CSV, the attribution's grouping, the engine errors' mapping, and the TransformerLens code
// (valid Python in both languages, the right patching function per hook family).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import {
  IOI_PAIR, EMBEDDED_PAIR, defaultPair, patchInputs,
  divergingColor, scaleMax, sweepRows, sweepCsv, dlaGroups, errorField,
} from '../../web/src/panels/patch-data.js';
import { defaultPatchState, patchFromParams, patchToParams } from '../../web/src/patch-state.js';
import { tlPatchCode, tlDlaCode } from '../../web/src/codegen.js';
import { defaultState, stateFromParams, stateToParams } from '../../web/src/state.js';
import { describeError } from '../../web/src/errors.js';
import { STRINGS } from '../../web/src/i18n.js';
import '../../web/src/panels/patching-strings.js'; // the view's strings join the table

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

test('URL keys round-trip; bad values are refused and left at their defaults', () => {
  const st = defaultState();
  st.patch = { ...defaultPatchState(), clean: 'a b', corrupted: 'a c', answer: '#42', wrong: ' x', hook: 'z', metric: 'logit_diff' };
  const back = stateFromParams(stateToParams(st));
  assert.deepEqual(back.patch, st.patch);
  // Defaults write nothing.
  assert.equal([...stateToParams(defaultState()).keys()].filter((k) => k.startsWith('p') && k !== 'prompt').length, 0);
  const refused = [];
  const p = patchFromParams((k) => ({ phook: 'resid_post', pmetric: 'kl', pans: '', pwrong: '#x1', pclean: 'ok' })[k], refused);
  assert.deepEqual(refused.map((r) => r.key).sort(), ['pans', 'phook', 'pmetric', 'pwrong']);
  assert.equal(p.hook, 'resid_pre');
  assert.equal(p.metric, 'normalized');
  assert.equal(p.answer, null);
  assert.equal(p.clean, 'ok');
});

test('default pairs: IOI for GPT-2 and local files, the card\'s pair for the embedded model', () => {
  assert.equal(defaultPair('gpt2'), IOI_PAIR);
  assert.equal(defaultPair('local'), IOI_PAIR);
  assert.equal(defaultPair('default'), EMBEDDED_PAIR);
  assert.deepEqual(patchInputs({ ...defaultPatchState(), answer: ' Bob' }, 'gpt2'), { ...IOI_PAIR, answer: ' Bob' });
  const card = readFileSync(`${REPO}/checkpoints/default/MODEL_CARD.md`, 'utf8');
  for (const s of [EMBEDDED_PAIR.clean, EMBEDDED_PAIR.corrupted]) assert.ok(card.includes(`"${s}"`), `the model card names ${s}`);
  for (const s of [EMBEDDED_PAIR.answer, EMBEDDED_PAIR.wrong]) assert.ok(card.includes(`"${s}" (#`), `the model card names ${s}`);
});

test('diverging scale: white at 0, blue below, orange above, symmetric, clamped, null for non-finite', () => {
  assert.equal(divergingColor(0, 1), 'rgb(247,247,247)');
  assert.equal(divergingColor(-1, 1), 'rgb(33,102,172)');
  assert.equal(divergingColor(1, 1), 'rgb(179,88,6)');
  assert.equal(divergingColor(5, 1), divergingColor(1, 1));
  assert.equal(divergingColor(NaN, 1), null);
  assert.notEqual(divergingColor(0.5, 1), divergingColor(-0.5, 1));
  assert.equal(scaleMax([[0.2, -0.5]], 'normalized'), 1);
  assert.equal(scaleMax([[0.2, -3]], 'normalized'), 3);
  assert.equal(scaleMax([[0.2, -0.5, NaN]], 'logit_diff'), 0.5);
});

const SWEEP = {
  hook: 'resid_pre', by: 'position', answer_id: 5, wrong_id: 6, clean_logit_diff: 2, corrupted_logit_diff: -1,
  clean_token_strings: ['A', ' b,'], corrupted_token_strings: ['A', ' "c"'],
  logit_diff: [[-1, 2], [0.5, 1]], normalized: [[0, 1], [0.5, 2 / 3]],
};

test('sweep rows and CSV name the experiment and hold every cell', () => {
  const rows = sweepRows(SWEEP);
  assert.equal(rows.length, 4);
  assert.deepEqual(rows[1], { layer: 0, position: 1, clean_token: ' b,', corrupted_token: ' "c"', logit_diff: 2, normalized: 1 });
  const heads = sweepRows({ ...SWEEP, hook: 'z', by: 'head' });
  assert.deepEqual(heads[3], { layer: 1, head: 1, logit_diff: 1, normalized: 2 / 3 });
  const csv = sweepCsv({ model: { name: 'M' }, clean: 'A b,', corrupted: 'A "c"', answer: ' x', wrong: ' y', interventions: [], date: '2026-01-01', sweep: SWEEP });
  const lines = csv.trim().split('\n');
  assert.match(lines[0], /^# model: "M"$/);
  assert.ok(lines.some((l) => l === '# hook: "resid_pre"'));
  const header = lines.find((l) => !l.startsWith('#'));
  assert.equal(header, 'layer,position,clean_token,corrupted_token,logit_diff,normalized');
  assert.equal(lines.at(-3), '0,1," b,"," ""c""",2,1');
});

test('attribution grouping: heads per block, biases, MLPs, the rest; the sum', () => {
  const comps = [['embed', 1], ['pos_embed', 2], ['blocks.0.attn.head.0', 3], ['blocks.0.attn.head.1', 4], ['blocks.0.attn.bias', 5], ['blocks.0.mlp', 6],
    ['blocks.1.attn.head.0', 7], ['blocks.1.attn.head.1', 8], ['blocks.1.attn.bias', 9], ['blocks.1.mlp', 10], ['ln_final.bias', 11]];
  const g = dlaGroups({ components: comps.map(([name, value]) => ({ name, value })) }, 2, 2);
  assert.deepEqual(g.heads, [[3, 4], [7, 8]]);
  assert.deepEqual(g.attn, [7, 15]);
  assert.deepEqual(g.bias, [5, 9]);
  assert.deepEqual(g.mlp, [6, 10]);
  assert.deepEqual(g.other, { embed: 1, pos_embed: 2, 'ln_final.bias': 11 });
  assert.equal(g.sum, 66);
  assert.equal(g.count, 11);
});

test('engine errors map to translated keys and to the field they belong to', () => {
  const cases = [
    ['the clean prompt is 3 tokens and the corrupted prompt is 2: patching needs the same number of tokens in both', 'errPatchLengths', 'prompts'],
    ['answer " Marylandia" is 2 tokens, " Maryland" (#10769) + "ia" (#544); it must be exactly one token: give one of them, or #ID', 'errPatchSplit', 'answer'],
    ['wrong #99999 is outside the vocabulary (ids 0..50256)', 'errPatchVocab', 'wrong'],
    ['the corrupted prompt is empty: type at least one character', 'errPatchEmpty', 'prompts'],
    ["the clean prompt is 160 tokens long but this model's context is 128 tokens; shorten it", 'errPatchLong', 'prompts'],
    ["the prompt is 160 tokens long but this model's context is 128 tokens; shorten it", 'errPromptLong', 'prompts'],
    ['direct logit attribution: the intervention on blocks.9.hook_resid_post changes the residual stream itself, which', 'errDlaResid', 'dla'],
  ];
  for (const [msg, key, field] of cases) {
    const d = describeError(msg);
    assert.equal(d.key, key, msg);
    assert.equal(errorField(d), field, msg);
    for (const lang of ['en', 'vi']) assert.ok(STRINGS[lang][key], `${lang}.${key}`);
  }
  assert.deepEqual(describeError(cases[1][0]).vars, { which: 'answer', text: '" Marylandia"', n: '2', parts: '" Maryland" (#10769) + "ia" (#544)' });
});

test('every Patching string exists in both languages', () => {
  const keys = Object.keys(STRINGS.en).filter((k) => /^(patch|errPatch|errDla|cgPatch|cgDla)/.test(k));
  assert.ok(keys.length > 40);
  for (const k of keys) assert.ok(STRINGS.vi[k], `vi.${k}`);
});

function codeFor(hook, { model = 'default', lang = 'en', ex = {} } = {}) {
  const st = defaultState(lang);
  st.model = model;
  Object.assign(st.ex.ex1, { on: true, layer: 3, head: 2 });
  Object.assign(st.ex.ex2, ex);
  const pair = { ...defaultPair(model), hook, metric: 'normalized' };
  return [tlPatchCode(st, pair, { lang }), tlDlaCode(st, pair, { lang })];
}

test('TransformerLens code: the patching function per hook family, the metric, the DLA recipe', () => {
  const want = { resid_pre: 'get_act_patch_resid_pre', attn_out: 'get_act_patch_attn_out', mlp_out: 'get_act_patch_mlp_out', z: 'get_act_patch_attn_head_out_all_pos' };
  for (const [hook, fn] of Object.entries(want)) {
    const [code] = codeFor(hook, { model: 'gpt2' });
    assert.match(code, new RegExp(`result = patching\\.${fn}\\(model, corrupted_tokens, clean_cache, metric\\)`));
    assert.match(code, /from_pretrained_no_processing\("gpt2"\)/);
    assert.match(code, /model\.to_tokens\("When Mary and John went to the store, John gave a drink to", prepend_bos=False\)/);
    assert.match(code, /answer, wrong = model\.to_single_token\(" Mary"\), model\.to_single_token\(" John"\)/);
    assert.match(code, /\(logit_diff\(logits\) - corrupted_ld\) \/ \(clean_ld - corrupted_ld\)/);
    assert.match(code, /model\.add_hook\("blocks\.3\.attn\.hook_k", zero_k_0, is_permanent=True\)/);
  }
  const [, dla] = codeFor('resid_pre', { model: 'gpt2' });
  for (const s of ['decompose_resid(layer=-1, pos_slice=-1, return_labels=True)', 'stack_head_results(layer=-1, pos_slice=-1, return_labels=True)',
    'apply_ln_to_stack(stack, layer=-1, pos_slice=-1)', 'model.ln_final.w', 'model.ln_final.b @ direction']) assert.ok(dla.includes(s), s);
  // The embedded model: a converted config, said plainly.
  const [emb] = codeFor('z');
  assert.match(emb, /HookedTransformerConfig\(/);
  assert.match(emb, /convert_gpt2_weights/);
  assert.ok(emb.includes(STRINGS.en.cgTlLocal.split('\n')[0].slice(0, 40)));
  const st = defaultState();
  st.ex.ex1 = { on: true, kind: 'x', layer: 1, head: 1 };
  assert.equal(tlPatchCode(st, { ...EMBEDDED_PAIR, hook: 'resid_pre', metric: 'logit_diff' }).includes('metric = logit_diff'), true);
  assert.throws(() => tlPatchCode(st, { ...EMBEDDED_PAIR, hook: 'resid_post' }), /unknown patching hook/);
});

test('TransformerLens code is valid Python in both languages, every hook family and model kind', () => {
  const variants = [];
  for (const lang of ['en', 'vi']) for (const model of ['default', 'gpt2', 'local']) for (const hook of ['resid_pre', 'attn_out', 'mlp_out', 'z']) {
    const [p, d] = codeFor(hook, { model, lang, ex: { on: true, layer: 2, mean: 1, std: 0.5, seed: 3 } });
    variants.push({ name: `${lang}/${model}/${hook}/patch`, code: p }, { name: `${lang}/${model}/${hook}/dla`, code: d });
  }
  const r = spawnSync(PY, ['-c', 'import ast,json,sys\nfor v in json.load(sys.stdin):\n    try:\n        ast.parse(v["code"])\n    except SyntaxError as e:\n        print(v["name"], e)'], { input: JSON.stringify(variants), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '');
});
