/**
 * Exact similarity of two articles' feature sets, for the candidate pairs only. With weights, every shared
 * or unshared feature counts its weight instead of 1 (weighted Jaccard: sum of min / sum of max, equal to
 * shared weight / union weight when both articles give a feature the same weight, as IDF does).
 */
export interface SetSimilarity {
  jaccard: number;
  /** Shared weight over the smaller article's total: high when one article is an abridged copy of the other. */
  containment: number;
  /** Shared weight (the count of shared features when unweighted). */
  shared: number;
}

/** `a` and `b` are sorted and distinct; `weightsA`/`weightsB` run parallel to them (all 1 when omitted). */
export function setSimilarity(a: Uint32Array, b: Uint32Array, weightsA?: Float32Array, weightsB?: Float32Array): SetSimilarity {
  const out = new Float64Array(3);
  rangeSimilarity(a, weightsA, 0, a.length, b, weightsB, 0, b.length, out);
  return { jaccard: out[0], containment: out[1], shared: out[2] };
}

/**
 * The same over ranges of larger arrays (the batch's feature sets), writing [jaccard, containment, shared]
 * into `out`: the hot loop of verification allocates nothing per pair.
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
  let shared = 0;
  let totalA = 0;
  let totalB = 0;
  while (i < endA && j < endB) {
    const x = valuesA[i];
    const y = valuesB[j];
    if (x === y) {
      const wa = weightsA ? weightsA[i] : 1;
      const wb = weightsB ? weightsB[j] : 1;
      shared += Math.min(wa, wb);
      totalA += wa;
      totalB += wb;
      i++;
      j++;
    } else if (x < y) {
      totalA += weightsA ? weightsA[i] : 1;
      i++;
    } else {
      totalB += weightsB ? weightsB[j] : 1;
      j++;
    }
  }
  for (; i < endA; i++) totalA += weightsA ? weightsA[i] : 1;
  for (; j < endB; j++) totalB += weightsB ? weightsB[j] : 1;
  const union = totalA + totalB - shared;
  const smaller = Math.min(totalA, totalB);
  out[0] = union > 0 ? shared / union : 0;
  out[1] = smaller > 0 ? shared / smaller : 0;
  out[2] = shared;
}
