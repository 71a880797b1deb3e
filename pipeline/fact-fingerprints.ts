/**
 * Fact fingerprints: every article's facts (facts.ts) in one fixed-size record of 128 bytes, two cache lines,
 * for a quick upper bound on the fact weight two articles share. Verification (cluster.ts, verifyPairs)
 * rejects 99% of the candidate pairs of a million generated articles because their facts disagree. Read from
 * the facts themselves, each such pair waited on four arrays (totals, offsets, facts, weight codes), the facts
 * only once their offset had come; a record is found from the article's number alone, so its two lines come
 * at once, with the totals. The bound never rejects a pair that the exact comparison keeps: a pair it cannot
 * reject goes on to the exact comparison, which decides as before.
 *
 * A record holds up to RECORDED_FACTS facts as two bytes each: a 12-bit fingerprint of the fact's hash and a
 * 4-bit class of its weight. Two facts with one fingerprint may be different facts, and a class stands for the
 * highest weight in it; both can only raise the bound. An article with more facts records those that weigh
 * most, and the weight of the others, rounded up, is added to every bound it is the second article of. The
 * first article of a pair, shared by the many candidates that follow it, is loaded whole from its facts.
 */
import { type FeatureSets } from './feature-sets.js';
import { allocate } from './typed-arrays.js';

/** Two-byte slots per record: the count, one unused, the unrecorded weight (a float32 over slots 2 and 3), the facts. */
const RECORD_SLOTS = 64;
const FIRST_FACT = 4;
export const RECORDED_FACTS = RECORD_SLOTS - FIRST_FACT;
const FINGERPRINT_BITS = 12;
const CLASS_BITS = 4;
const CLASSES = 1 << CLASS_BITS;

export interface FactFingerprints {
  /** RECORD_SLOTS per article (see above), in shared memory when allocated so. */
  records: Uint16Array;
  /** The same memory: the unrecorded weight of article i at 32i + 1. */
  unrecorded: Float32Array;
  /** The class of each weight code of the sets the records were made from. */
  classOfCode: Uint8Array;
  /** The highest weight of each class. */
  classWeight: Float32Array;
}

/** Room for the records of `articles` articles of sets weighed by `weightOfCode`, for writeFactFingerprints to fill. */
export function allocateFactFingerprints(articles: number, weightOfCode: Float32Array, shared = false): FactFingerprints {
  const records = allocate(Uint16Array, RECORD_SLOTS * articles, shared);
  const unrecorded = new Float32Array(records.buffer, records.byteOffset, records.length / 2);
  // Classes split the weights' range evenly; a class weighs as its heaviest code.
  let heaviest = 0;
  for (const weight of weightOfCode) heaviest = Math.max(heaviest, weight);
  const classOfCode = new Uint8Array(weightOfCode.length);
  const classWeight = new Float32Array(CLASSES);
  for (let code = 0; code < weightOfCode.length; code++) {
    const weight = weightOfCode[code];
    const c = heaviest > 0 ? Math.min(CLASSES - 1, Math.floor((weight / heaviest) * CLASSES)) : 0;
    classOfCode[code] = c;
    classWeight[c] = Math.max(classWeight[c], weight);
  }
  return { records, unrecorded, classOfCode, classWeight };
}

/** The records of articles from .. to - 1, from `facts` (the articles' facts alone: selectFeatures(sets, isFact)). */
export function writeFactFingerprints(facts: FeatureSets, prints: FactFingerprints, from: number, to: number): void {
  const { offsets, values, weightCodes, weightOfCode } = facts;
  const { records, unrecorded, classOfCode } = prints;
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
    for (let f = 0; f < records[at]; f++) {
      const p = heaviestFirst ? heaviestFirst[f] : start + f;
      records[at + FIRST_FACT + f] = ((values[p] >>> (32 - FINGERPRINT_BITS)) << CLASS_BITS) | classOfCode[weightCodes[p]];
    }
  }
}

/** Every article's record: allocateFactFingerprints and writeFactFingerprints at once. */
export function factFingerprints(facts: FeatureSets): FactFingerprints {
  const articles = facts.offsets.length - 1;
  const prints = allocateFactFingerprints(articles, facts.weightOfCode);
  writeFactFingerprints(facts, prints, 0, articles);
  return prints;
}

/**
 * One article's facts by fingerprint in a table (4,096 floats, in the first-level cache), to bound the fact
 * weight it shares with many others: candidate pairs come sorted by their first article.
 */
export class SharedFactsBound {
  /** The highest class weight of the loaded article's facts with each fingerprint; 0 for none. */
  private readonly table = new Float32Array(1 << FINGERPRINT_BITS);
  /** The article the table holds, -1 for none. */
  article = -1;

  /** Loads article `article` of `facts` (the articles' facts alone), all of its facts, recorded or not. */
  load(article: number, facts: FeatureSets, prints: FactFingerprints): void {
    const { offsets, values, weightCodes } = facts;
    const { classOfCode, classWeight } = prints;
    const { table } = this;
    if (this.article >= 0) for (let p = offsets[this.article]; p < offsets[this.article + 1]; p++) table[values[p] >>> (32 - FINGERPRINT_BITS)] = 0;
    for (let p = offsets[article]; p < offsets[article + 1]; p++) {
      const print = values[p] >>> (32 - FINGERPRINT_BITS);
      table[print] = Math.max(table[print], classWeight[classOfCode[weightCodes[p]]]);
    }
    this.article = article;
  }

  /**
   * At least the fact weight the loaded article shares with article `other` (the sum of the lesser weight of
   * each shared fact, as rangeSimilarity counts it).
   */
  bound(other: number, prints: FactFingerprints): number {
    const { records, unrecorded, classWeight } = prints;
    const { table } = this;
    const at = RECORD_SLOTS * other;
    let shared = unrecorded[at / 2 + 1];
    for (let f = 0; f < records[at]; f++) {
      const entry = records[at + FIRST_FACT + f];
      const held = table[entry >>> CLASS_BITS];
      if (held > 0) shared += Math.min(held, classWeight[entry & (CLASSES - 1)]);
    }
    return shared;
  }
}

/** Reads the first slot of each of a record's two cache lines (see cluster.ts, touchFacts); returns their sum. */
export function touchRecord(prints: FactFingerprints, article: number): number {
  const at = RECORD_SLOTS * article;
  return prints.records[at] + prints.records[at + RECORD_SLOTS / 2];
}
