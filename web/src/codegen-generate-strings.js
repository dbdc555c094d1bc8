// The strings of the Python that the Generate panel and the heads view show
// (codegen-generate.js, codegen-nnsight.js nnGenerateCode), English and Vietnamese, in i18n.js's format.
import { addStrings } from './i18n.js';

export const CODEGEN_GENERATE_STRINGS = {
  en: {
    cgGenLoop: 'Greedy decoding, the whole sequence recomputed at every step with the hooks on. The page\'s engine keeps a KV cache instead, with the interventions acting at every step on every position as it is computed: its tokens are those of this recompute.',
    cgGenTie: 'the most likely token; on a tie the lowest id, as the engine',
    cgGenGreedy: 'Temperature 0 (greedy), up to {n} new tokens; it stops early after <|endoftext|> or when the context is full.',
    cgGenSampled: 'The panel samples at temperature {temp} with the engine\'s own random numbers, which PyTorch does not reproduce: this code shows the greedy continuation (temperature 0).',
    cgHeadsEager: 'eager attention: the default (sdpa) returns no attention weights',
    cgHeadsRepeat: '<|endoftext|> then {r} random tokens twice (seed {s}): the ids the engine drew, as the heads view used them',
    cgHeadsDef: 'As the engine (model/src/heads.cpp): first-token = mean of row[0]; previous-token = mean of row[i-1] over i >= 1; induction = mean of row[j+1], j the latest earlier position holding token i, over the positions that have one',
    cgHeadsTl: 'The interventions as hooks, then the cache of every hook_pattern (cached after them: the intervened pattern)',
    cgHeadsHfPattern: 'A row on hook_attn_scores / hook_pattern recomputes the attention in a block hook: out.attentions does not show it (the TransformerLens tab does).',
    cgHeadsRows: 'one row per block, one score per head',
    cgHeadsNoNn: 'The page writes no nnsight program for head scores yet: the TransformerLens tab (run_with_cache) and the HuggingFace tab (output_attentions) compute them.',
    cgHeadsRunFirst: 'The repeated random tokens are the ones the engine draws: open this view\'s scores first, and their ids are written here.',
  },
  vi: {
    cgGenLoop: 'Giải mã tham lam, toàn bộ chuỗi được tính lại ở mỗi bước với các hook được bật. Engine của trang thì giữ KV cache, các can thiệp tác động ở mỗi bước lên mỗi vị trí khi nó được tính: các token của nó chính là các token của phép tính lại này.',
    cgGenTie: 'token khả dĩ nhất; khi bằng nhau thì chọn id nhỏ nhất, như engine',
    cgGenGreedy: 'Nhiệt độ 0 (tham lam), tối đa {n} token mới; dừng sớm sau <|endoftext|> hoặc khi ngữ cảnh đã đầy.',
    cgGenSampled: 'Bảng lấy mẫu ở nhiệt độ {temp} bằng số ngẫu nhiên riêng của engine, PyTorch không tái tạo được: mã này cho phần tiếp theo tham lam (nhiệt độ 0).',
    cgHeadsEager: 'attention eager: mặc định (sdpa) không trả về trọng số attention',
    cgHeadsRepeat: '<|endoftext|> rồi {r} token ngẫu nhiên lặp hai lần (seed {s}): đúng các id engine đã rút, như phần head đã dùng',
    cgHeadsDef: 'Như engine (model/src/heads.cpp): first-token = trung bình row[0]; previous-token = trung bình row[i-1] với i >= 1; induction = trung bình row[j+1], j là vị trí sớm hơn gần nhất chứa token i, trên các vị trí có j như vậy',
    cgHeadsTl: 'Các can thiệp làm hook, rồi cache mọi hook_pattern (được cache sau chúng: pattern đã bị can thiệp)',
    cgHeadsHfPattern: 'Một hàng trên hook_attn_scores / hook_pattern tính lại attention trong hook của block: out.attentions không thể hiện nó (tab TransformerLens thì có).',
    cgHeadsRows: 'mỗi block một hàng, mỗi head một điểm',
    cgHeadsNoNn: 'Trang chưa viết chương trình nnsight nào cho điểm số head: tab TransformerLens (run_with_cache) và tab HuggingFace (output_attentions) tính chúng.',
    cgHeadsRunFirst: 'Các token ngẫu nhiên lặp lại là các token engine rút ra: hãy mở điểm số của phần này trước, rồi id của chúng sẽ được viết ở đây.',
  },
};

addStrings(CODEGEN_GENERATE_STRINGS);
