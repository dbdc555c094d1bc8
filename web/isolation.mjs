// The headers that make the page cross-origin isolated (web/README.md, "Threads"):
// COOP + COEP give it SharedArrayBuffer, so the engine runs its threaded build. CORP
// cross-origin lets a course page that is itself isolated embed this one in an iframe.
// Sent by web/serve.mjs (`npm start`) and by the browser tests' server.
export const ISOLATION = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'cross-origin',
};
