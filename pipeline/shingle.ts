/**
 * Stage 2: turn a normalized text into its set of features ("shingles"), each hashed to 32 bits, as a
 * sorted array without repeats. Sorted sets make the exact Jaccard check of a candidate pair one merge.
 */
import { createRequire } from 'node:module';
import invariant from 'tiny-invariant';
import { CHAR_CLASS, CodeUnits, DIGIT } from './char-classes.js';
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
 * Bucket sort (see sorted): one or two hashes a bucket on average. With a bucket longer than this (only input
 * made to collide could fill one) the features go to the built-in sort instead of insertion sort, which is
 * quadratic.
 */
const MAX_INSERTION = 32;
/** Below this many features the built-in sort is as quick. */
const BUCKET_MIN = 256;

/**
 * Reusable shingler: holds scratch buffers sized for the largest text seen so far, so that shingling a
 * stream of articles allocates nothing per token.
 */
export class Shingler {
  readonly options: ShingleOptions;
  private readonly stopwords: HashSet32;
  private tokens = new Uint32Array(1024);
  private features = new Uint32Array(4096);
  private sortScratch = new Uint32Array(4096);
  private bucketEnds = new Uint32Array(1025);
  /** The content tokens joined by spaces, as code units, for character n-grams. */
  private joined = new Uint16Array(4096);
  private joinedLength = 0;
  private readonly codeUnits = new CodeUnits();

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
    return this.shingleView(text, rawText).slice();
  }

  /**
   * The same features in the shingler's scratch buffer, valid until its next call: a caller that copies them
   * into a buffer of its own (tasks.ts, shingleBatch) saves an array per article.
   */
  shingleView(text: string, rawText?: string): Uint32Array {
    const count = this.tokenize(text);
    let n = 0;
    for (const size of this.options.wordNgrams) n = this.addWordNgrams(count, size, n);
    if (this.options.charNgram > 0) n = this.addCharNgrams(this.options.charNgram, n);
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
    return features.subarray(0, unique);
  }

  /**
   * Content tokens of `text`: their hashes into `tokens`, and their code units, joined by single spaces, into
   * `joined` (for character n-grams: copied as they are read, instead of read from the string again).
   * Returns how many tokens.
   */
  private tokenize(text: string): number {
    const length = text.length;
    const minWordLength = this.options.minWordLength;
    // The joined tokens are never longer than the text: a space stands for at least one character between two.
    if (this.joined.length < length) this.joined = new Uint16Array(Math.max(length, 2 * this.joined.length));
    const joined = this.joined;
    const units = this.codeUnits.of(text);
    let at = 0;
    let count = 0;
    let i = 0;
    while (i < length) {
      let cls = CHAR_CLASS[units[i]];
      if (cls === 0) {
        i++;
        continue;
      }
      const start = i;
      // Where the token's code units go; taken back if it is not a content token.
      const mark = at;
      if (count > 0) joined[at++] = 32;
      let h = FNV_OFFSET;
      let allDigits = true;
      while (i < length) {
        const c = units[i];
        cls = CHAR_CLASS[c];
        if (cls === 0) {
          // "1,000" and "3.5" are one number; elsewhere punctuation ends the token.
          const joinsDigits =
            (c === 44 || c === 46) && i > start && CHAR_CLASS[units[i - 1]] & DIGIT && i + 1 < length && CHAR_CLASS[units[i + 1]] & DIGIT;
          if (!joinsDigits) break;
        } else if ((cls & DIGIT) === 0) {
          allDigits = false;
        }
        h = hashUnit(h, c);
        joined[at++] = c;
        i++;
      }
      h = mix32(h);
      if ((!allDigits && i - start < minWordLength) || this.stopwords.has(h)) {
        at = mark;
        continue;
      }
      if (count === this.tokens.length) this.tokens = doubled(this.tokens);
      this.tokens[count++] = h;
    }
    this.joinedLength = at;
    return count;
  }

  private addWordNgrams(count: number, size: number, n: number): number {
    for (let i = 0; i + size <= count; i++) {
      let h = this.tokens[i];
      for (let j = 1; j < size; j++) h = combine32(h, this.tokens[i + j]);
      // Different n-gram sizes live in different hash spaces, so a bigram never equals a unigram.
      if (size > 1) h = combine32(h, size);
      if (n === this.features.length) this.growFeatures();
      this.features[n++] = asWording(h);
    }
    return n;
  }

  /** Character n-grams over the content tokens joined by single spaces (tokenize's `joined`). */
  private addCharNgrams(size: number, n: number): number {
    const total = this.joinedLength;
    const joined = this.joined;
    const windows = total < size ? (total > 0 ? 1 : 0) : total - size + 1;
    const width = Math.min(size, total);
    while (n + windows > this.features.length) this.growFeatures();
    const seed = FNV_OFFSET ^ 0x5bd1e995; // a different start than words, so "ab" the word is not "ab" the bigram
    const features = this.features;
    if (width === 5) {
      // The default size, unrolled: the code units of a window stay in registers, and the processor works on
      // several windows at once. It gives the hashes of the loop below; shingle() took 33.8 µs an article of
      // the generated corpus instead of 39.7 (a script timing it over 30,000 articles).
      let c0 = joined[0];
      let c1 = joined[1];
      let c2 = joined[2];
      let c3 = joined[3];
      for (let start = 0; start < windows; start++) {
        const c4 = joined[start + 4];
        features[n++] = asWording(mix32(hashUnit(hashUnit(hashUnit(hashUnit(hashUnit(seed, c0), c1), c2), c3), c4)));
        c0 = c1;
        c1 = c2;
        c2 = c3;
        c3 = c4;
      }
      return n;
    }
    for (let start = 0; start < windows; start++) {
      let h = seed;
      for (let k = start; k < start + width; k++) h = hashUnit(h, joined[k]);
      features[n++] = asWording(mix32(h));
    }
    return n;
  }

  /**
   * this.features[0 .. n) in ascending order. The values are hashes, spread evenly, so one counting pass on
   * their top bits puts them into about n / 2 buckets of a few each, in bucket order; one insertion sort over
   * the whole array then only moves values within their bucket. 9.5 µs for 740 hashes, where an insertion
   * sort per bucket took 15.5 and the built-in sort 25 (a script over the generated corpus's features).
   * Returns a view of the scratch buffer that holds the result.
   */
  private sorted(n: number): Uint32Array {
    if (n < BUCKET_MIN) return this.features.subarray(0, n).sort();
    let bits = 8;
    while (2 << bits <= n) bits++;
    const buckets = 1 << bits;
    const shift = 32 - bits;
    if (this.sortScratch.length < n) this.sortScratch = new Uint32Array(this.features.length);
    if (this.bucketEnds.length < buckets) this.bucketEnds = new Uint32Array(buckets);
    const from = this.features;
    const to = this.sortScratch;
    // Bucket d is counted in ends[d]; summed, ends[d] is where it ends. Each value is then placed just before
    // its bucket's end, which moves down, so that afterwards bucket d is to[ends[d] .. ends[d + 1]).
    const ends = this.bucketEnds;
    ends.fill(0, 0, buckets);
    for (let i = 0; i < n; i++) ends[from[i] >>> shift]++;
    let sum = 0;
    let largest = 0;
    for (let d = 0; d < buckets; d++) {
      if (ends[d] > largest) largest = ends[d];
      sum += ends[d];
      ends[d] = sum;
    }
    // Only input made to collide could fill a bucket this much, and make the insertion sort quadratic.
    if (largest > MAX_INSERTION) return from.subarray(0, n).sort();
    for (let i = 0; i < n; i++) {
      const v = from[i];
      to[--ends[v >>> shift]] = v;
    }
    for (let i = 1; i < n; i++) {
      const v = to[i];
      if (to[i - 1] <= v) continue;
      let j = i - 1;
      while (j >= 0 && to[j] > v) {
        to[j + 1] = to[j];
        j--;
      }
      to[j + 1] = v;
    }
    return to.subarray(0, n);
  }

  private growFeatures(): void {
    this.features = doubled(this.features);
  }
}
