/**
 * Every tunable of a run, with the defaults. The defaults are the similarity model: see README
 * ("The similarity model") for the measurements behind them.
 */
import { type SimilarityMeasure } from './cluster.js';
import { type ShingleOptions, DEFAULT_SHINGLE_OPTIONS } from './shingle.js';
import { type EngineName } from './signature.js';
import { type Weighting } from './weights.js';
import { DEFAULT_WORKERS } from './worker-pool.js';

export interface PipelineOptions {
  shingles: ShingleOptions;
  /** How features are weighted in signatures and in the exact check. */
  weighting: Weighting;
  engine: EngineName;
  /** Signature length. */
  k: number;
  /** Features in more than this many articles are left out of signatures (not of the exact check); 0 = none. */
  signatureMaxDf: number;
  /** Seed of every hash function, so a run is reproducible and signatures from two runs are comparable. */
  seed: number;
  /** Verification threshold on `measure`. */
  threshold: number;
  measure: SimilarityMeasure;
  /** Jaccard similarity the LSH banding is tuned for; pairs well below it are rarely even compared. */
  lshThreshold: number;
  /** Bucket size past which LSH stops emitting all pairs (see candidates.ts). */
  maxBucketSize: number;
  groupSimilarity: number;
  /** Concurrent file reads. */
  readConcurrency: number;
  /** Worker threads for shingling and signing; 0 runs them on the main thread. Never changes the output. */
  workers: number;
}

export const DEFAULT_OPTIONS: PipelineOptions = {
  shingles: DEFAULT_SHINGLE_OPTIONS,
  weighting: 'smooth-idf',
  engine: 'sketch',
  k: 128,
  signatureMaxDf: 0,
  seed: 1,
  threshold: 0.15,
  measure: 'jaccard',
  lshThreshold: 0.15,
  maxBucketSize: 1000,
  groupSimilarity: 0.5,
  readConcurrency: 16,
  workers: DEFAULT_WORKERS,
};
