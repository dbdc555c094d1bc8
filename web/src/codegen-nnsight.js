// The same experiments in nnsight (issue #27): the code panel's run (the chapter's exercises and
// the builder's rows), the Patching view's sweep and direct logit attribution, attribution
// patching and gradient × input. Pure functions of the state, as codegen.js's are: the code runs
// as shown (nnsight 0.8, tests/peers) and prints the numbers the page shows.
//
// nnsight hands a module's input and output to the code inside `with model.trace(...)` as the
// forward reaches them, and refuses one the forward has already passed (OutOfOrderError). So
// every edit is written as a function with its place in the forward, `at(block, step, fn)`, and
// forward() runs them sorted by place: the interventions first at each place, then what reads
// or patches there, as the engine's hooks fire.
import { interventionsOf } from './state.js';
import { makeT } from './i18n.js';
import { comment, modelSource, py, pyInt, pyNum, hiddenDef } from './codegen.js';
import { rowTools, isRow } from './codegen-rows.js';
import { greedyStep, genEnd } from './codegen-generate.js';
import './codegen-strings.js';
import './codegen-generate-strings.js';

// The series the code is written for (TransformersModel; LanguageModel before 0.8).
export const NN_PKG = '"nnsight>=0.8"';

// The places an edit can act, in the order GPT-2's forward reaches them (block -1: the
// embeddings; block n_layer: after the blocks).
const STEPS = ['wte', 'wpe', 'input', 'ln_1', 'c_attn', 'attention', 'c_proj', 'attn', 'ln_2', 'c_fc', 'act', 'mlp', 'output', 'ln_f', 'lm_head'];

// The token an id or text names: "#ID" → the id, text → token_id(text).
const nnToken = (s) => (/^#\d+$/.test(s) ? s.slice(1) : `token_id(${py(s)})`);

// The lines every program starts with: the install line, the model, forward().
function head(st, t, info) {
  const src = modelSource(st, t, info);
  const L = [...comment(t('cgNeeds', { pkgs: `torch transformers ${NN_PKG}` }))];
  if (st.process === 'tl') L.push(...comment(t('cgHfUnprocessed')));
  L.push('import torch');
  L.push('import nnsight');
  L.push('from nnsight import TransformersModel');
  L.push('from transformers import GPT2TokenizerFast');
  L.push('');
  if (src.hub) L.push(`MODEL = ${py(src.hf)}`);
  else L.push(...src.L);
  L.push(...comment(t('nnLoad')));
  L.push('model = TransformersModel(MODEL, task="text-generation", tokenizer=GPT2TokenizerFast.from_pretrained(MODEL),');
  L.push('                          dtype=torch.float32, dispatch=True)');
  L.push(...comment(t('nnLarger')));
  L.push('blocks = model.transformer.h');
  L.push('n_layer, n_embd, n_head = len(blocks), model.config.n_embd, model.config.n_head');
  L.push('d_head = n_embd // n_head');
  L.push('');
  L.push(`STEPS = [${STEPS.map(py).join(', ')}]`);
  L.push('def at(block, step, fn):');
  L.push(...comment(t('nnAt'), '    '));
  L.push('    return ((block, STEPS.index(step)), fn)');
  L.push('');
  L.push('def forward(edits):');
  L.push(...comment(t('nnForward'), '    '));
  L.push('    for _, fn in sorted(edits, key=lambda e: e[0]):');
  L.push('        fn()');
  L.push('');
  L.push(...hiddenDef(t));
  return L;
}

// The page's interventions as edits: {L, edits: [python at(...) expressions]}; n0 numbers them.
// grad: written without in-place writes to a tensor the backward goes through.
function interventions(st, t, info) {
  const ivs = interventionsOf(st);
  const L = [];
  const edits = [];
  ivs.filter((iv) => !isRow(iv)).forEach((iv, n) => {
    const l = pyInt(iv.layer);
    if (iv.kind === 'zero_head_k') {
      L.push(...comment(t('cgEx1', { h: iv.head, l: iv.layer })));
      L.push(`def zero_head_k_${n}():`);
      L.push(`    q, k, v = blocks[${l}].attn.c_attn.output.split(n_embd, dim=-1)  # ${t('cgQkv')}`);
      L.push('    k = k.clone()');
      L.push(`    k[..., ${pyInt(iv.head)} * d_head:(${pyInt(iv.head)} + 1) * d_head] = 0`);
      L.push(`    blocks[${l}].attn.c_attn.output = torch.cat([q, k, v], dim=-1)`);
      edits.push(`at(${l}, "c_attn", zero_head_k_${n})`);
    } else if (iv.kind === 'noise_even_neurons') {
      L.push(...comment(t('cgEx2', { l: iv.layer, m: iv.mean, s: iv.std })));
      L.push(`noise_${n} = torch.Generator().manual_seed(${pyInt(iv.seed)})  # ${t('cgSeed')}`);
      L.push(`def noise_even_${n}():`);
      L.push(`    post = blocks[${l}].mlp.act.output.clone()  # ${t('cgPost')}`);
      L.push(`    post[..., 0::2] = torch.normal(${pyNum(iv.mean)}, ${pyNum(iv.std)}, size=post[..., 0::2].shape, generator=noise_${n})`);
      L.push(`    blocks[${l}].mlp.act.output = post`);
      edits.push(`at(${l}, "act", noise_even_${n})`);
    } else if (iv.kind === 'scale_hidden') {
      L.push(...comment(t('cgEx34', { l: iv.layer, f: iv.factor })));
      L.push(`def scale_block_${n}():`);
      L.push(`    out = blocks[${l}].output`);
      L.push(`    if isinstance(out, tuple):  # ${t('cgRebuild')}`);
      L.push(`        blocks[${l}].output = (out[0] * ${pyNum(iv.factor)},) + out[1:]`);
      L.push('    else:');
      L.push(`        blocks[${l}].output = out * ${pyNum(iv.factor)}`);
      edits.push(`at(${l}, "output", scale_block_${n})`);
    } else {
      throw new Error(`codegen: no nnsight edit for intervention kind ${iv.kind}`);
    }
    L.push('');
  });
  const rows = ivs.filter(isRow);
  const { sorted, helpers, call, split } = rowTools(rows, t, pyNum, info.hooks ?? null);
  L.push(...helpers);
  const attn = new Map(); // block → its rows on the attention scores and pattern
  sorted.forEach((iv) => {
    const n = ivs.length + rows.indexOf(iv);
    const { layer, name } = split(iv.hook);
    const b = `blocks[${layer}]`;
    const fn = `row_${n}`;
    const set = (step, mod, what, body) => {
      L.push(`# ${t('cgRowHf', { n: rows.indexOf(iv) + 1, hook: iv.hook })}`);
      L.push(`def ${fn}():`, ...body.map((s) => `    ${s}`));
      if (what) L.push(`    ${mod}.${what} = ${call(iv, `${mod}.${what}`)}`);
      L.push('');
      edits.push(`at(${layer ?? (step === 'wte' || step === 'wpe' ? -1 : 'n_layer')}, ${py(step)}, ${fn})`);
    };
    if (name === 'attn.hook_attn_scores' || name === 'attn.hook_pattern') {
      if (!attn.has(layer)) attn.set(layer, []);
      attn.get(layer).push(iv);
      return;
    }
    switch (name) {
      case 'hook_embed': return set('wte', 'model.transformer.wte', 'output', []);
      case 'hook_pos_embed': return set('wpe', 'model.transformer.wpe', 'output', []);
      case 'hook_resid_pre': return set('input', b, 'input', []);
      case 'ln1.hook_normalized': return set('ln_1', `${b}.ln_1`, 'output', []);
      case 'ln2.hook_normalized': return set('ln_2', `${b}.ln_2`, 'output', []);
      case 'attn.hook_qkv': return set('c_attn', `${b}.attn.c_attn`, 'output', []);
      case 'attn.hook_q': case 'attn.hook_k': case 'attn.hook_v': {
        const k = 'qkv'.indexOf(name.slice(-1));
        return set('c_attn', '', '', [
          `out = ${b}.attn.c_attn.output`,
          `parts = list(out.split(n_embd, dim=-1))  # ${t('cgQkvParts')}`,
          `x = parts[${k}].reshape(*out.shape[:2], n_head, d_head)`,
          `parts[${k}] = ${call(iv, 'x')}.reshape(parts[${k}].shape)`,
          `${b}.attn.c_attn.output = torch.cat(parts, dim=-1)`]);
      }
      case 'attn.hook_z': return set('c_proj', '', '', [
        `z = ${b}.attn.c_proj.input  # ${t('cgZ')}`,
        `${b}.attn.c_proj.input = ${call(iv, 'z.reshape(*z.shape[:2], n_head, d_head)')}.reshape(z.shape)`]);
      case 'hook_attn_out': return set('attn', '', '', [
        `out = ${b}.attn.output`,
        `${b}.attn.output = (${call(iv, 'out[0]')},) + tuple(out[1:])`]);
      case 'hook_resid_mid': {
        // The residual after attention is a sum inside the block: keep the block's input (at its
        // place, before the attention), change the sum, hand back the attention output that gives it.
        L.push(`resid_in_${n} = []`);
        L.push(`def keep_${n}():`, `    resid_in_${n}[:] = [${b}.input]`, '');
        edits.push(`at(${layer}, "input", keep_${n})`);
        return set('attn', '', '', [
          `out = ${b}.attn.output`,
          `mid = resid_in_${n}[0] + out[0]  # ${t('cgResidMid')}`,
          `${b}.attn.output = (${call(iv, 'mid')} - resid_in_${n}[0],) + tuple(out[1:])`]);
      }
      case 'mlp.hook_pre': return set('c_fc', `${b}.mlp.c_fc`, 'output', []);
      case 'mlp.hook_post': return set('act', `${b}.mlp.act`, 'output', []);
      case 'hook_mlp_out': return set('mlp', `${b}.mlp`, 'output', []);
      case 'hook_resid_post': return set('output', '', '', [
        `out = ${b}.output`,
        `if isinstance(out, tuple):  # ${t('cgRebuild')}`,
        `    ${b}.output = (${call(iv, 'out[0]')},) + out[1:]`,
        'else:',
        `    ${b}.output = ${call(iv, 'out')}`]);
      case 'ln_final.hook_normalized': return set('ln_f', 'model.transformer.ln_f', 'output', []);
      case 'logits': return set('lm_head', '', '', [
        `logits = model.lm_head.output.clone()  # ${t('cgLogitsLast')}`,
        `logits[:, -1:] = ${call(iv, 'logits[:, -1:]')}`,
        'model.lm_head.output = logits']);
      default: throw new Error(`codegen: no nnsight place for hook ${iv.hook}`);
    }
  });
  for (const [layer, rs] of attn) {
    const b = `blocks[${layer}]`;
    L.push(`# ${t('nnAttnRecompute', { l: layer })}`);
    L.push(`def attention_${layer}():`);
    L.push(`    qkv = ${b}.attn.c_attn.output`);
    L.push('    q, k, v = (x.reshape(*qkv.shape[:2], n_head, d_head).transpose(1, 2) for x in qkv.split(n_embd, dim=-1))');
    L.push('    scores = q @ k.transpose(-1, -2) / d_head ** 0.5');
    L.push('    scores = scores.masked_fill(~causal(scores), float("-inf"))');
    for (const iv of rs.filter((r) => r.hook.endsWith('hook_attn_scores'))) L.push(`    scores = torch.where(causal(scores), ${call(iv, 'scores')}, scores)`);
    L.push('    pattern = scores.softmax(-1)');
    for (const iv of rs.filter((r) => r.hook.endsWith('hook_pattern'))) L.push(`    pattern = ${call(iv, 'pattern')}`);
    L.push(`    ${b}.attn.c_proj.input = (pattern @ v).transpose(1, 2).reshape(*qkv.shape[:2], n_embd)`);
    L.push('');
    edits.push(`at(${layer}, "attention", attention_${layer})`);
  }
  return { L, edits };
}

// The interventions' lines and the `interventions = [...]` list.
function interventionLines(st, t, info, intro) {
  const iv = interventions(st, t, info);
  const L = [];
  if (iv.edits.length && intro) L.push(...comment(intro));
  L.push(...iv.L);
  if (!iv.edits.length) L.push(`interventions = []  # ${t('cgNone')}`);
  else {
    L.push('interventions = [');
    for (const e of iv.edits) L.push(`    ${e},`);
    L.push(']');
  }
  L.push('');
  return L;
}

/** The code panel's experiment in nnsight: baseline and intervened runs, as the HF and TL tabs. */
export function nnCode(st, { lang = 'en', ...info } = {}) {
  const t = makeT(lang);
  const L = head(st, t, info);
  L.push(`PROMPT = ${py(st.prompt)}`);
  L.push('');
  L.push('def run(edits):');
  L.push(...comment(t('cgRun'), '    '));
  L.push('    resid, emb, final, logits = [None] * n_layer, [], [], []');
  L.push('    def record(i):');
  L.push('        def fn():');
  L.push('            resid[i] = hidden(blocks[i].output).std().item()');
  L.push('        return fn');
  L.push('    rec = [at(i, "output", record(i)) for i in range(n_layer)]');
  L.push('    rec += [at(0, "input", lambda: emb.append(blocks[0].input.std().item())),');
  L.push('            at(n_layer, "ln_f", lambda: final.append(model.transformer.ln_f.output.std().item())),');
  L.push('            at(n_layer, "lm_head", lambda: logits.append(model.lm_head.output[0, -1]))]');
  L.push('    with torch.no_grad(), model.trace(PROMPT):');
  L.push(`        forward(edits + rec)  # ${t('cgOrder')}`);
  L.push('    return resid, emb + resid[:-1] + final, logits[0]');
  L.push('');
  L.push(...interventionLines(st, t, info, null));
  L.push('baseline = run([])');
  L.push('intervened = run(interventions)');
  L.push('decode = model.tokenizer.decode');
  L.push(...printResults(t, st.topk));
  return L.join('\n');
}

/** The Generate panel's greedy generation in nnsight (codegen-generate.js has the HF and TL
 *  tabs): one trace per step over the whole sequence, the interventions' edits in each. gen: its settings. */
export function nnGenerateCode(st, gen, { lang = 'en', ...info } = {}) {
  const t = makeT(lang);
  const L = head(st, t, info);
  L.push(`prompt_ids = model.tokenizer(${py(st.prompt)})["input_ids"]`);
  L.push('EOS = model.tokenizer.convert_tokens_to_ids("<|endoftext|>")');
  L.push(`MAX_NEW = ${pyInt(gen.maxNewTokens)}`);
  L.push('');
  L.push(...interventionLines(st, t, info, null));
  L.push('def generate(edits):');
  L.push(...comment(t('cgGenLoop'), '    '));
  L.push('    ids, new = list(prompt_ids), []');
  L.push('    while len(new) < MAX_NEW and len(ids) < model.config.n_positions:');
  L.push('        logits = []');
  L.push('        with torch.no_grad(), model.trace(torch.tensor([ids])):');
  L.push('            forward(edits + [at(n_layer, "lm_head", lambda: logits.append(model.lm_head.output[0, -1]))])');
  L.push(...greedyStep(' '.repeat(8), t, 'logits[0]'));
  L.push('    return new');
  L.push('');
  L.push(...genEnd(gen, t, 'generate(interventions)', 'model.tokenizer.decode'));
  return L.join('\n');
}

// As codegen.js's printResults (the same printed lines, which the peers suite reads).
function printResults(t, topk) {
  return [
    `print(${py(t('cgResid'))})`,
    'print("  baseline:  ", [round(x, 5) for x in baseline[0]])',
    'print("  intervened:", [round(x, 5) for x in intervened[0]])',
    `print(${py(t('cgHfStd'))})`,
    'print("  baseline:  ", [round(x, 5) for x in baseline[1]])',
    'print("  intervened:", [round(x, 5) for x in intervened[1]])',
    'lp, lq = baseline[2].double().log_softmax(-1), intervened[2].double().log_softmax(-1)',
    `print(${py(t('cgKl'))}, (lp.exp() * (lp - lq)).sum().item())`,
    `print(${py(t('cgTop', { k: topk }))})`,
    `for i in lp.topk(${pyInt(topk)}).indices.tolist():`,
    '    print(f"  {decode(i)!r:>16} {lp[i].exp().item():.4f} {lq[i].exp().item():.4f}")',
  ];
}

// The Patching view's programs: the pair, the answer and wrong tokens, the interventions.
function pairHead(st, ex, t, info) {
  const L = head(st, t, info);
  L.push('def token_id(text):');
  L.push('    ids = model.tokenizer.encode(text)');
  L.push('    assert len(ids) == 1, f"{text!r} is {len(ids)} tokens"');
  L.push('    return ids[0]');
  L.push('');
  L.push(`clean, corrupted = ${py(ex.clean)}, ${py(ex.corrupted)}`);
  L.push(`answer, wrong = ${nnToken(ex.answer)}, ${nnToken(ex.wrong)}`);
  L.push('');
  L.push(...interventionLines(st, t, info, t('nnIvs')));
  L.push('def logit_diff(logits):');
  L.push('    return logits[0, -1, answer] - logits[0, -1, wrong]');
  L.push('');
  return L;
}

// Each family's activation per block: its place, how to read it and how to write it back.
const SITE = {
  resid_pre: { step: 'input', get: 'blocks[l].input', put: 'blocks[l].input = x' },
  attn_out: { step: 'attn', get: 'blocks[l].attn.output[0]', put: 'blocks[l].attn.output = (x,) + tuple(blocks[l].attn.output[1:])' },
  mlp_out: { step: 'mlp', get: 'blocks[l].mlp.output', put: 'blocks[l].mlp.output = x' },
  z: { step: 'c_proj', get: 'blocks[l].attn.c_proj.input', put: 'blocks[l].attn.c_proj.input = x' },
};

function siteLines(site, t) {
  return [
    `SITE = ${py(site.step)}`,
    `def get(l):  # ${t('nnSite')}`,
    `    return ${site.get}`,
    'def put(l, x):',
    `    ${site.put}`,
    '',
  ];
}

/** The patching sweep of the Patching view, in nnsight: one forward per patched slice. */
export function nnPatchCode(st, ex, { lang = 'en', ...info } = {}) {
  const t = makeT(lang);
  const site = SITE[ex.hook];
  if (!site) throw new Error(`codegen: unknown patching hook ${ex.hook}`);
  const L = pairHead(st, ex, t, info);
  L.splice(L.indexOf('') + 1, 0, ...comment(t('cgPatchIntro')));
  L.push(...siteLines(site, t));
  L.push('def run(prompt, edits=()):');
  L.push(...comment(t('nnPatchRun'), '    '));
  L.push('    ld = []');
  L.push('    with torch.no_grad(), model.trace(prompt):');
  L.push('        forward(interventions + list(edits) + [at(n_layer, "lm_head", lambda: ld.append(logit_diff(model.lm_head.output).item()))])');
  L.push('    return ld[0]');
  L.push('');
  L.push('clean_acts = [None] * n_layer');
  L.push('def keep(l):');
  L.push('    def fn():');
  L.push('        clean_acts[l] = get(l).clone()');
  L.push('    return fn');
  L.push('clean_ld = run(clean, [at(l, SITE, keep(l)) for l in range(n_layer)])');
  L.push('corrupted_ld = run(corrupted)');
  L.push('');
  if (ex.metric === 'logit_diff') {
    L.push('def metric(ld):');
    L.push('    return ld');
  } else {
    L.push('def metric(ld):');
    L.push('    return (ld - corrupted_ld) / (clean_ld - corrupted_ld)');
  }
  L.push('');
  L.push('def patch(l, s):');
  L.push('    def fn():');
  L.push('        x = get(l).clone()');
  if (ex.hook === 'z') {
    L.push(`        x = x.reshape(*x.shape[:2], n_head, d_head)  # ${t('cgZ')}`);
    L.push('        x[:, :, s] = clean_acts[l].reshape(x.shape)[:, :, s]');
    L.push('        put(l, x.reshape(clean_acts[l].shape))');
  } else {
    L.push('        x[:, s] = clean_acts[l][:, s]');
    L.push('        put(l, x)');
  }
  L.push('    return fn');
  L.push('');
  L.push(ex.hook === 'z' ? 'n_slices = n_head' : 'n_slices = len(model.tokenizer.encode(corrupted))');
  L.push('result = torch.zeros(n_layer, n_slices)');
  L.push('for l in range(n_layer):');
  L.push('    for s in range(n_slices):');
  L.push('        result[l, s] = metric(run(corrupted, [at(l, SITE, patch(l, s))]))');
  L.push('print("clean logit diff", clean_ld, "corrupted", corrupted_ld)');
  L.push(...comment(t('cgPatchPrint', { cols: ex.hook === 'z' ? 'heads' : 'positions' })));
  L.push('torch.set_printoptions(precision=4, linewidth=200, sci_mode=False)');
  L.push('print(result)');
  return L.join('\n');
}

/** Direct logit attribution of the clean prompt, in nnsight. */
export function nnDlaCode(st, ex, { lang = 'en', ...info } = {}) {
  const t = makeT(lang);
  const L = pairHead(st, ex, t, info);
  L.splice(L.indexOf('') + 1, 0, ...comment(t('nnDlaIntro')));
  L.push('acts = {}');
  L.push('def keep(name, read):');
  L.push('    def fn():');
  L.push('        acts[name] = read()[0, -1]');
  L.push('    return fn');
  L.push('reads = [at(-1, "wte", keep("embed", lambda: model.transformer.wte.output)),');
  L.push('         at(-1, "wpe", keep("pos_embed", lambda: model.transformer.wpe.output)),');
  L.push('         at(n_layer - 1, "output", keep("final", lambda: hidden(blocks[-1].output))),');
  L.push('         at(n_layer, "lm_head", keep("logits", lambda: model.lm_head.output))]');
  L.push('for l in range(n_layer):');
  L.push('    reads += [at(l, "c_proj", keep(f"{l}_z", lambda l=l: blocks[l].attn.c_proj.input)),');
  L.push('              at(l, "attn", keep(f"{l}_attn_out", lambda l=l: blocks[l].attn.output[0])),');
  L.push('              at(l, "mlp", keep(f"{l}_mlp_out", lambda l=l: blocks[l].mlp.output))]');
  L.push('with torch.no_grad(), model.trace(clean):');
  L.push('    forward(interventions + reads)');
  L.push('');
  L.push('with torch.no_grad():');
  L.push('    W_U, ln_f = model.lm_head.weight, model.transformer.ln_f');
  L.push('    direction = W_U[answer] - W_U[wrong]');
  L.push(`    x = acts["final"]  # ${t('nnDlaScale')}`);
  L.push('    scale = (x.var(unbiased=False) + model.config.layer_norm_epsilon).sqrt()');
  L.push('    def project(c):');
  L.push('        return ((c - c.mean(-1, keepdim=True)) / scale * ln_f.weight) @ direction');
  L.push('    parts = {name: project(acts[name]).item() for name in ["embed", "pos_embed"]}');
  L.push('    for l in range(n_layer):');
  L.push('        parts[f"{l}_attn_out"] = project(acts[f"{l}_attn_out"]).item()');
  L.push('        parts[f"{l}_mlp_out"] = project(acts[f"{l}_mlp_out"]).item()');
  L.push(`    # ${t('nnDlaHeads')}`);
  L.push('    W_O = torch.stack([blocks[l].attn.c_proj.weight for l in range(n_layer)]).reshape(n_layer, n_head, d_head, n_embd)');
  L.push('    z = torch.stack([acts[f"{l}_z"] for l in range(n_layer)]).reshape(n_layer, n_head, 1, d_head)');
  L.push('    per_head = project((z @ W_O)[:, :, 0])');
  L.push(...comment(t('cgDlaBias'), '    '));
  L.push('    ln_bias = (ln_f.bias @ direction).item()');
  L.push('print("embed", parts["embed"], "pos_embed", parts["pos_embed"])');
  L.push('print("block  heads  attn_bias  mlp")');
  L.push('for l in range(n_layer):');
  L.push('    heads_sum = per_head[l].sum().item()');
  L.push('    print(l, heads_sum, parts[f"{l}_attn_out"] - heads_sum, parts[f"{l}_mlp_out"])');
  L.push('print("ln_final.bias", ln_bias)');
  L.push('torch.set_printoptions(precision=4, linewidth=200, sci_mode=False)');
  L.push('print(per_head)');
  L.push('print("sum", sum(parts.values()) + ln_bias, "logit diff", logit_diff(acts["logits"][None, None]).item())');
  return L.join('\n');
}

/** Attribution patching (one clean forward, one corrupted forward and backward), in nnsight. */
export function nnAttributionCode(st, ex, { lang = 'en', ...info } = {}) {
  const t = makeT(lang);
  const site = SITE[ex.hook];
  if (!site) throw new Error(`codegen: unknown patching hook ${ex.hook}`);
  const L = pairHead(st, ex, t, info);
  L.splice(L.indexOf('') + 1, 0, ...comment(t('cgAttrIntro')));
  L.push(...siteLines(site, t));
  L.push('def acts_and_ld(prompt, grads=False):');
  L.push(...comment(t('nnAttrRun'), '    '));
  L.push('    acts, out = [None] * n_layer, {}');
  L.push('    def keep(l):');
  L.push('        def fn():');
  L.push('            acts[l] = get(l)');
  L.push('        return fn');
  L.push('    def metric():');
  L.push('        out["ld"] = logit_diff(model.lm_head.output)');
  L.push('    with torch.enable_grad(), model.trace(prompt):');
  L.push('        forward(interventions + [at(l, SITE, keep(l)) for l in range(n_layer)] + [at(n_layer, "lm_head", metric)])');
  L.push('        if grads:');
  L.push(`            with out["ld"].backward():  # ${t('nnBackward')}`);
  L.push('                out["grads"] = [acts[l].grad for l in reversed(range(n_layer))][::-1]');
  L.push('        out = nnsight.save(out)');
  L.push('    return [a.detach() for a in acts], out');
  L.push('');
  L.push(...comment(t('cgAttrClean')));
  L.push('clean_acts, c = acts_and_ld(clean)');
  L.push('clean_ld = c["ld"].item()');
  L.push(...comment(t('cgAttrCorrupted')));
  L.push('corrupted_acts, k = acts_and_ld(corrupted, grads=True)');
  L.push('corrupted_ld = k["ld"].item()');
  const byHead = ex.hook === 'z';
  L.push(...comment(t('cgAttrEstimate', { over: t(byHead ? 'cgAttrOverHead' : 'cgAttrOverPos') })));
  if (byHead) {
    L.push('delta = torch.stack([((clean_acts[l] - corrupted_acts[l]) * k["grads"][l])[0].reshape(-1, n_head, d_head).sum(dim=(0, 2))');
    L.push('                     for l in range(n_layer)])');
  } else {
    L.push('delta = torch.stack([((clean_acts[l] - corrupted_acts[l]) * k["grads"][l])[0].sum(-1) for l in range(n_layer)])');
  }
  if (ex.metric === 'logit_diff') L.push('result = corrupted_ld + delta');
  else L.push('result = delta / (clean_ld - corrupted_ld)');
  L.push('print("clean logit diff", clean_ld, "corrupted", corrupted_ld)');
  L.push(...comment(t('cgPatchPrint', { cols: byHead ? 'heads' : 'positions' })));
  L.push('torch.set_printoptions(precision=4, linewidth=200, sci_mode=False)');
  L.push('print(result)');
  return L.join('\n');
}

/** Gradient × input of the clean prompt, in nnsight: the input of block 0 (the two embeddings
 *  summed, after the page's interventions there) times its gradient. */
export function nnInputGradCode(st, ex, { lang = 'en', ...info } = {}) {
  const t = makeT(lang);
  const L = pairHead(st, ex, t, info);
  L.splice(L.indexOf('') + 1, 0, ...comment(t('nnGradIntro')));
  L.push('out = {}');
  L.push('def keep(name, read):');
  L.push('    def fn():');
  L.push('        out[name] = read()');
  L.push('    return fn');
  L.push('def metric():');
  L.push('    out["ld"] = logit_diff(model.lm_head.output)');
  L.push('with torch.enable_grad(), model.trace(clean):');
  L.push('    forward(interventions + [at(-1, "wte", keep("embed", lambda: model.transformer.wte.output)),');
  L.push('                             at(-1, "wpe", keep("pos_embed", lambda: model.transformer.wpe.output)),');
  L.push(`                             at(0, "input", keep("x", lambda: blocks[0].input)),  # ${t('nnGradInput')}`);
  L.push('                             at(n_layer, "lm_head", metric)])');
  L.push(`    with out["ld"].backward():  # ${t('nnBackward')}`);
  L.push('        out["g"] = out["x"].grad');
  L.push('    out = nnsight.save(out)');
  L.push('x_grad = ((out["embed"] + out["pos_embed"]) * out["g"])[0].sum(-1).detach()');
  L.push('tokens = model.tokenizer.encode(clean)');
  L.push('for p, (tok, v) in enumerate(zip(tokens, x_grad.tolist())):');
  L.push('    print(p, repr(model.tokenizer.decode(tok)), round(v, 6))');
  L.push('print("sum", x_grad.sum().item(), "logit diff", out["ld"].item())');
  return L.join('\n');
}
