/**
 * One nightly run in its own process, so its peak RSS is its own: `node dist/bench/run-nightly-once.js INPUT
 * OUT INDEX` runs every stage with the defaults against the index and prints one JSON line (wall time, peak
 * RSS, stage statistics, the nightly summary).
 */
import { performance } from 'node:perf_hooks';
import { runNightly } from '../pipeline/nightly.js';
import { DEFAULT_OPTIONS } from '../pipeline/options.js';

const [input, out, index] = process.argv.slice(2);
const start = performance.now();
const { stats, summary } = await runNightly([input], out, DEFAULT_OPTIONS, { index, update: false });
const wallSeconds = (performance.now() - start) / 1000;
// resourceUsage().maxRSS is in kilobytes and covers worker threads: they live in this process.
const peakRssMb = process.resourceUsage().maxRSS / 1024;
process.stdout.write(JSON.stringify({ wallSeconds, peakRssMb, stages: stats, nightly: summary }) + '\n');
