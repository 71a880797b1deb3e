/**
 * report.html in a real browser: Debian's chromium, driven by playwright-core (`.ci/run` installs chromium
 * with apt; NEARDUP_CHROMIUM names another binary). The page is opened from disk, as an editor would.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Browser, type Page, chromium } from 'playwright-core';
import { DEFAULT_OPTIONS } from '../pipeline/options.js';
import { runPipeline } from '../pipeline/stages.js';

const SEEDS = fileURLToPath(new URL('../../seeds', import.meta.url));
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts', import.meta.url));
const CHROMIUM = process.env.NEARDUP_CHROMIUM ?? '/usr/bin/chromium';
const OPTIONS = { ...DEFAULT_OPTIONS, workers: 0 };

let browser: Browser;
let scratch: string;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no browser at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium) or set NEARDUP_CHROMIUM`);
  scratch = await mkdtemp(join(tmpdir(), 'neardup-browser-'));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // Without the background-networking switches chromium phones home at start, which a closed network refuses.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** Opens `path` and records every request the page makes besides loading itself. */
async function open(path: string): Promise<{ page: Page; requests: string[]; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const url = pathToFileURL(path).href;
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (request) => {
    if (request.url() !== url) requests.push(request.url());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]');
  return { page, requests, errors };
}

test('the seed run: the story of the three rewrites is listed, its view shows them with shared passages marked, filters work, nothing is fetched', async () => {
  const out = join(scratch, 'seeds');
  await runPipeline([SEEDS], out, OPTIONS);
  const { page, requests, errors } = await open(join(out, 'report.html'));

  assert.equal(await page.locator('dl.summary dd').first().textContent(), '5', 'articles read');
  const rows = page.locator('#stories tbody tr');
  assert.equal(await rows.count(), 1, 'one story of two or more articles');
  const row = rows.first();
  assert.equal((await row.locator('td').first().textContent())?.trim(), '3');
  const storyId = await row.getAttribute('data-id');
  assert.ok(storyId);

  await row.locator('a').click();
  await page.waitForSelector('#view article.member');
  const members = page.locator('#view article.member');
  assert.equal(await members.count(), 3, 'the representative and the two rewrites side by side');
  const ids = await members.evaluateAll((nodes) => nodes.map((node) => (node as HTMLElement).dataset.id));
  assert.deepEqual(ids.map((id) => id?.slice(0, 3)), ['000', '001', '002']);
  for (let m = 0; m < 3; m++) {
    const passages = await members.nth(m).locator('mark.passage').allTextContents();
    assert.ok(passages.length > 0, `article ${ids[m]} has shared passages marked`);
    assert.ok(passages.some((p) => /\s/.test(p)), 'a passage spans several words');
  }
  // Both rewrites say "intercepted and destroyed 40 unmanned aerial vehicles" like the representative.
  const rewriteMarks = (await members.nth(1).locator('mark').allTextContents()).join(' | ');
  assert.match(rewriteMarks, /40 unmanned aerial vehicles/i);
  // Each rewrite's similarity to the representative is its verified pair's, as pairs.csv gives it.
  const pairs = await readFile(join(out, 'pairs.csv'), 'utf8');
  for (let m = 1; m < 3; m++) {
    const pair = new RegExp(`^${ids[0]},${ids[m]},(0\\.\\d+),`, 'm').exec(pairs);
    assert.ok(pair, `pairs.csv has ${ids[0]} with ${ids[m]}`);
    assert.equal(await members.nth(m).locator('.similarity').textContent(), `similarity to the representative: ${Number(pair[1]).toFixed(3)} (jaccard)`);
  }
  await mkdir(ARTIFACTS, { recursive: true });
  await page.locator('#view').screenshot({ path: join(ARTIFACTS, 'report-story-view.png') });

  // Filtering: a word of the story's title keeps it, another word hides it; single articles on request.
  const filter = page.locator('#filter');
  await filter.fill('no such headline anywhere');
  assert.equal(await rows.count(), 0);
  assert.equal(await page.locator('#list-status').textContent(), 'No story matches.');
  await filter.fill(storyId.slice(0, 8));
  assert.equal(await rows.count(), 1);
  await filter.fill('');
  await page.locator('#min-size').selectOption('1');
  assert.equal(await rows.count(), 3, 'the story of three and the two single articles');
  // Sorting by size, ascending, puts the singles first.
  await page.locator('th[data-key="size"]').click();
  assert.equal(await page.locator('th[data-key="size"]').getAttribute('aria-sort'), 'ascending');
  assert.equal((await rows.first().locator('td').first().textContent())?.trim(), '1');

  assert.deepEqual(requests, [], 'the page fetched nothing');
  assert.deepEqual(errors, []);
  await page.close();
});

/** Deterministic made-up words: stories that share none of them never cluster together. */
function wordsFrom(seed: number, count: number): string[] {
  let state = seed >>> 0;
  const next = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0), state);
  return Array.from({ length: count }, () => Array.from({ length: 6 + (next() % 4) }, () => String.fromCharCode(97 + (next() % 26))).join(''));
}

test('long lists and long stories paginate', async () => {
  const dir = join(scratch, 'many');
  await mkdir(dir, { recursive: true });
  const lines: string[] = [];
  // 55 stories of two copies each, then one story of eight copies, each copy with one word of its own.
  const story = (s: number, copies: number) => {
    const words = wordsFrom(s + 1, 60);
    for (let c = 0; c < copies; c++) {
      const text = [...words.slice(0, 59), wordsFrom(1000 * s + c + 7, 1)[0]].join(' ');
      lines.push(JSON.stringify({ id: `s${String(s).padStart(2, '0')}-${c}`, title: `story ${s}`, text }));
    }
  };
  for (let s = 0; s < 55; s++) story(s, 2);
  story(55, 8);
  await writeFile(join(dir, 'feed.jsonl'), lines.join('\n') + '\n');
  const out = join(scratch, 'many-out');
  await runPipeline([dir], out, OPTIONS);
  const { page, requests, errors } = await open(join(out, 'report.html'));
  const rows = page.locator('#stories tbody tr');
  assert.equal(await rows.count(), 50, 'fifty stories a page');
  assert.equal((await rows.first().locator('td').first().textContent())?.trim(), '8', 'largest first');
  await page.locator('#list-pager button', { hasText: 'next' }).click();
  assert.equal(await rows.count(), 6);
  assert.match((await page.locator('#list-pager').textContent()) ?? '', /page 2 of 2/);

  await page.locator('#list-pager button', { hasText: 'previous' }).click();
  await rows.first().locator('a').click();
  // The view is drawn on hashchange, which fires after the click returns.
  await page.waitForSelector('#view article.member');
  const members = page.locator('#view article.member');
  const shownIds = async () => members.evaluateAll((nodes) => nodes.map((node) => (node as HTMLElement).dataset.id));
  assert.deepEqual(await shownIds(), ['s55-0', 's55-1', 's55-2', 's55-3'], 'the representative and three more');
  assert.match((await page.locator('#view .pager').textContent()) ?? '', /articles 2–4 of 8 beside the representative/);
  await page.locator('#view .pager button', { hasText: 'next' }).click();
  assert.deepEqual(await shownIds(), ['s55-0', 's55-4', 's55-5', 's55-6'], 'the representative stays');
  await page.locator('#view .pager button', { hasText: 'next' }).click();
  assert.deepEqual(await shownIds(), ['s55-0', 's55-7']);
  assert.ok(await page.locator('#view .pager button', { hasText: 'next' }).isDisabled());
  assert.deepEqual(requests, []);
  assert.deepEqual(errors, []);
  await page.close();
});

test('article text is shown as text: markup in a title, a text or a url runs nothing', async () => {
  const dir = join(scratch, 'hostile');
  await mkdir(dir, { recursive: true });
  const story =
    'The harbour authority of Valmora closed the northern pier on Tuesday after inspectors found cracks in the concrete supports, and ferry services moved to the southern terminal until repairs end in March.';
  const hostile = [
    { id: 'x1', title: '<script>window.__owned = 1</script>Pier closed', text: `${story} <img src=x onerror="window.__owned = 2"> </script><script>window.__owned = 3</script>`, url: 'javascript:window.__owned=4' },
    { id: 'x2', title: 'Valmora pier <b>closed</b>', text: `${story} Officials said the <iframe src="https://example.com"></iframe> pier would reopen.`, url: 'https://example.com/pier' },
  ];
  await writeFile(join(dir, 'feed.jsonl'), hostile.map((a) => JSON.stringify(a)).join('\n') + '\n');
  const out = join(scratch, 'hostile-out');
  await runPipeline([dir], out, OPTIONS);
  const { page, requests, errors } = await open(join(out, 'report.html'));
  const row = page.locator('#stories tbody tr').first();
  assert.equal(await row.locator('a').textContent(), '<script>window.__owned = 1</script>Pier closed', 'the title shows its markup as text');
  await row.locator('a').click();
  await page.waitForSelector('#view article.member');
  const text = (await page.locator('#view article.member .text').first().textContent()) ?? '';
  assert.ok(text.includes('<img src=x onerror="window.__owned = 2">'), 'the text shows its markup as text');
  assert.equal(await page.evaluate(() => (window as unknown as { __owned?: number }).__owned), undefined, 'no injected script ran');
  assert.equal(await page.locator('#view img, #view iframe, #view script, #view b').count(), 0, 'no injected element exists');
  const hrefs = await page.locator('#view a').evaluateAll((links) => links.map((link) => (link as HTMLAnchorElement).href));
  assert.ok(!hrefs.some((href) => href.startsWith('javascript:')), 'a javascript: url is not made a link');
  assert.ok(hrefs.includes('https://example.com/pier'), 'an http(s) url is');
  assert.deepEqual(requests, []);
  assert.deepEqual(errors, []);
  await page.close();
});
