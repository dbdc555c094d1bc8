// Pieces shared by the predict-then-reveal panels (induction-lesson.js, lesson-panel.js):
// an element builder and the verdict line of an answer against a truth.

/** document.createElement with attributes (class, text, on…: listeners) and children. */
export function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid);
  return e;
}

/** "✓ Your guess held." / "✗ …" for an answer against the truth (a hint without an answer). */
export function verdict(t, answer, truth) {
  if (truth === null || truth === undefined) return el('p', { class: 'hint', text: '' });
  if (answer === undefined) return el('p', { class: 'hint', text: t('lsNoAnswer') });
  const held = String(answer) === String(truth);
  return el('p', { class: held ? 'ok verdict' : 'bad verdict', text: `${held ? '✓' : '✗'} ${t(held ? 'predictHeld' : 'predictFailed')}` });
}
