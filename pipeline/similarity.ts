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
