// Draw only what the reader can see. A part of the page (a panel, a data table, a chart's
// canvas) that is off screen — scrolled away, folded in a closed <details>, hidden — keeps
// its latest draw and runs it when it comes into view, so a run rebuilds only the visible
// parts. Whatever reads the page (exports, the copy button, window.hooklab) calls
// flushLazy first, which runs the pending draws at once.
// A draw with a key equal to the last one drawn for that element (item by item, ===) is
// skipped: the same inputs give the same DOM.
// A job that costs the engine a request (the Patching pickers' top-k: one forward) is a
// request job: flushLazy never forces it (reading the page must not cost a forward), and
// with a settle delay it runs only once its inputs and the page have stopped moving.
const pending = new Map(); // element -> {key, draw, settle, request}
const drawn = new WeakMap(); // element -> key of its last draw
const onScreen = new Map(); // element watched -> last IntersectionObserver verdict
const timers = new Map(); // element -> timer of its pending job's settle delay
let observer = null;

const sameKey = (a, b) => !!a && !!b && a.length === b.length && a.every((x, i) => x === b[i]);

function watch(el) {
  if (typeof IntersectionObserver !== 'function' || onScreen.has(el)) return;
  observer ??= new IntersectionObserver((entries) => {
    for (const e of entries) {
      onScreen.set(e.target, e.isIntersecting);
      if (e.isIntersecting) attempt(e.target);
      else stopTimer(e.target); // pending until it comes back
    }
  });
  // Unknown until the observer's first answer: drawn as if on screen meanwhile.
  onScreen.set(el, undefined);
  observer.observe(el);
}

// Measured now, not the observer's last verdict: while the page loads, results drawn above
// an element push it off screen before the observer says so.
function measuredOnScreen(el) {
  const r = el.getBoundingClientRect();
  return r.width > 0 && r.bottom > 0 && r.top < innerHeight;
}

function stopTimer(el) {
  clearTimeout(timers.get(el));
  timers.delete(el);
}

// Runs el's pending job now, or for a job with a settle delay, once that delay has passed
// (restarted by new inputs) and el is then measured on screen.
function attempt(el) {
  const job = pending.get(el);
  if (!job) return;
  if (!job.settle) { run(el, false); return; }
  stopTimer(el);
  timers.set(el, setTimeout(() => {
    timers.delete(el);
    if (measuredOnScreen(el)) run(el, false);
    // Moved away while the observer still says on screen: its next answer may never come
    // (back on screen within a frame), so look again until it does; its "off" stops this.
    else if (observer && onScreen.get(el) !== false) attempt(el);
  }, job.settle));
}

function run(el, forced) {
  const job = pending.get(el);
  if (!job) return;
  pending.delete(el);
  stopTimer(el);
  job.draw(forced);
  drawn.set(el, job.key);
}

/**
 * Runs draw(forced) now if el is on screen, else when it comes into view or is flushed
 * (forced = true: someone reads it now, e.g. a PNG export wants the final frame).
 * key: the draw's inputs as an array (null: always redraw).
 * settle: ms to wait after the last change of key (a call with the pending key does not
 * restart the wait), then el's position is measured: off screen, the job stays pending.
 * request: the job asks the engine for something; flushLazy does not run it.
 */
export function whenVisible(el, key, draw, { settle = 0, request = false } = {}) {
  if (key && sameKey(drawn.get(el), key)) { pending.delete(el); stopTimer(el); return; }
  watch(el);
  const waiting = timers.has(el) && sameKey(pending.get(el)?.key, key);
  pending.set(el, { key, draw, settle, request });
  if (onScreen.get(el) !== false && !waiting) attempt(el);
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
  for (const e of [...pending.keys()]) if (el === e || el.contains(e)) attempt(e); // requests: not forced
}

/** Runs every pending draw inside root (default: the whole page), including those the
 *  draws themselves leave pending (a table inside a flushed panel); not request jobs. */
export function flushLazy(root = null) {
  for (let guard = 0; guard < 1000; guard++) {
    const el = [...pending].find(([e, job]) => !job.request && (!root || root === e || root.contains(e)))?.[0];
    if (!el) return;
    run(el, true);
  }
}
