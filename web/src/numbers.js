// Numbers as a learner types them and as a field shows them: either decimal separator (the
// Vietnamese page writes "0,1"). Below both the page state (state.js) and the builder's rows
// (rows.js), which read the same numbers.

// Reads a number as typed.
export function parseNumber(raw) {
  const s = String(raw ?? '').trim();
  if (s === '' || !/^[-+]?(\d+([.,]\d*)?|[.,]\d+)(e[-+]?\d+)?$/i.test(s)) return NaN;
  return Number(s.replace(',', '.'));
}

// The number as a field shows it, in the page's decimal separator (no grouping).
export function formatField(x, lang) {
  const s = String(x);
  return lang === 'vi' ? s.replace('.', ',') : s;
}
