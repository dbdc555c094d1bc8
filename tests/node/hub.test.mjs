// `hooklab fetch` against an imitation hub serving a generated checkpoint in the official
// layout (F32, mask buffers, no prefix): redirects, one progress number, resume after a
// dropped connection and across runs, the sha256 check, clear errors.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { fetchModel } from '../../wasm/js/download.js';
import { MODEL_FILES } from '../../wasm/js/models.js';
import { startHub } from './hub-server.mjs';
import { tempDir } from '../temp-dir.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let src;

before(() => {
  src = tempDir('hub-src-');
  execFileSync('/usr/bin/python3', [join(ROOT, 'tools/make_checkpoint.py'), '--out', src, '--n-layer', '2', '--n-head', '4',
    '--n-embd', '32', '--n-positions', '64', '--vocab-size', '1024', '--dtype', 'F32', '--no-prefix', '--mask-buffers', '--seed', '9']);
});

function sameFiles(dir) {
  for (const f of MODEL_FILES) assert.deepEqual(readFileSync(join(dir, f)), readFileSync(join(src, f)), f);
}

test('downloads through the redirect, resumes after a dropped connection, reports one progress number', async () => {
  const hub = await startHub({ 'test-org/tiny-gpt2': src }, { dropAfterBytes: 10000 });
  try {
    const out = tempDir('hub-out-');
    const progress = [];
    const r = await fetchModel('test-org/tiny-gpt2', out, { endpoint: hub.base, onProgress: (p) => progress.push(p) });
    sameFiles(out);
    const st = r.files.find((f) => f.file === 'model.safetensors');
    assert.equal(st.resumed, true, 'the second request continued with Range');
    assert.match(st.sha256, /^[0-9a-f]{64}$/);
    assert.ok(hub.log.some((e) => e.path.startsWith('/cdn/') && e.range === 'bytes=10000-'), JSON.stringify(hub.log));
    assert.equal(progress.at(-1), 1);
    assert.ok(progress.every((p) => p >= 0 && p <= 1));
    // A second run finds everything in place and downloads nothing.
    const before = hub.log.filter((e) => e.method === 'GET').length;
    const again = await fetchModel('test-org/tiny-gpt2', out, { endpoint: hub.base });
    assert.ok(again.files.every((f) => f.cached));
    assert.equal(hub.log.filter((e) => e.method === 'GET').length, before);
  } finally {
    await hub.close();
  }
});

test('an interrupted download left by an earlier run is resumed', async () => {
  const hub = await startHub({ 'test-org/tiny-gpt2': src });
  try {
    const out = tempDir('hub-out-');
    const whole = readFileSync(join(src, 'model.safetensors'));
    writeFileSync(join(out, 'model.safetensors.incomplete'), whole.subarray(0, 4321));
    const r = await fetchModel('test-org/tiny-gpt2', out, { endpoint: hub.base });
    sameFiles(out);
    assert.equal(r.files.find((f) => f.file === 'model.safetensors').resumed, true);
    assert.ok(hub.log.some((e) => e.range === 'bytes=4321-'));
    assert.ok(!existsSync(join(out, 'model.safetensors.incomplete')));
  } finally {
    await hub.close();
  }
});

test('a sha256 mismatch is refused and the bad file removed', async () => {
  const hub = await startHub({ 'test-org/tiny-gpt2': src }, { wrongSha: true });
  try {
    const out = tempDir('hub-out-');
    await assert.rejects(fetchModel('test-org/tiny-gpt2', out, { endpoint: hub.base }), /sha256 .* does not match/);
    assert.ok(!existsSync(join(out, 'model.safetensors')));
    assert.ok(!existsSync(join(out, 'model.safetensors.incomplete')));
  } finally {
    await hub.close();
  }
});

test('a server that ignores Range still gives a correct file', async () => {
  const hub = await startHub({ 'test-org/tiny-gpt2': src }, { ignoreRange: true });
  try {
    const out = tempDir('hub-out-');
    writeFileSync(join(out, 'model.safetensors.incomplete'), Buffer.from('garbage'));
    await fetchModel('test-org/tiny-gpt2', out, { endpoint: hub.base });
    sameFiles(out);
  } finally {
    await hub.close();
  }
});

test('unknown repos and names are clear errors', async () => {
  const hub = await startHub({ 'test-org/tiny-gpt2': src });
  try {
    const out = tempDir('hub-out-');
    await assert.rejects(fetchModel('test-org/missing', out, { endpoint: hub.base }), /not found \(HTTP 404\)/);
    await assert.rejects(fetchModel('not a name', out, { endpoint: hub.base }), /not a model name/);
  } finally {
    await hub.close();
  }
});


test('CLI: `hooklab fetch` then `hooklab run --model <name>` uses the cached copy', async () => {
  const hub = await startHub({ 'test-org/tiny-gpt2': src }, { dropAfterBytes: 5000 });
  try {
    const cache = tempDir('hub-cache-');
    const env = { ...process.env, HOOKLAB_CACHE: cache };
    const cli = join(ROOT, 'wasm/js/cli.js');
    const run = (args) => new Promise((resolve) => {
      execFile(process.execPath, [cli, ...args], { env }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }));
    });
    const missing = await run(['run', '--model', 'test-org/tiny-gpt2', '--prompt', 'Hello']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /not downloaded yet: run "npx hooklab fetch test-org\/tiny-gpt2"/);
    const f = await run(['fetch', 'test-org/tiny-gpt2', '--endpoint', hub.base]);
    assert.equal(f.code, 0, f.stderr);
    assert.match(f.stderr, /test-org\/tiny-gpt2 \[#+\] 100%/);
    const res = JSON.parse(f.stdout);
    assert.equal(res.files.length, 4);
    sameFiles(res.dir);
    const r = await run(['run', '--model', 'test-org/tiny-gpt2', '--prompt', 'Hello', '--topk', '3']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.model.n_layer, 2);
    assert.equal(out.top.length, 3);
    const bad = await run(['fetch', 'test-org/missing', '--endpoint', hub.base]);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    assert.match(bad.stderr, /not found \(HTTP 404\)/);
  } finally {
    await hub.close();
  }
});
