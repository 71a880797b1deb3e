/**
 * The pipeline's stages as runnable steps: each reads the previous stage's file in `OUT/work/`, calls its
 * pure core, and writes its own file, so a later stage can be re-run (say, with another threshold) without
 * redoing the earlier ones. `runPipeline` runs them all in order (the read and shingle stages side by side,
 * see readAndShingleStages).
 *
 *   read      inputs            -> work/articles.jsonl   (the articles, one JSON line each, in input order)
 *   shingle   articles.jsonl    -> work/shingles.bin     (normalized, then sorted feature hashes per article)
 *   sign      shingles.bin      -> work/signatures.bin   (k MinHash values per article)
 *   candidates signatures.bin   -> work/candidates.bin   (pairs sharing an LSH band)
 *   cluster   + shingles.bin    -> work/clusters.bin     (verified pairs, cluster per article)
 *   report    all of the above  -> documents.csv, clusters.csv, pairs.csv, deduplicated.jsonl, run.json
 */
import { readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pLimit from 'p-limit';
import invariant from 'tiny-invariant';
import { ArtifactWriter, type OpenArtifact, arraySpecs, openArtifact, readArtifact, requireArtifact, writeArtifact } from './artifact.js';
import { AtomicLineWriter, LINE_CHUNK_CHARS, writeFileAtomic } from './atomic-write.js';
import { type ByteLines, readByteLines } from './byte-lines.js';
import { type BandedSignatures, bandsInShare, mergeBounds } from './candidates.js';
import {
  type ArticleKeys,
  type ClusterOptions,
  type Clustering,
  HISTOGRAM_BINS,
  type PairScoring,
  HISTOGRAM_SLOTS,
  REJECTED_BY_FACTS,
  REJECTED_BY_SCREENS,
  type VerifiedPairs,
  clusterVerified,
  concatPairs,
  estimatePairs,
  estimateScreen,
  pairScorer,
} from './cluster.js';
import { allocateFactFingerprints } from './fact-fingerprints.js';
import { type FeatureSets, FeatureSetsBuilder, type FeatureValues, type WeightCodes, allocateSubset } from './feature-sets.js';
import { optimalBanding } from './lsh-params.js';
import { type PipelineOptions } from './options.js';
import { type Progress, SILENT, progress } from './progress.js';
import { type Rejection, listInputFiles, originOf, readArticleChunks } from './read-articles.js';
import { InputError } from './errors.js';
import { publishReports } from './publish.js';
import { type ShownArticle, clusterFigures, writeNightlyReports, writeRejected, writeReports } from './report.js';
import { REPORT_CAPS, type ReportSource, type ReportSummary, buildReportPage, capNotes, renderReportHtml, selectForReport, withSimilarities } from './report-html.js';
import { type ShingleOptions } from './shingle.js';
import { type EngineName, createEngine } from './signature.js';
import { FACT_COUNT, TOTAL_SLOTS } from './similarity.js';
import { allocate, collectGarbage, sharedCopy } from './typed-arrays.js';
import { type BandsResult, type MergeResult, type ShingleResult, type ShingleTask, type SignResult, type SignTask, type VerifyResult, type WeighResult } from './tasks.js';
import { type FeatureCounts, type IdfPopulation, type Weighting, idfArticles, joinParts, signatureWeightFloor, signatureWeights, WEIGHT_CODES, weightTable } from './weights.js';
import { WorkerPool } from './worker-pool.js';

export interface StageStats {
  stage: string;
  seconds: number;
  articles: number;
  articlesPerSecond: number;
  options: object;
  [count: string]: number | string | object;
}

/** One line of work/articles.jsonl. */
export interface StoredArticle {
  id: string;
  title: string;
  text: string;
  published_at?: string;
  source?: string;
  url?: string;
  origin: string;
}

export const workPath = (out: string, file: string) => join(out, 'work', file);

/** A JSON file of OUT/work that an earlier stage wrote. */
async function readWorkJson<T>(out: string, file: string): Promise<T> {
  return JSON.parse(await readFile(workPath(out, file), 'utf8')) as T;
}

/** A JSON file of OUT/work that only some runs write: undefined when it is not there (other errors throw). */
async function readWorkJsonIfPresent<T>(out: string, file: string): Promise<T | undefined> {
  try {
    return await readWorkJson<T>(out, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Promise.all for stage files loaded side by side, but when several fail, the first in the list is the
 * error: with two stage files missing the message names the earliest stage to re-run, whichever read
 * failed first.
 */
async function allInOrder<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(promises as readonly Promise<unknown>[]);
  for (const result of settled) if (result.status === 'rejected') throw result.reason;
  return settled.map((result) => (result as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** Runs one stage and records its options, counts and timing in work/STAGE.stats.json for run.json. */
async function timed<T extends Record<string, number | string>>(
  out: string,
  stage: string,
  options: object,
  work: () => Promise<T & { articles: number }>,
): Promise<StageStats> {
  const start = performance.now();
  const counts = await work();
  const seconds = (performance.now() - start) / 1000;
  const stats: StageStats = {
    stage,
    seconds: round(seconds, 3),
    articlesPerSecond: Math.round(counts.articles / Math.max(seconds, 1e-9)),
    ...counts,
    options,
  };
  await writeFileAtomic(workPath(out, `${stage}.stats.json`), JSON.stringify(stats, null, 2) + '\n');
  return stats;
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

export async function* readStoredArticles(out: string): AsyncGenerator<StoredArticle> {
  for await (const lines of readWorkLines(out)) for (const line of lines) yield JSON.parse(line) as StoredArticle;
}

/**
 * The lines of work/articles.jsonl, decoded, a chunk of the file's lines at a time (readWorkLineBytes): a line
 * at a time, a million articles cost seconds of promises alone. `read.bytes`, when given, follows how many
 * bytes of it were read (progress).
 */
async function* readWorkLines(out: string, read?: { bytes: number }): AsyncGenerator<string[]> {
  for await (const { bytes, starts, ends, count } of readWorkLineBytes(out, read)) {
    yield Array.from({ length: count }, (_, q) => bytes.toString('utf8', starts[q], ends[q]));
  }
}

/** The lines of work/articles.jsonl as bytes (byte-lines.ts, readByteLines); a missing file names the stage to run. */
async function* readWorkLineBytes(out: string, read?: { bytes: number }): AsyncGenerator<ByteLines> {
  const path = workPath(out, 'articles.jsonl');
  try {
    yield* readByteLines(path, read);
  } catch (error) {
    // A missing stage file is a mistake in the command (exit code 1 and a message), not a crash.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new InputError(path, undefined, `does not exist: run \`neardup read INPUT... --out ${out}\` first`);
    throw error;
  }
}

export function readStage(inputs: string[], out: string, options: Pick<PipelineOptions, 'readConcurrency' | 'strict'>): Promise<StageStats> {
  return timed(out, 'read', readStageOptions(inputs, options), async () => {
    const shown = progress('read', 'articles');
    try {
      const lines = readIntoWork(inputs, out, options, shown);
      for (;;) {
        const next = await lines.next();
        if (next.done) return next.value;
      }
    } finally {
      shown.done();
    }
  });
}

const readStageOptions = (inputs: string[], options: Pick<PipelineOptions, 'readConcurrency' | 'strict'>) => ({
  inputs,
  readConcurrency: options.readConcurrency,
  strict: options.strict,
});

type ReadCounts = { articles: number; rejected: number; truncated: number };

/**
 * The read stage's work: writes work/articles.jsonl and work/rejected.json, and yields the records of its
 * lines a chunk at a time as it writes them, so that the shingle stage can take them as they come
 * (readAndShingleStages) without parsing the lines again. The file is committed only once the last chunk has
 * been taken; a consumer that stops early leaves no articles.jsonl behind.
 */
async function* readIntoWork(
  inputs: string[],
  out: string,
  options: Pick<PipelineOptions, 'readConcurrency' | 'strict'>,
  shown: Progress,
): AsyncGenerator<StoredArticle[], ReadCounts> {
  // A new batch: what an earlier nightly run said about the last one no longer holds.
  await rm(workPath(out, NIGHTLY_FILE), { force: true });
  const writer = await AtomicLineWriter.create(workPath(out, 'articles.jsonl'));
  let articles = 0;
  // Without --strict, bad inputs are skipped and listed in work/rejected.json (OUT/rejected.csv once reported).
  const rejections: Rejection[] = [];
  const onReject = options.strict ? undefined : (rejection: Rejection) => void rejections.push(rejection);
  let chunk = '';
  let records: StoredArticle[] = [];
  let committed = false;
  try {
    for await (const read of readArticleChunks(inputs, { concurrency: options.readConcurrency, onReject })) {
      for (const article of read) {
        const stored: StoredArticle = {
          id: article.id,
          title: article.title,
          text: article.text,
          published_at: article.publishedAt,
          source: article.source,
          url: article.url,
          origin: article.origin,
        };
        chunk += JSON.stringify(stored) + '\n';
        records.push(stored);
        if (chunk.length >= LINE_CHUNK_CHARS) {
          await writer.write(chunk);
          chunk = '';
        }
      }
      articles += read.length;
      shown.advance(read.length);
      // The records of each piece read (about half a megabyte of input) go on to the consumer.
      if (records.length > 0) yield records;
      records = [];
    }
    await writer.write(chunk);
    await writeFileAtomic(workPath(out, 'rejected.json'), JSON.stringify(rejections));
    await writer.commit();
    committed = true;
  } finally {
    // An error, or a consumer that stopped taking lines: nothing half-written is left.
    if (!committed) await writer.abort();
  }
  return { articles, rejected: rejections.filter((r) => r.action === 'skipped').length, truncated: rejections.filter((r) => r.action === 'truncated').length };
}

/**
 * The read and shingle stages side by side, for a whole run: the shingle stage takes the records of
 * work/articles.jsonl as the read stage writes them instead of reading the file back once it is done. The
 * read stage's parsing (one thread) then runs while the workers shingle, instead of before them. Both write
 * the same files as when run one after the other; the shingle stage's time includes the read stage's, whose
 * statistics say so (`alongside`).
 */
export async function readAndShingleStages(
  inputs: string[],
  out: string,
  options: PipelineOptions,
  /** Given the features once work/shingles.bin is committed (see shingleStage). */
  handOff?: (features: FeatureSets) => void,
): Promise<[StageStats, StageStats]> {
  let finish!: (counts: ReadCounts) => void;
  let fail!: (error: unknown) => void;
  const readDone = new Promise<ReadCounts & { alongside: string }>((resolve, reject) => {
    // Its time is part of the shingle stage's, and its statistics say so (see stagesSeconds).
    finish = (counts) => resolve({ ...counts, alongside: 'shingle' });
    fail = reject;
  });
  const readStats = timed(out, 'read', readStageOptions(inputs, options), () => readDone);
  // Its failure is the shingle stage's too, which reports it.
  readStats.catch(() => undefined);
  // The shingle stage's builder reserves a value per byte of input (see shingleStage).
  const inputBytes = await totalBytes(inputs);
  async function* source(): AsyncGenerator<StoredArticle[]> {
    try {
      // The shingle stage's bar shows how far the run is.
      finish(yield* readIntoWork(inputs, out, options, SILENT));
    } catch (error) {
      fail(error);
      throw error;
    }
  }
  const shingleStats = await shingleStage(out, options, 0, undefined, { records: source(), bytes: inputBytes }, handOff);
  return [await readStats, shingleStats];
}

async function totalBytes(inputs: string[]): Promise<number> {
  let bytes = 0;
  for (const file of await listInputFiles(inputs)) bytes += (await stat(file)).size;
  return bytes;
}

interface ShingleMeta {
  options: ShingleOptions;
  weighting: Weighting;
  ids: string[];
  /** How many articles IDF was counted over, when not the batch's (a nightly run's: see IdfPopulation). */
  idfArticles?: number;
}

/** Articles per task sent to a worker: large enough to amortise messaging, small enough to balance load. */
const BATCH_SIZE = 2000;

/**
 * `keepFirst` (nightly runs, see nightly.ts): the first `keepFirst` articles of work/articles.jsonl are the
 * ones work/shingles.bin already describes, shingled with the same options; their features are taken from
 * there instead of shingled again. Features depend on the article alone, so the result is the same; the
 * weights are computed over the whole batch as always.
 * `fromRead` (readAndShingleStages): the records of work/articles.jsonl as the read stage writes them, and the
 * size of its inputs, instead of the finished file.
 */
export function shingleStage(
  out: string,
  options: Pick<PipelineOptions, 'shingles' | 'weighting' | 'workers' | 'strict'>,
  keepFirst = 0,
  population?: IdfPopulation,
  fromRead?: { records: AsyncIterable<StoredArticle[]>; bytes: number },
  /**
   * Given the features, weighed, in shared memory, once work/shingles.bin is committed: what the sign stage
   * would read back from it (runPipeline). Not called when they are not in shared memory.
   */
  handOff?: (features: FeatureSets) => void,
): Promise<StageStats> {
  return timed(out, 'shingle', { ...options.shingles, weighting: options.weighting }, async () => {
    // Progress in bytes of work/articles.jsonl: its size is known before its articles are counted. Taken
    // from the read stage, articles are counted instead, with no total.
    const size = fromRead ? undefined : await stat(workPath(out, 'articles.jsonl')).then((file) => file.size, () => undefined);
    // A feature per byte of input is about twice what the default shingles make; pages not written cost nothing.
    const builder = new FeatureSetsBuilder((fromRead?.bytes ?? size) ?? 0, true);
    const ids: string[] = [];
    const published: number[] = [];
    let withoutFeatures = 0;
    let noiseLinesDropped = 0;
    // Articles with nothing to compare (only stopwords, punctuation, one-letter words): kept alone, and listed.
    const unusable: Rejection[] = [];
    if (keepFirst > 0) {
      const kept = await loadShingles(out);
      invariant(kept.keys.ids.length === keepFirst && JSON.stringify(kept.options) === JSON.stringify(options.shingles), 'work/shingles.bin describes the articles kept');
      const { offsets, values } = kept.sets;
      for (let i = 0; i < keepFirst; i++) {
        if (offsets[i + 1] === offsets[i]) withoutFeatures++;
        builder.add(values.subarray(offsets[i], offsets[i + 1]));
        ids.push(kept.keys.ids[i]);
        published.push(kept.keys.publishedMs[i]);
      }
      unusable.push(...(await readWorkJson<Rejection[]>(out, 'unusable.json')));
      const keptStats = await readWorkJson<StageStats>(out, 'shingle.stats.json');
      noiseLinesDropped += Number(keptStats.noiseLinesDropped);
    }
    const shown = fromRead ? progress('shingle', 'articles') : progress('shingle', 'bytes', size);
    /** How far the input has been taken: bytes of articles.jsonl, or articles from the read stage. */
    const read = { bytes: 0 };
    let shownBytes = 0;
    /** `readTo`: the input taken when the batch was submitted, so the bar counts batches shingled, not read. */
    const collect = (result: ShingleResult, readTo: number) => {
      shown.advance(readTo - shownBytes);
      shownBytes = readTo;
      for (const { index, origin } of result.unusable) {
        const { file, line } = originOf(origin);
        const reason = 'no usable shingles: no word of two letters or more outside the stopword lists, no number';
        if (options.strict) throw new InputError(file, line, reason);
        unusable.push({ file, line, id: result.ids[index], action: 'kept alone', reason });
      }
      let at = 0;
      for (let i = 0; i < result.ids.length; i++) {
        const count = result.counts[i];
        if (count === 0) withoutFeatures++;
        const features = result.values.subarray(at, at + count);
        builder.add(features);
        at += count;
        ids.push(result.ids[i]);
        published.push(result.publishedMs[i]);
      }
      noiseLinesDropped += result.noiseLinesDropped;
    };
    const pool = new WorkerPool(options.workers);
    let sets: FeatureSets;
    /** IDF's N: the batch's articles, or its population's (weights.ts, idfArticles). */
    let idfN: number;
    let file: ArtifactWriter | undefined;
    try {
      // Batches are collected in submission order; at most two per worker are in flight, which bounds memory.
      const inFlight: { task: Promise<ShingleResult>; readTo: number }[] = [];
      let batch: ShingleTask['articles'] = [];
      const submit = async () => {
        const task = pool.run<ShingleResult>({ task: 'shingle', options: options.shingles, articles: batch });
        // A failure surfaces when its turn to be collected comes; until then it must not count as unhandled.
        task.catch(() => undefined);
        inFlight.push({ task, readTo: read.bytes });
        batch = [];
        if (inFlight.length > 2 * Math.max(1, options.workers)) {
          const next = inFlight.shift()!;
          collect(await next.task, next.readTo);
        }
      };
      if (fromRead) {
        invariant(keepFirst === 0, 'articles kept from shingles.bin are read back from articles.jsonl');
        // The read stage's records themselves: the workers need not parse the lines it wrote of them.
        for await (const chunk of fromRead.records) {
          for (const record of chunk) {
            batch.push(record);
            read.bytes++;
            if (batch.length === BATCH_SIZE) await submit();
          }
        }
      } else {
        let skip = keepFirst;
        for await (const chunk of readWorkLines(out, read)) {
          for (const line of chunk) {
            if (skip > 0) {
              skip--;
              continue;
            }
            batch.push(line);
            if (batch.length === BATCH_SIZE) await submit();
          }
        }
      }
      if (batch.length > 0) await submit();
      for (const next of inFlight) collect(await next.task, next.readTo);
      shown.done();
      // IDF needs the whole batch. The workers weigh it side by side, each counting the document frequencies
      // of its own part of the feature hash space (weights.ts, weighPart).
      const unweighted = builder.buildUnweighted();
      idfN = idfArticles(ids.length, population);
      const weightCodes = allocate(Uint8Array, unweighted.values.length, true);
      sets = { ...unweighted, weightCodes, weightOfCode: weightTable(options.weighting, idfN) };
      // work/shingles.bin takes the features, and sends them to disk, while the workers weigh them: its
      // commit then waits for the weights alone (a million articles' features are 3 GB).
      const meta: ShingleMeta = { options: options.shingles, weighting: options.weighting, ids, ...(population === undefined ? {} : { idfArticles: idfN }) };
      const shingleArrays = { ...sets, publishedMs: Float64Array.from(published) };
      file = await ArtifactWriter.create(workPath(out, 'shingles.bin'), 'shingles', meta, arraySpecs(shingleArrays));
      const features = file;
      const written = (async () => {
        for (const name of ['offsets', 'values', 'publishedMs'] as const) await features.write(name, shingleArrays[name]);
        await features.flush();
      })();
      // Its failure surfaces below, once the weights are in.
      written.catch(() => undefined);
      const parts = Math.max(1, options.workers);
      const weighed = await Promise.all(
        Array.from({ length: parts }, (_, part) => pool.run<WeighResult>({ task: 'weigh', sets: unweighted, weighting: options.weighting, codes: weightCodes, part, parts, population })),
      );
      await written;
      await file.write('weightCodes', weightCodes);
      await file.write('weightOfCode', sets.weightOfCode);
      if (population !== undefined && weighed.every((result) => result.counts !== undefined)) {
        const counts = joinParts(weighed.map((result) => result.counts!));
        const articles = idfN - population.background.articles;
        await writeArtifact(workPath(out, COUNTED_FILE), 'feature counts', { articles }, { features: counts.features, counts: counts.counts });
      }
      await writeFileAtomic(workPath(out, 'unusable.json'), JSON.stringify(unusable));
      await file.commit();
      if (handOff !== undefined && sets.values.buffer instanceof SharedArrayBuffer && weightCodes.buffer instanceof SharedArrayBuffer) {
        handOff({ ...sets, offsets: sharedCopy(sets.offsets) });
      }
    } catch (error) {
      await file?.abort();
      throw error;
    } finally {
      shown.done();
      await pool.close();
    }
    return {
      articles: ids.length,
      features: sets.values.length,
      meanFeaturesPerArticle: round(sets.values.length / Math.max(ids.length, 1), 1),
      articlesWithoutFeatures: withoutFeatures,
      noiseLinesDropped,
    };
  });
}

/**
 * work/counted-features.bin: in a nightly run, the document frequencies that the shingle stage counted over
 * tonight's new articles (weights.ts, IdfPopulation), which the index adds to its own.
 */
const COUNTED_FILE = 'counted-features.bin';

export async function loadCountedFeatures(out: string): Promise<{ articles: number; counts: FeatureCounts }> {
  const { meta, arrays } = await readArtifact<{ articles: number }>(workPath(out, COUNTED_FILE), 'feature counts', 'run --index');
  return { articles: meta.articles, counts: { features: arrays.features as Uint32Array, counts: arrays.counts as Uint32Array } };
}

/** The feature sets of work/shingles.bin without their weights: two thirds of the bytes. */
export async function loadFeatureValues(out: string): Promise<FeatureValues> {
  const { arrays } = await readArtifact<ShingleMeta>(workPath(out, 'shingles.bin'), 'shingles', 'shingle', false, ['offsets', 'values']);
  return { offsets: arrays.offsets as Float64Array, values: arrays.values as Uint32Array };
}

export async function loadShingles(
  out: string,
  shared = false,
): Promise<{ keys: ArticleKeys; sets: FeatureSets; options: ShingleOptions; weighting: Weighting; idfArticles: number }> {
  const { meta, arrays } = await readArtifact<ShingleMeta>(workPath(out, 'shingles.bin'), 'shingles', 'shingle', shared);
  return {
    keys: { ids: meta.ids, publishedMs: arrays.publishedMs as Float64Array },
    sets: {
      offsets: arrays.offsets as Float64Array,
      values: arrays.values as Uint32Array,
      weightCodes: arrays.weightCodes as WeightCodes,
      weightOfCode: arrays.weightOfCode as Float32Array,
    },
    options: meta.options,
    weighting: meta.weighting,
    idfArticles: meta.idfArticles ?? meta.ids.length,
  };
}

interface SignatureMeta {
  engine: EngineName;
  k: number;
  copyK: number;
  seed: number;
  articles: number;
}

/**
 * `keepFirst` (nightly runs, see nightly.ts): the first `keepFirst` articles are those work/signatures.bin
 * already holds, with the features and weights they had then; their signatures are kept, not computed again.
 * `inMemory`: the features of work/shingles.bin as the shingle stage of the same run handed them on, in
 * shared memory (runPipeline): signed from there instead of read back a batch at a time. The signatures are
 * the same.
 */
export function signatureStage(
  out: string,
  options: Pick<PipelineOptions, 'engine' | 'k' | 'seed' | 'workers' | 'signatureMaxDf'>,
  keepFirst = 0,
  inMemory?: FeatureSets,
): Promise<StageStats> {
  return timed(out, 'sign', { engine: options.engine, k: options.k, seed: options.seed, signatureMaxDf: options.signatureMaxDf }, async () => {
    // What the stage before let go in the same run (the shingle stage's features, 3 GB at a million articles,
    // when not handed on) goes first: left to the collector's own schedule, it stayed while this stage's
    // batches piled on top.
    await collectGarbage();
    const file = await openArtifact<ShingleMeta>(workPath(out, 'shingles.bin'), 'shingles', 'shingle');
    const pool = new WorkerPool(options.workers);
    let signatureFile: ArtifactWriter | undefined;
    try {
      const offsets = (await file.read('offsets')) as Float64Array;
      const weightOfCode = (await file.read('weightOfCode', true)) as Float32Array;
      const n = offsets.length - 1;
      const idfN = file.meta.idfArticles ?? n;
      const weightFloor = signatureWeightFloor(options.signatureMaxDf, file.meta.weighting, idfN);
      // Without a floor (no IDF to read frequencies off) the capped weights are computed here, once, over
      // the whole batch; with one, each batch's features are read as it is signed, so that the stage holds a
      // few batches' features at a time, not gigabytes.
      let whole: FeatureSets | undefined;
      if (inMemory !== undefined) {
        invariant(keepFirst === 0 && inMemory.offsets.length === n + 1 && inMemory.offsets[n] === offsets[n], 'the features handed on are those of work/shingles.bin');
        whole = inMemory;
      }
      let cappedWeights: Float32Array | undefined;
      if (weightFloor === undefined) {
        // Shared, as the tasks are given them: the offsets too, which would otherwise be copied into every task.
        whole ??= {
          offsets: sharedCopy(offsets),
          values: (await file.read('values', true)) as Uint32Array,
          weightCodes: (await file.read('weightCodes', true)) as WeightCodes,
          weightOfCode,
        };
        cappedWeights = sharedCopy(signatureWeights(whole, options.signatureMaxDf, file.meta.weighting, idfN));
      }
      const { k } = createEngine(options.engine, options.k, options.seed);
      const kept = keepFirst > 0 ? await loadSignatures(out) : undefined;
      if (kept !== undefined) {
        invariant(kept.meta.articles === keepFirst && kept.meta.engine === options.engine && kept.meta.k === k && kept.meta.seed === options.seed, 'work/signatures.bin holds the articles kept');
      }
      // Each batch's signatures go into the file as they come, and to disk a few hundred megabytes at a
      // time: the stage holds no array of them all, and its end waits for the last ones alone.
      const meta: SignatureMeta = { engine: options.engine, k, copyK: COPY_K, seed: options.seed, articles: n };
      signatureFile = await ArtifactWriter.create(workPath(out, 'signatures.bin'), 'signatures', meta, [
        { name: 'signatures', type: 'Uint32Array', length: n * k },
        { name: 'copySignatures', type: 'Uint32Array', length: n * COPY_K },
      ]);
      const written = signatureFile;
      if (kept !== undefined) {
        await written.writeRange('signatures', 0, kept.signatures);
        await written.writeRange('copySignatures', 0, kept.copySignatures);
      }
      const shown = progress('sign', 'articles', n - keepFirst);
      try {
        // Each batch is a contiguous range of articles whose signatures land in their own slot: the result
        // does not depend on which worker signed what. At most two per worker are in flight.
        const inFlight = new InFlight(2 * Math.max(1, options.workers));
        for (let from = keepFirst; from < n; from += BATCH_SIZE) {
          const to = Math.min(n, from + BATCH_SIZE);
          let task: SignTask;
          if (whole !== undefined) {
            task = { task: 'sign', engine: options.engine, k, seed: options.seed, features: whole, from, to, weightFloor, cappedWeights, copyK: COPY_K };
          } else {
            // In shared memory, so that the worker reads them without a copy.
            const features = await readArticleRange(file, offsets, weightOfCode, from, to);
            task = { task: 'sign', engine: options.engine, k, seed: options.seed, features, from: 0, to: to - from, weightFloor, copyK: COPY_K };
          }
          await inFlight.add(
            pool.run<SignResult>(task).then(async (result) => {
              await written.writeRange('signatures', from * k, result.signatures);
              await written.writeRange('copySignatures', from * COPY_K, result.copySignatures);
              shown.advance(to - from);
            }),
          );
        }
        await inFlight.drain();
      } finally {
        shown.done();
      }
      await written.commit();
      return { articles: n, engine: options.engine, k };
    } catch (error) {
      await signatureFile?.abort();
      throw error;
    } finally {
      await pool.close();
      await file.close();
    }
  });
}

/**
 * Values per copy signature. The main signatures leave out grams found in more than signatureMaxDf articles,
 * so a story printed word for word by more outlets than that has nothing left to match on: every one of its
 * grams is capped out. Copy signatures keep every wording gram and are banded for high similarity only
 * (copyThreshold), where only near copies collide, so they find those pairs at little cost.
 */
export const COPY_K = 32;

export async function loadSignatures(out: string, shared = false): Promise<{ signatures: Uint32Array; copySignatures: Uint32Array; meta: SignatureMeta }> {
  const { meta, arrays } = await readArtifact<SignatureMeta>(workPath(out, 'signatures.bin'), 'signatures', 'sign', shared);
  return { signatures: arrays.signatures as Uint32Array, copySignatures: arrays.copySignatures as Uint32Array, meta };
}

interface CandidateMeta {
  lshThreshold: number;
  bands: number;
  rows: number;
  copyThreshold: number;
}

/** The banded signature sets of a run: the main signatures, and the copy signatures when copyThreshold > 0. */
export function bandedSources(
  signatures: Uint32Array,
  copySignatures: Uint32Array,
  k: number,
  copyK: number,
  options: Pick<PipelineOptions, 'lshThreshold' | 'copyThreshold'>,
): BandedSignatures[] {
  const sources: BandedSignatures[] = [{ signatures, k, ...optimalBanding(options.lshThreshold, k) }];
  if (options.copyThreshold > 0) sources.push({ signatures: copySignatures, k: copyK, ...optimalBanding(options.copyThreshold, copyK) });
  return sources;
}

/**
 * `pinned` (nightly runs, see nightly.ts) marks articles already in the index: a pair of two of them is never
 * a candidate, since they were compared when the later of them was new.
 */
export function candidatesStage(
  out: string,
  options: Pick<PipelineOptions, 'lshThreshold' | 'copyThreshold' | 'maxBucketSize' | 'workers'>,
  pinned?: Uint8Array,
): Promise<StageStats> {
  const { lshThreshold, copyThreshold, maxBucketSize } = options;
  return timed(out, 'candidates', { lshThreshold, copyThreshold, maxBucketSize }, async () => {
    // Shared: the workers band the same signatures.
    const { signatures, copySignatures, meta: signatureMeta } = await loadSignatures(out, true);
    const sources = bandedSources(signatures, copySignatures, signatureMeta.k, signatureMeta.copyK, options);
    const [banding, copyBanding] = sources;
    const bands = sources.reduce((sum, source) => sum + source.bands, 0);
    // Each worker takes an even share of the bands (candidates.ts, BandShare) and returns its pairs sorted and
    // distinct; merged, they are the pairs of one pass over all the bands, whatever the number of workers.
    const parts = Math.max(1, Math.min(options.workers, bands));
    const sharedPinned = pinned && sharedCopy(pinned);
    const pool = new WorkerPool(options.workers);
    const shown = progress('candidates', 'bands', bands);
    let found: Uint32Array[];
    try {
      found = await Promise.all(
        Array.from({ length: parts }, (_, part) => {
          const task = pool.run<BandsResult>({ task: 'bands', sources, maxBucketSize, pinned: sharedPinned, share: { part, parts } });
          return task.then((result) => (shown.advance(bandsInShare(bands, { part, parts })), result.pairs));
        }),
      );
    } finally {
      shown.done();
      // The workers go before the merge: what they leave (a gigabyte at a million articles) is let go with them.
      await pool.close();
    }
    const merged = await mergeFound(found, options.workers);
    const pairCount = merged.reduce((sum, part) => sum + part.length / 2, 0);
    const meta: CandidateMeta = { lshThreshold, bands: banding.bands, rows: banding.rows, copyThreshold };
    // The parts go into the file one after the other, where they belong: never concatenated in memory.
    await writeArtifact(workPath(out, 'candidates.bin'), 'candidates', meta, { pairs: merged });
    const articles = signatureMeta.articles;
    return {
      articles,
      bands: banding.bands,
      rows: banding.rows,
      ...(copyBanding ? { copyBands: copyBanding.bands, copyRows: copyBanding.rows } : {}),
      candidatePairs: pairCount,
      candidatesPerArticle: round(pairCount / Math.max(articles, 1), 3),
    };
  });
}

/**
 * The bands tasks' pair lists merged into one sorted, distinct list, as consecutive parts (by first article)
 * to be written one after the other: each of `workers` workers merges a part from every list, which the
 * lists, in shared memory, give them without a copy. One list is the merge already.
 */
async function mergeFound(found: Uint32Array[], workers: number): Promise<Uint32Array[]> {
  if (found.length === 1) return found;
  const parts = Math.max(1, workers);
  const bounds = mergeBounds(found, parts);
  // A pool of its own: the band workers, and the garbage they held, are gone.
  const pool = new WorkerPool(workers);
  try {
    return await Promise.all(
      Array.from({ length: parts }, (_, part) => pool.run<MergeResult>({ task: 'merge', lists: found, from: bounds[part], to: bounds[part + 1] }).then((result) => result.pairs)),
    );
  } finally {
    await pool.close();
  }
}

interface ClusterMeta {
  options: ClusterOptions;
  clusterIds: string[];
}

/** [0, total) cut into `parts` consecutive ranges as even as whole numbers allow, one per worker. */
function evenRanges(total: number, parts: number): { from: number; to: number }[] {
  return Array.from({ length: parts }, (_, part) => ({ from: Math.floor((part * total) / parts), to: Math.floor(((part + 1) * total) / parts) }));
}

/** Candidate pairs per verification task. */
const VERIFY_CHUNK = 100_000;

export function clusterStage(
  out: string,
  options: Pick<PipelineOptions, 'threshold' | 'measure' | 'factAgreement' | 'linkage' | 'groupSimilarity' | 'workers'>,
): Promise<StageStats> {
  const { threshold, measure, factAgreement, linkage, groupSimilarity } = options;
  return timed(out, 'cluster', { threshold, measure, factAgreement, linkage, ...(linkage === 'average' ? { groupSimilarity } : {}) }, async () => {
    const clusterOptions: ClusterOptions = { threshold, measure, factAgreement, linkage, groupSimilarity };
    // What the candidate stage let go in the same run (its workers' pair lists, a gigabyte at a million
    // articles) goes before the features (3 GB) are read, as in the sign stage.
    await collectGarbage();
    // When inputs are missing, the message names the earliest stage to run: the shingle stage's.
    await requireArtifact(workPath(out, 'shingles.bin'), 'shingle');
    const signatureFile = await openArtifact<SignatureMeta>(workPath(out, 'signatures.bin'), 'signatures', 'sign');
    let clustering: Clustering;
    let histogram: Uint32Array;
    let candidatePairs: number;
    try {
      const { k } = signatureFile.meta;
      // The estimate serves the pairs' report and, at high thresholds, the screen before the exact check.
      // Without the screen the signatures (half a gigabyte at a million articles) are read only once the
      // features are let go, so that the two are never held at once.
      const screening = estimateScreen(clusterOptions, k) > 0;
      const signatures = screening ? ((await signatureFile.read('signatures', true)) as Uint32Array) : undefined;
      const verified = await verifyCandidates(out, clusterOptions, options.workers, signatureFile.meta, signatures);
      ({ histogram, candidatePairs } = verified);
      // The linkage's own arrays (about 300 MB at a million articles) would otherwise pile onto the features
      // (3 GB), let go but not yet collected, and make the stage's peak.
      if (verified.scoring === undefined) await collectGarbage();
      clustering = clusterVerified(verified.keys, verified.pairs, clusterOptions, verified.scoring);
      if (!screening) await estimateFromFile(clustering.pairs, signatureFile, k);
    } finally {
      await signatureFile.close();
    }
    await writeClustering(out, clustering, clusterOptions);
    await writeFileAtomic(workPath(out, SIMILARITIES_FILE), JSON.stringify(similarityHistogramOf(histogram, clusterOptions)) + '\n');
    const multi = clustering.clusters.filter((c) => c.members.length > 1);
    return {
      articles: clustering.clusterOf.length,
      candidatePairs,
      verifiedPairs: clustering.pairs.a.length,
      clusteredPairs: clustering.pairs.clustered.reduce((s: number, x: number) => s + x, 0),
      clusters: multi.length,
      largestCluster: clustering.clusters.length > 0 ? clustering.clusters[0].members.length : 0,
      duplicatesRemoved: multi.reduce((s, c) => s + c.members.length - 1, 0),
    };
  });
}

/** Articles whose signatures estimateFromFile reads at a time. */
const ESTIMATE_WINDOW = 8192;

/**
 * The pairs' estimated similarity (estimatePairs) from the signatures of their own articles only, read a window
 * of articles at a time into one table. Read whole, the file (half a gigabyte at a million articles) came on
 * top of the features, let go but not yet collected, and made the stage's peak.
 */
export async function estimateFromFile(pairs: VerifiedPairs, file: OpenArtifact<SignatureMeta>, k: number, windowArticles = ESTIMATE_WINDOW): Promise<void> {
  const n = file.meta.articles;
  // Each needed article's place in the table, in article order; -1 for the others.
  const slot = new Int32Array(n).fill(-1);
  for (let p = 0; p < pairs.a.length; p++) slot[pairs.a[p]] = slot[pairs.b[p]] = 0;
  let used = 0;
  for (let i = 0; i < n; i++) if (slot[i] === 0) slot[i] = used++;
  const table = new Uint32Array(used * k);
  const window = new Uint32Array(windowArticles * k);
  for (let from = 0; from < n; from += windowArticles) {
    const to = Math.min(n, from + windowArticles);
    let needed = false;
    for (let i = from; i < to && !needed; i++) needed = slot[i] >= 0;
    if (!needed) continue;
    const read = window.subarray(0, (to - from) * k);
    await file.readRangeInto('signatures', from * k, read);
    for (let i = from; i < to; i++) if (slot[i] >= 0) table.set(read.subarray((i - from) * k, (i - from + 1) * k), slot[i] * k);
  }
  const local = { ...pairs, a: Uint32Array.from(pairs.a, (i) => slot[i]), b: Uint32Array.from(pairs.b, (i) => slot[i]) };
  estimatePairs(local, table, k);
}

/**
 * The cluster stage's verification: the only part that holds the batch's features, so that they can be let
 * go before the linkage and the signatures' reading (see clusterStage). Returns them, as `scoring`, only to
 * average linkage, which scores pairs between groups.
 */
async function verifyCandidates(
  out: string,
  clusterOptions: ClusterOptions,
  workers: number,
  signatureMeta: SignatureMeta,
  signatures: Uint32Array | undefined,
): Promise<{ keys: ArticleKeys; pairs: VerifiedPairs; scoring: PairScoring | undefined; histogram: Uint32Array; candidatePairs: number }> {
  const [{ keys, sets }, candidates] = await allInOrder([
    loadShingles(out, true),
    openArtifact<CandidateMeta>(workPath(out, 'candidates.bin'), 'candidates', 'candidates'),
  ]);
  invariant(keys.ids.length === signatureMeta.articles, 'signatures and shingles describe the same articles');
  // Verification is the costly part: chunks of candidates go to the workers; chunk order keeps the result
  // independent of the number of workers.
  const candidateValues = candidates.length('pairs');
  const pool = new WorkerPool(workers);
  // Each article's totals, then its facts (sized by the totals' fact counts), by the workers side by side.
  const n = keys.ids.length;
  const ranges = evenRanges(n, Math.max(1, workers));
  const totals = allocate(Float64Array, TOTAL_SLOTS * n, true);
  let facts!: FeatureSets;
  const shown = progress('cluster', 'candidate pairs verified', candidateValues / 2);
  const verified: VerifiedPairs[] = [];
  const histogram = new Uint32Array(HISTOGRAM_SLOTS);
  try {
    await Promise.all(ranges.map((range) => pool.run({ task: 'prepare', features: sets, totals, ...range })));
    facts = allocateSubset(sets, (i) => totals[TOTAL_SLOTS * i + FACT_COUNT], true);
    const prints = allocateFactFingerprints(n, true);
    await Promise.all(ranges.map((range) => pool.run({ task: 'prepare', features: sets, totals, facts: { sets: facts, prints }, ...range })));
    // Each chunk of candidates is read as it is sent (in shared memory: the worker gets it without a copy),
    // at most two per worker ahead: the stage never holds all candidates, hundreds of megabytes at a million.
    // A chunk's buffer is read into again once its chunk is verified: buffers let go instead were freed only
    // when the collector came to them, and at a million articles 400 MB of them piled up on the features.
    const inFlight = new InFlight(2 * Math.max(1, workers));
    const freeBuffers: Uint32Array[] = [];
    for (let from = 0, chunk = 0; from < candidateValues; from += 2 * VERIFY_CHUNK, chunk++) {
      const buffer = freeBuffers.pop() ?? allocate(Uint32Array, 2 * VERIFY_CHUNK, true);
      const pairs = buffer.subarray(0, Math.min(candidateValues, from + 2 * VERIFY_CHUNK) - from);
      await candidates.readRangeInto('pairs', from, pairs);
      const task = pool.run<VerifyResult>({ task: 'verify', features: sets, signatures, k: signatureMeta.k, candidates: pairs, totals, facts, prints, options: clusterOptions });
      await inFlight.add(
        task.then((result) => {
          freeBuffers.push(buffer);
          // In chunk order, whichever worker finishes first: the result does not depend on the workers.
          verified[chunk] = result.pairs;
          // Counts add up in any order: the histogram does not depend on the workers either.
          for (let slot = 0; slot < HISTOGRAM_SLOTS; slot++) histogram[slot] += result.histogram[slot];
          shown.advance(pairs.length / 2);
        }),
      );
    }
    await inFlight.drain();
  } finally {
    shown.done();
    await pool.close();
    await candidates.close();
  }
  return {
    keys,
    pairs: concatPairs(verified),
    scoring: clusterOptions.linkage === 'average' ? { features: sets, facts } : undefined,
    histogram,
    candidatePairs: candidateValues / 2,
  };
}

/** work/similarities.json: how the candidate pairs scored, for the report's histogram. */
export const SIMILARITIES_FILE = 'similarities.json';

export interface SimilarityHistogram {
  threshold: number;
  measure: string;
  /** Scored candidate pairs per bin of this width, from 0 up (the last bin holds 1.0 too). */
  binWidth: number;
  bins: number[];
  /** Candidates rejected before scoring: their facts disagree, or the size or estimate screens. */
  rejectedByFacts: number;
  rejectedByScreens: number;
}

function similarityHistogramOf(histogram: Uint32Array, options: ClusterOptions): SimilarityHistogram {
  return {
    threshold: options.threshold,
    measure: options.measure,
    binWidth: 1 / HISTOGRAM_BINS,
    bins: Array.from(histogram.subarray(0, HISTOGRAM_BINS)),
    rejectedByFacts: histogram[REJECTED_BY_FACTS],
    rejectedByScreens: histogram[REJECTED_BY_SCREENS],
  };
}

/** Writes work/clusters.bin (the cluster stage's output; nightly runs rewrite it with the index's ids). */
export async function writeClustering(out: string, clustering: Clustering, options: ClusterOptions): Promise<void> {
  const founders = Uint32Array.from(clustering.clusters, (c) => c.founder);
  const meta: ClusterMeta = { options, clusterIds: clustering.clusters.map((c) => c.id) };
  const { pairs } = clustering;
  await writeArtifact(workPath(out, 'clusters.bin'), 'clusters', meta, {
    clusterOf: clustering.clusterOf,
    founders,
    nearest: clustering.nearest,
    nearestSimilarity: clustering.nearestSimilarity,
    pairA: pairs.a,
    pairB: pairs.b,
    pairEstimated: pairs.estimated,
    pairJaccard: pairs.jaccard,
    pairContainment: pairs.containment,
    pairFactJaccard: pairs.factJaccard,
    pairSimilarity: pairs.similarity,
    pairClustered: pairs.clustered,
  });
}

/**
 * What a nightly run (nightly.ts) adds to the reports, in work/nightly.json: the articles after the first
 * `reported` ones came from the index and are not reported.
 */
export interface NightlyReport {
  runId: string;
  reported: number;
  firstSeenRun: string[];
  merges: { oldClusterId: string; newClusterId: string }[];
  /** Articles whose cluster id search must learn: tonight's new ones, and the members of merged clusters. */
  searchUpdates: { id: string; clusterId: string }[];
  /** Tonight's articles the index already had with another text, kept as indexed (without --update). */
  conflicts: Rejection[];
}

export const NIGHTLY_FILE = 'nightly.json';

/** Everything the report stage needs about the clustering, as loaded from work/clusters.bin. */
export interface LoadedClustering {
  ids: string[];
  /** Publication times (ms, NaN when unknown), as the founders were chosen by. */
  publishedMs: Float64Array;
  /** The options the cluster stage ran with. */
  options: ClusterOptions;
  clusterIds: string[];
  clusterOf: Uint32Array;
  founders: Uint32Array;
  nearest: Int32Array;
  nearestSimilarity: Float32Array;
  pairs: VerifiedPairs;
  /** Present after a nightly run. */
  nightly?: NightlyReport;
  /** The options the articles were shingled with (the HTML report marks the words two articles share). */
  shingleOptions: ShingleOptions;
}

/**
 * The clustering of work/clusters.bin, with the articles' ids and times (not their features: see
 * loadFeaturesOf); with `shared`, its arrays in shared memory, for a worker thread to read without a copy.
 */
export async function loadClustering(out: string, shared = false): Promise<LoadedClustering> {
  const [shingles, { meta, arrays }, nightly] = await allInOrder([
    readArtifact<ShingleMeta>(workPath(out, 'shingles.bin'), 'shingles', 'shingle', false, ['publishedMs']),
    readArtifact<ClusterMeta>(workPath(out, 'clusters.bin'), 'clusters', 'cluster', shared),
    readWorkJsonIfPresent<NightlyReport>(out, NIGHTLY_FILE),
  ]);
  return {
    ...(nightly === undefined ? {} : { nightly }),
    ids: shingles.meta.ids,
    publishedMs: shingles.arrays.publishedMs as Float64Array,
    shingleOptions: shingles.meta.options,
    options: meta.options,
    clusterIds: meta.clusterIds,
    clusterOf: arrays.clusterOf as Uint32Array,
    founders: arrays.founders as Uint32Array,
    nearest: arrays.nearest as Int32Array,
    nearestSimilarity: arrays.nearestSimilarity as Float32Array,
    pairs: {
      a: arrays.pairA as Uint32Array,
      b: arrays.pairB as Uint32Array,
      estimated: arrays.pairEstimated as Float32Array,
      jaccard: arrays.pairJaccard as Float32Array,
      containment: arrays.pairContainment as Float32Array,
      factJaccard: arrays.pairFactJaccard as Float32Array,
      similarity: arrays.pairSimilarity as Float32Array,
      clustered: arrays.pairClustered as Uint8Array,
    },
  };
}

/** Runs of articles loadFeaturesOf reads at once. */
const RUN_READS_IN_FLIGHT = 16;

/**
 * The features of the articles `wanted` marks (non-zero), read from work/shingles.bin without the others':
 * feature sets over those articles alone, article i at `at[i]` (-1 when not read).
 */
export async function loadFeaturesOf(out: string, wanted: ArrayLike<number>): Promise<{ sets: FeatureSets; at: Int32Array }> {
  const file = await openArtifact<ShingleMeta>(workPath(out, 'shingles.bin'), 'shingles', 'shingle');
  try {
    const offsets = (await file.read('offsets')) as Float64Array;
    invariant(offsets.length === wanted.length + 1, 'work/shingles.bin describes the clustered articles');
    const at = new Int32Array(wanted.length).fill(-1);
    // Runs of consecutive wanted articles, one read each.
    const runs: number[] = [];
    let count = 0;
    for (let i = 0; i < wanted.length; i++) {
      if (!wanted[i]) continue;
      at[i] = count++;
      if (runs.length > 0 && runs[runs.length - 1] === i) runs[runs.length - 1] = i + 1;
      else runs.push(i, i + 1);
    }
    const subsetOffsets = new Float64Array(count + 1);
    for (let i = 0; i < wanted.length; i++) if (at[i] >= 0) subsetOffsets[at[i] + 1] = subsetOffsets[at[i]] + offsets[i + 1] - offsets[i];
    const values = new Uint32Array(subsetOffsets[count]);
    const weightOfCode = (await file.read('weightOfCode')) as Float32Array;
    // A file from before codes took one byte has two-byte codes and a table of 65,536 weights.
    const weightCodes: WeightCodes = weightOfCode.length > WEIGHT_CODES ? new Uint16Array(subsetOffsets[count]) : new Uint8Array(subsetOffsets[count]);
    // Each run straight into its place, several at once: the report's 12,000 articles of a million are
    // 11,845 runs, and two reads of each one after the other took a second (`readRangeInto` waits on a read
    // call of its own; a few in flight keep the file system's threads busy).
    const limit = pLimit(RUN_READS_IN_FLIGHT);
    const reads: Promise<void>[] = [];
    for (let r = 0; r < runs.length; r += 2) {
      const [from, to] = [offsets[runs[r]], offsets[runs[r + 1]]];
      const into = subsetOffsets[at[runs[r]]];
      reads.push(
        limit(async () => {
          await file.readRangeInto('values', from, values.subarray(into, into + to - from));
          await file.readRangeInto('weightCodes', from, weightCodes.subarray(into, into + to - from));
        }),
      );
    }
    // Every read settled before the file is closed, even when one fails.
    for (const read of await Promise.allSettled(reads)) if (read.status === 'rejected') throw read.reason;
    return { sets: { offsets: subsetOffsets, values, weightCodes, weightOfCode }, at };
  } finally {
    await file.close();
  }
}

/**
 * Articles from .. to - 1 of work/shingles.bin (`offsets` and `weightOfCode`: the file's), read by range as
 * feature sets of their own, offsets from 0, in shared memory, for a worker to read without a copy.
 */
async function readArticleRange(file: OpenArtifact<ShingleMeta>, offsets: Float64Array, weightOfCode: Float32Array, from: number, to: number): Promise<FeatureSets> {
  const [start, end] = [offsets[from], offsets[to]];
  return {
    offsets: sharedCopy(offsets.subarray(from, to + 1).map((offset) => offset - start)),
    values: (await file.readRange('values', start, end, true)) as Uint32Array,
    weightCodes: (await file.readRange('weightCodes', start, end, true)) as WeightCodes,
    weightOfCode,
  };
}

/**
 * Worker tasks in flight, at most `limit`: `add` waits for one to finish past that, so that a stage reading
 * its input as it goes holds a few tasks' data at a time. A failure surfaces from `add` or `drain`; until
 * then it does not count as unhandled.
 */
class InFlight {
  private readonly running = new Set<Promise<void>>();
  constructor(private readonly limit: number) {}

  async add(task: Promise<void>): Promise<void> {
    const tracked: Promise<void> = task.then(() => void this.running.delete(tracked));
    tracked.catch(() => undefined);
    this.running.add(tracked);
    if (this.running.size > this.limit) await Promise.race(this.running);
  }

  async drain(): Promise<void> {
    await Promise.all(this.running);
  }
}

/** `chunks` of lines, advancing `shown` by one for each line. */
async function* counted(chunks: AsyncIterable<ByteLines>, shown: Progress): AsyncGenerator<ByteLines> {
  for await (const chunk of chunks) {
    shown.advance(chunk.count);
    yield chunk;
  }
}

export function reportStage(out: string, options: Pick<PipelineOptions, 'workers'>): Promise<StageStats> {
  return timed(out, 'report', {}, async () => {
    const start = performance.now();
    // Shared: the worker making documents.csv and pairs.csv reads the clustering's arrays without a copy.
    const clustering = await loadClustering(out, true);
    const figures = clusterFigures(clustering);
    const source: ReportSource = {
      ...clustering,
      ...figures,
      reported: clustering.nightly?.reported ?? clustering.ids.length,
      stopwords: clustering.shingleOptions.stopwords,
      minWordLength: clustering.shingleOptions.minWordLength,
    };
    // Similarities for the page from the features of the articles it shows alone, dropped before the pass
    // over the articles.
    let selection = selectForReport(source);
    {
      const { sets, at } = await loadFeaturesOf(out, selection.wanted.map((w) => (w === 2 ? 1 : 0)));
      const score = pairScorer(sets, clustering.options);
      selection = withSimilarities(selection, clustering.founders, (i, j) => score(at[i], at[j]));
    }
    const shown = new Map<number, ShownArticle>();
    // All reports go into one new folder, made OUT's reports in one step (publish.ts).
    return publishReports(out, REPORT_FILES, async (folder) => {
      const collect = { wanted: selection.wanted, maxText: REPORT_CAPS.textPerArticle, into: shown };
      const shownProgress = progress('report', 'articles', clustering.ids.length);
      // Workers make documents.csv and pairs.csv, one each, while this thread goes over the articles
      // (writeReports); none with --workers 0. They go when the tables are written, before the page is built.
      // Their rows are short-lived objects by the million: a large young generation suits them.
      const pool = new WorkerPool(Math.min(2, options.workers), { youngGenerationMb: 192 });
      let written: Awaited<ReturnType<typeof writeReports>>;
      try {
        written = await writeReports(folder, clustering, counted(readWorkLineBytes(out), shownProgress), pool, figures, collect);
      } finally {
        shownProgress.done();
        await pool.close();
      }
      // The read stage's rejections in input order, then the articles the shingle stage found nothing in.
      const rejected = (file: string) => readWorkJson<Rejection[]>(out, file);
      const conflicts = clustering.nightly?.conflicts ?? [];
      await writeRejected(join(folder, 'rejected.csv'), [...(await rejected('rejected.json')), ...conflicts, ...(await rejected('unusable.json'))]);
      await writeNightlyReports(folder, clustering.nightly);
      const stages: Record<string, StageStats> = {};
      for (const file of (await readdir(join(out, 'work'))).sort()) {
        if (file.endsWith('.stats.json') && file !== 'report.stats.json') {
          const stats = await readWorkJson<StageStats>(out, file);
          stages[stats.stage] = stats;
        }
      }
      // Absent when the cluster stage ran with a build from before the histogram.
      const histogram = await readWorkJsonIfPresent<SimilarityHistogram>(out, SIMILARITIES_FILE);
      const summary: ReportSummary = {
        articles: written.documents,
        rejected: Number(stages.read?.rejected ?? 0),
        stories: selection.stories,
        clusters: written.clusters,
        clusteredArticles: written.clusteredArticles,
        duplicatesRemoved: written.duplicatesRemoved,
        verifiedPairs: written.verifiedPairs,
        threshold: clustering.options.threshold,
        measure: clustering.options.measure,
        seconds: stagesSeconds(Object.values(stages)) + (performance.now() - start) / 1000,
      };
      const page = buildReportPage(source, selection, shown);
      shown.clear();
      const capped = capNotes(selection, page);
      await writeFileAtomic(join(folder, 'report.html'), renderReportHtml(page, summary, histogram, capped));
      const version = (JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
      // The report stage's own time so far (run.json is its last output); each stage lists the options it ran with.
      const run = { neardup: version, stages: { ...stages, report: { stage: 'report', seconds: round((performance.now() - start) / 1000, 3) } }, outputs: written };
      await writeFileAtomic(join(folder, 'run.json'), JSON.stringify(run, null, 2) + '\n');
      return { articles: clustering.ids.length, ...written };
    });
  });
}

/** What the report stage writes into OUT (as links into OUT/current, see publish.ts). */
export const REPORT_FILES = ['report.html', 'documents.csv', 'clusters.csv', 'pairs.csv', 'deduplicated.jsonl', 'rejected.csv', 'merges.csv', 'search-updates.ndjson', 'run.json'];

/** How long stages took together: a stage that ran alongside another (`alongside`) is within that one's time. */
export function stagesSeconds(stages: StageStats[]): number {
  return stages.reduce((sum, s) => sum + (s.alongside === undefined ? s.seconds : 0), 0);
}

/** All stages in order; returns their statistics. */
export async function runPipeline(inputs: string[], out: string, options: PipelineOptions): Promise<StageStats[]> {
  const stats: StageStats[] = [];
  // The shingle stage's features (3 GB at a million articles) go on to the sign stage in memory instead of
  // being read back from work/shingles.bin, which it has just written, and are let go after it: the candidate
  // stage, which does not need them, holds gigabytes of its own.
  let features: FeatureSets | undefined;
  stats.push(...(await readAndShingleStages(inputs, out, options, (handed) => (features = handed))));
  stats.push(await signatureStage(out, options, 0, features));
  features = undefined;
  await collectGarbage();
  stats.push(await candidatesStage(out, options));
  stats.push(await clusterStage(out, options));
  stats.push(await reportStage(out, options));
  return stats;
}
