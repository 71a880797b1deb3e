/**
 * Stage 2: turn a normalized text into its set of features ("shingles"), each hashed to 32 bits, as a
 * sorted array without repeats. Sorted sets make the exact Jaccard check of a candidate pair one merge.
 */
import { createRequire } from 'node:module';
import invariant from 'tiny-invariant';
import { CHAR_CLASS, DIGIT } from './char-classes.js';
import { asWording, factHashes } from './facts.js';
import { FNV_OFFSET, combine32, hashString, hashUnit, mix32 } from './hash.js';
import { HashSet32 } from './hash-set.js';
import { doubled } from './typed-arrays.js';

export interface ShingleOptions {
  /** Word n-gram sizes to take, e.g. [1] for content words, [1, 2] to add adjacent content-word pairs. */
  wordNgrams: number[];
  /** Character n-gram size over the content words (joined by one space); 0 turns them off. */
  charNgram: number;
  /** Languages whose stopwords are skipped before n-grams are formed: ISO 639-1 codes, 'all' or 'none'. */
  stopwords: string;
  /** Letter tokens shorter than this are skipped (numbers never are: they carry the story). */
  minWordLength: number;
  /** Add the article's facts (numbers, capitalised names; see facts.ts) as features of their own. */
  facts: boolean;
}

export const DEFAULT_SHINGLE_OPTIONS: ShingleOptions = {
  wordNgrams: [],
  charNgram: 5,
  stopwords: 'all',
  minWordLength: 2,
  facts: true,
};

const stopwordSets = new Map<string, HashSet32>();

/** The stopword hashes for a language list, from the stopwords-iso lists (cached per list). */
export function stopwordSet(languages: string): HashSet32 {
  let set = stopwordSets.get(languages);
  if (set) return set;
  const lists = createRequire(import.meta.url)('stopwords-iso') as Record<string, string[]>;
  const codes = languages === 'none' ? [] : languages === 'all' ? Object.keys(lists) : languages.split(',');
  const hashes: number[] = [];
  for (const code of codes) {
    const words = lists[code.trim()];
    if (!words) {
      throw new Error(`unknown stopword language "${code}": use ISO 639-1 codes (${Object.keys(lists).join(', ')}), 'all' or 'none'`);
    }
    for (const word of words) {
      // A stopword only matters as the tokenizer would see it; multi-token entries ("a's") can never match.
      // Numbers in the lists ("10", "39") are dropped: figures are what tell one story from another.
      for (const token of word.normalize('NFKC').toLowerCase().split(/[^\p{L}\p{M}\p{N}]+/u)) {
        if (token !== '' && !/^\p{N}+$/u.test(token)) hashes.push(hashString(token));
      }
    }
  }
  set = new HashSet32(hashes);
  stopwordSets.set(languages, set);
  return set;
}

/**
 * Reusable shingler: holds scratch buffers sized for the largest text seen so far, so that shingling a
 * stream of articles allocates nothing per token.
 */
/** Radix sort digits: three passes of 11 bits cover a 32-bit hash. */
const RADIX_BITS = 11;
const RADIX_MASK = (1 << RADIX_BITS) - 1;
/** Below this many features the built-in sort is as quick (the radix passes cost 3 x 2,048 counts). */
const RADIX_MIN = 256;

export class Shingler {
  readonly options: ShingleOptions;
  private readonly stopwords: HashSet32;
  private tokens = new Uint32Array(1024);
  private tokenStart = new Uint32Array(1024);
  private tokenEnd = new Uint32Array(1024);
  private features = new Uint32Array(4096);
  private radixScratch = new Uint32Array(4096);
  private readonly radixCounts = new Uint32Array(1 << RADIX_BITS);
  /** The content tokens joined by spaces, as code units, for character n-grams. */
  private joined = new Uint16Array(4096);

  constructor(options: ShingleOptions) {
    invariant(options.wordNgrams.every((n) => Number.isInteger(n) && n >= 1 && n <= 16), 'word n-gram sizes are 1..16');
    invariant(Number.isInteger(options.charNgram) && options.charNgram >= 0, 'char n-gram size is a whole number');
    invariant(options.wordNgrams.length > 0 || options.charNgram > 0, 'at least one kind of shingle');
    this.options = options;
    this.stopwords = stopwordSet(options.stopwords);
  }

  /**
   * The sorted, distinct feature hashes of `text` (already normalized), with the facts of `rawText` (the
   * same article before normalization) when the options ask for them. The returned array is a fresh copy
   * the caller may keep.
   */
  shingle(text: string, rawText?: string): Uint32Array {
    const count = this.tokenize(text);
    let n = 0;
    for (const size of this.options.wordNgrams) n = this.addWordNgrams(count, size, n);
    if (this.options.charNgram > 0) n = this.addCharNgrams(text, count, this.options.charNgram, n);
    for (let f = 0; f < n; f++) this.features[f] = asWording(this.features[f]);
    if (this.options.facts && rawText !== undefined) {
      for (const fact of factHashes(rawText)) {
        if (n === this.features.length) this.growFeatures();
        this.features[n++] = fact;
      }
    }
    const features = this.sorted(n);
    let unique = 0;
    for (let i = 0; i < n; i++) {
      if (i === 0 || features[i] !== features[i - 1]) features[unique++] = features[i];
    }
    return features.slice(0, unique);
  }

  /** Content tokens of `text` (hash, start, end) into the scratch arrays; returns how many. */
  private tokenize(text: string): number {
    const length = text.length;
    const minWordLength = this.options.minWordLength;
    let count = 0;
    let i = 0;
    while (i < length) {
      let cls = CHAR_CLASS[text.charCodeAt(i)];
      if (cls === 0) {
        i++;
        continue;
      }
      const start = i;
      let h = FNV_OFFSET;
      let allDigits = true;
      while (i < length) {
        const c = text.charCodeAt(i);
        cls = CHAR_CLASS[c];
        if (cls === 0) {
          // "1,000" and "3.5" are one number; elsewhere punctuation ends the token.
          const joinsDigits =
            (c === 44 || c === 46) && i > start && CHAR_CLASS[text.charCodeAt(i - 1)] & DIGIT && i + 1 < length && CHAR_CLASS[text.charCodeAt(i + 1)] & DIGIT;
          if (!joinsDigits) break;
        } else if ((cls & DIGIT) === 0) {
          allDigits = false;
        }
        h = hashUnit(h, c);
        i++;
      }
      h = mix32(h);
      if ((!allDigits && i - start < minWordLength) || this.stopwords.has(h)) continue;
      if (count === this.tokens.length) this.growTokens();
      this.tokens[count] = h;
      this.tokenStart[count] = start;
      this.tokenEnd[count] = i;
      count++;
    }
    return count;
  }

  private addWordNgrams(count: number, size: number, n: number): number {
    for (let i = 0; i + size <= count; i++) {
      let h = this.tokens[i];
      for (let j = 1; j < size; j++) h = combine32(h, this.tokens[i + j]);
      // Different n-gram sizes live in different hash spaces, so a bigram never equals a unigram.
      if (size > 1) h = combine32(h, size);
      if (n === this.features.length) this.growFeatures();
      this.features[n++] = h;
    }
    return n;
  }

  /**
   * Character n-grams over the content tokens joined by single spaces. The joined code units go to a scratch
   * buffer once, so each window costs `size` hash steps whatever the article's length.
   */
  private addCharNgrams(text: string, count: number, size: number, n: number): number {
    let total = 0;
    for (let t = 0; t < count; t++) total += this.tokenEnd[t] - this.tokenStart[t] + (t > 0 ? 1 : 0);
    if (total > this.joined.length) this.joined = new Uint16Array(Math.max(total, this.joined.length * 2));
    const joined = this.joined;
    let at = 0;
    for (let t = 0; t < count; t++) {
      if (t > 0) joined[at++] = 32;
      for (let c = this.tokenStart[t]; c < this.tokenEnd[t]; c++) joined[at++] = text.charCodeAt(c);
    }
    const windows = total < size ? (total > 0 ? 1 : 0) : total - size + 1;
    const width = Math.min(size, total);
    while (n + windows > this.features.length) this.growFeatures();
    for (let start = 0; start < windows; start++) {
      let h = FNV_OFFSET ^ 0x5bd1e995; // a different start than words, so "ab" the word is not "ab" the bigram
      for (let k = start; k < start + width; k++) h = hashUnit(h, joined[k]);
      this.features[n++] = mix32(h);
    }
    return n;
  }

  /**
   * this.features[0 .. n) in ascending order, by a radix sort of three 11-bit digits through one scratch
   * buffer: a few hundred hashes an article sort in about half the time of the built-in sort, which was half
   * of the shingler's own time. Returns a view of whichever buffer holds the result.
   */
  private sorted(n: number): Uint32Array {
    if (n < RADIX_MIN) return this.features.subarray(0, n).sort();
    if (this.radixScratch.length < n) this.radixScratch = new Uint32Array(this.features.length);
    let from = this.features;
    let to = this.radixScratch;
    const counts = this.radixCounts;
    for (let shift = 0; shift < 32; shift += RADIX_BITS) {
      counts.fill(0);
      for (let i = 0; i < n; i++) counts[(from[i] >>> shift) & RADIX_MASK]++;
      let sum = 0;
      for (let d = 0; d <= RADIX_MASK; d++) {
        const c = counts[d];
        counts[d] = sum;
        sum += c;
      }
      for (let i = 0; i < n; i++) {
        const v = from[i];
        to[counts[(v >>> shift) & RADIX_MASK]++] = v;
      }
      const filled = to;
      to = from;
      from = filled;
    }
    return from.subarray(0, n);
  }

  private growTokens(): void {
    this.tokens = doubled(this.tokens);
    this.tokenStart = doubled(this.tokenStart);
    this.tokenEnd = doubled(this.tokenEnd);
  }

  private growFeatures(): void {
    this.features = doubled(this.features);
  }
}
