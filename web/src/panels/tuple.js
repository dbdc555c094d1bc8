// The tuple explorer: what a HuggingFace block returns, with this run's shapes.
import { $ } from '../dom.js';

export function renderTuple(app) {
  const { result, modelInfo, t } = app;
  const b = result.baseline, c = modelInfo.config;
  const T = b.tokens.length, d = c.n_embd, H = c.n_head;
  const withAttn = $('tuple-attn').checked;
  const v5 = $('tuple-tf').value === '5';
  const s = result.state;
  const layer = [s.ex.ex3, s.ex.ex4, s.ex.ex1, s.ex.ex2].find((e) => e.on)?.layer ?? 9;
  const pat = b.captures?.[`blocks.${layer}.attn.hook_pattern`];
  const attnShape = pat ? [1, ...pat.shape] : [1, H, T, T];
  const sz = (a) => `torch.Size([${a.join(', ')}])`;
  const L = [];
  L.push(`block = model.transformer.h[${layer}]`);
  L.push(`hidden_states.shape        # ${sz([1, T, d])}  (batch, seq, d_model)`);
  L.push(`output = block(hidden_states${withAttn ? ', output_attentions=True' : ''})`);
  if (!v5) {
    L.push(`type(output), len(output)  # (tuple, ${withAttn ? 2 : 1})`);
    L.push(`output[0].shape            # ${sz([1, T, d])}  hidden states → next block (= blocks.${layer}.hook_resid_post)`);
    if (withAttn) L.push(`output[1].shape            # ${sz(attnShape)}  attention weights (batch, heads, query, key)`);
    L.push('');
    L.push('# a hook must rebuild the tuple:');
    L.push('#   return (output[0].mul(factor),) + output[1:]');
  } else {
    L.push(`type(output)               # torch.Tensor — ${sz([1, T, d])}`);
    L.push(`output[0].shape            # ${sz([T, d])}  ← the first batch element, NOT "the hidden states"`);
    if (withAttn) L.push(`# attentions: collected by the model, out.attentions[${layer}].shape == ${sz(attnShape)}`);
    L.push('');
    L.push('# a hook returns the tensor itself:  return output.mul(factor)');
  }
  $('tuple').textContent = L.join('\n');
  $('tuple-help').textContent = `${t('tupleHelp', { t: T })}${v5 ? ` ${t('tupleV5')}` : ''}`;
}
