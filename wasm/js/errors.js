// The one error class of the JS API. It stands alone so that every module of the package,
// hooklab.js and the build choice (select-build.js) alike, can throw it without importing
// hooklab.js, which imports them.

/** An engine error, carrying the engine's message. */
export class HookLabError extends Error {
  constructor(message) {
    super(message);
    this.name = 'HookLabError';
  }
}
