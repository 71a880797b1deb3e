/**
 * Fact fingerprints: every article's facts (facts.ts) in one fixed-size record of 128 bytes, two cache lines,
 * for a quick upper bound on the fact weight two articles share. Verification (cluster.ts, verifyPairs)
 * rejects 99% of the candidate pairs of a million generated articles because their facts disagree. Read from
 * the facts themselves, each such pair waited on four arrays (totals, offsets, facts, weight codes), the facts
 * only once their offset had come; a record is found from the article's number alone, so its two lines come
 * at once, with the totals. The bound never rejects a pair that the exact comparison keeps: a pair it cannot
 * reject goes on to the exact comparison, which decides as before.
 *
 * A record holds up to RECORDED_FACTS facts as two bytes each, a 16-bit fingerprint of the fact's hash. The
 * first article of a pair, shared by the many candidates that follow it, is loaded whole from its facts: each
 * of its fingerprints with the highest weight among its facts that have it. A fact both articles have weighs
 * the same in both (IDF weighs a feature by its document frequency alone), so the bound counts it at no less
 * than its weight; two facts with one fingerprint may be different facts, which can only raise the bound. An
 * article with more facts records those that weigh most, and the weight of the others, rounded up, is added to
 * every bound it is the second article of.
 */
import { type FeatureSets } from './feature-sets.js';
import { allocate } from './typed-arrays.js';

/** Two-byte slots per record: the count, one unused, the unrecorded weight (a float32 over slots 2 and 3), the facts. */
const RECORD_SLOTS = 64;
const FIRST_FACT = 4;
export const RECORDED_FACTS = RECORD_SLOTS - FIRST_FACT;
/**
 * The fingerprint is the fact hash's top 16 bits. Twelve bits and a 4-bit class of the weight beside them,
 * the bound over the first 20 million candidates of a million generated articles let 1,147,120 of them on to
 * the exact comparison instead of 1,075,419 (the exact one keeps 173,881), and took 6.3-8.1 s on one thread
 * instead of 6.0-6.5 (a script running both bounds over those candidates).
 */
export const FINGERPRINT_BITS = 16;

export interface FactFingerprints {
  /** RECORD_SLOTS per article (see above), in shared memory when allocated so. */
  records: Uint16Array;
  /** The same memory: the unrecorded weight of article i at 32i + 1. */
  unrecorded: Float32Array;
}

/** Room for the records of `articles` articles, for writeFactFingerprints to fill. */
export function allocateFactFingerprints(articles: number, shared = false): FactFingerprints {
  const records = allocate(Uint16Array, RECORD_SLOTS * articles, shared);
  return { records, unrecorded: new Float32Array(records.buffer, records.byteOffset, records.length / 2) };
}

/** The records of articles from .. to - 1, from `facts` (the articles' facts alone: selectFeatures(sets, isFact)). */
export function writeFactFingerprints(facts: FeatureSets, prints: FactFingerprints, from: number, to: number): void {
  const { offsets, values, weightCodes, weightOfCode } = facts;
  const { records, unrecorded } = prints;
  for (let i = from; i < to; i++) {
    const start = offsets[i];
    const end = offsets[i + 1];
    const at = RECORD_SLOTS * i;
    // When the facts do not all fit, their places, heaviest first: those that can tell two stories apart are
    // recorded, and the rest only add their weight.
    let heaviestFirst: number[] | undefined;
    let left = 0;
    if (end - start > RECORDED_FACTS) {
      heaviestFirst = Array.from({ length: end - start }, (_, f) => start + f).sort((x, y) => weightOfCode[weightCodes[y]] - weightOfCode[weightCodes[x]] || x - y);
      for (const p of heaviestFirst.slice(RECORDED_FACTS)) left += weightOfCode[weightCodes[p]];
    }
    records[at] = Math.min(end - start, RECORDED_FACTS);
    records[at + 1] = 0;
    // Rounded up, so that the bound stays a bound.
    unrecorded[at / 2 + 1] = left === 0 ? 0 : Math.fround(left * (1 + 2 ** -20));
    for (let f = 0; f < records[at]; f++) records[at + FIRST_FACT + f] = values[heaviestFirst ? heaviestFirst[f] : start + f] >>> (32 - FINGERPRINT_BITS);
  }
}

/** Every article's record: allocateFactFingerprints and writeFactFingerprints at once. */
export function factFingerprints(facts: FeatureSets): FactFingerprints {
  const articles = facts.offsets.length - 1;
  const prints = allocateFactFingerprints(articles);
  writeFactFingerprints(facts, prints, 0, articles);
  return prints;
}

/**
 * One article's facts by fingerprint in a table (65,536 floats, in the second-level cache), to bound the fact
 * weight it shares with many others: candidate pairs come sorted by their first article.
 */
export class SharedFactsBound {
  /** The highest weight of the loaded article's facts with each fingerprint; 0 for none. */
  private readonly table = new Float32Array(1 << FINGERPRINT_BITS);
  /** The article the table holds, -1 for none. */
  article = -1;

  /** Loads article `article` of `facts` (the articles' facts alone), all of its facts, recorded or not. */
  load(article: number, facts: FeatureSets): void {
    const { offsets, values, weightCodes, weightOfCode } = facts;
    const { table } = this;
    if (this.article >= 0) for (let p = offsets[this.article]; p < offsets[this.article + 1]; p++) table[values[p] >>> (32 - FINGERPRINT_BITS)] = 0;
    for (let p = offsets[article]; p < offsets[article + 1]; p++) {
      const print = values[p] >>> (32 - FINGERPRINT_BITS);
      table[print] = Math.max(table[print], weightOfCode[weightCodes[p]]);
    }
    this.article = article;
  }

  /**
   * At least the fact weight the loaded article shares with article `other` (the sum of the lesser weight of
   * each shared fact, as rangeSimilarity counts it).
   */
  bound(other: number, prints: FactFingerprints): number {
    const { records, unrecorded } = prints;
    const { table } = this;
    const at = RECORD_SLOTS * other;
    let shared = unrecorded[at / 2 + 1];
    const end = at + FIRST_FACT + records[at];
    for (let f = at + FIRST_FACT; f < end; f++) shared += table[records[f]];
    return shared;
  }
}

/** Reads the first slot of each of a record's two cache lines (see cluster.ts, touchFacts); returns their sum. */
export function touchRecord(prints: FactFingerprints, article: number): number {
  const at = RECORD_SLOTS * article;
  return prints.records[at] + prints.records[at + RECORD_SLOTS / 2];
}
