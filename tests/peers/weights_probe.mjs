// Writes the engine's weights (the JS API's lab.weight, TransformerLens's names) of a checkpoint
// folder as raw float32 files, with their shapes in index.json: for test_tl_weights.py.
//   node tests/peers/weights_probe.mjs CKPT_DIR OUT_DIR [--process=fold_ln,...] NAME...
// --process=: load with TransformerLens's weight processing (those named; empty: none).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { HookLab } from '../../wasm/js/hooklab.js';

const [dir, out, ...rest] = process.argv.slice(2);
const flag = rest[0]?.startsWith('--process=') ? rest.shift().slice('--process='.length) : '';
const names = rest;
const processing = Object.fromEntries(flag.split(',').filter(Boolean).map((k) => [k, true]));
mkdirSync(out, { recursive: true });
const lab = await HookLab.load(dir, { process: processing });
const index = {};
names.forEach((name, i) => {
  const w = lab.weight(name);
  writeFileSync(join(out, `${i}.f32`), new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength));
  index[name] = { file: `${i}.f32`, shape: w.shape };
});
writeFileSync(join(out, 'index.json'), JSON.stringify(index));
lab.dispose();
