/**
 * Stage 4: candidate pairs by LSH banding. Each signature is cut into `bands` bands of `rows` values; two
 * articles whose values agree on a whole band become a candidate pair. Collisions are found by sorting
 * (band key, article) per band, so memory is a few typed arrays of n entries whatever the corpus.
 */
import invariant from 'tiny-invariant';
import { combine32, mix32 } from './hash.js';
import { EMPTY_SIGNATURE_VALUE, isEmptySignature } from './signature.js';
import { KeySorter, allocate, doubled } from './typed-arrays.js';

export interface CandidateOptions {
  bands: number;
  rows: number;
  /**
   * A bucket with more members than this (thousands of copies of one wire story, or boilerplate-only
   * articles) links each member to its first `maxBucketSize` members only, instead of all m^2/2 pairs:
   * enough for the cluster stage to connect them, without a quadratic blow-up.
   */
  maxBucketSize: number;
}

/**
 * At most this many articles per batch. The bound came from packing an article with its band key into one
 * double (key * 2^ARTICLE_BITS + article < 2^53), which the radix sort (KeySorter) no longer does; it stays
 * until batches beyond it are measured.
 */
const ARTICLE_BITS = 21;
export const MAX_ARTICLES_PER_BATCH = 2 ** ARTICLE_BITS;

/** One set of signatures and how to band it. */
export interface BandedSignatures {
  signatures: Uint32Array;
  /** Values per signature. */
  k: number;
  bands: number;
  rows: number;
}

/**
 * The distinct candidate pairs (i < j) as a flat Uint32Array [i0, j0, i1, j1, ...], sorted by (i, j), so the
 * result does not depend on the order bands are processed in.
 */
export function findCandidates(signatures: Uint32Array, k: number, options: CandidateOptions): Uint32Array {
  return findCandidatesIn([{ signatures, k, bands: options.bands, rows: options.rows }], options.maxBucketSize);
}

/**
 * A share of the bands, numbered across several signature sets (the first set's bands, then the next set's,
 * and so on): every `parts`-th band from band `part` on. Interleaved, the shares of two workers hold as many of
 * each set's bands, give or take one, where contiguous ranges gave one worker 27 of a million articles' 49 main
 * bands (4.4 million pairs each) and the other 22 and the 6 copy bands (0.04 million each), and one core stood
 * idle for seconds (node --cpu-prof dist/pipeline/cli.js candidates --out DIR).
 */
export interface BandShare {
  part: number;
  parts: number;
}

/** How many of `bands` bands (numbered from 0) `share` holds: bands part, part + parts, ... */
export function bandsInShare(bands: number, share: BandShare): number {
  return Math.max(0, Math.ceil((bands - share.part) / share.parts));
}

/**
 * The same over several signature sets of the same articles: a pair is a candidate if any band of any set
 * agrees. `share`: only the bands of that share, so that workers can take a share of the bands each and
 * mergeCandidateRange joins them. With `shared`, the pairs are in a SharedArrayBuffer:
 * the workers that merge them read them without a copy.
 */
export function findCandidatesIn(
  sources: BandedSignatures[],
  maxBucketSize: number,
  pinned?: Uint8Array,
  share: BandShare = { part: 0, parts: 1 },
  shared = false,
): Uint32Array {
  invariant(sources.length > 0, 'at least one set of signatures');
  const n = sources[0].signatures.length / sources[0].k;
  invariant(Number.isInteger(n), 'signature array length is a multiple of k');
  invariant(n <= MAX_ARTICLES_PER_BATCH, `at most ${MAX_ARTICLES_PER_BATCH} articles per batch; shard the input`);
  // Each band's (key, article) pairs, sorted by key then article: one pair of arrays sorted into the other.
  const sorter = new KeySorter(n);
  const pairs = new BucketPairs(n, maxBucketSize, pinned, n * bandsInShare(sources.reduce((sum, source) => sum + source.bands, 0), share));
  let numbered = 0;
  for (const { signatures, k, bands, rows } of sources) {
    invariant(bands * rows <= k, `bands x rows (${bands} x ${rows}) must fit in the signature length ${k}`);
    invariant(signatures.length === n * k, 'one signature per article in every set');
    for (let band = 0; band < bands; band++) {
      const inShare = numbered % share.parts === share.part;
      numbered++;
      if (!inShare) continue;
      const { keys, items } = sorter;
      let count = 0;
      for (let i = 0; i < n; i++) {
        if (signatures[i * k] === EMPTY_SIGNATURE_VALUE && isEmptySignature(signatures, k, i)) continue;
        keys[count] = bandKey(signatures, k, rows, i, band);
        items[count++] = i;
      }
      const sorted = sorter.sort(count);
      let bucketStart = 0;
      for (let p = 1; p <= count; p++) {
        if (p < count && sorted.keys[p] === sorted.keys[bucketStart]) continue;
        if (p - bucketStart > 1) pairs.addBucket(sorted.items, bucketStart, p);
        bucketStart = p;
      }
    }
  }
  return pairs.toSortedArray(shared);
}

/**
 * Where the parts of a merge of sorted, distinct candidate lists (findCandidatesIn over disjoint band
 * shares) begin and end, by first article: `parts` + 1 bounds from 0 to one past the last first article, part
 * p taking the pairs whose first article is in bounds[p] .. bounds[p + 1] - 1 from every list
 * (mergeCandidateRange). Each part holds about as many of the lists' pairs as the next, so that workers
 * merging one each finish together; an article's pairs are never split between parts, so one article with
 * many partners can tip the balance.
 */
export function mergeBounds(lists: Uint32Array[], parts: number): number[] {
  invariant(Number.isInteger(parts) && parts >= 1, 'at least one part');
  let total = 0;
  let end = 0;
  for (const list of lists) {
    total += list.length / 2;
    if (list.length > 0) end = Math.max(end, list[list.length - 2] + 1);
  }
  const bounds = [0];
  for (let part = 1; part < parts; part++) {
    // The first article with at least its share of the pairs before it.
    const share = (part * total) / parts;
    let low = bounds[part - 1];
    let high = end;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      let before = 0;
      for (const list of lists) before += pairsBefore(list, middle);
      if (before >= share) high = middle;
      else low = middle + 1;
    }
    bounds.push(low);
  }
  bounds.push(end);
  return bounds;
}

/**
 * The pairs of sorted, distinct candidate lists whose first article is in from .. to - 1, as one sorted,
 * distinct list. The parts of consecutive ranges (mergeBounds), one after the other, are the pairs of one
 * pass over all the lists' bands, however many parts there are; so workers can merge a part each. The
 * result is never in shared memory, so a worker can hand it over without a copy.
 */
export function mergeCandidateRange(lists: Uint32Array[], from: number, to: number): Uint32Array {
  invariant(from <= to, 'an article range');
  // Each list's pairs in the range, viewed where they are; then merged two by two, in rounds, so that each
  // pair is copied about log2(lists) times rather than once per list.
  let runs = lists.map((list) => list.subarray(2 * pairsBefore(list, from), 2 * pairsBefore(list, to)));
  if (runs.length === 0) return new Uint32Array(0);
  if (runs.length === 1) return runs[0].slice();
  while (runs.length > 1) {
    const merged: Uint32Array[] = [];
    for (let q = 0; q + 1 < runs.length; q += 2) merged.push(mergeTwo(runs[q], runs[q + 1]));
    if (runs.length % 2 === 1) merged.push(runs[runs.length - 1]);
    runs = merged;
  }
  return runs[0];
}

/**
 * Two sorted, distinct pair lists as one. Which list's pair comes next is as good as random, so a branch on
 * it would be mispredicted about half the time: both lists' advances are computed as 0 or 2 instead. With
 * the view below in place of a copy, a million articles' two lists merged on one thread in 1.0 s, not 1.4-2.3.
 */
function mergeTwo(x: Uint32Array, y: Uint32Array): Uint32Array {
  // Room for both; a pair in both is written once, and a view of what was written is returned, not a copy:
  // the pages past it are never touched, so they take no memory.
  const out = new Uint32Array(x.length + y.length);
  let a = 0;
  let b = 0;
  let at = 0;
  while (a < x.length && b < y.length) {
    const xi = x[a];
    const xj = x[a + 1];
    const yi = y[b];
    const yj = y[b + 1];
    // 1 or 0; both 1 for a pair in both lists, written once.
    const xFirst = +(xi < yi) | (+(xi === yi) & +(xj <= yj));
    const yFirst = +(yi < xi) | (+(xi === yi) & +(yj <= xj));
    out[at] = xFirst ? xi : yi;
    out[at + 1] = xFirst ? xj : yj;
    at += 2;
    a += xFirst << 1;
    b += yFirst << 1;
  }
  while (a < x.length) out[at++] = x[a++];
  while (b < y.length) out[at++] = y[b++];
  return out.subarray(0, at);
}

/** How many pairs of a sorted candidate list have a first article before `article`: where its pairs start. */
function pairsBefore(list: Uint32Array, article: number): number {
  let low = 0;
  let high = list.length / 2;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (list[2 * middle] < article) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The key of one band of article i's signature: its `rows` values hashed with the band's number. */
function bandKey(signatures: Uint32Array, k: number, rows: number, i: number, band: number): number {
  const start = i * k + band * rows;
  let key = combine32(band, signatures[start]);
  for (let r = 1; r < rows; r++) key = combine32(key, signatures[start + r]);
  return key;
}


/**
 * Every band key of every article, as rows of `bandCount` values (the bands of each source in turn): what
 * the index stores to find candidates on later nights. `bandable[i]` is 0 for an article with an empty
 * signature (nothing to compare), whose keys are 0.
 */
export function bandKeysOf(sources: BandedSignatures[]): { keys: Uint32Array; bandCount: number; bandable: Uint8Array } {
  const n = sources[0].signatures.length / sources[0].k;
  const bandCount = sources.reduce((sum, s) => sum + s.bands, 0);
  const keys = new Uint32Array(n * bandCount);
  const bandable = new Uint8Array(n);
  const first = sources[0];
  for (let i = 0; i < n; i++) {
    if (first.signatures[i * first.k] === EMPTY_SIGNATURE_VALUE && isEmptySignature(first.signatures, first.k, i)) continue;
    bandable[i] = 1;
    let column = 0;
    for (const { signatures, k, bands, rows } of sources) {
      for (let band = 0; band < bands; band++) keys[i * bandCount + column++] = bandKey(signatures, k, rows, i, band);
    }
  }
  return { keys, bandCount, bandable };
}

/** Indexed articles matched between two progress reports. */
const MATCH_PROGRESS_BATCH = 10_000;

/**
 * What matchIndexed found: which indexed articles matched, and for each the looked-for articles of tonight
 * that matched it (its partners), in CSR form: partners of indexed article j are
 * partners[partnerStarts[j] .. partnerStarts[j + 1]), in ascending order.
 */
export interface IndexMatches {
  matched: Uint8Array;
  partnerStarts: Float64Array;
  partners: Uint32Array;
}

/**
 * Which indexed articles are candidates of one of tonight's articles that `lookFor` marks. With one-row
 * bands (the default: 49 x 1), one shared band is one shared signature value, and across a large index
 * nearly every article shares one with somebody tonight; so an indexed article needs `minShared` shared
 * main bands with one of tonight's articles (a signature estimate of at least minShared / mainBands), or
 * one shared copy band (a near copy). Those of tonight's articles are its partners. A bucket of tonight's
 * articles larger than `maxBucketSize` counts only its first members. `onProgress` is told of the indexed
 * articles matched, a batch at a time.
 */
export function matchIndexed(
  tonight: Uint32Array,
  lookFor: Uint8Array,
  indexed: Uint32Array,
  bandCount: number,
  mainBands: number,
  minShared: number,
  maxBucketSize: number,
  onProgress: (indexedArticles: number) => void = () => {},
): IndexMatches {
  return matchIndexedRange(new TonightBuckets(tonight, lookFor, bandCount), indexed, 0, indexed.length / bandCount, mainBands, minShared, maxBucketSize, onProgress);
}

/**
 * matchIndexed over indexed articles from .. to - 1 only, with tonight's buckets built once for many
 * ranges: workers match ranges side by side (nightly.ts). Indexes in the result are relative to `from`.
 */
export function matchIndexedRange(
  buckets: TonightBuckets,
  indexed: Uint32Array,
  from: number,
  to: number,
  mainBands: number,
  minShared: number,
  maxBucketSize: number,
  onProgress: (indexedArticles: number) => void = () => {},
): IndexMatches {
  const { bandCount } = buckets;
  const n = buckets.articles;
  const m = to - from;
  const matched = new Uint8Array(m);
  const partnerStarts = new Float64Array(m + 1);
  let partners = new Uint32Array(1024);
  let partnerCount = 0;
  const shared = new Uint8Array(n);
  const touched = new Uint32Array(n);
  /** Stamp j + 1 on tonight's articles already listed as partners of indexed article j. */
  const listed = new Uint32Array(n);
  const addPartner = (j: number, i: number) => {
    if (listed[i] === j + 1) return;
    listed[i] = j + 1;
    if (partnerCount === partners.length) partners = doubled(partners);
    partners[partnerCount++] = i;
  };
  for (let j = 0; j < m && buckets.size > 0; j++) {
    let touchedCount = 0;
    const at = (from + j) * bandCount;
    for (let band = 0; band < bandCount; band++) {
      const slot = buckets.find(band, indexed[at + band]);
      if (slot < 0) continue;
      const start = buckets.startOf(slot);
      const end = Math.min(buckets.endOf(slot), start + maxBucketSize);
      const base = band * buckets.size;
      for (let p = start; p < end; p++) {
        const i = buckets.members[base + p];
        if (band >= mainBands) {
          addPartner(j, i);
          continue;
        }
        if (shared[i] === 0) touched[touchedCount++] = i;
        if (++shared[i] === minShared) addPartner(j, i);
      }
    }
    for (let t = 0; t < touchedCount; t++) shared[touched[t]] = 0;
    const first = partnerStarts[j];
    if (partnerCount > first) {
      matched[j] = 1;
      partners.subarray(first, partnerCount).sort();
    }
    partnerStarts[j + 1] = partnerCount;
    if ((j + 1) % MATCH_PROGRESS_BATCH === 0) onProgress(MATCH_PROGRESS_BATCH);
  }
  onProgress(m % MATCH_PROGRESS_BATCH);
  return { matched, partnerStarts, partners: partners.slice(0, partnerCount) };
}

/** The matches of consecutive ranges of indexed articles (matchIndexedRange), as one. */
export function joinMatches(ranges: IndexMatches[]): IndexMatches {
  const m = ranges.reduce((sum, r) => sum + r.matched.length, 0);
  const matched = new Uint8Array(m);
  const partnerStarts = new Float64Array(m + 1);
  const partners = new Uint32Array(ranges.reduce((sum, r) => sum + r.partners.length, 0));
  let at = 0;
  let partnerAt = 0;
  for (const range of ranges) {
    matched.set(range.matched, at);
    for (let j = 0; j < range.matched.length; j++) partnerStarts[at + j + 1] = partnerAt + range.partnerStarts[j + 1];
    partners.set(range.partners, partnerAt);
    at += range.matched.length;
    partnerAt += range.partners.length;
  }
  return { matched, partnerStarts, partners };
}

/**
 * Tonight's articles grouped by band key, per band: `members` lists them sorted by key, then by article, and
 * an open-addressing table finds a key's run in one or two probes. Looking a million indexed articles' 55
 * keys up in it is what a nightly run does; a binary search per key cost several times as much.
 */
export class TonightBuckets {
  /** Articles looked for: the length of each band's run in `members`. */
  readonly size: number;
  /** Tonight's articles, looked for or not. */
  readonly articles: number;
  readonly members: Uint32Array;
  private readonly slotKeys: Uint32Array;
  /** Where the slot's key's run starts and ends in its band's part of `members`; start -1: an empty slot. */
  private readonly slotStarts: Int32Array;
  private readonly slotEnds: Int32Array;
  private readonly mask: number;

  constructor(
    tonight: Uint32Array,
    lookFor: Uint8Array,
    readonly bandCount: number,
  ) {
    const n = lookFor.length;
    this.articles = n;
    let size = 0;
    for (let i = 0; i < n; i++) size += lookFor[i] === 1 ? 1 : 0;
    this.size = size;
    let capacity = 16;
    while (capacity < 2 * size) capacity *= 2;
    this.mask = capacity - 1;
    this.members = new Uint32Array(bandCount * size);
    this.slotKeys = new Uint32Array(bandCount * capacity);
    this.slotStarts = new Int32Array(bandCount * capacity).fill(-1);
    this.slotEnds = new Int32Array(bandCount * capacity);
    // Each band's (key, article) pairs sorted by key, then article.
    const sorter = new KeySorter(size);
    for (let band = 0; band < bandCount; band++) {
      const { keys, items } = sorter;
      let count = 0;
      for (let i = 0; i < n; i++) {
        if (lookFor[i] !== 1) continue;
        keys[count] = tonight[i * bandCount + band];
        items[count++] = i;
      }
      const sorted = sorter.sort(count);
      let slot = -1;
      let previous = -1;
      for (let p = 0; p < size; p++) {
        const key = sorted.keys[p];
        this.members[band * size + p] = sorted.items[p];
        if (key === previous) continue;
        if (slot >= 0) this.slotEnds[slot] = p;
        slot = this.insert(band, key, p);
        previous = key;
      }
      if (slot >= 0) this.slotEnds[slot] = size;
    }
  }

  private insert(band: number, key: number, start: number): number {
    const base = band * (this.mask + 1);
    let slot = mix32(key) & this.mask;
    while (this.slotStarts[base + slot] !== -1) slot = (slot + 1) & this.mask;
    this.slotKeys[base + slot] = key;
    this.slotStarts[base + slot] = start;
    return base + slot;
  }

  /** The table slot of `key` in `band`, or -1 when no article looked for has it. */
  find(band: number, key: number): number {
    const base = band * (this.mask + 1);
    let slot = mix32(key) & this.mask;
    for (;;) {
      if (this.slotStarts[base + slot] === -1) return -1;
      if (this.slotKeys[base + slot] === key) return base + slot;
      slot = (slot + 1) & this.mask;
    }
  }

  /** The run of a slot that `find` gave, as positions in `members` (its band's part starts at band x size). */
  startOf(slot: number): number {
    return this.slotStarts[slot];
  }

  endOf(slot: number): number {
    return this.slotEnds[slot];
  }
}

/**
 * The pairs of a worker's bands, kept as the buckets they come from: the articles of each bucket of two or
 * more, in increasing order. A bucket of m articles stands for up to m(m - 1)/2 pairs, so this holds a few
 * articles per band and article where the pairs themselves (a hundred million a worker at a million
 * articles, most found in several bands) took a gigabyte. At the end the pairs are placed by their first
 * article with a counting sort, and each article's few partners are sorted and deduplicated on their own:
 * one global sort of tens of millions of packed pairs took two thirds of the stage.
 *
 * Within a bucket, a < b when a comes first. Members past the first `maxBucketSize` pair only with those first
 * ones. With `pinned` (nightly runs), two articles already in the index were compared on an earlier night:
 * only a new article links them.
 */
class BucketPairs {
  private members: Uint32Array;
  /** Bucket b is members[ends[b - 1] .. ends[b]) (ends[-1] = 0). */
  private ends: Uint32Array;
  private size = 0;
  private buckets = 0;

  /**
   * `capacity`: the most members the buckets can have, an article per band. Sized to it at once, the arrays
   * never grow: grown by doubling, each copy was new memory, a page fault per 4 KB (about a second of system
   * time a gigabyte here), and the pages past the last member are never touched.
   */
  constructor(
    private readonly n: number,
    private readonly maxBucketSize: number,
    private readonly pinned: Uint8Array | undefined,
    capacity: number,
  ) {
    this.members = new Uint32Array(Math.max(2, capacity));
    // A bucket has two members or more.
    this.ends = new Uint32Array(Math.max(1, Math.floor(capacity / 2)));
  }

  /** The articles of articles[from .. to), a bucket in increasing order. */
  addBucket(articles: Uint32Array, from: number, to: number): void {
    // Each band puts an article in one bucket at most: the capacity holds.
    invariant(this.size + (to - from) <= this.members.length && this.buckets < this.ends.length, 'at most an article per band in the buckets');
    for (let x = from; x < to; x++) this.members[this.size++] = articles[x];
    this.ends[this.buckets++] = this.size;
  }

  /**
   * Every pair of every bucket, duplicates included: counted into `slots` (at a + 1) when `partners` is not
   * given, else b placed at partners[slots[a]++].
   */
  private placePairs(slots: Float64Array, partners?: Uint32Array): void {
    const { members, ends, maxBucketSize, pinned } = this;
    let start = 0;
    for (let bucket = 0; bucket < this.buckets; bucket++) {
      const end = ends[bucket];
      const linkers = Math.min(end, start + maxBucketSize);
      for (let x = start; x < linkers; x++) {
        const a = members[x];
        if (partners === undefined && pinned === undefined) {
          // Counting only, and every pair counts: a's pairs in the bucket are the members after it.
          slots[a + 1] += end - x - 1;
          continue;
        }
        for (let y = x + 1; y < end; y++) {
          const b = members[y];
          if (pinned !== undefined && pinned[a] === 1 && pinned[b] === 1) continue;
          if (partners === undefined) slots[a + 1]++;
          else partners[slots[a]++] = b;
        }
      }
      start = end;
    }
  }

  toSortedArray(shared: boolean): Uint32Array {
    const { n } = this;
    const start = new Float64Array(n + 1);
    this.placePairs(start);
    for (let i = 0; i < n; i++) start[i + 1] += start[i];
    const fill = start.slice(0, n);
    const partners = new Uint32Array(start[n]);
    this.placePairs(fill, partners);
    this.members = this.ends = new Uint32Array(0);
    let unique = 0;
    for (let i = 0; i < n; i++) {
      const list = partners.subarray(start[i], start[i + 1]).sort();
      for (let q = 0; q < list.length; q++) if (q === 0 || list[q] !== list[q - 1]) unique++;
    }
    const out = allocate(Uint32Array, unique * 2, shared);
    let at = 0;
    for (let i = 0; i < n; i++) {
      const list = partners.subarray(start[i], start[i + 1]);
      for (let q = 0; q < list.length; q++) {
        if (q > 0 && list[q] === list[q - 1]) continue;
        out[at++] = i;
        out[at++] = list[q];
      }
    }
    return out;
  }
}
