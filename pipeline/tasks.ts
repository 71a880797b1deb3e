/**
 * The CPU-heavy work of the stages (shingling, weighing, signing, banding, verifying, the report's big
 * tables), as pure functions over one batch or share of the work, so they run the same in a worker thread or
 * inline.
 */
import { type BandShare, type BandedSignatures, type IndexMatches, TonightBuckets, findCandidatesIn, matchIndexedRange, mergeCandidateRange } from './candidates.js';
import { type ClusterOptions, HISTOGRAM_SLOTS, type VerifiedPairs, verifyPairs } from './cluster.js';
import { type FeatureSets, type FeatureValues, selectRange } from './feature-sets.js';
import { isFact } from './facts.js';
import { cleanArticle } from './normalize.js';
import { type CsvTableRequest, csvTable } from './report.js';
import { articleTotals } from './similarity.js';
import { type ShingleOptions, Shingler } from './shingle.js';
import { type FactFingerprints, writeFactFingerprints } from './fact-fingerprints.js';
import { type EngineName, type SignatureEngine, createEngine } from './signature.js';
import { type FeatureCounts, type IdfPopulation, WeightedReplicator, type Weighting, weighPart } from './weights.js';
import { doubled } from './typed-arrays.js';

export interface ShingleTask {
  task: 'shingle';
  options: ShingleOptions;
  /** Lines of work/articles.jsonl, or the records they hold (the read stage's own, in a run of every stage). */
  articles: Array<string | StoredLine>;
}

export interface ShingleResult {
  task: 'shingle';
  ids: string[];
  publishedMs: Float64Array;
  /** Feature count of each article; their features follow one another in `values`. */
  counts: Uint32Array;
  values: Uint32Array;
  noiseLinesDropped: number;
  /** Where each article without wording features came from (`origin` of work/articles.jsonl), by batch index. */
  unusable: Array<{ index: number; origin: string }>;
}

export interface SignTask {
  task: 'sign';
  engine: EngineName;
  k: number;
  seed: number;
  /** All articles' feature sets, in shared memory: the task signs articles from .. to - 1. */
  features: FeatureSets;
  from: number;
  to: number;
  /**
   * Signatures leave out facts and features weighing less than this (see signatureWeightFloor); undefined
   * when `cappedWeights` holds the signature weights instead.
   */
  weightFloor?: number;
  cappedWeights?: Float32Array;
  /** Values per copy signature: over every wording feature, no df cap (see stages.ts, signatureStage). */
  copyK: number;
}

export interface SignResult {
  task: 'sign';
  signatures: Uint32Array;
  copySignatures: Uint32Array;
}

export interface VerifyTask {
  task: 'verify';
  /** Shared memory (SharedArrayBuffer): passed to workers without copying. */
  features: FeatureSets;
  /** Only when the estimate screens candidates (cluster.ts, estimateScreen). */
  signatures?: Uint32Array;
  k: number;
  /** A chunk of the candidate pairs. */
  candidates: Uint32Array;
  /** Each article's `articleTotals`, in shared memory too. */
  totals: Float64Array<ArrayBufferLike>;
  /** The facts of `features` alone, in shared memory too. */
  facts: FeatureSets;
  /** Their fingerprints, in shared memory too. */
  prints: FactFingerprints;
  options: Pick<ClusterOptions, 'threshold' | 'measure' | 'factAgreement'>;
}

export interface VerifyResult {
  task: 'verify';
  pairs: VerifiedPairs;
  /** The chunk's candidates by similarity (cluster.ts, HISTOGRAM_SLOTS). */
  histogram: Uint32Array;
}

/**
 * The cluster stage's preparation of articles from .. to - 1, in shared memory: their totals (similarity.ts,
 * articleTotals), or, once all totals are in, their facts (`facts`, made by allocateSubset from the totals'
 * fact counts).
 */
export interface PrepareTask {
  task: 'prepare';
  features: FeatureSets;
  totals: Float64Array<ArrayBufferLike>;
  /** Given, the task fills them (and their fingerprints) instead of the totals. */
  facts?: { sets: FeatureSets; prints: FactFingerprints };
  from: number;
  to: number;
}

export interface PrepareResult {
  task: 'prepare';
}

/** Weigh part `part` of `parts` of the batch's features into `codes` (weights.ts, weighPart), in shared memory. */
export interface WeighTask {
  task: 'weigh';
  sets: FeatureValues;
  weighting: Weighting;
  codes: Uint8Array;
  part: number;
  parts: number;
  /** Who IDF is counted over, when not simply the batch (weights.ts, IdfPopulation). */
  population?: IdfPopulation;
}

export interface WeighResult {
  task: 'weigh';
  /** With a population: what its counted articles add to the feature counts, in this part. */
  counts?: FeatureCounts;
}

/** Match indexed articles from .. to - 1 against tonight's band keys (candidates.ts, matchIndexedRange). */
export interface MatchTask {
  task: 'match';
  /** Names tonight's keys: a worker keeps the buckets built from them while this stays the same. */
  key: string;
  /** Tonight's band keys and which articles are looked for, in shared memory; the same for every range. */
  tonight: Uint32Array;
  lookFor: Uint8Array;
  /** The indexed articles' band keys, in shared memory. */
  indexed: Uint32Array;
  from: number;
  to: number;
  bandCount: number;
  mainBands: number;
  minShared: number;
  maxBucketSize: number;
}

export interface MatchResult extends IndexMatches {
  task: 'match';
}

/** Candidate pairs from the bands of `share` (candidates.ts, findCandidatesIn); signatures in shared memory. */
export interface BandsTask {
  task: 'bands';
  sources: BandedSignatures[];
  maxBucketSize: number;
  pinned?: Uint8Array;
  share: BandShare;
}

export interface BandsResult {
  task: 'bands';
  /** In shared memory, so that the merge tasks read every worker's pairs without a copy. */
  pairs: Uint32Array;
}

/**
 * The pairs whose first article is in from .. to - 1 of the bands tasks' lists, merged
 * (candidates.ts, mergeCandidateRange).
 */
export interface MergeTask {
  task: 'merge';
  /** Each bands task's pairs, in shared memory. */
  lists: Uint32Array[];
  from: number;
  to: number;
}

export interface MergeResult {
  task: 'merge';
  pairs: Uint32Array;
}

/** documents.csv or pairs.csv (report.ts, csvTable), made while the report stage goes over the articles. */
export type TablesTask = { task: 'tables' } & CsvTableRequest;

export interface TablesResult {
  task: 'tables';
  /** The table's UTF-8 bytes, in pieces that joined are the file. */
  pieces: Uint8Array[];
}

export type TaskRequest = ShingleTask | SignTask | VerifyTask | PrepareTask | WeighTask | MatchTask | BandsTask | MergeTask | TablesTask;
export type TaskResult = ShingleResult | SignResult | VerifyResult | PrepareResult | WeighResult | MatchResult | BandsResult | MergeResult | TablesResult;

export function runTask(request: TaskRequest): TaskResult {
  switch (request.task) {
    case 'shingle':
      return shingleBatch(request);
    case 'sign':
      return signBatch(request);
    case 'verify': {
      const histogram = new Uint32Array(HISTOGRAM_SLOTS);
      const pairs = verifyPairs(request.features, request.signatures, request.k, request.candidates, request.options, request.totals, request.facts, histogram, request.prints);
      return { task: 'verify', pairs, histogram };
    }
    case 'prepare':
      if (request.facts === undefined) articleTotals(request.features, request.totals, request.from, request.to);
      else {
        selectRange(request.features, isFact, request.facts.sets, request.from, request.to);
        writeFactFingerprints(request.facts.sets, request.facts.prints, request.from, request.to);
      }
      return { task: 'prepare' };
    case 'weigh':
      return { task: 'weigh', counts: weighPart(request.sets, request.weighting, request.codes, request.part, request.parts, request.population) };
    case 'bands':
      return { task: 'bands', pairs: findCandidatesIn(request.sources, request.maxBucketSize, request.pinned, request.share, true) };
    case 'merge':
      return { task: 'merge', pairs: mergeCandidateRange(request.lists, request.from, request.to) };
    case 'match': {
      // A worker builds tonight's buckets once for all the ranges it is given.
      if (buckets?.key !== request.key) buckets = { key: request.key, value: new TonightBuckets(request.tonight, request.lookFor, request.bandCount) };
      const found = matchIndexedRange(buckets.value, request.indexed, request.from, request.to, request.mainBands, request.minShared, request.maxBucketSize);
      return { task: 'match', ...found };
    }
    case 'tables':
      return { task: 'tables', pieces: csvTable(request) };
  }
}

let buckets: { key: string; value: TonightBuckets } | undefined;

/** The buffers a worker hands over with its result; a bands task's pairs are in shared memory, and are not among them. */
export function transferablesOf(result: TaskResult): ArrayBuffer[] {
  const arrays =
    result.task === 'shingle'
      ? [result.publishedMs, result.counts, result.values]
      : result.task === 'sign'
        ? [result.signatures, result.copySignatures]
        : result.task === 'verify'
          ? [...Object.values(result.pairs), result.histogram]
          : result.task === 'match'
            ? [result.matched, result.partnerStarts, result.partners]
            : result.task === 'merge'
              ? [result.pairs]
              : result.task === 'weigh' && result.counts
                ? [result.counts.features, result.counts.counts]
                : result.task === 'tables'
                  ? result.pieces
                  : [];
  return arrays.map((a) => a.buffer as ArrayBuffer);
}

// A worker keeps one shingler and one engine between batches: building them (stopword tables, hash seeds)
// costs more than a batch.
let shingler: { key: string; value: Shingler } | undefined;
let engines: { key: string; value: SignatureEngine; copies: SignatureEngine } | undefined;

interface StoredLine {
  id: string;
  title: string;
  text: string;
  published_at?: string;
  origin: string;
}

function shingleBatch({ options, articles }: ShingleTask): ShingleResult {
  const key = JSON.stringify(options);
  if (shingler?.key !== key) shingler = { key, value: new Shingler(options) };
  const ids: string[] = [];
  const publishedMs = new Float64Array(articles.length);
  const counts = new Uint32Array(articles.length);
  // The batch's features, one article after the other, copied from the shingler's scratch: no array of its
  // own per article. Room for a thousand an article (the generated corpus has 630), grown if need be.
  let values = new Uint32Array(1024 * Math.max(1, articles.length));
  let total = 0;
  let noiseLinesDropped = 0;
  const unusable: ShingleResult['unusable'] = [];
  for (let i = 0; i < articles.length; i++) {
    const item = articles[i];
    const article = typeof item === 'string' ? (JSON.parse(item) as StoredLine) : item;
    const { features, droppedLines } = articleFeatureView(shingler.value, article.title, article.text);
    noiseLinesDropped += droppedLines;
    ids.push(article.id);
    // Facts alone never make a match: the wording is what is compared first.
    let wording = false;
    for (let f = 0; f < features.length && !wording; f++) wording = !isFact(features[f]);
    if (!wording) unusable.push({ index: i, origin: article.origin });
    publishedMs[i] = article.published_at === undefined ? NaN : Date.parse(article.published_at);
    counts[i] = features.length;
    while (total + features.length > values.length) values = doubled(values);
    values.set(features, total);
    total += features.length;
  }
  return { task: 'shingle', ids, publishedMs, counts, values: values.subarray(0, total), noiseLinesDropped, unusable };
}

/** An article's features: its cleaned title and body shingled, with the facts of its raw title and text. */
export function articleFeatures(shingler: Shingler, title: string, text: string): { features: Uint32Array; droppedLines: number } {
  const { features, droppedLines } = articleFeatureView(shingler, title, text);
  return { features: features.slice(), droppedLines };
}

/** articleFeatures in the shingler's scratch buffer, valid until its next call (Shingler.shingleView). */
function articleFeatureView(shingler: Shingler, title: string, text: string): { features: Uint32Array; droppedLines: number } {
  const cleaned = cleanArticle(title, text);
  const features = shingler.shingleView(cleaned.title === '' ? cleaned.body : `${cleaned.title}\n${cleaned.body}`, `${title}\n${text}`);
  return { features, droppedLines: cleaned.droppedLines };
}

function signBatch({ engine: name, k, seed, features, from, to, weightFloor, cappedWeights, copyK }: SignTask): SignResult {
  const key = `${name}/${k}/${copyK}/${seed}`;
  if (engines?.key !== key) engines = { key, value: createEngine(name, k, seed), copies: createEngine(name, copyK, copySeed(seed)) };
  const replicator = new WeightedReplicator();
  const signatures = new Uint32Array((to - from) * k);
  const copySignatures = new Uint32Array((to - from) * copyK);
  const { offsets, values, weightCodes, weightOfCode } = features;
  // Each signature gets only the features that can arrive in it, those of weight above 0, in their order:
  // the signature is the same as over all of them, and an article the document-frequency cap leaves a few
  // features of hundreds is not walked again in every round.
  let cappedFeatures = new Uint32Array(1024);
  let capped = new Float32Array(1024);
  let wordingFeatures = new Uint32Array(1024);
  let wording = new Float32Array(1024);
  for (let i = from; i < to; i++) {
    const start = offsets[i];
    const end = offsets[i + 1];
    if (capped.length < end - start) {
      cappedFeatures = new Uint32Array(2 * (end - start));
      capped = new Float32Array(2 * (end - start));
      wordingFeatures = new Uint32Array(2 * (end - start));
      wording = new Float32Array(2 * (end - start));
    }
    let cappedCount = 0;
    let wordingCount = 0;
    for (let p = start; p < end; p++) {
      // Copy signatures keep every wording feature; the main ones leave out those over the df cap too. Facts
      // are in neither (weights.ts, signatureWeight), and are passed over first: with signatureWeight called
      // twice a feature, this loop took 0.66-0.87 s over the 100,000 corpus's features, against 0.42-0.47 (a
      // script timing the two, work/shingles.bin read back).
      const value = values[p];
      if (isFact(value)) continue;
      const weight = weightOfCode[weightCodes[p]];
      if (weight > 0) {
        wordingFeatures[wordingCount] = value;
        wording[wordingCount++] = weight;
      }
      const cappedWeight = cappedWeights ? cappedWeights[p] : weight >= weightFloor! ? weight : 0;
      if (cappedWeight > 0) {
        cappedFeatures[cappedCount] = value;
        capped[cappedCount++] = cappedWeight;
      }
    }
    const out = signatures.subarray((i - from) * k, (i - from + 1) * k);
    const copyOut = copySignatures.subarray((i - from) * copyK, (i - from + 1) * copyK);
    signWeightedSet(engines.value, cappedFeatures.subarray(0, cappedCount), capped.subarray(0, cappedCount), out, replicator);
    signWeightedSet(engines.copies, wordingFeatures.subarray(0, wordingCount), wording.subarray(0, wordingCount), copyOut, replicator);
  }
  return { task: 'sign', signatures, copySignatures };
}

/** The copy signatures' hash seed: independent of the main signatures'. */
export const copySeed = (seed: number): number => (seed ^ 0x6a09e667) >>> 0;

/** One weighted signature, by the engine's own weighted method when it has one, else through explicit copies. */
export function signWeightedSet(engine: SignatureEngine, features: Uint32Array, weights: Float32Array, out: Uint32Array, replicator: WeightedReplicator): void {
  if (engine.signWeighted) engine.signWeighted(features, weights, out);
  else engine.sign(replicator.replicate(features, weights), out);
}
