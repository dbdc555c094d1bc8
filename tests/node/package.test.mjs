// The npm package: `npm pack`, installed offline into an empty folder outside the repo,
// gives `import { HookLab } from 'gpt2-hooklab'` and `npx hooklab run` with the wasm
// inside, and README's API example runs as written there (its hub URL pointed at a local
// imitation of the hub serving a test checkpoint).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../temp-dir.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CKPT = join(ROOT, 'build/ckpt/mid');
const HUB_URL = 'https://huggingface.co/openai-community/gpt2/resolve/main/';

test('npm pack installs offline into an empty folder; the API, npx hooklab and README\'s example work', async () => {
  const packDir = tempDir('hooklab-pack-');
  execFileSync('npm', ['pack', '--silent', '--pack-destination', packDir], { cwd: ROOT, encoding: 'utf8' });
  const tarball = join(packDir, readdirSync(packDir).find((f) => f.endsWith('.tgz')));
  const listing = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' });
  for (const f of ['package/wasm/dist/hooklab.wasm', 'package/wasm/js/hooklab.js', 'package/wasm/js/cli.js']) assert.match(listing, new RegExp(f));
  // The engine, the embedded default model and the induction lesson's model travel (an
  // autograder needs no checkpoint of its own: HookLab.load('default'), HookLab.load('induction'));
  // no bench, no tests, no other weights.
  assert.doesNotMatch(listing, /hooklab-bench|tests\//, 'only the engine and the bundled models travel');
  assert.deepEqual(listing.split('\n').filter((f) => f.endsWith('.safetensors')).sort(),
    ['package/checkpoints/default/model.safetensors', 'package/checkpoints/induction/model.safetensors']);

  const app = tempDir('hooklab-app-');
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', type: 'module', private: true }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--silent', tarball], { cwd: app, encoding: 'utf8' });
  assert.ok(existsSync(join(app, 'node_modules/gpt2-hooklab/wasm/dist/hooklab.wasm')));

  // npx hooklab run: the native CLI's JSON.
  const out = JSON.parse(execFileSync('npx', ['--offline', 'hooklab', 'run', '--model', CKPT, '--prompt', 'Hello there', '--topk', '3'],
    { cwd: app, encoding: 'utf8' }));
  assert.equal(out.top.length, 3);
  assert.equal(out.model.n_layer, 12);

  // The default model by name, from the installed package, in the app's folder.
  writeFileSync(join(app, 'default.mjs'), "import { HookLab } from 'gpt2-hooklab';\n" +
    "const lab = await HookLab.load('default');\nconsole.log(lab.config.n_embd, lab.run('The jury said', {}).tokens.length);\n" +
    "const ind = await HookLab.load('induction');\nconsole.log(ind.config.n_layer, ind.config.hooklab?.name);\n");
  assert.equal(execFileSync(process.execPath, ['default.mjs'], { cwd: app, encoding: 'utf8' }).trim(), '192 4\n2 HookLab-Induction 2×192');

  // An autograder from the tarball alone (issue #28): npx hooklab check grades the shipped
  // lesson 1 on the shipped model; a typo'd question id is an error (2), not a wrong answer.
  const lesson = join(app, 'node_modules/gpt2-hooklab/lessons/chapter.md');
  writeFileSync(join(app, 'typo.json'), JSON.stringify({ 'shrink-recovr': 'no' }));
  const typo = spawnSync('npx', ['--offline', 'hooklab', 'check', lesson, 'typo.json'], { cwd: app, encoding: 'utf8' });
  assert.equal(typo.status, 2, typo.stderr);
  assert.match(typo.stderr, /unknown question "shrink-recovr" \(did you mean "shrink-recover"\?\)/);
  writeFileSync(join(app, 'one.json'), JSON.stringify({ 'shrink-recover': 'yes' }));
  const one = spawnSync('npx', ['--offline', 'hooklab', 'check', lesson, 'one.json'], { cwd: app, encoding: 'utf8' });
  assert.equal(one.status, 1, one.stderr);
  assert.match(one.stdout, /^✓ shrink-recover: answered "yes"; truth "yes"$/m);

  // README's example, with only the hub URL replaced.
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const example = readme.slice(readme.indexOf('## From JavaScript')).match(/```js\n([\s\S]*?)```/)[1];
  assert.ok(example.includes(HUB_URL) && example.includes("from 'gpt2-hooklab'"));
  const server = createServer((req, res) => {
    const f = join(CKPT, decodeURIComponent(new URL(req.url, 'http://x').pathname).replace(/^\/model\//, ''));
    if (!existsSync(f)) { res.writeHead(404); return res.end(); }
    const body = readFileSync(f);
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    const local = `http://127.0.0.1:${server.address().port}/model/`;
    writeFileSync(join(app, 'example.mjs'), example.replace(HUB_URL, local));
    const printed = await new Promise((resolve, reject) => {
      import('node:child_process').then(({ execFile }) =>
        execFile(process.execPath, ['example.mjs'], { cwd: app, encoding: 'utf8' }, (e, stdout) => (e ? reject(e) : resolve(stdout))));
    });
    const lines = printed.trim().split('\n');
    assert.equal(lines.at(-2), '1', 'onProgress reached 1');
    assert.match(lines.at(-1), /\[ 12, (\d+), \1 \]$/, 'the pattern capture: [head, query, key]');
  } finally {
    server.close();
  }
});
