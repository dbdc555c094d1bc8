// The heads panel's controls (panels/heads.js), English and Vietnamese, in i18n.js's format:
// loading this file adds them to its table.
import { addStrings } from '../i18n.js';

export const HEADS_PAGE_STRINGS = {
  en: {
    headsInput: 'Input',
    headsInputPrompt: 'the prompt',
    headsInputRepeat: 'repeated random tokens',
    headsRunning: 'Scoring every head…',
    headsRange: 'A whole number from {lo} to {hi}.',
    headsSeedBad: 'A whole number from 0 to 18446744073709551615.',
    headsRepeatNote: '<|endoftext|> then {r} random tokens, twice (TransformerLens’s induction test input, seed {s}).',
  },
  vi: {
    headsInput: 'Đầu vào',
    headsInputPrompt: 'prompt',
    headsInputRepeat: 'chuỗi token ngẫu nhiên lặp lại',
    headsRunning: 'Đang tính điểm cho mọi head…',
    headsRange: 'Cần một số nguyên từ {lo} đến {hi}.',
    headsSeedBad: 'Cần một số nguyên từ 0 đến 18446744073709551615.',
    headsRepeatNote: '<|endoftext|> rồi {r} token ngẫu nhiên, lặp lại hai lần (đầu vào kiểm tra induction của TransformerLens, seed {s}).',
  },
};

addStrings(HEADS_PAGE_STRINGS);
