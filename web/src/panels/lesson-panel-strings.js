// A lesson file's panel (lesson-panel.js), English and Vietnamese, in i18n.js's format.
import { addStrings } from '../i18n.js';

addStrings({
  en: {
    lfOpen: 'Open this experiment in the page',
    lfBlock: 'Block',
    lfBlockN: 'block {l}',
    lfNotLesson: 'The lesson "{name}" could not be read: {msg}',
  },
  vi: {
    lfOpen: 'Mở thí nghiệm này trên trang',
    lfBlock: 'Khối',
    lfBlockN: 'khối {l}',
    lfNotLesson: 'Không đọc được bài học “{name}”: {msg}',
  },
});
