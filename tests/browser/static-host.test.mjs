// The page's static build works from any folder of a static host: web/dist served under
// /course/week3/lab/ (relative URLs throughout: the page, its worker, the engine, the
// default model) loads and runs an exercise with no console errors.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { launch, waitForRun } from './helpers.mjs';
import { DIST, startServer } from './server.mjs';

test('web/dist works from a sub-folder of a static host', async () => {
  const root = mkdtempSync(join(tmpdir(), 'hooklab-host-'));
  mkdirSync(join(root, 'course/week3'), { recursive: true });
  symlinkSync(DIST, join(root, 'course/week3/lab'));
  const env = await launch();
  const srv = await startServer({ root });
  try {
    const page = await env.context.newPage();
    const errors = [];
    const requests = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('request', (r) => requests.push(new URL(r.url()).pathname));
    await page.goto(`${srv.url}course/week3/lab/index.html?lang=en&ex3=9,0.1`);
    await waitForRun(page, 120000);
    assert.equal(await page.locator('#error').isHidden(), true);
    assert.equal((await page.evaluate(() => window.hooklab.exportObject())).interventions.length, 1);
    assert.deepEqual(errors, []);
    const own = requests.filter((p) => p !== '/favicon.ico');
    assert.ok(own.length > 3 && own.every((p) => p.startsWith('/course/week3/lab/')), own.join(' '));
    await page.close();
  } finally {
    await srv.close();
    await env.close();
    rmSync(root, { recursive: true, force: true });
  }
});
