// Issue #28: the compact embed (embed=1, the <gpt2-hooklab> default) shows the experiment's
// result on the first screen, whatever the experiment: heads (autorun=heads, or views that
// lead with heads), generation (autorun=generate) and a lesson (lesson=induction, lesson=chapter),
// as the chapter's views and patching already did (defects.test.mjs 9, embed-author.test.mjs).
// Checked in an 800-px-high frame at 700 and 1100 px wide.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, waitForRun } from './helpers.mjs';

let env;
before(async () => { env = await launch(); });
after(async () => { await env?.close(); });

const H = 800;
const onFirstScreen = (box) => !!box && box.y >= 0 && box.y + Math.min(box.height, 120) <= H;

const CASES = [
  { name: 'heads', query: 'autorun=heads&heads=induction,1&repeat=20,0', ready: '#heads-overview canvas', part: '#heads-overview canvas' },
  { name: 'heads by views', query: 'views=heads,std&heads=previous_token,0', ready: '#heads-overview canvas', part: '#heads-overview canvas' },
  { name: 'generate', query: 'autorun=generate&gn=8&ex3=9,0.1', ready: '#generate-section .gen-intervened .gen-tok', part: '#generate-section .gen-cols' },
  { name: 'lesson=induction', query: 'lesson=induction', ready: '#lesson-section[open] h3, #lesson-section[open] p', part: '#lesson-section > summary' },
  { name: 'lesson=chapter', query: 'lesson=chapter', ready: '#lesson-file h2.lesson-title', part: '#lesson-file h2.lesson-title' },
];

for (const width of [700, 1100]) {
  for (const c of CASES) {
    test(`compact embed, ${c.name}, ${width} px: its result on the first screen`, async () => {
      const page = await env.context.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      try {
        await page.setViewportSize({ width, height: H });
        await page.goto(`${env.url}index.html?lang=en&embed=1&${c.query}`);
        await waitForRun(page);
        await page.waitForSelector(c.ready, { timeout: 60000 });
        await page.evaluate(() => window.scrollTo(0, 0));
        assert.equal(await page.locator('#controls').isVisible(), false, 'the controls are folded');
        const box = await page.locator(c.part).first().boundingBox();
        await page.screenshot({ path: `test-results/issue28-embed-first-${c.name.replace(/\W+/g, '-')}-${width}.png` });
        assert.ok(onFirstScreen(box), `${c.name} at ${width}: ${c.part} at ${JSON.stringify(box)}`);
        assert.deepEqual(errors, []);
      } finally {
        await page.close();
      }
    });
  }
}
