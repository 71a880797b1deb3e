/**
 * Feature weights. A rare word (a place, a name, a figure) says far more about which story an article tells
 * than a word every article of the batch uses, so features are weighted by inverse document frequency
 * computed over the batch. The default is plain idf = ln((N + 1) / df), as if the batch held one more article
 * that shares nothing: a feature every article has weighs almost nothing (ln 6/5 = 0.18 against 1.79 for a
 * feature of one article, among the five seeds), so the topic a whole batch shares does not add up to
 * similarity (this is what lets the five seed articles, all on one topic, be told apart), yet two identical
 * articles alone in a batch still match, which ln(N / df) = 0 for all their features did not let them.
 * smooth-idf = ln(1 + N / df) keeps a floor of ln 2 and puts the seeds wrong; see docs/similarity.md.
 */
import invariant from 'tiny-invariant';
import { isFact } from './facts.js';
import { mix32 } from './hash.js';
import { type FeatureSets, type FeatureValues } from './feature-sets.js';

export const WEIGHTINGS = ['smooth-idf', 'idf', 'none'] as const;
export type Weighting = (typeof WEIGHTINGS)[number];

/**
 * Document frequency of each distinct feature: an open-addressing table of features and their counts. A
 * slot is two numbers side by side, the feature and its count, so that finding a feature brings its count
 * into the cache with it: with the two in arrays of their own, counting and weighing a million articles
 * waited on two cache misses a feature instead of one. Features are hashes already, so a feature's low bits
 * are its slot; not the lowest, which tells facts from wording (facts.ts) and is the same for most features.
 */
export class DocumentFrequencies {
  /** Slot s: its feature at 2s (0 marks an empty slot, so the count of feature 0 is kept aside), at 2s + 1 its count, or its weight code once weighed. */
  private table: Uint32Array;
  private mask: number;
  private used = 0;
  /** The number of used slots past which the table doubles. */
  private limit: number;
  private zeroCount = 0;
  private weighed = false;

  constructor(expectedDistinct = 1024) {
    let capacity = 1024;
    while (capacity < expectedDistinct * 2) capacity *= 2;
    this.table = new Uint32Array(2 * capacity);
    this.mask = capacity - 1;
    this.limit = MAX_LOAD * capacity;
  }

  /** Counts each feature of one article once (the sets are already distinct). */
  addArticle(features: Uint32Array): void {
    for (let f = 0; f < features.length; f++) this.add(features[f]);
  }

  /** Counts one more article holding `key`. */
  add(key: number): void {
    invariant(!this.weighed, 'document frequencies are gone once weighed');
    if (key === 0) {
      this.zeroCount++;
      return;
    }
    const { table, mask } = this;
    let slot = (key >>> 1) & mask;
    for (;;) {
      const held = table[2 * slot];
      if (held === key) break;
      if (held === 0) {
        table[2 * slot] = key;
        if (++this.used > this.limit) {
          this.grow();
          slot = this.slotOf(key);
        }
        break;
      }
      slot = (slot + 1) & mask;
    }
    this.table[2 * slot + 1]++;
  }

  /** Makes `key` a feature of the table (count 0 if it was not one), so that it gets a weight. */
  include(key: number): void {
    invariant(!this.weighed, 'document frequencies are gone once weighed');
    if (key === 0) return;
    const slot = this.slotOf(key);
    if (this.table[2 * slot] === 0) {
      this.table[2 * slot] = key;
      if (++this.used > this.limit) this.grow();
    }
  }

  /** Adds the background's count of every feature of the table (and of feature 0). */
  addBackground(background: IdfBackground): void {
    invariant(!this.weighed, 'document frequencies are gone once weighed');
    const { table } = this;
    for (let at = 0; at < table.length; at += 2) if (table[at] !== 0) table[at + 1] += countOf(background, table[at]);
    this.zeroCount += countOf(background, 0);
  }

  count(key: number): number {
    invariant(!this.weighed, 'document frequencies are gone once weighed');
    if (key === 0) return this.zeroCount;
    const slot = this.slotOf(key);
    return this.table[2 * slot] === key ? this.table[2 * slot + 1] : 0;
  }

  /**
   * Replaces each feature's count by its weight code (see weightCode) in a batch of `articles` (IDF's N), so
   * that codeOf finds it once per distinct feature (a feature recurs in many articles). Ends the table's use
   * for counting, until reset.
   */
  weigh(articles: number): void {
    const { table } = this;
    for (let at = 0; at < table.length; at += 2) {
      // An included feature no article counted (see `include`) weighs as a feature of one article.
      if (table[at] !== 0) table[at + 1] = weightCode(Math.max(1, table[at + 1]), articles);
    }
    // Feature 0's count, kept aside from the table, becomes its code too.
    this.zeroCount = weightCode(Math.max(1, this.zeroCount), articles);
    this.weighed = true;
  }

  /** The weight code of `key`, a feature of the table, once weighed. */
  codeOf(key: number): number {
    if (key === 0) return this.zeroCount;
    const { table, mask } = this;
    let slot = (key >>> 1) & mask;
    while (table[2 * slot] !== key) slot = (slot + 1) & mask;
    return table[2 * slot + 1];
  }

  /** Empties the table for counting again, keeping its room. */
  reset(): void {
    this.table.fill(0);
    this.used = 0;
    this.zeroCount = 0;
    this.weighed = false;
  }

  /** Every feature of the table and its count, features ascending; with `countedOnly`, those counted once or more. */
  entries(countedOnly = false): FeatureCounts {
    invariant(!this.weighed, 'document frequencies are gone once weighed');
    const { table } = this;
    const listed = (at: number) => table[at] !== 0 && (!countedOnly || table[at + 1] > 0);
    let distinct = this.zeroCount > 0 ? 1 : 0;
    for (let at = 0; at < table.length; at += 2) if (listed(at)) distinct++;
    const features = new Uint32Array(distinct);
    let next = this.zeroCount > 0 ? 1 : 0;
    for (let at = 0; at < table.length; at += 2) if (listed(at)) features[next++] = table[at];
    features.sort();
    const sortedCounts = new Uint32Array(distinct);
    for (let i = 0; i < distinct; i++) sortedCounts[i] = features[i] === 0 ? this.zeroCount : table[2 * this.slotOf(features[i]) + 1];
    return { features, counts: sortedCounts };
  }

  /** The slot of `key`, or of the empty slot where it would go. */
  private slotOf(key: number): number {
    const { table, mask } = this;
    let slot = (key >>> 1) & mask;
    while (table[2 * slot] !== 0 && table[2 * slot] !== key) slot = (slot + 1) & mask;
    return slot;
  }

  private grow(): void {
    const old = this.table;
    this.table = new Uint32Array(2 * old.length);
    this.mask = old.length - 1;
    this.limit = MAX_LOAD * (this.mask + 1);
    for (let at = 0; at < old.length; at += 2) {
      if (old[at] === 0) continue;
      const to = this.slotOf(old[at]);
      this.table[2 * to] = old[at];
      this.table[2 * to + 1] = old[at + 1];
    }
  }
}

/**
 * The share of slots in use past which the table doubles. At a million generated articles, 0.7 instead saved
 * 270 MB of the shingle stage's 6.2 GB peak and cost 3.5 s of its 62.5 (`/usr/bin/time -v node
 * dist/pipeline/cli.js shingle --out DIR`).
 */
const MAX_LOAD = 0.5;

export function smoothedIdf(documentFrequency: number, articles: number): number {
  return Math.log(1 + articles / documentFrequency);
}

/** ln((N + 1) / df): see the top of this file. */
export function plainIdf(documentFrequency: number, articles: number): number {
  return Math.log((articles + 1) / documentFrequency);
}

function countDocumentFrequencies(sets: FeatureValues): DocumentFrequencies {
  const frequencies = new DocumentFrequencies(Math.min(sets.values.length, 1 << 24));
  for (let i = 0; i + 1 < sets.offsets.length; i++) frequencies.addArticle(sets.values.subarray(sets.offsets[i], sets.offsets[i + 1]));
  return frequencies;
}

/**
 * Weights are stored as one-byte codes of the document frequency, not as four-byte floats: a weight depends
 * on the feature's df alone (and on N and the weighting, the same for the whole batch), so one table of
 * WEIGHT_CODES weights serves every feature. At a million articles that is 1.8 GB less to hold in the shingle
 * and cluster stages and to write and read than floats, 0.6 GB less than two-byte codes. A df below
 * EXACT_CODES is its own code: the features that single out a story are in few articles and weigh exactly
 * what they would as floats. The other codes split [EXACT_CODES, N] into equal steps of log df, so the weight
 * at a step's middle is off by at most ln(N / 128) / 256: 0.005 in a batch of 462 articles, 0.035 in one of a
 * million (against weights of 9 and less at such frequencies), the same for both articles of a pair.
 */
export const WEIGHT_CODES = 256;
const EXACT_CODES = 128;
const LOG_CODES = WEIGHT_CODES - EXACT_CODES;

/** ln of the ratio of the highest df `articles` allows to EXACT_CODES: the span the log codes cover. */
const logSpan = (articles: number) => Math.log(Math.max(articles + 1, 2 * EXACT_CODES) / EXACT_CODES);

/** The code of document frequency `df` (1 or more) in a batch of `articles` (IDF's N). */
export function weightCode(df: number, articles: number): number {
  if (df < EXACT_CODES) return df;
  return EXACT_CODES + Math.min(LOG_CODES - 1, Math.floor((Math.log(df / EXACT_CODES) / logSpan(articles)) * LOG_CODES));
}

/** The document frequency a code stands for: itself below EXACT_CODES, else the middle of its step. */
function frequencyOfCode(code: number, articles: number): number {
  return code < EXACT_CODES ? code : EXACT_CODES * Math.exp(((code - EXACT_CODES + 0.5) / LOG_CODES) * logSpan(articles));
}

/** The weight of each code, for a batch of `articles` (IDF's N) weighed by `weighting`. */
export function weightTable(weighting: Weighting, articles: number): Float32Array {
  const table = new Float32Array(WEIGHT_CODES);
  if (weighting === 'none') return table.fill(1);
  const idf = weighting === 'idf' ? plainIdf : smoothedIdf;
  // Code 0 stands for no df at all; no feature gets it (counts start at 1).
  for (let code = 1; code < WEIGHT_CODES; code++) table[code] = idf(frequencyOfCode(code, articles), articles);
  return table;
}

/** A weight per feature occurrence, parallel to `sets.values`, as floats. */
export function featureWeights(sets: FeatureValues, weighting: Weighting): Float32Array {
  const codes = new Uint8Array(sets.values.length);
  weighPart(sets, weighting, codes, 0, 1);
  const table = weightTable(weighting, sets.offsets.length - 1);
  return Float32Array.from(codes, (code) => table[code]);
}

/**
 * Document frequencies counted before the batch: a nightly index's (see nightly.ts). `features` ascending,
 * `counts[i]` the number of articles that have features[i], out of `articles`.
 */
export interface IdfBackground extends FeatureCounts {
  articles: number;
}

export const EMPTY_BACKGROUND: IdfBackground = { articles: 0, features: new Uint32Array(0), counts: new Uint32Array(0) };

/** The count of `feature` in `counts` (0 if it has none), by binary search. */
export function countOf(counts: FeatureCounts, feature: number): number {
  const { features } = counts;
  let lo = 0;
  let hi = features.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const value = features[mid];
    if (value === feature) return counts.counts[mid];
    if (value < feature) lo = mid + 1;
    else hi = mid - 1;
  }
  return 0;
}

/**
 * Who IDF is counted over, when not simply the batch: the batch's articles that `counted` marks, plus the
 * background's. A nightly run counts tonight's new articles over the index's frequencies, and leaves out the
 * indexed articles it brought back, which the index has counted already.
 */
export interface IdfPopulation {
  counted: Uint8Array;
  background: IdfBackground;
}

/** How many articles IDF is counted over: the batch's `articles`, or the population's. */
export function idfArticles(articles: number, population: IdfPopulation | undefined): number {
  if (population === undefined) return articles;
  let counted = 0;
  for (let i = 0; i < articles; i++) counted += population.counted[i];
  return counted + population.background.articles;
}

/**
 * Writes into `codes` the weight codes (weightCode) of the features in part `part` of `parts`, a split of the
 * feature hash space: workers weigh the parts side by side, each counting the document frequencies of its own
 * features only, in a table a `parts`-th the size. Every feature's weight comes out the same whatever `parts`.
 * With a `population`, frequencies are counted over it instead of the batch (see IdfPopulation). The part is
 * counted and weighed a block of `occurrencesPerBlock` feature occurrences at a time (tests make it small).
 */
export function weighPart(
  sets: FeatureValues,
  weighting: Weighting,
  codes: Uint8Array<ArrayBufferLike>,
  part: number,
  parts: number,
  population?: IdfPopulation,
  occurrencesPerBlock = OCCURRENCES_PER_BLOCK,
): FeatureCounts | undefined {
  invariant(codes.length === sets.values.length, 'one weight per feature');
  const { values, offsets } = sets;
  const articles = offsets.length - 1;
  const runs = partRuns(sets, part, parts);
  if (weighting === 'none') {
    // Every code weighs 1 (weightTable).
    for (let r = 0; r < runs.length; r += 2) codes.fill(1, runs[r], runs[r + 1]);
    return undefined;
  }
  if (population !== undefined) invariant(population.counted.length >= articles, 'a counted flag per article');
  // The part is counted and weighed a block of its key range at a time, in a table of that block's features
  // only: a table of the whole part (hundreds of megabytes at a million articles) missed the caches at each
  // of its two look-ups per feature. Each article's run is ascending, so a cursor per article walks it block
  // by block.
  let occurrences = 0;
  for (let i = 0; i < articles; i++) occurrences += runs[2 * i + 1] - runs[2 * i];
  const blocks = Math.max(1, Math.ceil(occurrences / occurrencesPerBlock));
  const [low, high] = partKeys(part, parts);
  const cursor = new Float64Array(articles);
  for (let i = 0; i < articles; i++) cursor[i] = runs[2 * i];
  const frequencies = new DocumentFrequencies();
  const counted: FeatureCounts[] = [];
  const N = idfArticles(articles, population);
  for (let block = 0; block < blocks; block++) {
    const upper = block + 1 === blocks ? high : low + Math.floor(((high - low) * (block + 1)) / blocks);
    if (block > 0) frequencies.reset();
    for (let i = 0; i < articles; i++) {
      const end = runs[2 * i + 1];
      let p = cursor[i];
      if (population === undefined || population.counted[i] === 1) for (; p < end && values[p] < upper; p++) frequencies.add(values[p]);
      else for (; p < end && values[p] < upper; p++) frequencies.include(values[p]);
    }
    if (population !== undefined) {
      // What the counted articles add to the background, for the index to keep (nightly.ts).
      counted.push(frequencies.entries(true));
      frequencies.addBackground(population.background);
    }
    frequencies.weigh(N);
    for (let i = 0; i < articles; i++) {
      const end = runs[2 * i + 1];
      let p = cursor[i];
      for (; p < end && values[p] < upper; p++) codes[p] = frequencies.codeOf(values[p]);
      cursor[i] = p;
    }
  }
  for (let i = 0; i < articles; i++) invariant(cursor[i] === runs[2 * i + 1], 'every feature of the part weighed');
  return population === undefined ? undefined : joinParts(counted);
}

/**
 * Feature occurrences a block of weighPart counts at once. Smaller blocks have smaller tables but make more
 * passes over the articles, each reading every article's next feature, a cache miss of its own. One part of
 * a million generated articles (300 million occurrences) weighed on one thread (a script timing weighPart
 * over work/shingles.bin): blocks of 2^24 occurrences 13.2 s, of 2^26 8.6 s, of 2^27 8.8 s (with the table's
 * slots from mix32 of the key instead of its own bits: 12.4 s at 2^26). These features have 1.9 million
 * distinct values in all, so a block's table is a few megabytes.
 */
const OCCURRENCES_PER_BLOCK = 1 << 26;

/** Counted features and their counts, features ascending. */
export interface FeatureCounts {
  features: Uint32Array;
  counts: Uint32Array;
}

/**
 * The counts of weighPart's parts 0 .. parts - 1, in that order, as one: parts split the hash space in
 * ascending ranges, so the features stay ascending.
 */
export function joinParts(parts: FeatureCounts[]): FeatureCounts {
  const total = parts.reduce((sum, p) => sum + p.features.length, 0);
  const features = new Uint32Array(total);
  const counts = new Uint32Array(total);
  let at = 0;
  for (const part of parts) {
    features.set(part.features, at);
    counts.set(part.counts, at);
    at += part.features.length;
  }
  return { features, counts };
}

/** The background with `fresh` counts of `articles` more articles added (both ascending). */
export function mergeCounts(background: IdfBackground, fresh: FeatureCounts, articles: number): IdfBackground {
  const { features, counts } = background;
  const merged = new Uint32Array(features.length + fresh.features.length);
  const mergedCounts = new Uint32Array(merged.length);
  let a = 0;
  let b = 0;
  let at = 0;
  while (a < features.length || b < fresh.features.length) {
    if (b === fresh.features.length || (a < features.length && features[a] < fresh.features[b])) {
      merged[at] = features[a];
      mergedCounts[at++] = counts[a++];
    } else if (a === features.length || fresh.features[b] < features[a]) {
      merged[at] = fresh.features[b];
      mergedCounts[at++] = fresh.counts[b++];
    } else {
      merged[at] = features[a];
      mergedCounts[at++] = counts[a++] + fresh.counts[b++];
    }
  }
  return { articles: background.articles + articles, features: merged.slice(0, at), counts: mergedCounts.slice(0, at) };
}

/**
 * The part of the hash space a feature falls in: its top 16 bits scaled to 0 .. parts - 1. Features are
 * hashes already, so the parts are even; and the table's slots come from the key's low bits, which stay
 * spread over the slots within a part.
 */
function partOf(key: number, parts: number): number {
  return ((key >>> 16) * parts) >>> 16;
}

/** The keys partOf puts in part `part`: [low, high), the top 16 bits from the first that scales to `part`. */
function partKeys(part: number, parts: number): [number, number] {
  return [Math.ceil((part * 65536) / parts) * 65536, Math.ceil(((part + 1) * 65536) / parts) * 65536];
}

/**
 * Each article's run of part `part`: [start, end) into sets.values, two numbers per article. An article's
 * features are ascending and partOf grows with the key, so a part is one run of each article, found by binary
 * search. Each worker then reads only its own part of every article instead of testing every feature of the
 * batch (half the visits with 2 workers), and finds the runs once for counting and weighing both.
 */
function partRuns(sets: FeatureValues, part: number, parts: number): Float64Array {
  const { values, offsets } = sets;
  const runs = new Float64Array(2 * (offsets.length - 1));
  for (let i = 0; i + 1 < offsets.length; i++) {
    runs[2 * i] = partStart(values, offsets[i], offsets[i + 1], part, parts);
    runs[2 * i + 1] = part + 1 === parts ? offsets[i + 1] : partStart(values, offsets[i], offsets[i + 1], part + 1, parts);
  }
  return runs;
}

/** Where part `part`'s features begin in values[from .. to), one article's features ascending. */
function partStart(values: Uint32Array, from: number, to: number, part: number, parts: number): number {
  if (part === 0) return from;
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (partOf(values[mid], parts) < part) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Weighted MinHash by replication: a feature of weight w enters the signature as round(w / quantum) distinct
 * copies (at least one), so the plain MinHash of the copies estimates the weighted Jaccard similarity
 * sum(min) / sum(max) of the quantized weights. The quantum bounds the rounding error of each weight; the
 * cost is one hash per copy, a few per feature, instead of k per feature for exact weighted samplers.
 */
export const WEIGHT_QUANTUM = 0.5;

/**
 * The weights signatures use: those of `sets`, except that facts (facts.ts) and features found in more than
 * `maxDf` articles weigh nothing. Signatures estimate the Jaccard similarity of the wording, which is what
 * LSH and the screen before the exact check are tuned for; facts are compared in the exact check only. A
 * feature in many articles cannot single out one story, and left in the signature it makes every pair of
 * articles sharing it a candidate, a number that grows with the square of the batch. 0 keeps every feature.
 * `weighting` is the one `sets` were weighed with: IDF falls as a feature's document frequency
 * grows, so a feature found in more than maxDf articles is one that weighs less than a feature found in
 * maxDf, and the frequencies need not be counted again (with 'none' they are).
 */
export function signatureWeights(sets: FeatureSets, maxDf: number, weighting: Weighting, articles = sets.offsets.length - 1): Float32Array {
  const { values, weightCodes, weightOfCode } = sets;
  const weights = Float32Array.from(weightCodes, (code) => weightOfCode[code]);
  const floor = signatureWeightFloor(maxDf, weighting, articles);
  if (floor !== undefined) {
    for (let p = 0; p < weights.length; p++) weights[p] = signatureWeight(values[p], weights[p], floor);
    return weights;
  }
  const frequencies = countDocumentFrequencies(sets);
  for (let p = 0; p < weights.length; p++) if (isFact(values[p]) || frequencies.count(values[p]) > maxDf) weights[p] = 0;
  return weights;
}

/** A feature's weight in signatures, given the floor of signatureWeightFloor: 0 for facts and under the floor. */
export function signatureWeight(feature: number, weight: number, floor: number): number {
  return isFact(feature) || weight < floor ? 0 : weight;
}

/**
 * The weight below which a feature is one found in more than `maxDf` of `articles` articles: signatures
 * leave out facts and the features under it. -Infinity when there is no cap; undefined with 'none', where
 * weights do not tell frequencies apart and they have to be counted.
 */
export function signatureWeightFloor(maxDf: number, weighting: Weighting, articles: number): number | undefined {
  if (maxDf <= 0) return -Infinity;
  if (weighting === 'none') return undefined;
  // Stored weights are float32; so is the floor. IDF at two whole frequencies differs by far more than
  // float32 rounding, so the comparison is exact while maxDf is under 128, where every df is its own weight
  // code (weightCode); above, the features whose df shares maxDf's code step are all kept or all left out.
  return Math.fround((weighting === 'idf' ? plainIdf : smoothedIdf)(maxDf, articles));
}

/** Turns weighted feature sets into replicated plain sets, reusing one scratch buffer. */
export class WeightedReplicator {
  private scratch = new Uint32Array(4096);

  /** The copies of `features` by weight; a view into the scratch buffer, valid until the next call. */
  replicate(features: Uint32Array, weights: Float32Array): Uint32Array {
    invariant(features.length === weights.length, 'one weight per feature');
    let total = 0;
    for (let f = 0; f < weights.length; f++) total += copiesOf(weights[f]);
    if (total > this.scratch.length) this.scratch = new Uint32Array(Math.max(total, this.scratch.length * 2));
    let c = 0;
    for (let f = 0; f < features.length; f++) {
      const key = features[f];
      const n = copiesOf(weights[f]);
      if (n > 0) this.scratch[c++] = key;
      for (let r = 1; r < n; r++) this.scratch[c++] = mix32(key ^ Math.imul(r, 0x9e3779b1));
    }
    return this.scratch.subarray(0, total);
  }
}

/** A feature every article has (weight 0) says nothing and is left out; any other keeps at least one copy. */
export function copiesOf(weight: number): number {
  return weight <= 0 ? 0 : Math.max(1, Math.round(weight / WEIGHT_QUANTUM));
}
