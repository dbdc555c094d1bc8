// `npx hooklab …` before `npm run build:wasm`: one clear line saying what to run, exit 1,
// never node's raw ERR_MODULE_NOT_FOUND. The CLI runs from a temporary copy of wasm/js
// that has no wasm/dist beside it (the state of a fresh clone).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../..');

test('the CLI without the built engine names the command to run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hooklab-unbuilt-'));
  try {
    cpSync(join(REPO, 'wasm/js'), join(dir, 'wasm/js'), { recursive: true });
    for (const args of [['run', '--model', 'checkpoints/default', '--prompt', 'Hello'], ['tokenize', '--model', 'x', '--text', 'y'], ['--help']]) {
      const r = spawnSync(process.execPath, [join(dir, 'wasm/js/cli.js'), ...args], { encoding: 'utf8' });
      assert.equal(r.status, 1, `exit status for ${args[0]}`);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
      assert.match(lines[0], /^hooklab: .*npm run build:wasm/);
      assert.doesNotMatch(r.stderr, /ERR_MODULE_NOT_FOUND|at .*\.js:\d+/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
