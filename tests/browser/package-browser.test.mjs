// Issue #28: HookLab.load('default') and load('induction') in a browser, from the installed npm
// package. `npm pack` the repo, install the tarball offline into an empty app folder, serve
// that folder as it is (as a static server or a bundler's dev server serves node_modules), and
// a page that imports node_modules/gpt2-hooklab/wasm/js/hooklab.js loads the bundled models by
// name: they resolve next to the module (../../checkpoints/NAME/), not to the page's folder.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startServer } from './server.mjs';
import { REPO, CHROMIUM } from './helpers.mjs';
import { tempDir } from '../temp-dir.mjs';

const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>app</title></head><body>
<script type="module">
  import { HookLab } from './node_modules/gpt2-hooklab/wasm/js/hooklab.js';
  window.out = (async () => {
    const lab = await HookLab.load('default');
    const r = lab.run('The jury said', {});
    const ind = await HookLab.load('induction');
    return { n_embd: lab.config.n_embd, tokens: r.tokens.length, top: r.top[0].id, induction: ind.config.hooklab?.name ?? null, n_layer: ind.config.n_layer };
  })().catch((e) => ({ error: String(e.message ?? e) }));
</script></body></html>`;

let app, srv, context, profile;
const served = [];
before(async () => {
  assert.ok(existsSync(join(REPO, 'wasm/dist/hooklab.wasm')), 'wasm/dist is missing: run "bash tools/build.sh wasm" first');
  const packDir = tempDir('hooklab-pack-');
  execFileSync('npm', ['pack', '--silent', '--pack-destination', packDir], { cwd: REPO, encoding: 'utf8' });
  const tarball = join(packDir, readdirSync(packDir).find((f) => f.endsWith('.tgz')));
  app = tempDir('hooklab-browser-app-');
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', type: 'module', private: true }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--silent', tarball], { cwd: app, encoding: 'utf8' });
  writeFileSync(join(app, 'index.html'), PAGE);
  srv = await startServer({ root: app, onServed: (r) => served.push(r) });
  profile = mkdtempSync(join(tmpdir(), 'hooklab-chromium-'));
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
});
after(async () => { await context?.close(); await srv?.close(); if (profile) rmSync(profile, { recursive: true, force: true }); });

test('the installed package in a browser: HookLab.load("default") and ("induction") fetch the package\'s own checkpoints', async () => {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${srv.url}index.html`);
  const out = await page.evaluate(() => window.out);
  assert.equal(out.error, undefined, out.error);
  // The same numbers as node's load('default') of the same package (tests/node/package.test.mjs: 192, 4 tokens).
  assert.equal(out.n_embd, 192);
  assert.equal(out.tokens, 4);
  assert.equal(out.induction, 'HookLab-Induction 2×192');
  assert.equal(out.n_layer, 2);
  const paths = served.filter((r) => r.status === 200).map((r) => r.path);
  for (const name of ['default', 'induction'])
    assert.ok(paths.includes(`/node_modules/gpt2-hooklab/checkpoints/${name}/model.safetensors`), `${name} from the package: ${paths.join(', ')}`);
  assert.ok(!paths.some((p) => /^\/(default|induction|checkpoints)\//.test(p)), 'nothing fetched relative to the page');
  assert.deepEqual(errors, []);
  await page.close();
});
