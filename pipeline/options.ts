/**
 * Every tunable of a run, with the defaults. The defaults are the similarity model: see README
 * ("The similarity model") for the measurements behind them.
 */
import { type Linkage, type SimilarityMeasure } from './cluster.js';
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
  /**
   * Features in more than this many articles are left out of signatures (not of the exact check); 0 = none.
   * Candidate pairs grow with the square of a feature's document frequency, and a feature shared by more
   * articles than any story has singles nothing out. A story bigger than the cap still finds its pairs
   * through its rarer features: on ECB+, a cap of 10 (about half its larger events) costs 0.017 F1.
   */
  signatureMaxDf: number;
  /** Seed of every hash function, so a run is reproducible and signatures from two runs are comparable. */
  seed: number;
  /** Verification threshold on `measure`. */
  threshold: number;
  measure: SimilarityMeasure;
  /**
   * Jaccard similarity the LSH banding is tuned for; pairs well below it are rarely even compared. By
   * default LSH_SHARE x threshold (see lshThresholdFor).
   */
  lshThreshold: number;
  /**
   * Jaccard similarity the copy signatures' bands are tuned for (see COPY_K in stages.ts): near copies are
   * candidates however many articles share their grams. 0 = no copy bands.
   */
  copyThreshold: number;
  /** Bucket size past which LSH stops emitting all pairs (see candidates.ts). */
  maxBucketSize: number;
  /** A pair whose articles both have MIN_FACTS facts is rejected when their facts' Jaccard is below this. */
  factAgreement: number;
  /** How verified pairs join groups of articles into clusters (see cluster.ts). */
  linkage: Linkage;
  /** With average linkage: the mean similarity two groups need, as a fraction of the threshold. */
  groupSimilarity: number;
  /** Stop at the first bad input (exit code 1) instead of skipping it and listing it in rejected.csv. */
  strict: boolean;
  /** Concurrent file reads. */
  readConcurrency: number;
  /** Worker threads for shingling and signing; 0 runs them on the main thread. Never changes the output. */
  workers: number;
}

/**
 * LSH is tuned below the verification threshold: banding tuned for t itself still misses about one pair in
 * ten right at t (k = 128), and every missed pair of a rewrite is a rewrite left out of its story (COUNTER
 * dev with LSH at t, then at 0.6 x t: pairs recall 0.913 -> 0.918, MCC 0.586 -> 0.611; docs/similarity.md).
 */
export const LSH_SHARE = 0.6;

export function lshThresholdFor(threshold: number): number {
  return threshold * LSH_SHARE;
}

const DEFAULT_THRESHOLD = 0.08;

export const DEFAULT_OPTIONS: PipelineOptions = {
  shingles: DEFAULT_SHINGLE_OPTIONS,
  weighting: 'idf',
  engine: 'sketch',
  k: 128,
  signatureMaxDf: 50,
  seed: 1,
  threshold: DEFAULT_THRESHOLD,
  measure: 'jaccard',
  lshThreshold: lshThresholdFor(DEFAULT_THRESHOLD),
  copyThreshold: 0.7,
  maxBucketSize: 1000,
  factAgreement: 0.13,
  linkage: 'every-member',
  groupSimilarity: 0.5,
  strict: false,
  readConcurrency: 16,
  workers: DEFAULT_WORKERS,
};
