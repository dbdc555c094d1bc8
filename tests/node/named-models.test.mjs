// HookLab.load by name in node (issue #28): "default" is the embedded model the package ships;
// a hub name loads the copy in the cache folder (HOOKLAB_CACHE) that `hooklab fetch` fills, and
// is downloaded into it first when missing (here from an imitation hub: HF_ENDPOINT).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { startHub } from './hub-server.mjs';
import { tempDir } from '../temp-dir.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const built = existsSync(join(ROOT, 'wasm/dist/hooklab.wasm'));

test('HookLab.load("default") is the embedded model, in any working directory', { skip: !built && 'wasm not built' }, async () => {
  const { HookLab } = await import('../../wasm/js/hooklab.js');
  const cwd = process.cwd();
  process.chdir(tempDir('named-cwd-'));
  try {
    const lab = await HookLab.load('default');
    const want = JSON.parse(readFileSync(join(ROOT, 'checkpoints/default/config.json'), 'utf8'));
    assert.equal(lab.config.n_layer, want.n_layer);
    assert.equal(lab.config.n_embd, want.n_embd);
    assert.equal(lab.config.hooklab.name, want.hooklab.name);
    assert.equal(lab.run('The jury said', {}).tokens.length, 4); // its 4,096-token Brown BPE: The, jury, said as 'The', ' j', 'ury', ' said'
    lab.dispose();
  } finally {
    process.chdir(cwd);
  }
});

test('HookLab.load("induction") is the lesson model the package ships (checkpoints/induction)', { skip: !built && 'wasm not built' }, async () => {
  const { HookLab } = await import('../../wasm/js/hooklab.js');
  const cwd = process.cwd();
  process.chdir(tempDir('named-cwd-'));
  try {
    const lab = await HookLab.load('induction');
    const want = JSON.parse(readFileSync(join(ROOT, 'checkpoints/induction/config.json'), 'utf8'));
    assert.equal(lab.config.n_layer, want.n_layer);
    assert.equal(lab.config.n_embd, want.n_embd);
    assert.equal(lab.config.vocab_size, want.vocab_size);
    assert.equal(lab.config.hooklab?.name, want.hooklab.name);
    lab.dispose();
  } finally {
    process.chdir(cwd);
  }
});

test('HookLab.load("org/name") downloads once into HOOKLAB_CACHE, then loads from there', { skip: !built && 'wasm not built' }, async () => {
  const { HookLab } = await import('../../wasm/js/hooklab.js');
  const hub = await startHub({ 'test-org/mid-gpt2': join(ROOT, 'build/ckpt/mid') });
  const saved = { cache: process.env.HOOKLAB_CACHE, endpoint: process.env.HF_ENDPOINT };
  process.env.HOOKLAB_CACHE = tempDir('named-cache-');
  process.env.HF_ENDPOINT = hub.base;
  try {
    const progress = [];
    const a = await HookLab.load('test-org/mid-gpt2', { onDownload: (p) => progress.push(p) });
    assert.equal(progress.at(-1), 1);
    assert.ok(existsSync(join(process.env.HOOKLAB_CACHE, 'test-org--mid-gpt2', 'model.safetensors')));
    const gets = hub.log.filter((r) => r.method === 'GET').length;
    const b = await HookLab.load('test-org/mid-gpt2');
    assert.equal(hub.log.filter((r) => r.method === 'GET').length, gets, 'the second load downloads nothing');
    assert.deepEqual(a.run('Hello there', {}).top, b.run('Hello there', {}).top);
    a.dispose();
    b.dispose();
    await assert.rejects(HookLab.load('test-org/missing-model'), /no such folder, and downloading test-org\/missing-model/);
  } finally {
    for (const [k, v] of [['HOOKLAB_CACHE', saved.cache], ['HF_ENDPOINT', saved.endpoint]]) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await hub.close();
  }
});
