// A bare forward that wants the last logits computes the last block, past its keys and
// values, only for the rows the logits need (and the neighbours the simd128 kernel's row
// tiles need to give them the same bits): the passes of tests/native/last_rows_check.h, in
// both wasm builds, at 1 and 2 threads, F32 and F16, must give the full pass's bits.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { loadModule } from '../../wasm/js/hooklab.js';
import { selectBuild, stopThreads } from '../../wasm/js/select-build.js';

const MODEL = join(fileURLToPath(new URL('../..', import.meta.url)), 'checkpoints/default');

test('the last-row path gives the full pass\'s bits (single and threaded builds, 1 and 2 threads, F32 and F16)', async () => {
  const config = readFileSync(join(MODEL, 'config.json'), 'utf8');
  const weights = readFileSync(join(MODEL, 'model.safetensors'));
  for (const threads of [1, 2]) {
    const build = await selectBuild(threads);
    assert.equal(build.threads, threads);
    const M = await loadModule(build);
    try {
      for (const f16 of [false, true]) {
        const r = JSON.parse(M.lastRowsCheck(config, weights, f16));
        const what = `${threads} thread(s), ${f16 ? 'F16' : 'F32'}`;
        assert.equal(r.error, undefined, what);
        assert.equal(r.mismatch, '', what);
        // Most passes of more than 4 rows take fewer in their last block (whole 4-row tiles; F16 keeps 4 rows or more).
        assert.ok(r.fewer >= 10, `${what}: only ${r.fewer} of ${r.passes} passes took the last-row path`);
      }
    } finally {
      stopThreads(M);
    }
  }
});
