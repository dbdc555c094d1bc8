// The lessons the page ships (lessons/*.md, bundled as text by Vite), by their lesson= name
// (keys.js LESSONS). Read with lesson-file.js's parseLesson.
import chapter from '../../lessons/chapter.md?raw';
import induction from '../../lessons/induction.md?raw';

export const LESSON_FILES = Object.freeze({
  chapter: { file: 'lessons/chapter.md', text: chapter },
  induction: { file: 'lessons/induction.md', text: induction },
});
