/**
 * One benchmark run in its own process, so its peak RSS is its own: `node dist/bench/run-once.js DATASET_DIR OUT_DIR`
 * runs every stage with the defaults on DATASET_DIR/articles.jsonl, scores DATASET_DIR/labels.csv and prints
 * one JSON line (wall time, peak RSS, stage statistics, scores).
 */
import { performance } from 'node:perf_hooks';
import { scoreDataset } from '../pipeline/evaluate-dataset.js';
import { DEFAULT_OPTIONS } from '../pipeline/options.js';
import { runPipeline } from '../pipeline/stages.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const [dataset, out] = process.argv.slice(2);
const start = performance.now();
await runPipeline([join(dataset, 'articles.jsonl')], out, DEFAULT_OPTIONS);
const wallSeconds = (performance.now() - start) / 1000;
// resourceUsage().maxRSS is in kilobytes and covers worker threads: they live in this process. Read before
// scoring, whose maps of a million labels are the benchmark's, not the pipeline's.
const peakRssMb = process.resourceUsage().maxRSS / 1024;
const scores = await scoreDataset(dataset, out);
const run = JSON.parse(await readFile(join(out, 'run.json'), 'utf8')) as { stages: Record<string, Record<string, unknown>> };
process.stdout.write(JSON.stringify({ wallSeconds, peakRssMb, stages: run.stages, clustering: scores.clustering }) + '\n');
