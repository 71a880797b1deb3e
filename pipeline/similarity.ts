import { type FeatureSets, encodeWeights } from './feature-sets.js';

/**
 * Exact similarity of two articles' feature sets, for the candidate pairs only. With weights, every shared
 * or unshared feature counts its weight instead of 1 (weighted Jaccard: sum of min / sum of max, equal to
 * shared weight / union weight when both articles give a feature the same weight, as IDF does).
 */
export interface SetSimilarity {
  /** Over the wording features (facts aside). */
  jaccard: number;
  /** Shared weight over the smaller article's total: high when one article is an abridged copy of the other. */
  containment: number;
  /** Shared wording weight (the count of shared features when unweighted). */
  shared: number;
  /** Weighted Jaccard of the two articles' facts (numbers and names, see facts.ts). */
  factJaccard: number;
  /** How many facts each article has. */
  factsA: number;
  factsB: number;
}

/** Slots of the `out` array of rangeSimilarity. */
export const JACCARD = 0;
export const CONTAINMENT = 1;
export const SHARED = 2;
export const FACT_JACCARD = 3;
export const FACTS_A = 4;
export const FACTS_B = 5;
export const SIMILARITY_SLOTS = 6;

/** `a` and `b` are sorted and distinct; `weightsA`/`weightsB` run parallel to them (all 1 when omitted). */
export function setSimilarity(a: Uint32Array, b: Uint32Array, weightsA?: Float32Array, weightsB?: Float32Array): SetSimilarity {
  const out = new Float64Array(SIMILARITY_SLOTS);
  const one = (values: Uint32Array, weights: ArrayLike<number> | undefined): FeatureSets => ({
    offsets: Float64Array.of(0, values.length),
    values,
    ...encodeWeights(weights ?? new Float32Array(values.length).fill(1)),
  });
  rangeSimilarity(one(a, weightsA), 0, one(b, weightsB), 0, out);
  return { jaccard: out[JACCARD], containment: out[CONTAINMENT], shared: out[SHARED], factJaccard: out[FACT_JACCARD], factsA: out[FACTS_A], factsB: out[FACTS_B] };
}

/** Sums per article that the exact check needs, TOTAL_SLOTS per article: wording weight, fact weight, facts. */
export const WORDING_TOTAL = 0;
export const FACT_TOTAL = 1;
export const FACT_COUNT = 2;
export const TOTAL_SLOTS = 3;

/** Every article's totals (or those of articles from .. to - 1), TOTAL_SLOTS each, into `into`. */
export function articleTotals(
  features: FeatureSets,
  into: Float64Array<ArrayBufferLike> = new Float64Array(TOTAL_SLOTS * (features.offsets.length - 1)),
  from = 0,
  to = features.offsets.length - 1,
): Float64Array<ArrayBufferLike> {
  for (let i = from; i < to; i++) rangeTotals(features, i, into, TOTAL_SLOTS * i);
  return into;
}

/** The totals of article `article` of `sets`, written at into[at .. at + TOTAL_SLOTS). */
function rangeTotals(sets: FeatureSets, article: number, into: Float64Array<ArrayBufferLike>, at: number): void {
  const { offsets, values, weightCodes, weightOfCode } = sets;
  let wording = 0;
  let facts = 0;
  let factCount = 0;
  for (let p = offsets[article]; p < offsets[article + 1]; p++) {
    const w = weightOfCode[weightCodes[p]];
    if (values[p] & 1) {
      facts += w;
      factCount++;
    } else wording += w;
  }
  into[at + WORDING_TOTAL] = wording;
  into[at + FACT_TOTAL] = facts;
  into[at + FACT_COUNT] = factCount;
}

/**
 * The slots of a pair from its shared wording and fact weights and the two articles' totals (at `a` and `b`
 * in `totals`). Union = total A + total B - shared, exact when a feature weighs the same in both articles.
 */
function similaritySlots(sharedWording: number, sharedFacts: number, totals: Float64Array<ArrayBufferLike>, a: number, b: number, out: Float64Array): void {
  const union = totals[a + WORDING_TOTAL] + totals[b + WORDING_TOTAL] - sharedWording;
  const smaller = Math.min(totals[a + WORDING_TOTAL], totals[b + WORDING_TOTAL]);
  const factUnion = totals[a + FACT_TOTAL] + totals[b + FACT_TOTAL] - sharedFacts;
  out[JACCARD] = union > 0 ? sharedWording / union : 0;
  out[CONTAINMENT] = smaller > 0 ? sharedWording / smaller : 0;
  out[SHARED] = sharedWording;
  out[FACT_JACCARD] = factUnion > 0 ? sharedFacts / factUnion : 0;
  out[FACTS_A] = totals[a + FACT_COUNT];
  out[FACTS_B] = totals[b + FACT_COUNT];
}

/**
 * The same for article `i` of `a` and article `j` of `b`, writing the slots above into `out`. Wording
 * features and facts (lowest hash bit set) are summed apart. Verification uses FeatureTable, which gives the
 * same slots; this merge serves the linkage's spot checks and setSimilarity.
 */
export function rangeSimilarity(a: FeatureSets, i: number, b: FeatureSets, j: number, out: Float64Array): void {
  rangeTotals(a, i, pairTotals, 0);
  rangeTotals(b, j, pairTotals, TOTAL_SLOTS);
  const valuesA = a.values;
  const valuesB = b.values;
  const codesA = a.weightCodes;
  const codesB = b.weightCodes;
  const tableA = a.weightOfCode;
  const tableB = b.weightOfCode;
  let p = a.offsets[i];
  let q = b.offsets[j];
  const endA = a.offsets[i + 1];
  const endB = b.offsets[j + 1];
  let sharedWording = 0;
  let sharedFacts = 0;
  while (p < endA && q < endB) {
    const x = valuesA[p];
    const y = valuesB[q];
    if (x === y) {
      const w = Math.min(tableA[codesA[p]], tableB[codesB[q]]);
      if (x & 1) sharedFacts += w;
      else sharedWording += w;
      p++;
      q++;
    } else if (x < y) p++;
    else q++;
  }
  similaritySlots(sharedWording, sharedFacts, pairTotals, 0, TOTAL_SLOTS, out);
}

/** Scratch for rangeSimilarity: the totals of its two ranges. */
const pairTotals = new Float64Array(2 * TOTAL_SLOTS);

/** Bits of a feature's hash (its top ones) that FeatureTable's presence bitmap is indexed by: 16,384 bits (2 KB). */
const PRESENCE_BITS = 14;
const PRESENCE_WORD_SHIFT = 32 - PRESENCE_BITS + 5;
const PRESENCE_BIT_SHIFT = 32 - PRESENCE_BITS;

/**
 * One article's features in an open-addressing table, to compare it with many others: candidate pairs come
 * sorted by their first article, so the table is filled once for all of that article's candidates, and each
 * comparison costs one probe per feature of the other article, into a table that stays in the L1 cache,
 * instead of a merge of both sorted lists whose branches the processor cannot predict. Gives the slots of
 * rangeSimilarity.
 */
export class FeatureTable {
  private keys = new Uint32Array(1024);
  private weights = new Float32Array(1024);
  /** A slot is used when its stamp is the current one, so the table is emptied by a new stamp. */
  private stamps = new Uint32Array(1024);
  private stamp = 0;
  private mask = 1023;
  /**
   * Which values of a key's top PRESENCE_BITS bits the loaded article has, one bit each: most features of
   * the other article miss the table, and this tells most of them apart without a probe.
   */
  private readonly present = new Int32Array(1 << (PRESENCE_BITS - 5));
  /** The article the table holds, -1 for none. */
  article = -1;

  /** Fills the table with article `article` of `sets`: its features and their weights. */
  load(article: number, sets: FeatureSets): void {
    const { values, weightCodes, weightOfCode } = sets;
    const from = sets.offsets[article];
    const to = sets.offsets[article + 1];
    let size = this.keys.length;
    while (size < 2 * (to - from)) size *= 2;
    if (size !== this.keys.length) {
      this.keys = new Uint32Array(size);
      this.weights = new Float32Array(size);
      this.stamps = new Uint32Array(size);
      this.stamp = 0;
      this.mask = size - 1;
    }
    if (++this.stamp === 0xffffffff) {
      this.stamps.fill(0);
      this.stamp = 1;
    }
    const { keys, stamps, mask, stamp, present } = this;
    present.fill(0);
    for (let p = from; p < to; p++) {
      const key = values[p];
      present[key >>> PRESENCE_WORD_SHIFT] |= 1 << ((key >>> PRESENCE_BIT_SHIFT) & 31);
      // Feature values are hashes already: their low bits spread evenly over the slots.
      let slot = key & mask;
      while (stamps[slot] === stamp) slot = (slot + 1) & mask;
      stamps[slot] = stamp;
      keys[slot] = key;
      this.weights[slot] = weightOfCode[weightCodes[p]];
    }
    this.article = article;
  }

  /**
   * The loaded article (A) against article `other` of `sets` (B), given both articles' `articleTotals`;
   * writes rangeSimilarity's slots into `out`.
   */
  compare(other: number, sets: FeatureSets, totals: Float64Array<ArrayBufferLike>, out: Float64Array): void {
    const { keys, stamps, mask, stamp, present } = this;
    const { values, weightCodes, weightOfCode } = sets;
    const from = sets.offsets[other];
    const to = sets.offsets[other + 1];
    let sharedWording = 0;
    let sharedFacts = 0;
    for (let p = from; p < to; p++) {
      const key = values[p];
      if ((present[key >>> PRESENCE_WORD_SHIFT] & (1 << ((key >>> PRESENCE_BIT_SHIFT) & 31))) === 0) continue;
      let slot = key & mask;
      while (stamps[slot] === stamp) {
        if (keys[slot] === key) {
          const w = Math.min(this.weights[slot], weightOfCode[weightCodes[p]]);
          if (key & 1) sharedFacts += w;
          else sharedWording += w;
          break;
        }
        slot = (slot + 1) & mask;
      }
    }
    similaritySlots(sharedWording, sharedFacts, totals, TOTAL_SLOTS * this.article, TOTAL_SLOTS * other, out);
  }
}
