import invariant from 'tiny-invariant';
import { allocate } from './typed-arrays.js';
import { WEIGHT_CODES } from './weights.js';

/**
 * Many articles' sorted feature sets in two typed arrays (compressed sparse rows): the features of article
 * i are values[offsets[i] .. offsets[i + 1]).
 */
export interface FeatureValues {
  offsets: Float64Array;
  values: Uint32Array;
}

/** One byte per feature in the pipeline (weights.ts, weightCode); two for encodeWeights' many distinct weights. */
export type WeightCodes = Uint8Array | Uint16Array;

/** Feature sets with each feature's weight, weightOfCode[weightCodes[p]] (weights.ts, weightCode). */
export interface FeatureSets extends FeatureValues {
  weightCodes: WeightCodes;
  /** WEIGHT_CODES weights (weights.ts, weightTable). */
  weightOfCode: Float32Array;
}

/**
 * Appends feature sets one article at a time into one array reserved up front. A large buffer is mapped
 * lazily by the operating system: pages cost memory only once written, so a generous reservation (the shingle
 * stage reserves a value per byte of input, twice the features it will hold) costs address space, not RAM,
 * and the sets are built without the copy that joining chunks took (2.4 GB and 6 s at a million articles).
 * Past the reservation the values move to a buffer twice as large.
 */
export class FeatureSetsBuilder {
  private offsets = new Float64Array(1025);
  private values: Uint32Array;
  private count = 0;
  private total = 0;

  /** `capacity`: values to reserve; `shared`: in shared memory, for workers to weigh them. */
  constructor(
    capacity = 1 << 16,
    private readonly shared = false,
  ) {
    this.values = allocate(Uint32Array, Math.max(1, shared ? Math.min(capacity, MAX_SHARED_VALUES) : capacity), shared);
  }

  add(features: Uint32Array): void {
    if (this.count + 2 > this.offsets.length) {
      const grown = new Float64Array(this.offsets.length * 2);
      grown.set(this.offsets);
      this.offsets = grown;
    }
    if (this.total + features.length > this.values.length) {
      const needed = this.total + features.length;
      if (this.shared && needed > MAX_SHARED_VALUES) {
        throw new Error(`${needed.toLocaleString('en-US')} features are more than worker threads can share (4 GiB of them); split the input into smaller batches`);
      }
      const grown = allocate(Uint32Array, Math.max(Math.min(2 * this.values.length, this.shared ? MAX_SHARED_VALUES : Infinity), needed), this.shared);
      grown.set(this.values.subarray(0, this.total));
      this.values = grown;
    }
    this.values.set(features, this.total);
    this.total += features.length;
    this.count++;
    this.offsets[this.count] = this.total;
  }

  get size(): number {
    return this.count;
  }

  /** The sets, with weights given by `weigh` once all articles are in, coded by encodeWeights. */
  build(weigh: (sets: FeatureValues) => Float32Array): FeatureSets {
    const sets = this.buildUnweighted();
    const weights = weigh(sets);
    invariant(weights.length === sets.values.length, 'one weight per feature');
    return { ...sets, ...encodeWeights(weights) };
  }

  /** The sets without weights: a view of the builder's values, no copy. */
  buildUnweighted(): FeatureValues {
    invariant(this.offsets[0] === 0, 'offsets start at 0');
    return { offsets: this.offsets.slice(0, this.count + 1), values: this.values.subarray(0, this.total) };
  }
}

/**
 * Values in one SharedArrayBuffer that worker threads can be given: Node 20 does not deliver a message
 * holding a view of a SharedArrayBuffer of 4 GiB or more (the worker never gets it, and nothing is thrown).
 */
export const MAX_SHARED_VALUES = (2 ** 32 - 8) / 4;

/**
 * The features of `sets` for which `keep` holds, per article, in the same order (so still sorted), with
 * their weights; in shared memory with `shared`, for workers to read.
 */
export function selectFeatures(sets: FeatureSets, keep: (feature: number) => boolean, shared = false): FeatureSets {
  const n = sets.offsets.length - 1;
  const counts = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let p = sets.offsets[i]; p < sets.offsets[i + 1]; p++) if (keep(sets.values[p])) counts[i]++;
  const subset = allocateSubset(sets, (i) => counts[i], shared);
  selectRange(sets, keep, subset, 0, n);
  return subset;
}

/**
 * Room for a subset of `sets` whose article i keeps `kept(i)` features: offsets set, values and codes
 * zero, for selectRange to fill, in parts side by side when in shared memory (`shared`).
 */
export function allocateSubset(sets: FeatureSets, kept: (article: number) => number, shared: boolean): FeatureSets {
  const n = sets.offsets.length - 1;
  const offsets = allocate(Float64Array, n + 1, shared);
  for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i] + kept(i);
  const total = offsets[n];
  const values = allocate(Uint32Array, total, shared);
  const weightCodes: WeightCodes = sets.weightCodes instanceof Uint8Array ? allocate(Uint8Array, total, shared) : allocate(Uint16Array, total, shared);
  return { offsets, values, weightCodes, weightOfCode: sets.weightOfCode };
}

/** Fills articles from .. to - 1 of `subset` (allocateSubset) with their features for which `keep` holds. */
export function selectRange(sets: FeatureSets, keep: (feature: number) => boolean, subset: FeatureSets, from: number, to: number): void {
  const { values, weightCodes } = subset;
  for (let i = from; i < to; i++) {
    let at = subset.offsets[i];
    for (let p = sets.offsets[i]; p < sets.offsets[i + 1]; p++) {
      if (!keep(sets.values[p])) continue;
      values[at] = sets.values[p];
      weightCodes[at++] = sets.weightCodes[p];
    }
    invariant(at === subset.offsets[i + 1], 'as many features kept as counted');
  }
}

/**
 * Any weights (a test's, a caller's own) as codes and their table, for code that takes FeatureSets: each
 * distinct weight gets a code, in order of first appearance. The pipeline's IDF weights are coded by
 * document frequency instead (weights.ts, weightCode).
 */
export function encodeWeights(weights: ArrayLike<number>): Pick<FeatureSets, 'weightCodes' | 'weightOfCode'> {
  const codeOf = new Map<number, number>();
  for (let p = 0; p < weights.length; p++) {
    const weight = Math.fround(weights[p]);
    if (!codeOf.has(weight)) codeOf.set(weight, codeOf.size);
  }
  invariant(codeOf.size <= 1 << 16, `at most ${1 << 16} distinct weights`);
  // The pipeline's one-byte codes when they suffice, so tests exercise the same arrays as a run.
  const wide = codeOf.size > WEIGHT_CODES;
  const weightCodes = wide ? new Uint16Array(weights.length) : new Uint8Array(weights.length);
  const weightOfCode = new Float32Array(wide ? 1 << 16 : WEIGHT_CODES);
  for (const [weight, code] of codeOf) weightOfCode[code] = weight;
  for (let p = 0; p < weights.length; p++) weightCodes[p] = codeOf.get(Math.fround(weights[p]))!;
  return { weightCodes, weightOfCode };
}
