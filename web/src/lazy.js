// Draw only what the reader can see. A part of the page (a panel, a data table, a chart's
// canvas) that is off screen — scrolled away, folded in a closed <details>, hidden — keeps
// its latest draw and runs it when it comes into view, so a run rebuilds only the visible
// parts. Whatever reads the page (exports, the copy button, window.hooklab) calls
// flushLazy first, which runs the pending draws at once.
// A draw with a key equal to the last one drawn for that element (item by item, ===) is
// skipped: the same inputs give the same DOM.
const pending = new Map(); // element -> {key, draw}
const drawn = new WeakMap(); // element -> key of its last draw
const onScreen = new Map(); // element watched -> last IntersectionObserver verdict
let observer = null;

const sameKey = (a, b) => !!a && !!b && a.length === b.length && a.every((x, i) => x === b[i]);

function watch(el) {
  if (typeof IntersectionObserver !== 'function' || onScreen.has(el)) return;
  observer ??= new IntersectionObserver((entries) => {
    for (const e of entries) {
      onScreen.set(e.target, e.isIntersecting);
      if (e.isIntersecting) run(e.target, false);
    }
  });
  // Unknown until the observer's first answer: drawn as if on screen meanwhile.
  onScreen.set(el, undefined);
  observer.observe(el);
}

function run(el, forced) {
  const job = pending.get(el);
  if (!job) return;
  pending.delete(el);
  job.draw(forced);
  drawn.set(el, job.key);
}

/**
 * Runs draw(forced) now if el is on screen, else when it comes into view or is flushed
 * (forced = true: someone reads it now, e.g. a PNG export wants the final frame).
 * key: the draw's inputs as an array (null: always redraw).
 */
export function whenVisible(el, key, draw) {
  if (key && sameKey(drawn.get(el), key)) { pending.delete(el); return; }
  watch(el);
  pending.set(el, { key, draw });
  if (onScreen.get(el) !== false) run(el, false);
}

/** Shows or hides el (its hidden attribute). Shown again, el and the parts inside it draw
 *  at once: the observer's verdict dates from when it was hidden, and waiting for its next
 *  answer would show the old content for a frame. */
export function setShown(el, shown) {
  if (el.hidden === !shown) return;
  el.hidden = !shown;
  if (!shown) return;
  for (const e of onScreen.keys()) if (el === e || el.contains(e)) onScreen.set(e, undefined);
  flushLazy(el);
}

/** Runs every pending draw inside root (default: the whole page), including those the
 *  draws themselves leave pending (a table inside a flushed panel). */
export function flushLazy(root = null) {
  for (let guard = 0; guard < 1000; guard++) {
    const el = [...pending.keys()].find((e) => !root || root === e || root.contains(e));
    if (!el) return;
    run(el, true);
  }
}
