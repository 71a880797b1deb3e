/**
 * `npm run bench [-- CORPUS.jsonl]`: per-stage throughput of a full run on a corpus (default: the Reuters-21578
 * articles in ../shared/data), and the signature stage with the npm `minhash` package engine beside the
 * default engine on the same shingles. Prints a Markdown table.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_OPTIONS } from '../pipeline/options.js';
import { runPipeline, signatureStage } from '../pipeline/stages.js';

const corpus = process.argv[2] ?? '../shared/data/reuters21578/articles.jsonl';
const out = await mkdtemp(join(tmpdir(), 'neardup-bench-'));
try {
  const stats = await runPipeline([corpus], out, DEFAULT_OPTIONS);
  const minhash = await signatureStage(out, { ...DEFAULT_OPTIONS, engine: 'minhash' });
  const rows = [
    ...stats.map((s) => [s.stage, s.articles, s.seconds.toFixed(3), s.articlesPerSecond]),
    ['sign (npm minhash)', minhash.articles, minhash.seconds.toFixed(3), minhash.articlesPerSecond],
  ];
  const total = stats.reduce((sum, s) => sum + s.seconds, 0);
  const perf = stats.find((s) => s.stage === 'sign')!.articlesPerSecond / minhash.articlesPerSecond;
  console.log(`corpus: ${corpus}; node ${process.version}; ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}; one thread\n`);
  console.log('| stage | articles | seconds | articles/s |\n| --- | ---: | ---: | ---: |');
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
  console.log(`\nall stages: ${total.toFixed(3)} s; default signature engine ${perf.toFixed(0)}x the npm minhash package`);
} finally {
  await rm(out, { recursive: true, force: true });
}
