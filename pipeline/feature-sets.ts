import invariant from 'tiny-invariant';

/**
 * Many articles' sorted feature sets in two typed arrays (compressed sparse rows): the features of article
 * i are values[offsets[i] .. offsets[i + 1]).
 */
export interface FeatureSets {
  offsets: Float64Array;
  values: Uint32Array;
  /** The weight of each feature, parallel to `values` (see weights.ts). */
  weights: Float32Array;
}

/** Appends feature sets one article at a time, growing its buffers geometrically. */
export class FeatureSetsBuilder {
  private offsets = new Float64Array(1025);
  private values = new Uint32Array(65536);
  private count = 0;
  private total = 0;

  add(features: Uint32Array): void {
    if (this.count + 2 > this.offsets.length) {
      const grown = new Float64Array(this.offsets.length * 2);
      grown.set(this.offsets);
      this.offsets = grown;
    }
    while (this.total + features.length > this.values.length) {
      const grown = new Uint32Array(this.values.length * 2);
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

  /** The sets, with weights computed by `weigh` once all articles are in (IDF needs the whole batch). */
  build(weigh: (sets: Omit<FeatureSets, 'weights'>) => Float32Array): FeatureSets {
    invariant(this.offsets[0] === 0, 'offsets start at 0');
    // A view, not a copy: at a million articles a copy of the values is gigabytes more at the peak.
    const sets = { offsets: this.offsets.slice(0, this.count + 1), values: this.values.subarray(0, this.total) };
    const weights = weigh(sets);
    invariant(weights.length === sets.values.length, 'one weight per feature');
    return { ...sets, weights };
  }
}

/**
 * The features of `sets` for which `keep` holds, per article, in the same order (so still sorted), with
 * their weights. `allocate` makes each array: in shared memory when workers will read the result.
 */
export function selectFeatures(
  sets: FeatureSets,
  keep: (feature: number) => boolean,
  allocate: <T extends Float64Array | Uint32Array | Float32Array>(make: new (buffer: ArrayBufferLike) => T, bytesPer: number, length: number) => T = (make, bytesPer, length) =>
    new make(new ArrayBuffer(bytesPer * length)),
): FeatureSets {
  let total = 0;
  for (let p = 0; p < sets.values.length; p++) if (keep(sets.values[p])) total++;
  const n = sets.offsets.length - 1;
  const offsets = allocate(Float64Array, 8, n + 1);
  const values = allocate(Uint32Array, 4, total);
  const weights = allocate(Float32Array, 4, total);
  let at = 0;
  for (let i = 0; i < n; i++) {
    for (let p = sets.offsets[i]; p < sets.offsets[i + 1]; p++) {
      if (!keep(sets.values[p])) continue;
      values[at] = sets.values[p];
      weights[at++] = sets.weights[p];
    }
    offsets[i + 1] = at;
  }
  return { offsets, values, weights };
}
