/**
 * Stage 3: MinHash signatures. Every engine fills `k` 32-bit values per article into one contiguous
 * Uint32Array (article i owns [i*k, (i+1)*k)); two articles' Jaccard similarity is estimated by the
 * fraction of positions where their values agree.
 */
import { createRequire } from 'node:module';
import invariant from 'tiny-invariant';
import { mix32, randomStream } from './hash.js';

export interface SignatureEngine {
  readonly name: string;
  /** Values per signature. */
  readonly k: number;
  /** Writes the signature of a sorted, distinct feature set into `out` (length k). */
  sign(features: Uint32Array, out: Uint32Array): void;
  /**
   * Weighted signature, estimating the weighted Jaccard similarity. Engines without it get each feature spelt
   * out as copies (WeightedReplicator) and go through `sign`.
   */
  signWeighted?(features: Uint32Array, weights: Float32Array, out: Uint32Array): void;
}

export const ENGINE_NAMES = ['sketch', 'oph', 'minhash'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

export function createEngine(name: EngineName, k: number, seed: number): SignatureEngine {
  invariant(Number.isInteger(k) && k >= 2 && k <= 4096, 'k must be a whole number in 2..4096');
  if (name === 'sketch') return new FastSketchEngine(k, seed);
  if (name === 'oph') return new OnePermutationEngine(k, seed);
  if (name === 'minhash') return new MinhashPackageEngine(k, seed);
  throw new Error(`unknown signature engine "${name}": use one of ${ENGINE_NAMES.join(', ')}`);
}

/**
 * The value every position of an empty set's signature holds. Empty sets have no similarity to anything;
 * the candidate stage skips them rather than let them all collide.
 */
export const EMPTY_SIGNATURE_VALUE = 0xffffffff;

/**
 * Multiply-shift: maps a 32-bit hash uniformly onto 0..k-1 without the bias of h % k. The product of a
 * 32-bit hash and k <= 4096 stays below 2^53, so the double arithmetic is exact.
 */
function binOf(hash: number, k: number): number {
  // Truncation is the floor here (the product is positive and below 2^31 after the scaling), and cheaper.
  return (hash * k * TWO_TO_MINUS_32) | 0;
}

/** 2^-32: multiplying by it is exact, as dividing by 2^32 is, and cheaper. */
const TWO_TO_MINUS_32 = 2.3283064365386963e-10;

/**
 * One-permutation hashing with optimal densification (Shrivastava, ICML 2017). Each feature is hashed once:
 * the hash picks one of k bins and a second, independent hash is the bin's candidate minimum. Bins left empty
 * borrow the value of a non-empty bin chosen by a probe sequence that depends only on the bin's index, so two
 * articles borrow from the same place; that keeps the estimate unbiased with variance close to k independent
 * permutations, at a cost of one hash per feature instead of k.
 */
export class OnePermutationEngine implements SignatureEngine {
  readonly name = 'oph';
  readonly k: number;
  private readonly binSeed: number;
  private readonly valueSeed: number;
  private readonly probeSeed: number;
  private readonly filled: Uint8Array;

  constructor(k: number, seed: number) {
    const random = randomStream(seed);
    this.k = k;
    this.binSeed = random();
    this.valueSeed = random();
    this.probeSeed = random();
    this.filled = new Uint8Array(k);
  }

  sign(features: Uint32Array, out: Uint32Array): void {
    const k = this.k;
    invariant(out.length === k, 'signature slot has length k');
    out.fill(EMPTY_SIGNATURE_VALUE);
    if (features.length === 0) return;
    const filled = this.filled;
    filled.fill(0);
    let filledCount = 0;
    for (let f = 0; f < features.length; f++) {
      const h = mix32(features[f] ^ this.binSeed);
      const bin = binOf(h, k);
      const value = mix32(h ^ this.valueSeed);
      if (filled[bin] === 0) {
        filled[bin] = 1;
        filledCount++;
        out[bin] = value;
      } else if (value < out[bin]) {
        out[bin] = value;
      }
    }
    if (filledCount === k) return;
    for (let bin = 0; bin < k; bin++) {
      if (filled[bin] === 1) continue;
      for (let attempt = 1; ; attempt++) {
        const probe = mix32(Math.imul(bin + 1, 0x9e3779b1) ^ Math.imul(attempt, 0x85ebca77) ^ this.probeSeed);
        const source = binOf(probe, k);
        if (filled[source] === 1) {
          out[bin] = out[source];
          break;
        }
      }
    }
  }
}

/**
 * Fast similarity sketching (after Dahlgaard, Knudsen and Thorup, FOCS 2017): the features are dealt into the
 * k bins in rounds. In round r every feature is hashed, with the round number in the seed; the hash's high
 * bits pick one bin, and a bin keeps the smallest hash of the first round that reaches it. Rounds continue
 * until every bin holds a value, so no bin ever borrows another's (the correlation that densification brings for small sets),
 * and each bin agrees between two articles exactly when the first sample to reach it in the union of their
 * features is a shared feature: an unbiased estimate with the variance of k independent permutations or less.
 * Cost: one hash per feature and round; one round (rarely two) once an article has a few times k features,
 * about k ln k hashes for the smallest articles.
 *
 * Weighted sets (signWeighted) run the same rounds, but within a bin the features race: each draws an
 * exponential arrival time of rate equal to its weight from its hash, and the earliest arrival wins (the
 * race of P-MinHash, Moulton and Jiang 2018, run per bin). A feature then wins its bin with chance
 * proportional to its weight, so a bin agrees between two articles with chance (shared weight) / (union
 * weight) of the features dealt to it, a feature weighing the same in both articles as IDF weights do. The
 * estimate is the mean of that over bins: the weighted Jaccard similarity when weights are alike, drifting
 * towards the plain Jaccard when a few features carry most of the weight, since each feature sits in one bin
 * only. IDF weights are alike enough: on generated articles the estimate's error against the exact weighted
 * Jaccard is no larger than with the earlier replication of weight / quantum copies per feature (`npm run
 * bench`), at a quarter of the cost. Exact P-MinHash (every feature racing in every bin, in the manner of
 * ProbMinHash) measured 2-3 times slower here.
 */
export class FastSketchEngine implements SignatureEngine {
  readonly name = 'sketch';
  readonly k: number;
  private readonly binSeed: number;
  /** The round in which each bin got its value, -1 while empty. */
  private readonly filledIn: Int32Array;
  /** The winning arrival time of each bin (weighted sets), Infinity while empty. */
  private readonly arrival: Float64Array;
  /** k = 2^s: a hash's bin is its top s bits, 32 - s here (binOf's product, without the floating point); else -1. */
  private readonly binShift: number;
  /** The features of positive weight, and their weights, gathered for the rounds after the first. */
  private liveFeatures = new Uint32Array(1024);
  private liveWeights = new Float32Array(1024);

  constructor(k: number, seed: number) {
    this.k = k;
    this.binSeed = randomStream(seed)();
    this.filledIn = new Int32Array(k);
    this.arrival = new Float64Array(k);
    this.binShift = (k & (k - 1)) === 0 ? 32 - Math.log2(k) : -1;
  }

  sign(features: Uint32Array, out: Uint32Array): void {
    const k = this.k;
    invariant(out.length === k, 'signature slot has length k');
    out.fill(EMPTY_SIGNATURE_VALUE);
    if (features.length === 0) return;
    const filledIn = this.filledIn;
    filledIn.fill(-1);
    let filled = 0;
    for (let round = 0; filled < k; round++) {
      const roundSeed = this.roundSeed(round);
      for (let f = 0; f < features.length; f++) {
        // The hash picks the bin through its high bits; within a bin, the hash itself orders the samples.
        const h = mix32(features[f] ^ roundSeed);
        const bin = binOf(h, k);
        const at = filledIn[bin];
        if (at === -1) {
          filledIn[bin] = round;
          filled++;
          out[bin] = h;
        } else if (at === round && h < out[bin]) {
          out[bin] = h;
        }
      }
    }
  }

  /** Features of weight 0 or less never arrive: they are left out. A bin holds its winner's hash. */
  signWeighted(features: Uint32Array, weights: Float32Array, out: Uint32Array): void {
    const k = this.k;
    invariant(out.length === k, 'signature slot has length k');
    invariant(weights.length === features.length, 'one weight per feature');
    out.fill(EMPTY_SIGNATURE_VALUE);
    this.filledIn.fill(-1);
    // The first round over the article as it is: most articles fill every bin in it.
    let filled = this.race(features, weights, features.length, 0, 0, out);
    if (filled === k) return;
    // Later rounds over the features that can arrive, gathered once: when the signature's document-frequency
    // cap leaves an article a few features of weight above 0 among hundreds, each round then costs those few.
    // A caller that gives only such features (tasks.ts, signBatch) has them gathered already.
    let liveFeatures = features;
    let liveWeights = weights;
    let live = 0;
    while (live < features.length && weights[live] > 0) live++;
    if (live < features.length) {
      if (this.liveFeatures.length < features.length) {
        this.liveFeatures = new Uint32Array(features.length * 2);
        this.liveWeights = new Float32Array(features.length * 2);
      }
      ({ liveFeatures, liveWeights } = this);
      live = 0;
      for (let f = 0; f < features.length; f++) {
        if (!(weights[f] > 0)) continue;
        liveFeatures[live] = features[f];
        liveWeights[live++] = weights[f];
      }
    }
    if (live === 0) return;
    for (let round = 1; filled < k; round++) filled = this.race(liveFeatures, liveWeights, live, round, filled, out);
  }

  /**
   * One round of the weighted race over features[0, count): each feature of positive weight arrives in one
   * bin, at an exponential time of rate its weight. Bins filled in an earlier round are closed. Returns the
   * number of filled bins.
   */
  private race(features: Uint32Array, weights: Float32Array, count: number, round: number, filled: number, out: Uint32Array): number {
    const k = this.k;
    const { filledIn, arrival, binShift } = this;
    const roundSeed = this.roundSeed(round);
    for (let f = 0; f < count; f++) {
      const weight = weights[f];
      if (!(weight > 0)) continue;
      const h = mix32(features[f] ^ roundSeed);
      const bin = binShift >= 0 ? h >>> binShift : binOf(h, k);
      const at = filledIn[bin];
      if (at !== -1 && at !== round) continue;
      const v = drawOf(h, k);
      // -ln(U) >= v + v^2 / 2 with v = 1 - U: most features lose to the bin's leader on this bound, without
      // a logarithm or a division.
      if (at === round && v * (1 + 0.5 * v) >= arrival[bin] * weight) continue;
      const time = arrivalTime(v, weight);
      if (at === -1) {
        filledIn[bin] = round;
        filled++;
        arrival[bin] = time;
        out[bin] = h;
      } else if (time < arrival[bin]) {
        arrival[bin] = time;
        out[bin] = h;
      }
    }
    return filled;
  }

  private roundSeed(round: number): number {
    return this.binSeed ^ mix32(Math.imul(round + 1, 0x9e3779b1));
  }
}

/**
 * A feature's draw in its bin: v = 1 - U, with U in (0, 1) the fraction of hash * k that binOf drops, the
 * hash bits below those that chose the bin: uniform, and independent of the bin.
 */
function drawOf(hash: number, k: number): number {
  return 1 - ((Math.imul(hash, k) >>> 0) + 0.5) * TWO_TO_MINUS_32;
}

/** The arrival time of a feature of weight `weight` whose draw is v: -ln(U) / weight, exponential of rate weight. */
function arrivalTime(v: number, weight: number): number {
  return -Math.log(1 - v) * (1 / weight);
}

/** Largest multiplier that keeps `a * hash + b` exact in a double for the package's hashes (< 2^33). */
const EXACT_MULTIPLIER_LIMIT = 2 ** 20;

interface MinhashInstance {
  hashvalues: number[];
  permA: number[];
  permB: number[];
  update(value: string): void;
}

/**
 * Classic k-permutation MinHash from the npm `minhash` package, kept as a reference engine. Its own
 * permutations compute `(a * hash + b) % prime` with a and hash near 2^32, so the product overflows 2^53 and
 * the low bits are lost; we replace a and b with values below 2^20, which keeps every product exact. It
 * hashes each feature string once per permutation: that cost is the package's and is why it is slow.
 */
export class MinhashPackageEngine implements SignatureEngine {
  readonly name = 'minhash';
  readonly k: number;
  private readonly Minhash: new (config: { numPerm: number; seed: number }) => MinhashInstance;
  private readonly permA: number[];
  private readonly permB: number[];

  constructor(k: number, seed: number) {
    this.k = k;
    this.Minhash = (createRequire(import.meta.url)('minhash') as { Minhash: MinhashPackageEngine['Minhash'] }).Minhash;
    const random = randomStream(seed);
    const used = new Set<number>();
    this.permA = [];
    this.permB = [];
    while (this.permA.length < k) {
      const a = 1 + (random() % (EXACT_MULTIPLIER_LIMIT - 1));
      if (used.has(a)) continue;
      used.add(a);
      this.permA.push(a);
      this.permB.push(random() % EXACT_MULTIPLIER_LIMIT);
    }
  }

  sign(features: Uint32Array, out: Uint32Array): void {
    invariant(out.length === this.k, 'signature slot has length k');
    if (features.length === 0) {
      out.fill(EMPTY_SIGNATURE_VALUE);
      return;
    }
    const minhash = new this.Minhash({ numPerm: this.k, seed: 1 });
    minhash.permA = this.permA;
    minhash.permB = this.permB;
    for (let f = 0; f < features.length; f++) minhash.update(String(features[f]));
    // Values lie below the package's prime 2^32 + 15; the 15 values past 2^32 wrap onto 0..14, a
    // collision chance of about 15 / 2^32 per position.
    for (let i = 0; i < this.k; i++) out[i] = minhash.hashvalues[i] >>> 0;
  }
}

/** Estimated Jaccard similarity of articles i and j: the fraction of agreeing signature positions. */
export function estimateJaccard(signatures: Uint32Array, k: number, i: number, j: number): number {
  const a = i * k;
  const b = j * k;
  if (signatures[a] === EMPTY_SIGNATURE_VALUE && isEmptySignature(signatures, k, i)) return 0;
  let agree = 0;
  for (let p = 0; p < k; p++) if (signatures[a + p] === signatures[b + p]) agree++;
  return agree / k;
}

export function isEmptySignature(signatures: Uint32Array, k: number, i: number): boolean {
  for (let p = i * k, end = p + k; p < end; p++) if (signatures[p] !== EMPTY_SIGNATURE_VALUE) return false;
  return true;
}
