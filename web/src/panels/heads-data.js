// Pure helpers behind the per-head panels (no DOM: node tests import them). The numbers
// come from the engine (lab.heads, lab.run captures); nothing is recomputed here.

/** The three per-head scores, in the order the panels show them. */
export const SCORE_KEYS = ['previous_token', 'first_token', 'induction'];

/** Every head's row for one score: {layer, head, base, int, delta}; int/delta are null
 *  without an intervened result or where a score is null. */
export function scoreRows(baseline, intervened, key) {
  const rows = [];
  baseline[key].forEach((perHead, layer) => perHead.forEach((base, head) => {
    const int = intervened ? intervened[key][layer][head] : null;
    rows.push({ layer, head, base, int, delta: base !== null && int !== null ? int - base : null });
  }));
  return rows;
}

/** The n heads with the highest score (nulls left out), highest first; ties by block, head. */
export function strongest(result, key, n = 3) {
  const all = [];
  result[key].forEach((perHead, layer) => perHead.forEach((value, head) => {
    if (value !== null) all.push({ layer, head, value });
  }));
  all.sort((a, b) => b.value - a.value || a.layer - b.layer || a.head - b.head);
  return all.slice(0, n);
}

/** A captured blocks.L.attn.hook_pattern ({shape: [H, T, T], data}) as H matrices [T][T]. */
export function patternsOf(capture) {
  const [H, T, T2] = capture.shape;
  if (T !== T2 || capture.data.length !== H * T * T) throw new Error('hook_pattern capture must be [head, T, T]');
  return Array.from({ length: H }, (_, h) =>
    Array.from({ length: T }, (_, q) => capture.data.slice((h * T + q) * T, (h * T + q + 1) * T)));
}

/** The heat-map's colour ramp for a score in [0, 1] (one ramp: heatmap.js's). */
export { ramp } from '../heatmap.js';
