/**
 * How fast a report.html opens: `node dist/bench/open-report.js OUT/report.html [--runs N]` opens it from disk
 * in headless Debian chromium (NEARDUP_CHROMIUM names another binary) N times and prints, per run, the time
 * until the page's script has drawn the list (body[data-ready]) and until the largest story's view is drawn.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { runs: { type: 'string', default: '3' } } });
if (positionals.length !== 1) {
  process.stderr.write('usage: node dist/bench/open-report.js OUT/report.html [--runs N]\n');
  process.exit(2);
}
const path = resolve(positionals[0]);
const runs = Number(values.runs);
const browser = await chromium.launch({
  executablePath: process.env.NEARDUP_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  process.stdout.write(`${path}: ${(statSync(path).size / 1e6).toFixed(1)} MB\n`);
  for (let run = 1; run <= runs; run++) {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const start = performance.now();
    await page.goto(pathToFileURL(path).href);
    await page.waitForSelector('body[data-ready="true"]');
    const ready = performance.now() - start;
    const rows = await page.locator('#stories tbody tr').count();
    let viewed = 'no story to open';
    if (rows > 0) {
      const viewStart = performance.now();
      await page.locator('#stories tbody tr a').first().click();
      await page.waitForSelector('#view h2');
      viewed = `largest story's view ${(performance.now() - viewStart).toFixed(0)} ms`;
    }
    process.stdout.write(`run ${run}: list drawn ${ready.toFixed(0)} ms (${rows} rows on its first page), ${viewed}\n`);
    await page.close();
  }
} finally {
  await browser.close();
}
