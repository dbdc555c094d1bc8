// UI strings of the Generate panel, English and Vietnamese, in i18n.js's format: loading
// this file adds them to its table (the panel reads them with makeT).
import { addStrings } from '../i18n.js';

export const GEN_STRINGS = {
  en: {
    genTitle: 'What does the model say?', genGenerate: 'Generate', genStop: 'Stop', genMaxNew: 'New tokens', genTemperature: 'Temperature',
    genTopK: 'Top-k', genTopP: 'Top-p', genSeed: 'Seed', genBaseline: 'Baseline', genIntervened: 'With the interventions',
    genGreedy: 'temperature 0: greedy (the most likely token each step)', genExport: 'Export JSON',
    genLegend: 'Shade: the model\'s probability of each token (darker = likelier); hover for the number.',
    genRunning: 'generating…', genStopped: 'stopped', genWhy_length: 'reached the token limit', genWhy_endoftext: 'the model wrote <|endoftext|>',
    genWhy_context: 'the context is full', genTokensPerS: 'tokens/s',
  },
  vi: {
    genTitle: 'Mô hình nói gì?', genGenerate: 'Sinh văn bản', genStop: 'Dừng', genMaxNew: 'Số token mới', genTemperature: 'Nhiệt độ',
    genTopK: 'Top-k', genTopP: 'Top-p', genSeed: 'Hạt giống (seed)', genBaseline: 'Gốc', genIntervened: 'Có can thiệp',
    genGreedy: 'nhiệt độ 0: tham lam (luôn chọn token khả dĩ nhất)', genExport: 'Xuất JSON',
    genLegend: 'Độ đậm: xác suất mô hình gán cho mỗi token (đậm hơn = khả dĩ hơn); rê chuột để xem số.',
    genRunning: 'đang sinh…', genStopped: 'đã dừng', genWhy_length: 'đạt giới hạn số token', genWhy_endoftext: 'mô hình viết <|endoftext|>',
    genWhy_context: 'ngữ cảnh đã đầy', genTokensPerS: 'token/giây',
  },
};

addStrings(GEN_STRINGS);
