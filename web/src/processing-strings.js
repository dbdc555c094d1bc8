// Strings of TransformerLens's weight processing on the page (issue #27): the model panel's switch,
// the model info's "Weights" line (also in the exports) and the std caption's ln_f sentence with
// processed weights; English and Vietnamese, in i18n.js's format: loading this file adds them.
// What processing changes is docs/engine.md's "TransformerLens's weight processing".
import { addStrings } from './i18n.js';

export const PROCESSING_STRINGS = {
  en: {
    processToggle: 'Process the weights as TransformerLens does (from_pretrained)',
    processHint: 'Off: HuggingFace\'s weights. On: fold_ln, center_writing_weights, center_unembed and fold_value_biases, as HookedTransformer.from_pretrained does by default, so the page shows an ARENA notebook\'s numbers. The model loads again.',
    weights: 'Weights',
    weightsHf: 'HuggingFace\'s, unprocessed (as TransformerLens\'s from_pretrained_no_processing)',
    weightsTl: 'processed as TransformerLens\'s from_pretrained does: {list}',
    weightsTlChanges: 'What this changes: the residual stream (hook_embed, hook_pos_embed, hook_resid_pre / mid / post), hook_attn_out and hook_mlp_out lose their mean over d_model at each position; ln1, ln2 and ln_final.hook_normalized are (x − mean) / scale, the LayerNorm\'s weight and bias being folded into the next layer; hook_v and hook_z lose b_V (moved into b_O); each position\'s logits shift by a constant. Unchanged: probabilities, KL, top-k, logit differences and patching, hook_q / hook_k, the attention scores and pattern, mlp.hook_pre / hook_post. The HuggingFace and nnsight code load HF\'s weights.',
    captionNoScaleTl: 'The last point of the HuggingFace view is taken after the final LayerNorm (ln_f). With the weights processed (fold_ln) ln_f has no gain or bias left (they are folded into the unembedding): it is (x − mean) / scale, std ≈ 1 (here {b} baseline, {i} intervened), whatever scale came in.',
    capLnfTl: 'The last point of the HuggingFace view returns to ≈{b} in both runs because ln_f normalises each position (its gain folded into the unembedding, the weights being processed) — that is LayerNorm, not the network compensating.',
  },
  vi: {
    processToggle: 'Xử lý trọng số như TransformerLens (from_pretrained)',
    processHint: 'Tắt: trọng số của HuggingFace. Bật: fold_ln, center_writing_weights, center_unembed và fold_value_biases, như HookedTransformer.from_pretrained làm theo mặc định, để trang hiện đúng các con số của một notebook ARENA. Mô hình sẽ được nạp lại.',
    weights: 'Trọng số',
    weightsHf: 'của HuggingFace, chưa xử lý (như from_pretrained_no_processing của TransformerLens)',
    weightsTl: 'đã xử lý như from_pretrained của TransformerLens: {list}',
    weightsTlChanges: 'Điều này thay đổi: residual stream (hook_embed, hook_pos_embed, hook_resid_pre / mid / post), hook_attn_out và hook_mlp_out bị trừ đi trung bình theo d_model ở mỗi vị trí; ln1, ln2 và ln_final.hook_normalized là (x − trung bình) / scale, vì trọng số và bias của LayerNorm đã được gộp vào lớp kế tiếp; hook_v và hook_z mất b_V (chuyển vào b_O); logits ở mỗi vị trí dịch đi một hằng số. Không đổi: xác suất, KL, top-k, hiệu logit và patching, hook_q / hook_k, attention scores và pattern, mlp.hook_pre / hook_post. Mã HuggingFace và nnsight nạp trọng số của HF.',
    captionNoScaleTl: 'Điểm cuối của biểu đồ HuggingFace được lấy sau LayerNorm cuối (ln_f). Khi trọng số đã xử lý (fold_ln), ln_f không còn gain hay bias (chúng đã gộp vào unembedding): nó là (x − trung bình) / scale, std ≈ 1 (ở đây {b} baseline, {i} can thiệp), dù scale đi vào là bao nhiêu.',
    capLnfTl: 'Điểm cuối của biểu đồ HuggingFace quay về ≈{b} ở cả hai lần chạy vì ln_f chuẩn hoá từng vị trí (gain của nó đã gộp vào unembedding, do trọng số đã xử lý) — đó là LayerNorm, không phải mạng tự bù.',
  },
};

addStrings(PROCESSING_STRINGS);
