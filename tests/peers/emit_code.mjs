// Prints, as JSON, the Python code the page shows for a fixed set of page states: the code
// panel's HuggingFace, TransformerLens and nnsight tabs (web/src/codegen.js hfCode / tlCode,
// codegen-nnsight.js nnCode) and the Patching view's sweep, attribution, attribution patching and
// gradient × input, in TransformerLens and nnsight (tlPatchCode / tlDlaCode, codegen-gradients.js
// tlAttributionCode / tlInputGradCode, codegen-nnsight.js nnPatchCode ... nnInputGradCode). The peers
// suite (tests/peers, docs/peers.md) runs each program with real transformers and
// transformer_lens and compares what it prints with the engine's numbers.
//
//   node tests/peers/emit_code.mjs [--only PREFIX]...   → {"hook_table": "wasm" | null, "states": [...]}
//   node tests/peers/emit_code.mjs --tuple T            → the tuple explorer's text for the mid
//        checkpoint, block 9, a T-token prompt: {"4": {"plain", "attn"}, "5": {"plain", "attn"}}
//
// Each state is given as the page's own URL query (web/src/state.js stateFromParams), the way
// a learner's link carries it; its entry is {name, query, ckpt, prompt, interventions, hf, tl, nn}
// for the code panel, or {name, query, ckpt, kind: "patch" | "dla" | "attr" | "ixg", ex,
// interventions, tl, nn} for the Patching view. The page is assumed to be served (the embedded model's code then
// downloads from its models/default/ URL): the peers replace only the `MODEL = ...` line by a
// local checkpoint folder. The builder's rows need the engine's hook table (lab.hooks()), read
// from the wasm engine; without a wasm build those states carry {"skip": reason}.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { hfCode, tlCode, tlPatchCode, tlDlaCode, tupleText } from '../../web/src/codegen.js';
import { tlAttributionCode, tlInputGradCode } from '../../web/src/codegen-gradients.js';
import { nnCode, nnPatchCode, nnDlaCode, nnAttributionCode, nnInputGradCode, nnGenerateCode } from '../../web/src/codegen-nnsight.js';
import { hfGenerateCode, tlGenerateCode, hfHeadsCode, tlHeadsCode } from '../../web/src/codegen-generate.js';
import { stateFromParams, interventionsOf } from '../../web/src/state.js';
import { GEN_DEFAULTS } from '../../web/src/generate-state.js';
import { patchInputs } from '../../web/src/panels/patch-data.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
// What a served page passes (web/src/panels/code.js): its models/default/ URL and the model's name.
const INFO = { modelUrl: 'http://127.0.0.1:8080/lab/models/default/', modelName: 'HookLab-Circuits 12×192' };

// tools/make_goldens.py's prompt and pair (the goldens in tests/golden were made with them).
const golden = (name, kase) => JSON.parse(readFileSync(join(REPO, 'tests/golden', `${name}__${kase}.json`), 'utf8'));
const GOLDEN_PROMPT = golden('mid', 'clean').prompt;
const PATCHING = golden('mid', 'patching'); // clean, corrupted, answer "#337", wrong "#1757" (mid's ids)

const q = (o) => new URLSearchParams({ model: 'default', ...o }).toString();

function states() {
  const out = [];
  // The chapter's exercises as the goldens have them (tools/make_goldens.py cases_for): block 1
  // on the 2-block tiny checkpoint, block 9 on mid; head 2; noise with std 0 (exact), seed 1.
  for (const [ckpt, L] of [['mid', 9], ['tiny_f32', 1]]) {
    const ex = { ex1: `${L}.2`, ex2: `${L},10,0,1`, ex3: `${L},0.1`, ex4: `${L},10` };
    for (const k of ['ex1', 'ex2', 'ex3', 'ex4']) out.push({ name: `golden/${ckpt}/${k}`, ckpt, golden: `${ckpt}__${k}`, query: q({ prompt: GOLDEN_PROMPT, [k]: ex[k] }) });
    out.push({ name: `golden/${ckpt}/combo`, ckpt, golden: `${ckpt}__combo`, query: q({ prompt: GOLDEN_PROMPT, ex1: ex.ex1, ex2: ex.ex2, ex3: ex.ex3 }) });
  }
  // The page's own prompt (its default), mid: each exercise alone, then all four together.
  const page = { ex1: '9.2', ex2: '9,10,0,0', ex3: '9,0.1', ex4: '5,10' };
  for (const k of Object.keys(page)) out.push({ name: `page/${k}`, ckpt: 'mid', query: q({ [k]: page[k] }) });
  out.push({ name: 'page/all', ckpt: 'mid', query: q(page) });
  out.push({ name: 'page/ex2-noise', ckpt: 'mid', noise: true, query: q({ ex2: '9,10,1,0' }) });
  // The builder's rows: every hook family, three or four rows a state (with an exercise beside them).
  const rows = [
    'hook_embed scale=0.5 pos=0:3;hook_pos_embed add=0.25 feat=even;blocks.1.hook_resid_pre set=0.1 pos=-1',
    'blocks.2.ln1.hook_normalized scale=3 feat=0:40;blocks.3.attn.hook_qkv zero feat=odd;blocks.4.attn.hook_q scale=2 heads=1,3',
    'blocks.4.attn.hook_k add=1 heads=0 pos=1:4;blocks.5.attn.hook_v set=0.5 heads=even feat=0:4;blocks.7.attn.hook_z zero heads=5',
    'blocks.6.attn.hook_attn_scores set=0 heads=2 pos=odd;blocks.6.attn.hook_pattern scale=0.5 heads=0,1 feat=0',
    'blocks.7.hook_attn_out scale=-1;blocks.8.hook_resid_mid add=2 pos=2;blocks.8.ln2.hook_normalized zero feat=0,5,-1',
    'blocks.9.mlp.hook_pre scale=0.1 pos=even;blocks.9.mlp.hook_post noise=0.5,0,3 feat=1:100;blocks.10.hook_mlp_out set=0',
    'blocks.10.hook_resid_post scale=1.5 pos=0;ln_final.hook_normalized add=-0.5 feat=odd;logits scale=2 feat=0:1000',
  ];
  rows.forEach((iv, i) => out.push({ name: `rows/${i}`, ckpt: 'mid', rows: true, query: q({ iv, ex1: '6.1' }) }));
  // The Patching view on the IOI pair of the patching goldens (mid's ids for " Mary" and " John").
  const pair = { pclean: PATCHING.clean, pcorr: PATCHING.corrupted, pans: PATCHING.answer, pwrong: PATCHING.wrong };
  for (const h of ['resid_pre', 'attn_out', 'mlp_out', 'z']) out.push({ name: `patch/${h}`, ckpt: 'mid', kind: 'patch', query: q({ ...pair, phook: h }) });
  out.push({ name: 'patch/z-logit_diff', ckpt: 'mid', kind: 'patch', query: q({ ...pair, phook: 'z', pmetric: 'logit_diff' }) });
  out.push({ name: 'patch/resid_pre-ex1-ex3', ckpt: 'mid', kind: 'patch', query: q({ ...pair, phook: 'resid_pre', ex1: '9.2', ex3: '8,0.5' }) });
  out.push({ name: 'dla/clean', ckpt: 'mid', kind: 'dla', query: q(pair) });
  // The gradient features of the Patching view (codegen-gradients.js, codegen-nnsight.js):
  // attribution patching for each family, and gradient × input, clean and with interventions.
  for (const h of ['resid_pre', 'attn_out', 'mlp_out', 'z']) out.push({ name: `attr/${h}`, ckpt: 'mid', kind: 'attr', query: q({ ...pair, phook: h }) });
  out.push({ name: 'attr/z-logit_diff-ex1', ckpt: 'mid', kind: 'attr', query: q({ ...pair, phook: 'z', pmetric: 'logit_diff', ex1: '9.2' }) });
  out.push({ name: 'attr/resid_pre-rows', ckpt: 'mid', kind: 'attr', rows: true, query: q({ ...pair, phook: 'resid_pre', iv: 'blocks.3.hook_mlp_out scale=0.5;logits add=1 feat=0:100', ex3: '8,0.5' }) });
  out.push({ name: 'ixg/clean', ckpt: 'mid', kind: 'ixg', query: q(pair) });
  out.push({ name: 'ixg/ex1-ex3', ckpt: 'mid', kind: 'ixg', query: q({ ...pair, ex1: '9.2', ex3: '8,0.5' }) });
  out.push({ name: 'ixg/rows-resid_pre', ckpt: 'mid', kind: 'ixg', rows: true, query: q({ ...pair, iv: 'hook_embed scale=0.5;blocks.0.hook_resid_pre add=0.1 pos=0:2' }) });
  out.push({ name: 'dla/ex1-ex2', ckpt: 'mid', kind: 'dla', query: q({ ...pair, ex1: '9.2', ex2: '8,1,0,1' }) });
  // The page as it opens, on the embedded model (checkpoints/default, GPT-2's vocabulary): its
  // default prompt with the four exercises, and its default pair (" was" / " were" as text tokens).
  out.push({ name: 'default/all', ckpt: 'default', query: q({ ex1: '9.2', ex2: '9,10,0,0', ex3: '9,0.1', ex4: '5,10' }) });
  out.push({ name: 'default/patch-resid_pre', ckpt: 'default', kind: 'patch', query: q({}) });
  out.push({ name: 'default/dla', ckpt: 'default', kind: 'dla', query: q({}) });
  // The weights processed as TransformerLens's from_pretrained does (process=tl, issue #27): the
  // TransformerLens code loads them so and prints the engine's numbers loaded with --process tl
  // (the HF and nnsight tabs load HF's weights: not run in these states).
  out.push({ name: 'processed/all', ckpt: 'mid', query: q({ process: 'tl', ...page }) });
  out.push({ name: 'processed/default', ckpt: 'default', query: q({ process: 'tl', ex1: '9.2', ex3: '9,0.1' }) });
  out.push({ name: 'processed/rows', ckpt: 'mid', rows: true, query: q({ process: 'tl', ex1: '6.1', iv: 'blocks.2.ln1.hook_normalized scale=3 feat=0:40;blocks.5.attn.hook_v set=0.5 heads=even feat=0:4;ln_final.hook_normalized add=-0.5 feat=odd' }) });
  out.push({ name: 'processed/patch-resid_pre', ckpt: 'mid', kind: 'patch', query: q({ ...pair, process: 'tl', phook: 'resid_pre' }) });
  out.push({ name: 'processed/dla', ckpt: 'mid', kind: 'dla', query: q({ ...pair, process: 'tl' }) });
  out.push({ name: 'processed/dla-default', ckpt: 'default', kind: 'dla', query: q({ process: 'tl' }) });
  // The Generate panel's code (greedy, 12 new tokens; codegen-generate.js, nnsight's in
  // codegen-nnsight.js) and the heads view's: {kind: "gen" | "heads", code: {hf, tl[, nn]}} (under `code`: the code panel's runner leaves them to
  // test_code_gen_heads.py). The repeated random tokens are the engine's (build/hooklab heads), as
  // the page passes the heads view's own result to the code.
  out.push({ name: 'gen/clean', ckpt: 'mid', kind: 'gen', query: q({ prompt: PATCHING.clean }) });
  out.push({ name: 'gen/ex3-mid', ckpt: 'mid', kind: 'gen', query: q({ prompt: PATCHING.clean, ex3: '9,0.1' }) });
  out.push({ name: 'gen/ex1-ex3-default', ckpt: 'default', kind: 'gen', query: q({ ex1: '9.2', ex3: '9,0.1' }) });
  out.push({ name: 'gen/rows', ckpt: 'mid', kind: 'gen', rows: true, query: q({ prompt: PATCHING.clean, iv: 'blocks.3.hook_mlp_out scale=0.5;blocks.5.attn.hook_v set=0.5 heads=even feat=0:4' }) });
  out.push({ name: 'heads/prompt', ckpt: 'mid', kind: 'heads', query: q({ prompt: GOLDEN_PROMPT }) });
  out.push({ name: 'heads/prompt-ex1-ex3', ckpt: 'mid', kind: 'heads', query: q({ prompt: GOLDEN_PROMPT, ex1: '9.2', ex3: '5,0.5' }) });
  out.push({ name: 'heads/repeat', ckpt: 'mid', kind: 'heads', repeat: { r: 20, seed: '0' }, query: q({}) });
  return out;
}

const GEN_NEW = 12;
function engineRepeatTokens(ckpt, r, seed) {
  const out = execFileSync(join(REPO, 'build/hooklab'), ['heads', '--model', join(REPO, 'build/ckpt', ckpt), '--repeat', String(r), '--seed', seed], { encoding: 'utf8', maxBuffer: 1 << 28 });
  return JSON.parse(out).tokens;
}

async function hookTable() {
  if (!existsSync(join(REPO, 'wasm/dist/hooklab.wasm'))) return null;
  const { HookLab } = await import('../../wasm/js/hooklab.js');
  const lab = await HookLab.load(join(REPO, 'build/ckpt/mid'));
  try {
    return lab.hooks(1);
  } finally {
    lab.dispose();
  }
}

const arg = (flag) => process.argv.flatMap((a, i, all) => (all[i - 1] === flag ? [a] : []));
if (arg('--tuple').length) {
  const T = Number(arg('--tuple')[0]);
  const C = JSON.parse(readFileSync(join(REPO, 'build/ckpt/mid/config.json'), 'utf8'));
  const text = (tf, withAttn) => tupleText({ T, C, layer: 9, withAttn, tf });
  process.stdout.write(JSON.stringify(Object.fromEntries(['4', '5'].map((tf) => [tf, { plain: text(tf, false), attn: text(tf, true) }]))));
  process.exit(0);
}
const only = arg('--only');
const wanted = states().filter((s) => !only.length || only.some((p) => s.name.startsWith(p)));
const hooks = wanted.some((s) => s.rows) ? await hookTable() : null;
const result = wanted.map((s) => {
  const refused = [];
  const st = stateFromParams(new URLSearchParams(s.query), 'en', refused);
  if (refused.length) throw new Error(`${s.name}: the page refused ${JSON.stringify(refused)}`);
  const e = { ...s, prompt: st.prompt, interventions: interventionsOf(st), topk: st.topk, process: st.process };
  const processed = st.process === 'tl'; // only the TransformerLens code loads the weights processed
  if (s.rows && !hooks) return { ...e, skip: 'the builder\'s rows need the engine\'s hook table: wasm engine not built (npm run build:wasm)' };
  const info = { ...INFO, hooks };
  if (s.kind === 'gen') {
    const gen = { ...GEN_DEFAULTS, maxNewTokens: GEN_NEW };
    return { ...e, gen, code: { hf: hfGenerateCode(st, gen, info), tl: tlGenerateCode(st, gen, info), nn: nnGenerateCode(st, gen, info) } };
  }
  if (s.kind === 'heads') {
    const heads = s.repeat ? { repeat: true, ...s.repeat, tokens: engineRepeatTokens(s.ckpt, s.repeat.r, s.repeat.seed) } : { repeat: false };
    return { ...e, heads, code: { hf: hfHeadsCode(st, heads, info), tl: tlHeadsCode(st, heads, info) } };
  }
  if (s.kind) {
    const ex = { ...patchInputs(st.patch, st.model), hook: st.patch.hook, metric: st.patch.metric };
    const [tl, nn] = { patch: [tlPatchCode, nnPatchCode], dla: [tlDlaCode, nnDlaCode], attr: [tlAttributionCode, nnAttributionCode], ixg: [tlInputGradCode, nnInputGradCode] }[s.kind];
    return processed ? { ...e, ex, tl: tl(st, ex, info) } : { ...e, ex, tl: tl(st, ex, info), nn: nn(st, ex, info) };
  }
  return processed ? { ...e, tl: tlCode(st, info) } : { ...e, hf: hfCode(st, info), tl: tlCode(st, info), nn: nnCode(st, info) };
});
process.stdout.write(JSON.stringify({ hook_table: hooks ? 'wasm' : null, states: result }, null, 1));
