// UI strings of the small code folds (code-tabs.js: the Generate panel's and the heads view's
// code), English and Vietnamese, in i18n.js's format.
import { addStrings } from '../i18n.js';

export const CODE_TABS_STRINGS = {
  en: {
    miniCode: 'The equivalent code', miniCodeTabs: 'Library',
    miniTab_hf: 'HuggingFace', miniTab_tl: 'TransformerLens', miniTab_nn: 'nnsight',
  },
  vi: {
    miniCode: 'Mã tương đương', miniCodeTabs: 'Thư viện',
    miniTab_hf: 'HuggingFace', miniTab_tl: 'TransformerLens', miniTab_nn: 'nnsight',
  },
};

addStrings(CODE_TABS_STRINGS);
