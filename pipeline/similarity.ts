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
  rangeSimilarity(a, weightsA, 0, a.length, b, weightsB, 0, b.length, out);
  return { jaccard: out[JACCARD], containment: out[CONTAINMENT], shared: out[SHARED], factJaccard: out[FACT_JACCARD], factsA: out[FACTS_A], factsB: out[FACTS_B] };
}

/**
 * The same over ranges of larger arrays (the batch's feature sets), writing the slots above into `out`: the
 * hot loop of verification allocates nothing per pair. Wording features and facts (lowest hash bit set) are
 * summed apart in the one merge.
 */
export function rangeSimilarity(
  valuesA: Uint32Array,
  weightsA: Float32Array | undefined,
  i: number,
  endA: number,
  valuesB: Uint32Array,
  weightsB: Float32Array | undefined,
  j: number,
  endB: number,
  out: Float64Array,
): void {
  // Index 0: wording, 1: facts.
  let shared0 = 0;
  let totalA0 = 0;
  let totalB0 = 0;
  let shared1 = 0;
  let totalA1 = 0;
  let totalB1 = 0;
  let factsA = 0;
  let factsB = 0;
  while (i < endA && j < endB) {
    const x = valuesA[i];
    const y = valuesB[j];
    if (x === y) {
      const wa = weightsA ? weightsA[i] : 1;
      const wb = weightsB ? weightsB[j] : 1;
      if (x & 1) {
        shared1 += Math.min(wa, wb);
        totalA1 += wa;
        totalB1 += wb;
        factsA++;
        factsB++;
      } else {
        shared0 += Math.min(wa, wb);
        totalA0 += wa;
        totalB0 += wb;
      }
      i++;
      j++;
    } else if (x < y) {
      const w = weightsA ? weightsA[i] : 1;
      if (x & 1) {
        totalA1 += w;
        factsA++;
      } else totalA0 += w;
      i++;
    } else {
      const w = weightsB ? weightsB[j] : 1;
      if (y & 1) {
        totalB1 += w;
        factsB++;
      } else totalB0 += w;
      j++;
    }
  }
  for (; i < endA; i++) {
    const w = weightsA ? weightsA[i] : 1;
    if (valuesA[i] & 1) {
      totalA1 += w;
      factsA++;
    } else totalA0 += w;
  }
  for (; j < endB; j++) {
    const w = weightsB ? weightsB[j] : 1;
    if (valuesB[j] & 1) {
      totalB1 += w;
      factsB++;
    } else totalB0 += w;
  }
  const union = totalA0 + totalB0 - shared0;
  const smaller = Math.min(totalA0, totalB0);
  const factUnion = totalA1 + totalB1 - shared1;
  out[JACCARD] = union > 0 ? shared0 / union : 0;
  out[CONTAINMENT] = smaller > 0 ? shared0 / smaller : 0;
  out[SHARED] = shared0;
  out[FACT_JACCARD] = factUnion > 0 ? shared1 / factUnion : 0;
  out[FACTS_A] = factsA;
  out[FACTS_B] = factsB;
}

/** Sums per article that the exact check needs, TOTAL_SLOTS per article: wording weight, fact weight, facts. */
export const WORDING_TOTAL = 0;
export const FACT_TOTAL = 1;
export const FACT_COUNT = 2;
export const TOTAL_SLOTS = 3;

export function articleTotals(
  features: { offsets: Float64Array; values: Uint32Array; weights: Float32Array },
  into: Float64Array<ArrayBufferLike> = new Float64Array(TOTAL_SLOTS * (features.offsets.length - 1)),
): Float64Array<ArrayBufferLike> {
  const { offsets, values, weights } = features;
  for (let i = 0; i + 1 < offsets.length; i++) {
    let wording = 0;
    let facts = 0;
    let factCount = 0;
    for (let p = offsets[i]; p < offsets[i + 1]; p++) {
      if (values[p] & 1) {
        facts += weights[p];
        factCount++;
      } else wording += weights[p];
    }
    into[TOTAL_SLOTS * i + WORDING_TOTAL] = wording;
    into[TOTAL_SLOTS * i + FACT_TOTAL] = facts;
    into[TOTAL_SLOTS * i + FACT_COUNT] = factCount;
  }
  return into;
}

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
  /** The article the table holds, -1 for none. */
  article = -1;

  /** Fills the table with article `article`: features values[from .. to) and their weights. */
  load(article: number, values: Uint32Array, weights: Float32Array, from: number, to: number): void {
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
    const { keys, stamps, mask, stamp } = this;
    for (let p = from; p < to; p++) {
      const key = values[p];
      // Feature values are hashes already: their low bits spread evenly over the slots.
      let slot = key & mask;
      while (stamps[slot] === stamp) slot = (slot + 1) & mask;
      stamps[slot] = stamp;
      keys[slot] = key;
      this.weights[slot] = weights[p];
    }
    this.article = article;
  }

  /**
   * The loaded article (A) against article `other` (B, features values[from .. to)), given both articles'
   * `articleTotals`; writes rangeSimilarity's slots into `out`.
   */
  compare(other: number, values: Uint32Array, weights: Float32Array, from: number, to: number, totals: Float64Array<ArrayBufferLike>, out: Float64Array): void {
    const { keys, stamps, mask, stamp } = this;
    let sharedWording = 0;
    let sharedFacts = 0;
    for (let p = from; p < to; p++) {
      const key = values[p];
      let slot = key & mask;
      while (stamps[slot] === stamp) {
        if (keys[slot] === key) {
          const w = Math.min(this.weights[slot], weights[p]);
          if (key & 1) sharedFacts += w;
          else sharedWording += w;
          break;
        }
        slot = (slot + 1) & mask;
      }
    }
    const a = TOTAL_SLOTS * this.article;
    const b = TOTAL_SLOTS * other;
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
}
