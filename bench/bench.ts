/**
 * `npm run bench [-- --sizes 100000,300000,1000000] [--keep DIR]` (`--sizes ""`: the signature engines only)
 *
 * 1. Signature engines on seed-sized articles (about 3 KB, three generated articles joined): articles per
 *    second on one thread (the best of a few passes) for the default engine and the npm `minhash` package,
 *    and the mean absolute error of each one's Jaccard estimate against the exact Jaccard on rewrite pairs.
 * 2. End to end at each size: a labelled corpus from `npm run corpus`, every stage with the defaults in a
 *    child process (wall time and peak RSS are its own), candidates per article, and pairwise F1 against the
 *    generated labels.
 * 3. With `--nightly INDEXED,NEW` (e.g. 1000000,100000), only this: one generated corpus of INDEXED + NEW
 *    articles, the first INDEXED run as one night into a new index, then the last NEW as the next night
 *    (timed, in a child process); the index's size per article. With --keep, DIR keeps the index as the
 *    first night left it (index-after-first-night.sqlite), to re-run the next night against.
 * Prints Markdown tables; nothing is asserted (speed goals are read off here, never in tests).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { DEFAULT_OPTIONS } from '../pipeline/options.js';
import { type NightlySummary } from '../pipeline/nightly.js';
import { describePairs, nightlyQuality } from './nightly-quality.js';
import { cleanArticle } from '../pipeline/normalize.js';
import { Shingler } from '../pipeline/shingle.js';
import { setSimilarity } from '../pipeline/similarity.js';
import { type EngineName, createEngine, estimateJaccard } from '../pipeline/signature.js';
import { signWeightedSet } from '../pipeline/tasks.js';
import { WEIGHT_QUANTUM, WeightedReplicator, featureWeights } from '../pipeline/weights.js';

const { values } = parseArgs({ options: { sizes: { type: 'string' }, keep: { type: 'string' }, nightly: { type: 'string' } } });
const sizes = (values.sizes ?? '100000').split(',').filter((s) => s !== '').map(Number);
const root = values.keep ?? mkdtempSync(join(tmpdir(), 'neardup-bench-'));
const dist = fileURLToPath(new URL('..', import.meta.url));

function corpus(n: number): string {
  const dir = join(root, `c${n}`);
  mkdirSync(dir, { recursive: true });
  execFileSync(process.execPath, [join(dist, 'bench/generate-corpus.js'), '--n', String(n), '--out', join(dir, 'articles.jsonl')], { stdio: 'ignore' });
  return dir;
}

function signatureBench(): string[] {
  const dir = corpus(9000);
  const lines = readFileSync(join(dir, 'articles.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; title: string; text: string });
  const labels = new Map(readFileSync(join(dir, 'labels.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',') as [string, string]));
  const shingler = new Shingler(DEFAULT_OPTIONS.shingles);
  const features = lines.map((a) => {
    const c = cleanArticle(a.title, a.text);
    return shingler.shingle(`${c.title}\n${c.body}`);
  });
  // Seed-sized articles: three consecutive generated articles joined (their features united).
  const big: Uint32Array[] = [];
  for (let i = 0; i + 2 < features.length; i += 3) big.push(Uint32Array.from(new Set([...features[i], ...features[i + 1], ...features[i + 2]])).sort());
  const chars = lines.reduce((sum, a) => sum + a.text.length, 0) / big.length;
  const k = DEFAULT_OPTIONS.k;
  // Each rate is the best of several passes: one pass over the articles takes a tenth of a second, and single
  // passes of the same engine code swung by 40% between two bench runs on this project's shared machines
  // (2026-12-03).
  const bestOf = (passes: number, articles: number, pass: () => void) => {
    let best = 0;
    for (let p = 0; p < passes; p++) {
      const start = performance.now();
      pass();
      best = Math.max(best, articles / ((performance.now() - start) / 1000));
    }
    return best;
  };
  const rate = (name: EngineName, sets: Uint32Array[], passes = 5) => {
    const engine = createEngine(name, k, 1);
    const out = new Uint32Array(k);
    return bestOf(passes, sets.length, () => {
      for (const s of sets) engine.sign(s, out);
    });
  };
  rate('sketch', big, 1); // warm up the JIT
  rate('oph', big, 1);
  const sketch = rate('sketch', big);
  const oph = rate('oph', big);
  // Its passes take seconds each: fewer of them.
  const minhash = rate('minhash', big.slice(0, 300), 3);
  // What the sign stage does per article: an IDF-weighted signature (the sketch engine's exponential race),
  // against the earlier way of spelling each feature out as weight / quantum copies.
  const offsets = new Float64Array(big.length + 1);
  big.forEach((s, i) => (offsets[i + 1] = offsets[i] + s.length));
  const values = new Uint32Array(offsets[big.length]);
  big.forEach((s, i) => values.set(s, offsets[i]));
  const weights = featureWeights({ offsets, values }, DEFAULT_OPTIONS.weighting);
  const bigWeights = big.map((_, i) => weights.subarray(offsets[i], offsets[i + 1]));
  const replicator = new WeightedReplicator();
  const sketchEngine = createEngine('sketch', k, 1);
  const signRace = (i: number, out: Uint32Array) => signWeightedSet(sketchEngine, big[i], bigWeights[i], out, replicator);
  const signCopies = (i: number, out: Uint32Array) => sketchEngine.sign(replicator.replicate(big[i], bigWeights[i]), out);
  const weightedRate = (sign: (i: number, out: Uint32Array) => void, passes = 5) => {
    const out = new Uint32Array(k);
    return bestOf(passes, big.length, () => {
      for (let i = 0; i < big.length; i++) sign(i, out);
    });
  };
  weightedRate(signRace, 1);
  weightedRate(signCopies, 1);
  const raceRate = weightedRate(signRace);
  const copiesRate = weightedRate(signCopies);
  // Estimate error on rewrite pairs (same label), unweighted sets, both engines with the same k.
  const byStory = new Map<string, number[]>();
  lines.forEach((a, i) => byStory.set(labels.get(a.id)!, [...(byStory.get(labels.get(a.id)!) ?? []), i]));
  const pairs = [...byStory.values()].flatMap((m) => m.slice(1).map((j) => [m[0], j]));
  // Weighted estimate error against the exact weighted Jaccard on the same rewrite pairs, IDF over the articles.
  const single = { offsets: new Float64Array(features.length + 1), values: new Uint32Array(features.reduce((sum, f) => sum + f.length, 0)) };
  features.forEach((f, i) => {
    single.offsets[i + 1] = single.offsets[i] + f.length;
    single.values.set(f, single.offsets[i]);
  });
  const singleWeights = featureWeights(single, DEFAULT_OPTIONS.weighting);
  const weightsOf = (i: number) => singleWeights.subarray(single.offsets[i], single.offsets[i + 1]);
  const weightedMae = (copies: boolean) => {
    const both = new Uint32Array(2 * k);
    const sign = (i: number, out: Uint32Array) =>
      copies ? sketchEngine.sign(replicator.replicate(features[i], weightsOf(i)), out) : signWeightedSet(sketchEngine, features[i], weightsOf(i), out, replicator);
    let sum = 0;
    for (const [i, j] of pairs) {
      sign(i, both.subarray(0, k));
      sign(j, both.subarray(k));
      sum += Math.abs(estimateJaccard(both, k, 0, 1) - setSimilarity(features[i], features[j], weightsOf(i), weightsOf(j)).jaccard);
    }
    return sum / pairs.length;
  };
  const mae = (name: EngineName) => {
    const engine = createEngine(name, k, 1);
    const both = new Uint32Array(2 * k);
    let sum = 0;
    for (const [i, j] of pairs) {
      engine.sign(features[i], both.subarray(0, k));
      engine.sign(features[j], both.subarray(k));
      sum += Math.abs(estimateJaccard(both, k, 0, 1) - setSimilarity(features[i], features[j]).jaccard);
    }
    return sum / pairs.length;
  };
  return [
    `Signatures, one thread, k = ${k}, ${big.length} articles of ${Math.round(chars)} characters on average (three generated articles joined):`,
    '',
    '| engine | articles/s | MAE of Jaccard estimate (rewrite pairs) | MAE of IDF-weighted Jaccard estimate (rewrite pairs) |',
    '| --- | ---: | ---: | ---: |',
    `| sketch (default), plain sets | ${Math.round(sketch)} | ${mae('sketch').toFixed(4)} | |`,
    `| sketch, IDF weights by exponential race (the sign stage's work) | ${Math.round(raceRate)} | | ${weightedMae(false).toFixed(4)} |`,
    `| sketch over IDF copies (weight / ${WEIGHT_QUANTUM} copies a feature) | ${Math.round(copiesRate)} | | ${weightedMae(true).toFixed(4)} |`,
    `| oph, plain sets | ${Math.round(oph)} | ${mae('oph').toFixed(4)} | |`,
    `| npm minhash (classic k permutations) | ${Math.round(minhash)} | ${mae('minhash').toFixed(4)} | |`,
    '',
    `default engine: ${(sketch / minhash).toFixed(0)}x the npm minhash package on plain sets, ${(raceRate / minhash).toFixed(0)}x with IDF weights; MAE over ${pairs.length} rewrite pairs`,
  ];
}

function endToEnd(n: number): string {
  const dir = corpus(n);
  const stdout = execFileSync(process.execPath, [join(dist, 'bench/run-once.js'), dir, join(dir, 'out')], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as {
    wallSeconds: number;
    peakRssMb: number;
    stages: Record<string, { seconds: number; candidatesPerArticle?: number; verifiedPairs?: number }>;
    clustering: { f1: number; largestPredictedCluster: number };
  };
  const s = r.stages;
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
  const stage = (name: string) => s[name]?.seconds.toFixed(1) ?? '';
  return `| ${n} | ${r.wallSeconds.toFixed(1)} | ${Math.round(r.peakRssMb)} | ${stage('read')} | ${stage('shingle')} | ${stage('sign')} | ${stage('candidates')} | ${stage('cluster')} | ${stage('report')} | ${s.candidates?.candidatesPerArticle} | ${s.cluster?.verifiedPairs} | ${r.clustering.f1.toFixed(3)} | ${r.clustering.largestPredictedCluster} |`;
}

interface OnceResult {
  wallSeconds: number;
  peakRssMb: number;
}

/** Two nights over one generated corpus: the first `indexed` articles, then the `fresh` rest against them. */
function nightly(indexed: number, fresh: number): string[] {
  const dir = corpus(indexed + fresh);
  // A million articles are more text than one JavaScript string holds: split by lines, without reading it whole.
  const source = readFileSync(join(dir, 'articles.jsonl'));
  let cut = 0;
  for (let line = 0; line < indexed; line++) cut = source.indexOf(10, cut) + 1;
  writeFileSync(join(dir, 'past.jsonl'), source.subarray(0, cut));
  writeFileSync(join(dir, 'tonight.jsonl'), source.subarray(cut));
  const index = join(dir, 'index.sqlite');
  const once = (input: string, out: string) =>
    JSON.parse(execFileSync(process.execPath, [join(dist, 'bench/run-nightly-once.js'), join(dir, input), join(dir, out), index], { encoding: 'utf8', maxBuffer: 1 << 26 }).trim().split('\n').pop()!) as OnceResult & {
      stages: { stage: string; seconds: number; articles: number }[];
      nightly: NightlySummary;
    };
  const past = once('past.jsonl', 'out-past');
  const pastBytes = statSync(index).size;
  // Kept with --keep: the next night can be re-run against the index as the first night left it.
  if (values.keep) copyFileSync(index, join(dir, 'index-after-first-night.sqlite'));
  const tonight = once('tonight.jsonl', 'out-tonight');
  const bytes = statSync(index).size;
  const stage = (name: string) => tonight.stages.filter((s) => s.stage === name).map((s) => s.seconds.toFixed(1)).join(' + ');
  const labels = new Map(readFileSync(join(dir, 'labels.csv'), 'utf8').trim().split('\n').slice(1).map((line) => line.split(',') as [string, string]));
  const quality = nightlyQuality(labels, join(dir, 'out-past'), join(dir, 'out-tonight'));
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
  return [
    `| night | articles | wall s | peak RSS MB | index MB after | index bytes per article |`,
    `| --- | ---: | ---: | ---: | ---: | ---: |`,
    `| first (empty index) | ${indexed} | ${past.wallSeconds.toFixed(1)} | ${Math.round(past.peakRssMb)} | ${(pastBytes / 1e6).toFixed(1)} | ${Math.round(pastBytes / indexed)} |`,
    `| next | ${fresh} | ${tonight.wallSeconds.toFixed(1)} | ${Math.round(tonight.peakRssMb)} | ${(bytes / 1e6).toFixed(1)} | ${Math.round(bytes / (indexed + fresh))} |`,
    '',
    `next night: ${tonight.nightly.guests} indexed articles came back as guests (${tonight.nightly.guestsScreenedOut} more matched by band keys but not by facts); shingle ${stage('shingle')} s, sign ${stage('sign')} s, candidates ${stage('candidates')} s, cluster ${stage('cluster')} s, report ${stage('report')} s`,
    `stories split over the two nights: ${describePairs(quality.crossNight)}`,
    `within the next night: ${describePairs(quality.secondNight)}`,
  ];
}

console.log(`node ${process.version}; ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}; workers: ${DEFAULT_OPTIONS.workers}\n`);
if (values.nightly !== undefined) {
  const [indexed, fresh] = values.nightly.split(',').map(Number);
  if (!(indexed > 0 && fresh > 0)) throw new Error(`--nightly ${values.nightly}: expected INDEXED,NEW, e.g. 1000000,100000`);
  console.log(`Nightly: ${fresh} new articles against an index of ${indexed} (one generated corpus, \`npm run corpus\`):\n`);
  for (const line of nightly(indexed, fresh)) console.log(line);
  process.exit(0);
}
for (const line of signatureBench()) console.log(line);
console.log('\nEnd to end with the defaults on generated corpora (`npm run corpus`, about 1 KB an article):\n');
console.log('| articles | wall s | peak RSS MB | read s | shingle s | sign s | candidates s | cluster s | report s | candidates/article | verified pairs | pairwise F1 | largest cluster |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const n of sizes) console.log(endToEnd(n));
if (!values.keep) rmSync(root, { recursive: true, force: true });
