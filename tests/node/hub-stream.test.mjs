// HookLab.load(url) against the imitation hub: the streaming side of download.js (each file
// straight into the engine, never whole on disk): resume by Range after a dropped
// connection, a server that ignores Range, the sha256 checked as the bytes pass, and the
// two cache adapters (Cache Storage, imitated here; a folder).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { HookLab, HookLabError, folderCache } from '../../wasm/js/hooklab.js';
import { MODEL_FILES } from '../../wasm/js/models.js';
import { startHub } from './hub-server.mjs';
import { tempDir } from '../temp-dir.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const REPO = 'test-org/tiny-gpt2';
const PROMPT = 'Hello there';
let src, expected;

before(async () => {
  src = tempDir('hub-src-');
  execFileSync('/usr/bin/python3', [join(ROOT, 'tools/make_checkpoint.py'), '--out', src, '--n-layer', '2', '--n-head', '4',
    '--n-embd', '32', '--n-positions', '64', '--vocab-size', '1024', '--dtype', 'F32', '--no-prefix', '--mask-buffers', '--seed', '9']);
  const lab = await HookLab.load(src);
  expected = lab.run(PROMPT, { topk: 5 });
  lab.dispose();
});

// Cache Storage as a worker has it (match/put/delete), the bodies kept in memory.
function memoryCache() {
  const map = new Map();
  return {
    map,
    async match(url) {
      const e = map.get(url);
      return e ? new Response(e.body, { headers: e.headers }) : undefined;
    },
    async put(url, res) {
      const body = new Uint8Array(await res.arrayBuffer());
      map.set(url, { body, headers: Object.fromEntries(res.headers) });
    },
    async delete(url) { return map.delete(url); },
  };
}

async function withHub(faults, fn) {
  const hub = await startHub({ [REPO]: src }, faults);
  try {
    return await fn(hub, `${hub.base}/${REPO}/resolve/main/`);
  } finally {
    await hub.close();
  }
}

function sameRun(lab) {
  const r = lab.run(PROMPT, { topk: 5 });
  assert.deepEqual(r.hidden_std, expected.hidden_std);
  assert.deepEqual(r.top, expected.top);
}

const cdnGets = (hub) => hub.log.filter((e) => e.method === 'GET' && e.path.startsWith('/cdn/'));

test('dropped connections are resumed with Range while the weights stream into the engine', async () => {
  await withHub({ dropAfterBytes: 7000, drops: 2 }, async (hub, base) => {
    const progress = [];
    const lab = await HookLab.load(base, { onProgress: (p) => progress.push(p) });
    sameRun(lab);
    lab.dispose();
    const ranges = cdnGets(hub).map((e) => e.range);
    assert.deepEqual(ranges, [null, 'bytes=7000-', 'bytes=14000-'], JSON.stringify(hub.log));
    assert.equal(progress.at(-1), 1);
    assert.ok(progress.every((p, i) => p >= 0 && p <= 1 && (i === 0 || p >= progress[i - 1])), 'one progress number, never backwards');
  });
});

test('a server that ignores Range after a drop: the bytes already passed on are skipped, not fed twice', async () => {
  await withHub({ dropAfterBytes: 5000, ignoreRange: true }, async (hub, base) => {
    const lab = await HookLab.load(base);
    sameRun(lab);
    lab.dispose();
    assert.deepEqual(cdnGets(hub).map((e) => e.range), [null, 'bytes=5000-']);
  });
});

test('a 206 that does not start where Range asked is refused, not appended', async () => {
  await withHub({ dropAfterBytes: 5000, rangeFromZero: true }, async (hub, base) => {
    await assert.rejects(HookLab.load(base), (e) => e instanceof HookLabError && /asked for bytes 5000- and got "bytes 0-/.test(e.message));
  });
});

test('a wrong sha256 fails the load, and the cache keeps none of the new files', async () => {
  await withHub({ wrongSha: true }, async (hub, base) => {
    const cache = memoryCache();
    await assert.rejects(HookLab.load(base, { cache }),
      (e) => e instanceof HookLabError && /model\.safetensors: sha256 [0-9a-f]{64} does not match the hub's 0{64}/.test(e.message));
    assert.equal(cache.map.size, 0, [...cache.map.keys()].join(' '));
  });
});

test('Cache Storage: the first load fills it as it streams (through drops), the second reads only from it', async () => {
  await withHub({ dropAfterBytes: 6000 }, async (hub, base) => {
    const cache = memoryCache();
    const first = await HookLab.load(base, { cache });
    assert.equal(first.fromCache, false);
    first.dispose();
    assert.deepEqual([...cache.map.keys()].sort(), MODEL_FILES.map((f) => base + f).sort());
    for (const f of MODEL_FILES) assert.deepEqual(Buffer.from(cache.map.get(base + f).body), readFileSync(join(src, f)), f);
    const requests = hub.log.length;
    const second = await HookLab.load(base, { cache });
    assert.equal(second.fromCache, true);
    assert.equal(hub.log.length, requests, 'no request to the hub');
    sameRun(second);
    second.dispose();
  });
});

test('a folder cache: an interrupted download left there is resumed, checked and kept', async () => {
  await withHub({}, async (hub, base) => {
    const dir = tempDir('hub-folder-');
    writeFileSync(join(dir, 'model.safetensors.incomplete'), readFileSync(join(src, 'model.safetensors')).subarray(0, 4321));
    const lab = await HookLab.load(base, { cache: folderCache(dir) });
    sameRun(lab);
    lab.dispose();
    assert.deepEqual(cdnGets(hub).map((e) => e.range), ['bytes=4321-']);
    for (const f of MODEL_FILES) assert.deepEqual(readFileSync(join(dir, f)), readFileSync(join(src, f)), f);
    assert.ok(!existsSync(join(dir, 'model.safetensors.incomplete')));
  });
});

test('a folder cache whose partial file is not the hub\'s: a wrong sha256, nothing kept', async () => {
  await withHub({}, async (hub, base) => {
    const dir = tempDir('hub-folder-');
    const bad = Buffer.from(readFileSync(join(src, 'model.safetensors')).subarray(0, 4321));
    bad[4300] ^= 1;  // in a tensor's data, which the engine cannot tell is wrong
    writeFileSync(join(dir, 'model.safetensors.incomplete'), bad);
    await assert.rejects(HookLab.load(base, { cache: folderCache(dir) }), /sha256 .* does not match/);
    assert.ok(!existsSync(join(dir, 'model.safetensors.incomplete')));
    assert.ok(!existsSync(join(dir, 'model.safetensors')));
  });
});

test('a connection that keeps dropping: a clear error after the tries, nothing kept', async () => {
  await withHub({ dropAfterBytes: 3000, drops: 10 }, async (hub, base) => {
    const cache = memoryCache();
    await assert.rejects(HookLab.load(base, { cache }),
      (e) => e instanceof HookLabError && /^cannot fetch .*model\.safetensors: .* \(3 tries, the last stopped at byte 9000 of \d+\)$/.test(e.message));
    assert.equal(cdnGets(hub).length, 3);
    assert.equal(cache.map.size, 0);
  });
});

test('a Cache Storage that cannot keep a file (quota) does not stop the load', async () => {
  await withHub({}, async (hub, base) => {
    const cache = memoryCache();
    cache.put = async (url, res) => { await res.body.cancel(); throw new DOMException('quota', 'QuotaExceededError'); };
    const lab = await HookLab.load(base, { cache });
    sameRun(lab);
    lab.dispose();
    assert.equal(cache.map.size, 0);
  });
});

test('a CDN that refuses HEAD: the hub\'s redirect gives size and sha256, and the CDN only sees GETs', async () => {
  await withHub({ cdnRefusesHead: true }, async (hub, base) => {
    const lab = await HookLab.load(base);
    sameRun(lab);
    lab.dispose();
    assert.ok(!hub.log.some((e) => e.method === 'HEAD' && e.path.startsWith('/cdn/')), JSON.stringify(hub.log));
  });
});

test('a redirect that says nothing and a CDN that refuses HEAD: the GET started to learn the size is the one read', async () => {
  await withHub({ cdnRefusesHead: true, noLinked: true }, async (hub, base) => {
    const progress = [];
    const lab = await HookLab.load(base, { onProgress: (p) => progress.push(p) });
    sameRun(lab);
    lab.dispose();
    assert.equal(cdnGets(hub).length, 1, JSON.stringify(hub.log));
    assert.ok(progress.length > 2 && progress.at(-1) === 1, 'sizes known up front: a progress number');
  });
});

test('a missing repo is a clear HookLabError', async () => {
  await withHub({}, async (hub) => {
    await assert.rejects(HookLab.load(`${hub.base}/test-org/missing/resolve/main/`),
      (e) => e instanceof HookLabError && /not found \(HTTP 404\)/.test(e.message));
  });
});
