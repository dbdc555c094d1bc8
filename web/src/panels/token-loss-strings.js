// The loss-per-token view's strings (panels/token-loss.js), English and Vietnamese, in
// i18n.js's format: loading this file adds them to its table.
import { addStrings } from '../i18n.js';

export const TOKEN_LOSS_STRINGS = {
  en: {
    lossTitle: 'Loss per token',
    lossHelp: 'At each position of the prompt, the model’s loss for the token that actually comes next: −ln P(next token), in nats. It is low where the model expected the text. Write a sentence twice (names show it best) and the second copy gets cheaper where the model copies (induction heads); zero those heads with a builder row (attn.hook_z, scale 0, their heads) and watch it rise again.',
    lossAsking: 'Computing the loss at every position (a forward of the baseline and one of the intervened run)…',
    lossShort: 'The prompt is one token: there is no next token to predict within it.',
    lossMean: 'Mean loss over {n} predictions: baseline {b} nats, intervened {i} nats.',
    lossMeanSame: 'Mean loss over {n} predictions: {b} nats, the same in both runs.',
    lossRise: 'Largest rise: at position {p}, predicting {tok}, {d} nats.',
    lossFall: 'No position got more expensive; the largest fall: at position {p}, predicting {tok}, {d} nats.',
    lossFigTitle: 'Loss of the next token at each position',
    lossAxis: 'loss (nats)',
    lossPosAxis: 'position → next token',
    lossPos: 'position',
    lossNext: 'next token',
    lossChange: 'change',
  },
  vi: {
    lossTitle: 'Loss theo từng token',
    lossHelp: 'Tại mỗi vị trí của prompt, loss của mô hình cho token thực sự đứng tiếp theo: −ln P(token tiếp theo), tính bằng nat. Loss thấp ở chỗ mô hình đã đoán trước được văn bản. Hãy viết một câu hai lần (câu có tên riêng cho thấy rõ nhất): bản thứ hai rẻ hơn ở chỗ mô hình chép lại (head induction); hãy đặt các head đó về 0 bằng một dòng của phần tự tạo can thiệp (attn.hook_z, nhân với 0, chọn các head đó) và xem loss tăng trở lại.',
    lossAsking: 'Đang tính loss ở mọi vị trí (một lượt chạy xuôi cho baseline và một cho lần chạy có can thiệp)…',
    lossShort: 'Prompt chỉ có một token: bên trong nó không có token tiếp theo nào để dự đoán.',
    lossMean: 'Loss trung bình trên {n} lần dự đoán: baseline {b} nat, có can thiệp {i} nat.',
    lossMeanSame: 'Loss trung bình trên {n} lần dự đoán: {b} nat, như nhau ở cả hai lần chạy.',
    lossRise: 'Tăng nhiều nhất: ở vị trí {p}, khi dự đoán {tok}, {d} nat.',
    lossFall: 'Không vị trí nào tốn hơn; giảm nhiều nhất: ở vị trí {p}, khi dự đoán {tok}, {d} nat.',
    lossFigTitle: 'Loss của token tiếp theo tại mỗi vị trí',
    lossAxis: 'loss (nat)',
    lossPosAxis: 'vị trí → token tiếp theo',
    lossPos: 'vị trí',
    lossNext: 'token tiếp theo',
    lossChange: 'thay đổi',
  },
};

addStrings(TOKEN_LOSS_STRINGS);
