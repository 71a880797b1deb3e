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
    const sets = { offsets: this.offsets.slice(0, this.count + 1), values: this.values.slice(0, this.total) };
    const weights = weigh(sets);
    invariant(weights.length === sets.values.length, 'one weight per feature');
    return { ...sets, weights };
  }
}
