// The one error class of the JS API. It stands alone so that every module of the package,
// hooklab.js and the build choice (select-build.js) alike, can throw it without importing
// hooklab.js, which imports them. closestKey, the did-you-mean rule of every strict input,
// is here for the same reason: the page (web/src/keys.js) uses it without loading the engine.

/** An engine error, carrying the engine's message. */
export class HookLabError extends Error {
  constructor(message) {
    super(message);
    this.name = 'HookLabError';
  }
}

const lower = (s) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
const folded = (s) => lower(s).replace(/[-_]/g, '');

// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
// neighbouring characters each count one.
function typoDistance(a, b) {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 0; j <= b.length; ++j) d[0][j] = j;
  for (let i = 1; i <= a.length; ++i)
    for (let j = 1; j <= b.length; ++j) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] !== b[j - 1] ? 1 : 0));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.length][b.length];
}

/**
 * Did you mean: the candidate equal to `key` up to case, '_' and '-' ("max_new_tokens" for
 * "maxNewTokens"), else the one fewest edits away when that is at most 2 and fewer than key's
 * length (on a tie the one sharing the longest start with key); '' when none is close. The
 * engine's rule (hooklab::closest_key) too.
 */
export function closestKey(key, candidates) {
  key = String(key);
  if (key.length > 64) return '';
  const f = folded(key);
  if (f) for (const c of candidates) if (folded(c) === f) return c;
  // The fewest edits; on a tie the longer common start ("sed": "seed", not "std").
  let best = '', bestD = 3, bestP = 0;
  for (const c of candidates) {
    const a = lower(key), b = lower(c);
    const d = typoDistance(a, b);
    let p = 0;
    while (p < a.length && p < b.length && a[p] === b[p]) ++p;
    if (d < key.length && (d < bestD || (d === bestD && p > bestP))) { best = c; bestD = d; bestP = p; }
  }
  return best;
}

