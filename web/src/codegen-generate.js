// Python for the Generate panel (greedy generation under the page's interventions) and the
// heads view (the previous-token, first-token and induction scores of every head), in
// HuggingFace transformers and TransformerLens (generation in nnsight: codegen-nnsight.js
// nnGenerateCode): pure functions of the state, run as shown by
// the peers suite (tests/peers/test_code_gen_heads.py, docs/peers.md). The interventions are the
// code panel's own hooks (codegen.js hfInterventions / tlInterventions).
import { interventionsOf } from './state.js';
import { makeT } from './i18n.js';
import { py, pyInt, comment, hfInterventions, tlInterventions, hfLoad, hiddenDef, attachDef, tlStart, modelSource } from './codegen.js';
import './codegen-strings.js';
import './codegen-generate-strings.js';

function hfHead(st, t, info, { eager = false } = {}) {
  const L = hfLoad(st, t, modelSource(st, t, info), { eagerNote: eager ? t('cgHeadsEager') : null });
  L.push('blocks = model.transformer.h');
  L.push('');
  L.push(...hiddenDef(t), ...attachDef(t));
  return L;
}

// What every library's generation program shares (HF and TransformerLens here, nnsight in
// codegen-nnsight.js): the greedy step, at the loop's indent `pad`, on the last position's
// logits `logits`: the argmax, kept, and a stop at <|endoftext|>.
export const greedyStep = (pad, t, logits) => [
  `${pad}nxt = int(${logits}.argmax())  # ${t('cgGenTie')}`,
  `${pad}ids.append(nxt)`,
  `${pad}new.append(nxt)`,
  `${pad}if nxt == EOS:`,
  `${pad}    break`,
];

// The program's end: a note on the panel's settings, both generations (`intervened`: the call
// with the interventions), and what they printed, decoded by `decode`.
export function genEnd(gen, t, intervened, decode) {
  const L = comment(t('cgGenGreedy', { n: gen.maxNewTokens }));
  if (gen.temperature > 0) L.push(...comment(t('cgGenSampled', { temp: gen.temperature })));
  return [...L,
    'baseline = generate([])',
    `intervened = ${intervened}`,
    'for name, new in [("baseline", baseline), ("intervened", intervened)]:',
    '    print(name, new)',
    `    print("  ", repr(${decode}([i for i in new if i != EOS])))`,
  ];
}

/** Greedy generation with HuggingFace forward hooks. gen: the Generate panel's settings ({maxNewTokens, temperature, ...}). */
export function hfGenerateCode(st, gen, { lang = 'en', ...info } = {}) {
  const t = makeT(lang);
  const ivs = interventionsOf(st);
  const L = hfHead(st, t, info);
  const iv = hfInterventions(ivs, t, info);
  L.push(...iv.L);
  if (!ivs.length) L.push(...comment(t('cgNone')));
  L.push(`prompt_ids = tok(${py(st.prompt)})["input_ids"]`);
  L.push('EOS = tok.convert_tokens_to_ids("<|endoftext|>")');
  L.push(`MAX_NEW = ${pyInt(gen.maxNewTokens)}`);
  L.push('');
  L.push('def generate(interventions):');
  L.push(...comment(t('cgGenLoop'), '    '));
  L.push('    ids, new = list(prompt_ids), []');
  L.push('    handles = [attach(*x) for x in interventions]');
  L.push('    try:');
  L.push('        with torch.no_grad():');
  L.push('            while len(new) < MAX_NEW and len(ids) < model.config.n_positions:');
  L.push('                logits = model(torch.tensor([ids])).logits[0, -1]');
  L.push(...greedyStep(' '.repeat(16), t, 'logits'));
  L.push('    finally:');
  L.push('        for h in handles:');
  L.push('            h.remove()');
  L.push('    return new');
  L.push('');
  L.push(...genEnd(gen, t, `generate([${iv.hooks.join(', ')}])`, 'tok.decode'));
  return L.join('\n');
}

/** Greedy generation with TransformerLens hooks (run_with_hooks at every step). */
export function tlGenerateCode(st, gen, { lang = 'en', ...info } = {}) {
  const t = makeT(lang);
  const ivs = interventionsOf(st);
  const { L, src } = tlStart(st, t, info);
  L.push(`prompt_ids = model.to_tokens(${py(st.prompt)}, prepend_bos=False)[0].tolist()`);
  L.push('EOS = model.tokenizer.convert_tokens_to_ids("<|endoftext|>")');
  L.push(`MAX_NEW = ${pyInt(gen.maxNewTokens)}`);
  L.push('');
  const iv = tlInterventions(ivs, t, info, src.processed);
  L.push(...iv.L);
  if (!ivs.length) L.push(...comment(t('cgNone')));
  L.push('def generate(fwd_hooks, post=()):');
  L.push(...comment(t('cgGenLoop'), '    '));
  L.push('    ids, new = list(prompt_ids), []');
  L.push('    with torch.no_grad():');
  L.push('        while len(new) < MAX_NEW and len(ids) < model.cfg.n_ctx:');
  L.push('            logits = model.run_with_hooks(torch.tensor([ids]), fwd_hooks=fwd_hooks)');
  L.push(`            for f in post:  # ${t('cgTlPost')}`);
  L.push('                logits = f(logits)');
  L.push(...greedyStep(' '.repeat(12), t, 'logits[0, -1]'));
  L.push('    return new');
  L.push('');
  L.push(...genEnd(gen, t, `generate([${iv.hooks.join(', ')}]${iv.post.length ? `, post=[${iv.post.join(', ')}]` : ''})`, 'model.tokenizer.decode'));
  return L.join('\n');
}

/** The nnsight tab of the heads view: no program yet, said as a comment (generation's is
 *  codegen-nnsight.js nnGenerateCode). */
export function nnHeadsNote({ lang = 'en' } = {}) {
  return comment(makeT(lang)('cgHeadsNoNn')).join('\n');
}

// The scores of one block's attention patterns [head, query, key], as model/src/heads.cpp
// computes them (in double): the first-token score averages row[0] over every query, the
// previous-token score row[i-1] over queries 1..T-1, the induction score row[j+1] for the
// latest earlier j holding the query's token, over the queries that have one.
function scoreLines(t) {
  return [
    'def scores(pattern):',
    ...comment(t('cgHeadsDef'), '    '),
    '    p = pattern.double()',
    '    T, H = p.shape[-1], p.shape[0]',
    '    first = p[:, :, 0].mean(-1).tolist()',
    '    prev = p[:, torch.arange(1, T), torch.arange(T - 1)].mean(-1).tolist() if T > 1 else [None] * H',
    '    pairs = [(i, max(j for j in range(i) if ids[j] == ids[i]) + 1) for i in range(T) if ids[i] in ids[:i]]',
    '    ind = torch.stack([p[:, i, j] for i, j in pairs]).mean(0).tolist() if pairs else [None] * H',
    '    return prev, first, ind',
    '',
  ];
}

function headsTokens(st, heads, t, L, tl) {
  if (heads.repeat) {
    L.push(...comment(t('cgHeadsRepeat', { r: heads.r, s: heads.seed })));
    if (!heads.tokens) throw new Error('codegen: the repeated random tokens are the engine\'s: pass them (heads.tokens)');
    L.push(`ids = [${heads.tokens.map(pyInt).join(', ')}]`);
  } else if (tl) {
    L.push(`ids = model.to_tokens(${py(st.prompt)}, prepend_bos=False)[0].tolist()`);
  } else {
    L.push(`ids = tok(${py(st.prompt)})["input_ids"]`);
  }
  L.push('tokens = torch.tensor([ids])');
  L.push('');
}

const headsPrint = (t) => [
  `for name, s in [("baseline", baseline), ("intervened", intervened)]:`,
  '    for k in ["previous_token", "first_token", "induction"]:',
  `        print(name, k, ${py(t('cgHeadsRows'))})`,
  '        for l, row in enumerate(s[k]):',
  '            print(" ", l, [None if x is None else round(x, 4) for x in row])',
];

// How both heads programs end: head_scores returns each score's rows, run without and with the
// interventions, and printed.
const headsEnd = (hooks, t) => [
  '    return {k: [r[n] for r in rows] for n, k in enumerate(["previous_token", "first_token", "induction"])}',
  '',
  'baseline = head_scores([])',
  `intervened = head_scores([${hooks.join(', ')}])`,
  ...headsPrint(t),
];

/** The heads view's scores with TransformerLens: run_with_cache's hook_pattern, the interventions as hooks. heads: {repeat, r, seed, tokens} */
export function tlHeadsCode(st, heads, { lang = 'en', ...info } = {}) {
  const t = makeT(lang);
  const ivs = interventionsOf(st);
  const { L, src } = tlStart(st, t, info);
  headsTokens(st, heads, t, L, true);
  const iv = tlInterventions(ivs, t, info, src.processed);
  L.push(...iv.L);
  if (!ivs.length) L.push(...comment(t('cgNone')));
  L.push(...scoreLines(t));
  L.push('def head_scores(fwd_hooks):');
  L.push(...comment(t('cgHeadsTl'), '    '));
  L.push('    with torch.no_grad(), model.hooks(fwd_hooks=fwd_hooks):');
  L.push('        _, cache = model.run_with_cache(tokens, names_filter=lambda name: name.endswith("hook_pattern"))');
  L.push('    rows = [scores(cache[f"blocks.{l}.attn.hook_pattern"][0]) for l in range(model.cfg.n_layers)]');
  L.push(...headsEnd(iv.hooks, t));
  return L.join('\n');
}

/** The heads view's scores with HuggingFace: output_attentions=True (eager attention). */
export function hfHeadsCode(st, heads, { lang = 'en', ...info } = {}) {
  const t = makeT(lang);
  const ivs = interventionsOf(st);
  const L = hfHead(st, t, info, { eager: true });
  headsTokens(st, heads, t, L, false);
  const iv = hfInterventions(ivs, t, info);
  L.push(...iv.L);
  if (!ivs.length) L.push(...comment(t('cgNone')));
  if (ivs.some((x) => /hook_(attn_scores|pattern)$/.test(x.hook || ''))) L.push(...comment(t('cgHeadsHfPattern')));
  L.push(...scoreLines(t));
  L.push('def head_scores(interventions):');
  L.push('    handles = [attach(*x) for x in interventions]');
  L.push('    try:');
  L.push('        with torch.no_grad():');
  L.push('            out = model(tokens, output_attentions=True)');
  L.push('    finally:');
  L.push('        for h in handles:');
  L.push('            h.remove()');
  L.push('    rows = [scores(a[0]) for a in out.attentions]  # [head, query, key] per block');
  L.push(...headsEnd(iv.hooks, t));
  return L.join('\n');
}
