/**
 * Choosing the LSH banding (b bands of r rows, b * r <= k) for a similarity threshold t.
 *
 * Two articles of Jaccard similarity s become candidates with probability P(s) = 1 - (1 - s^r)^b, an
 * S-curve. Pairs below t that still become candidates are false positives (wasted verification work);
 * pairs above t that do not are false negatives (missed duplicates, which no later stage can recover).
 * Following datasketch, we pick the (b, r) that minimise the weighted sum of the two areas:
 *   FP = integral over [0, t] of P(s) ds,  FN = integral over [t, 1] of (1 - P(s)) ds.
 */
import invariant from 'tiny-invariant';

export interface Banding {
  bands: number;
  rows: number;
  /** Area of the false-positive region under the S-curve, for the chosen banding. */
  falsePositiveArea: number;
  /** Area of the false-negative region above the S-curve, for the chosen banding. */
  falseNegativeArea: number;
}

export function candidateProbability(similarity: number, bands: number, rows: number): number {
  return 1 - Math.pow(1 - Math.pow(similarity, rows), bands);
}

/** Simpson's rule with an even number of intervals; the integrands are smooth polynomials. */
function integrate(f: (x: number) => number, from: number, to: number, intervals = 256): number {
  if (to <= from) return 0;
  const h = (to - from) / intervals;
  let sum = f(from) + f(to);
  for (let i = 1; i < intervals; i++) sum += (i % 2 === 1 ? 4 : 2) * f(from + i * h);
  return (sum * h) / 3;
}

/**
 * The banding for threshold `t` and signature length `k` that minimises
 * falsePositiveWeight * FP + falseNegativeWeight * FN. Missing a duplicate costs more than verifying an extra
 * pair (verification is cheap and exact), hence the default weights favour recall.
 */
export function optimalBanding(threshold: number, k: number, falsePositiveWeight = 0.3, falseNegativeWeight = 0.7): Banding {
  invariant(threshold > 0 && threshold < 1, 'threshold must lie strictly between 0 and 1');
  invariant(Number.isInteger(k) && k >= 1, 'k must be a positive whole number');
  invariant(Math.abs(falsePositiveWeight + falseNegativeWeight - 1) < 1e-9, 'the two weights must sum to 1');
  let best: Banding | undefined;
  let bestCost = Infinity;
  for (let bands = 1; bands <= k; bands++) {
    for (let rows = 1; rows * bands <= k; rows++) {
      const fp = integrate((s) => candidateProbability(s, bands, rows), 0, threshold);
      const fn = integrate((s) => 1 - candidateProbability(s, bands, rows), threshold, 1);
      const cost = falsePositiveWeight * fp + falseNegativeWeight * fn;
      // Ties go to fewer bands: same quality, less work.
      if (cost < bestCost - 1e-12) {
        bestCost = cost;
        best = { bands, rows, falsePositiveArea: fp, falseNegativeArea: fn };
      }
    }
  }
  invariant(best, 'some banding exists for k >= 1');
  return best;
}
