import invariant from 'tiny-invariant';
import { allocate } from './typed-arrays.js';

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

/**
 * Appends feature sets one article at a time. Values go into fixed-size chunks, joined once at the end and
 * released one by one as they are copied: a doubling buffer would overshoot by up to its whole size (4 GB
 * for the 600 million features of a million articles), and joining would need both copies at once.
 */
export class FeatureSetsBuilder {
  private offsets = new Float64Array(1025);
  private chunks: Uint32Array[] = [];
  /** Values used in the last chunk. */
  private used: number;
  private count = 0;
  private total = 0;

  /** `chunk`: values per chunk (tests use small ones). */
  constructor(private readonly chunk = VALUE_CHUNK) {
    this.used = chunk;
  }

  add(features: Uint32Array): void {
    if (this.count + 2 > this.offsets.length) {
      const grown = new Float64Array(this.offsets.length * 2);
      grown.set(this.offsets);
      this.offsets = grown;
    }
    for (let from = 0; from < features.length; ) {
      if (this.used === this.chunk) {
        this.chunks.push(new Uint32Array(this.chunk));
        this.used = 0;
      }
      const take = Math.min(features.length - from, this.chunk - this.used);
      this.chunks[this.chunks.length - 1].set(features.subarray(from, from + take), this.used);
      this.used += take;
      from += take;
    }
    this.total += features.length;
    this.count++;
    this.offsets[this.count] = this.total;
  }

  get size(): number {
    return this.count;
  }

  /** The sets, with weights computed by `weigh` once all articles are in (IDF needs the whole batch). */
  build(weigh: (sets: Omit<FeatureSets, 'weights'>) => Float32Array): FeatureSets {
    const sets = this.buildUnweighted();
    const weights = weigh(sets);
    invariant(weights.length === sets.values.length, 'one weight per feature');
    return { ...sets, weights };
  }

  /** The sets without weights; `shared` puts the values in shared memory, for workers to weigh them. */
  buildUnweighted(shared = false): Omit<FeatureSets, 'weights'> {
    invariant(this.offsets[0] === 0, 'offsets start at 0');
    const values = allocate(Uint32Array, this.total, shared);
    for (let c = 0, at = 0; c < this.chunks.length; c++) {
      const chunk = this.chunks[c];
      const length = Math.min(this.chunk, this.total - at);
      values.set(length === this.chunk ? chunk : chunk.subarray(0, length), at);
      at += length;
      // Released as soon as copied, so the peak is the values once plus one chunk.
      this.chunks[c] = EMPTY;
    }
    this.chunks = [];
    this.used = this.chunk;
    return { offsets: this.offsets.slice(0, this.count + 1), values };
  }
}

/** Values per chunk of FeatureSetsBuilder: 64 MB. */
const VALUE_CHUNK = 1 << 24;
const EMPTY = new Uint32Array(0);

/**
 * The features of `sets` for which `keep` holds, per article, in the same order (so still sorted), with
 * their weights; in shared memory with `shared`, for workers to read.
 */
export function selectFeatures(sets: FeatureSets, keep: (feature: number) => boolean, shared = false): FeatureSets {
  let total = 0;
  for (let p = 0; p < sets.values.length; p++) if (keep(sets.values[p])) total++;
  const n = sets.offsets.length - 1;
  const offsets = allocate(Float64Array, n + 1, shared);
  const values = allocate(Uint32Array, total, shared);
  const weights = allocate(Float32Array, total, shared);
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
