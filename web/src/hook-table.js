// The engine's hook table (lab.hooks() through the worker: names in firing order, which are
// per block, their axes), asked once per loaded model. The page takes its hook facts from it
// (the builder, the captures, the Python code), never from a list of its own.

/** The table of the loaded model, or null while it is not there yet. */
export const tableOf = (app) => (app.hookTable?.for === app.modelInfo ? app.hookTable.table : null);

/** The table of the loaded model: a promise, one request per model. */
export function hookTable(app) {
  const info = app.modelInfo;
  if (!info) return Promise.reject(new Error('no model is loaded yet'));
  if (app.hookTable?.for === info) return Promise.resolve(app.hookTable.table);
  if (app.hookTableAsked?.for !== info) {
    const promise = app.client.hooks({ T: 1 }).then((table) => {
      if (app.modelInfo === info) app.hookTable = { for: info, table };
      return table;
    });
    app.hookTableAsked = { for: info, promise };
    promise.catch(() => { if (app.hookTableAsked?.promise === promise) app.hookTableAsked = null; });
  }
  return app.hookTableAsked.promise;
}
