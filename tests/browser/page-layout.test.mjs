// The page's layout (issue #10 items 5, 13, 16): no horizontal scroll from 1400 px down to
// 360 px, data tables scroll inside their box, charts fit, touch targets of 24 px, the
// exercises above the fold, a focus ring with 3:1 contrast; and the screenshots at
// 1400×1000 and 390×844 in both languages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { launch, openPage, waitForRun, shot, SHOTS } from './helpers.mjs';

let env;
before(async () => { env = await launch(); });
after(async () => { await env?.close(); });

const pageWidth = (page) => page.evaluate(() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth));
// Canvases (charts, heat-maps) sticking out of the window.
const wideCanvases = (page) => page.evaluate(() => [...document.querySelectorAll('canvas')]
  .filter((c) => c.getClientRects().length && c.getBoundingClientRect().right > innerWidth + 0.5)
  .map((c) => `${c.closest('figure')?.id}: ${Math.round(c.getBoundingClientRect().right)}`));
// Checkboxes, radios, buttons, selects and text fields smaller than 24×24 px.
const smallTargets = (page) => page.evaluate(() => [...document.querySelectorAll('input:not([type=file]), button, select, summary')]
  .filter((e) => e.getClientRects().length && !e.closest('details:not([open]) > :not(summary)'))
  .filter((e) => { const r = e.getBoundingClientRect(); return r.width < 24 || r.height < 24; })
  .map((e) => `${e.tagName}#${e.id}[${e.type || ''}] ${Math.round(e.getBoundingClientRect().width)}×${Math.round(e.getBoundingClientRect().height)}`));

test('no horizontal scroll at 1400, 390 and 360 px, tables scroll inside their box, charts fit, 24 px targets', async () => {
  const { page, errors } = await openPage(env, '?lang=en&ex1=9.2&ex2=9,10,1,0&ex3=9,0.1&lens=1');
  // Every data table open at once: the attention table is T+1 columns wide.
  for (const d of await page.locator('details').all()) await d.evaluate((el) => { el.open = true; });
  await page.waitForTimeout(300);
  assert.ok(await pageWidth(page) <= 1400, `1400: page ${await pageWidth(page)} px wide`);
  for (const d of await page.locator('details').all()) await d.evaluate((el) => { el.open = false; });
  for (const [w, h] of [[390, 844], [360, 740]]) {
    await page.setViewportSize({ width: w, height: h });
    await page.waitForTimeout(600);
    assert.ok(await pageWidth(page) <= w, `${w}: page ${await pageWidth(page)} px wide`);
    for (const d of await page.locator('details').all()) await d.evaluate((el) => { el.open = true; });
    await page.waitForTimeout(200);
    assert.ok(await pageWidth(page) <= w, `${w} with the tables open: page ${await pageWidth(page)} px wide`);
    assert.deepEqual(await wideCanvases(page), [], `${w}: charts wider than the window`);
    for (const d of await page.locator('details').all()) await d.evaluate((el) => { el.open = false; });
    assert.deepEqual(await smallTargets(page), [], `${w}: targets under 24 px`);
  }
  // Back to wide: the page does not stay wide.
  await page.setViewportSize({ width: 1400, height: 1000 });
  await page.waitForTimeout(400);
  assert.ok(await pageWidth(page) <= 1400);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the exercises are above the fold at 1400×1000', async () => {
  const { page } = await openPage(env, '?lang=en');
  for (const k of ['ex1', 'ex2', 'ex3', 'ex4']) {
    const box = await page.locator(`#${k}-on`).boundingBox();
    assert.ok(box.y + box.height <= 1000, `${k} at ${box.y}`);
  }
  await page.close();
});

test('the focus ring has at least 3:1 contrast against white', async () => {
  const { page } = await openPage(env, '?lang=en');
  await page.locator('#prompt').focus();
  await page.keyboard.press('Tab');
  const color = await page.evaluate(() => getComputedStyle(document.activeElement).outlineColor);
  const [r, g, b] = color.match(/\d+/g).map(Number);
  const lum = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  const L = 0.2126 * lum(r) + 0.7152 * lum(g) + 0.0722 * lum(b);
  const ratio = 1.05 / (L + 0.05);
  assert.ok(ratio >= 3, `${color}: ${ratio.toFixed(2)}:1`);
  assert.notEqual(await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle), 'none');
  await page.close();
});

test('screenshots at 1400×1000 and 390×844, English and Vietnamese', async () => {
  for (const lang of ['en', 'vi']) {
    const { page } = await openPage(env, `?lang=${lang}&ex3=9,0.1&ex2=9,10,1,0`);
    await shot(page, `issue10-1400x1000-${lang}`);
    await page.screenshot({ path: join(SHOTS, `issue10-1400x1000-${lang}-top.png`) });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(600);
    await waitForRun(page);
    assert.ok(await pageWidth(page) <= 390);
    await shot(page, `issue10-390x844-${lang}`);
    await page.screenshot({ path: join(SHOTS, `issue10-390x844-${lang}-top.png`) });
    await page.close();
  }
});
