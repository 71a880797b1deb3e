/**
 * Stage 5: verify candidate pairs and group articles into story clusters.
 *
 * Verification: the signature estimate screens out pairs that are clearly below the threshold; the rest get
 * the exact set similarity of their feature sets (one merge of two sorted arrays).
 *
 * Clustering guards against chaining. Plain connected components let one borderline pair glue two stories
 * together (A1-A2-A3 ~ B1-B2-B3 through a single A3~B1 edge). Here verified pairs are taken strongest first,
 * and two groups merge only if every article of the smaller group has a verified pair with some article of
 * the larger one (see Linkage): a story joins another only when each of its articles is itself a match.
 */
import { hash } from 'node:crypto';
import invariant from 'tiny-invariant';
import { type FeatureSets, selectFeatures } from './feature-sets.js';
import { CONTAINMENT, FACTS_A, FACTS_B, FACT_COUNT, FACT_JACCARD, FACT_TOTAL, FeatureTable, JACCARD, SIMILARITY_SLOTS, TOTAL_SLOTS, WORDING_TOTAL, articleTotals, rangeSimilarity } from './similarity.js';
import { isFact } from './facts.js';
import { type FactFingerprints, SharedFactsBound, factFingerprints, touchRecord } from './fact-fingerprints.js';
import { KeySorter } from './typed-arrays.js';
import { estimateJaccard } from './signature.js';

export const SIMILARITY_MEASURES = ['jaccard', 'containment', 'mean'] as const;
export type SimilarityMeasure = (typeof SIMILARITY_MEASURES)[number];

/**
 * When two groups joined by a verified pair merge:
 * - every-member: each article of the smaller group has a verified pair with an article of the larger one.
 *   One bridge pair cannot glue two stories, and no extra parameter is needed: the bar is the threshold.
 * - average: the mean similarity over the pairs between them is at least groupSimilarity x threshold.
 * - single: always (connected components of the verified pairs).
 */
export const LINKAGES = ['every-member', 'average', 'single'] as const;
export type Linkage = (typeof LINKAGES)[number];

export interface ClusterOptions {
  /** A pair is verified when its similarity (below) is at least this. */
  threshold: number;
  /**
   * jaccard: |A∩B| / |A∪B|. containment: |A∩B| / min(|A|, |B|), for abridged copies. mean: their average,
   * which forgives an added background paragraph without letting a short text match anything.
   */
  measure: SimilarityMeasure;
  /**
   * A pair whose articles both have at least MIN_FACTS facts (numbers, names: facts.ts) is rejected when the
   * weighted Jaccard of their facts is below this, however alike their wording: the same template around
   * other names and figures is another story. 0 never rejects.
   */
  factAgreement: number;
  linkage: Linkage;
  /**
   * With average linkage, two groups merge only when the mean similarity over the article pairs between
   * them is at least this fraction of the threshold (average link at a lower bar).
   */
  groupSimilarity: number;
}

export interface ArticleKeys {
  ids: string[];
  /** Publication time in ms since the epoch, NaN when unknown. */
  publishedMs: Float64Array;
}

/** Verified pairs, one column per field (a < b are article indices). */
export interface VerifiedPairs {
  a: Uint32Array;
  b: Uint32Array;
  estimated: Float32Array;
  jaccard: Float32Array;
  containment: Float32Array;
  /** Weighted Jaccard of the two articles' facts. */
  factJaccard: Float32Array;
  similarity: Float32Array;
  /** 1 when the clustering put a and b in the same cluster. */
  clustered: Uint8Array;
}

export interface Cluster {
  id: string;
  founder: number;
  /** Article indices in input order. */
  members: number[];
}

export interface Clustering {
  pairs: VerifiedPairs;
  /** Index into `clusters` for every article (singletons are clusters of one). */
  clusterOf: Uint32Array;
  /** Ordered by size (largest first), then by founder. */
  clusters: Cluster[];
  /** The most similar article in the same cluster, -1 for singletons, and that similarity. */
  nearest: Int32Array;
  nearestSimilarity: Float32Array;
}

export function clusterArticles(
  keys: ArticleKeys,
  features: FeatureSets,
  signatures: Uint32Array,
  k: number,
  candidates: Uint32Array,
  options: ClusterOptions,
): Clustering {
  const n = keys.ids.length;
  invariant(signatures.length === n * k, 'one signature per article');
  const facts = selectFeatures(features, isFact);
  return clusterVerified(keys, verifyPairs(features, signatures, k, candidates, options, articleTotals(features), facts), options, { features, facts });
}

/** What average linkage scores pairs between groups with: the features, and their facts alone when the caller has them (see pairScorer). */
export interface PairScoring {
  features: FeatureSets;
  facts?: FeatureSets;
}

/**
 * Clusters already verified pairs (verification may have run in parallel, see stages.ts). Only average
 * linkage scores pairs beyond the verified ones, and needs `scoring`; the other linkages read the verified
 * pairs alone, so a caller can let the features go before linking.
 */
export function clusterVerified(keys: ArticleKeys, pairs: VerifiedPairs, options: ClusterOptions, scoring?: PairScoring): Clustering {
  invariant(options.linkage !== 'average' || scoring, 'average linkage scores the pairs between two groups: it needs their features');
  const n = keys.ids.length;
  const similarityOf = scoring ? pairScorer(scoring.features, options, scoring.facts) : undefined;
  const root = linkGroups(keys, pairs, n, options, similarityOf);
  return describeClusters(keys, pairs, root);
}

/**
 * Slots of the similarity histogram verifyPairs can fill: HISTOGRAM_BINS bins of width 1 / HISTOGRAM_BINS
 * over the scored candidate pairs' similarity (the last bin also holds 1.0), then the candidates rejected
 * before scoring because their facts disagree, then those rejected by the size and estimate screens.
 */
export const HISTOGRAM_BINS = 100;
export const REJECTED_BY_FACTS = HISTOGRAM_BINS;
export const REJECTED_BY_SCREENS = HISTOGRAM_BINS + 1;
export const HISTOGRAM_SLOTS = HISTOGRAM_BINS + 2;

/**
 * Scores any two articles as verification scores a candidate pair (pairScore over their exact similarity).
 * Given `facts`, facts first, as in verifyPairs: most pairs the linkage checks are other stories, which the
 * few dozen facts reject (score 0) without merging the hundreds of wording features. The fact slots of a merge
 * over the facts alone are those of the whole merge, so the score is the same. The report, which scores
 * members of one story, gives none: selecting every article's facts would cost more than it saves there.
 */
export function pairScorer(
  features: FeatureSets,
  options: Pick<ClusterOptions, 'measure' | 'factAgreement'>,
  /** The facts of `features` alone (`selectFeatures(features, isFact)`), when the caller has them. */
  facts?: FeatureSets,
): (i: number, j: number) => number {
  const exact = new Float64Array(SIMILARITY_SLOTS);
  return (i, j) => {
    if (facts && options.factAgreement > 0) {
      rangeSimilarity(facts, i, facts, j, exact);
      if (factsDisagree(exact, options.factAgreement)) return 0;
    }
    rangeSimilarity(features, i, features, j, exact);
    return pairScore(exact, options);
  };
}

/** How many standard errors of the MinHash estimate below the threshold a pair may be and still be checked. */
const SCREEN_STANDARD_ERRORS = 4;

/**
 * The MinHash estimate below which verification skips a Jaccard candidate without the exact check: so many
 * standard errors under the threshold that a true pair almost never falls there. 0 or less: no screen (at
 * the default threshold 0.08 with k = 128 it is -0.016), and verification needs no signatures.
 */
export function estimateScreen(options: Pick<ClusterOptions, 'threshold' | 'measure'>, k: number): number {
  const t = options.threshold;
  return options.measure === 'jaccard' ? t - SCREEN_STANDARD_ERRORS * Math.sqrt((t * (1 - t)) / k) : -1;
}

/** Fills in the MinHash estimate of every verified pair that verifyPairs left without one. */
export function estimatePairs(pairs: VerifiedPairs, signatures: Uint32Array, k: number): void {
  for (let p = 0; p < pairs.a.length; p++) pairs.estimated[p] = estimateJaccard(signatures, k, pairs.a[p], pairs.b[p]);
}

/**
 * `signatures`: needed only when estimateScreen is above 0; without them the pairs' estimates are left at 0
 * for estimatePairs (the cluster stage reads the signatures once the features are no longer held).
 */
export function verifyPairs(
  features: FeatureSets,
  signatures: Uint32Array | undefined,
  k: number,
  candidates: Uint32Array,
  options: Pick<ClusterOptions, 'threshold' | 'measure' | 'factAgreement'>,
  /** `articleTotals(features)`, when the caller has them (workers share one copy). */
  totals: Float64Array<ArrayBufferLike> = articleTotals(features),
  /** The facts of `features` alone (`selectFeatures(features, isFact)`), likewise. */
  facts: FeatureSets = selectFeatures(features, isFact),
  /** When given, counts every candidate into its HISTOGRAM_SLOTS slot, for the report's histogram. */
  histogram?: Uint32Array,
  /** The facts' fingerprints (`factFingerprints(facts)`), likewise. */
  prints: FactFingerprints = factFingerprints(facts),
): VerifiedPairs {
  const count = candidates.length / 2;
  const a = new Uint32Array(count);
  const b = new Uint32Array(count);
  const estimated = new Float32Array(count);
  const jaccard = new Float32Array(count);
  const containment = new Float32Array(count);
  const factJaccard = new Float32Array(count);
  const similarity = new Float32Array(count);
  // Only the Jaccard measure can be screened by the Jaccard estimate: containment can be high while
  // Jaccard is low (a short abridged copy of a long article). At low thresholds the screen is below zero.
  const t = options.threshold;
  const screen = estimateScreen(options, k);
  invariant(signatures !== undefined || screen <= 0, 'the screen needs the signatures');
  const exact = new Float64Array(SIMILARITY_SLOTS);
  const table = new FeatureTable();
  // Facts first: an article has a few dozen facts against hundreds of features, and most candidates that
  // share some wording are other stories whose facts disagree (98.8% of those at 100,000 generated
  // articles, 92% on ECB+), which the facts alone show. The full comparison gives the same fact slots.
  const factTable = new FeatureTable();
  // Before them, their fingerprints: a bound on the fact weight a pair shares rejects most such pairs from two
  // cache lines of each article (fact-fingerprints.ts).
  const factBound = new SharedFactsBound();
  let verified = 0;
  let touched = 0;
  for (let p = 0; p < count; p++) {
    if (p === touched) touched = touchFacts(prints, totals, candidates, p, Math.min(count, p + TOUCH_AHEAD));
    const i = candidates[2 * p];
    const j = candidates[2 * p + 1];
    // Jaccard can be no higher than the ratio of the two articles' total weights: a free exact filter.
    if (options.measure === 'jaccard') {
      const ti = totals[TOTAL_SLOTS * i + WORDING_TOTAL];
      const tj = totals[TOTAL_SLOTS * j + WORDING_TOTAL];
      if ((ti < tj ? ti / tj : tj / ti) < t) {
        if (histogram) histogram[REJECTED_BY_SCREENS]++;
        continue;
      }
    }
    if (screen > 0 && estimateJaccard(signatures!, k, i, j) < screen) {
      if (histogram) histogram[REJECTED_BY_SCREENS]++;
      continue;
    }
    if (options.factAgreement > 0 && totals[TOTAL_SLOTS * i + FACT_COUNT] >= MIN_FACTS && totals[TOTAL_SLOTS * j + FACT_COUNT] >= MIN_FACTS) {
      if (factBound.article !== i) factBound.load(i, facts);
      if (factsDisagreeUnder(factBound.bound(j, prints), totals[TOTAL_SLOTS * i + FACT_TOTAL], totals[TOTAL_SLOTS * j + FACT_TOTAL], options.factAgreement)) {
        if (histogram) histogram[REJECTED_BY_FACTS]++;
        continue;
      }
      if (factTable.article !== i) factTable.load(i, facts);
      factTable.compare(j, facts, totals, exact);
      if (factsDisagree(exact, options.factAgreement)) {
        if (histogram) histogram[REJECTED_BY_FACTS]++;
        continue;
      }
    }
    if (table.article !== i) table.load(i, features);
    table.compare(j, features, totals, exact);
    const score = pairScore(exact, options);
    if (histogram) histogram[Math.min(HISTOGRAM_BINS - 1, Math.floor(score * HISTOGRAM_BINS))]++;
    if (score < t) continue;
    a[verified] = i;
    b[verified] = j;
    if (signatures !== undefined) estimated[verified] = estimateJaccard(signatures, k, i, j);
    jaccard[verified] = exact[JACCARD];
    containment[verified] = exact[CONTAINMENT];
    factJaccard[verified] = exact[FACT_JACCARD];
    similarity[verified] = score;
    verified++;
  }
  return {
    a: a.slice(0, verified),
    b: b.slice(0, verified),
    estimated: estimated.slice(0, verified),
    jaccard: jaccard.slice(0, verified),
    containment: containment.slice(0, verified),
    factJaccard: factJaccard.slice(0, verified),
    similarity: similarity.slice(0, verified),
    clustered: new Uint8Array(verified),
  };
}

/**
 * Candidates whose second article's totals and facts are touched at once, before they are compared
 * (touchFacts). verifyPairs over the first 5 million candidates, on one thread, the same pairs verified: of a
 * million generated articles, 3.55-3.80 s before, 2.14-2.23 s with 8 at a time (2.78-2.82 s touching the
 * facts alone); of 300,000, 3.29-3.40 s before, 1.99-2.03 s (touching the facts alone, 8 at a time: 2.53-2.63;
 * 4: 2.53-2.58; 16: 2.73-2.76; 32: 2.82-2.88). Measured when the facts themselves were touched; their
 * fingerprints (fact-fingerprints.ts) now take their place.
 */
const TOUCH_AHEAD = 8;

/**
 * Reads the totals and the fact fingerprints of candidates from .. to - 1's second articles, and returns `to`.
 * Each candidate's are somewhere in hundreds of megabytes: read one after the other, every candidate waits
 * for its own cache misses, while a loop that only reads lets the processor wait for many at once, and the
 * comparisons then find them in the cache. (JavaScript has no prefetch instruction; this is one.)
 */
function touchFacts(prints: FactFingerprints, totals: Float64Array<ArrayBufferLike>, candidates: Uint32Array, from: number, to: number): number {
  let sink = 0;
  for (let p = from; p < to; p++) {
    const j = candidates[2 * p + 1];
    sink += totals[TOTAL_SLOTS * j] + touchRecord(prints, j);
  }
  // Used, so that the reads are not optimized away; never true of real totals and fact counts.
  if (sink < 0) throw new Error('unreachable');
  return to;
}

/** Verified pairs of consecutive candidate chunks, joined in chunk order. */
export function concatPairs(parts: VerifiedPairs[]): VerifiedPairs {
  const join = <T extends Uint32Array | Float32Array | Uint8Array>(pick: (p: VerifiedPairs) => T, make: new (n: number) => T): T => {
    const out = new make(parts.reduce((sum, p) => sum + pick(p).length, 0));
    let at = 0;
    for (const part of parts) {
      out.set(pick(part) as never, at);
      at += pick(part).length;
    }
    return out;
  };
  return {
    a: join((p) => p.a, Uint32Array),
    b: join((p) => p.b, Uint32Array),
    estimated: join((p) => p.estimated, Float32Array),
    jaccard: join((p) => p.jaccard, Float32Array),
    containment: join((p) => p.containment, Float32Array),
    factJaccard: join((p) => p.factJaccard, Float32Array),
    similarity: join((p) => p.similarity, Float32Array),
    clustered: join((p) => p.clustered, Uint8Array),
  };
}

/** Facts each article of a pair needs before their disagreement can reject it: a pair of short items with a
 * date or two between them says too little. */
export const MIN_FACTS = 3;

/**
 * A pair's similarity on `measure` from its `rangeSimilarity` result, or 0 when both articles have enough
 * facts and share too few of them: verification and the linkage checks score pairs the same way.
 */
export function pairScore(exact: Float64Array, options: Pick<ClusterOptions, 'measure' | 'factAgreement'>): number {
  return factsDisagree(exact, options.factAgreement) ? 0 : measureOf(options.measure, exact[JACCARD], exact[CONTAINMENT]);
}

/**
 * Whether two articles whose facts weigh `totalA` and `totalB` and share at most `sharedAtMost` of that weight
 * disagree, however much they share below that: their fact Jaccard (similarity.ts) grows with the shared
 * weight. The bound is raised by a millionth, so that it stays one whatever the order its weights were summed
 * in. Both articles must have MIN_FACTS facts; the caller checks.
 */
function factsDisagreeUnder(sharedAtMost: number, totalA: number, totalB: number, factAgreement: number): boolean {
  const shared = sharedAtMost * (1 + 1e-6) + 1e-6;
  const union = totalA + totalB - shared;
  return union > 0 && shared / union < factAgreement;
}

/** Whether both articles have enough facts and share too few of them (from the fact slots of `exact`). */
export function factsDisagree(exact: Float64Array, factAgreement: number): boolean {
  return factAgreement > 0 && exact[FACTS_A] >= MIN_FACTS && exact[FACTS_B] >= MIN_FACTS && exact[FACT_JACCARD] < factAgreement;
}

export function measureOf(measure: SimilarityMeasure, jaccard: number, containment: number): number {
  if (measure === 'jaccard') return jaccard;
  if (measure === 'containment') return containment;
  return (jaccard + containment) / 2;
}

/** Founder order: earliest publication first (unknown dates last), then smallest id. */
export function compareFounders(keys: ArticleKeys, i: number, j: number): number {
  const ti = keys.publishedMs[i];
  const tj = keys.publishedMs[j];
  const ki = Number.isNaN(ti) ? Infinity : ti;
  const kj = Number.isNaN(tj) ? Infinity : tj;
  if (ki !== kj) return ki < kj ? -1 : 1;
  const a = keys.ids[i];
  const b = keys.ids[j];
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Union of verified pairs, strongest first, with the linkage rule. Returns each article's group root.
 * For large groups the average-link guard looks at their first MAX_GUARD_MEMBERS members only, which bounds
 * the cost of one merge while still seeing a story's core.
 * Ties in similarity are broken by article ids, not input positions, so the grouping does not depend on
 * the order the files were listed in.
 */
function linkGroups(
  keys: ArticleKeys,
  pairs: VerifiedPairs,
  n: number,
  options: Pick<ClusterOptions, 'linkage' | 'groupSimilarity' | 'threshold'>,
  /** Any two articles' score; only average linkage uses it. */
  similarityOf: ((i: number, j: number) => number) | undefined,
): Uint32Array {
  // Rank of each article's id in string order, so ties compare two integers instead of two strings.
  const byId = Array.from({ length: n }, (_, i) => i).sort((i, j) => (keys.ids[i] < keys.ids[j] ? -1 : keys.ids[i] > keys.ids[j] ? 1 : 0));
  const idRank = new Uint32Array(n);
  byId.forEach((i, rank) => (idRank[i] = rank));
  const order = strongestFirst(pairs, idRank);

  const parent = new Uint32Array(n);
  for (let i = 0; i < n; i++) parent[i] = i;
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
    return i;
  };
  // Each group's members as a linked list (head, tail, next), so a merge costs O(1) whatever the sizes.
  const NONE = 0xffffffff;
  const head = new Uint32Array(n);
  const tail = new Uint32Array(n);
  const next = new Uint32Array(n).fill(NONE);
  const size = new Uint32Array(n).fill(1);
  for (let i = 0; i < n; i++) head[i] = tail[i] = i;
  const firstMembers = (root: number): number[] => {
    const list: number[] = [];
    for (let i = head[root]; i !== NONE && list.length < MAX_GUARD_MEMBERS; i = next[i]) list.push(i);
    return list;
  };

  const minMeanSimilarity = options.linkage === 'average' ? options.groupSimilarity * options.threshold : 0;
  const neighbours = options.linkage === 'every-member' ? adjacency(pairs, n) : undefined;
  /**
   * Whether each member of group `small` has a verified pair in group `large`. Only verified pairs count, never
   * an exact check against the larger group in their stead: the signatures leave out grams found in many
   * articles, so LSH does not propose two items of one template (a money-market notice, a eurobond issue)
   * whose wording shares little else, while an exact check passes many of them, and such checks glued
   * template groups of 37 articles into one of 148 (docs/similarity.md, failure cases).
   */
  const everyMemberLinked = (small: number, large: number): boolean => {
    const { start, other } = neighbours!;
    for (let i = head[small]; i !== NONE; i = next[i]) {
      let linked = false;
      for (let e = start[i]; e < start[i + 1] && !linked; e++) linked = find(other[e]) === large;
      if (!linked) return false;
    }
    return true;
  };
  // A refused merge stays refused until one of the two groups grows: `grown[root]` counts its merges.
  const grown = new Uint32Array(n);
  const refused = new Set<string>();

  for (const p of order) {
    const ra = find(pairs.a[p]);
    const rb = find(pairs.b[p]);
    if (ra === rb) continue;
    if (neighbours && size[ra] * size[rb] > 1) {
      const [large, small] = size[ra] >= size[rb] ? [ra, rb] : [rb, ra];
      const key = `${large}.${grown[large]}:${small}.${grown[small]}`;
      if (refused.has(key)) continue;
      if (!everyMemberLinked(small, large)) {
        refused.add(key);
        continue;
      }
    } else if (minMeanSimilarity > 0 && size[ra] * size[rb] > 1) {
      let sum = 0;
      let compared = 0;
      const groupB = firstMembers(rb);
      for (const i of firstMembers(ra)) {
        for (const j of groupB) {
          sum += similarityOf!(i, j);
          compared++;
        }
      }
      if (sum / compared < minMeanSimilarity) continue;
    }
    // Attach the smaller group under the larger one's root; its members follow the larger group's.
    const [keep, drop] = size[ra] >= size[rb] ? [ra, rb] : [rb, ra];
    parent[drop] = keep;
    grown[keep]++;
    next[tail[keep]] = head[drop];
    tail[keep] = tail[drop];
    size[keep] += size[drop];
  }
  const root = new Uint32Array(n);
  for (let i = 0; i < n; i++) root[i] = find(i);
  return root;
}

/**
 * The pairs' positions, strongest first; ties by the first id of the two articles (in id order), then by the
 * other: three stable radix sorts, the last key first. A comparison sort of half a million pairs took a
 * third of a second. A non-negative float's bits sort as the float does.
 */
function strongestFirst(pairs: VerifiedPairs, idRank: Uint32Array): Uint32Array {
  const count = pairs.a.length;
  const sorter = new KeySorter(count);
  for (let p = 0; p < count; p++) {
    sorter.keys[p] = Math.max(idRank[pairs.a[p]], idRank[pairs.b[p]]);
    sorter.items[p] = p;
  }
  let sorted = sorter.sort(count);
  for (let x = 0; x < count; x++) sorted.keys[x] = Math.min(idRank[pairs.a[sorted.items[x]]], idRank[pairs.b[sorted.items[x]]]);
  sorted = sorter.sort(count);
  // Adding 0 makes -0 into 0, which it equals.
  const similarity = new Float32Array(1);
  const bits = new Uint32Array(similarity.buffer);
  for (let x = 0; x < count; x++) {
    similarity[0] = pairs.similarity[sorted.items[x]] + 0;
    invariant(similarity[0] >= 0, 'similarities are not negative');
    sorted.keys[x] = 0xffffffff - bits[0];
  }
  return sorter.sort(count).items.slice(0, count);
}

/** Each article's verified partners, both directions, as compressed rows: other[start[i] .. start[i + 1]). */
function adjacency(pairs: VerifiedPairs, n: number): { start: Uint32Array; other: Uint32Array } {
  const start = new Uint32Array(n + 1);
  for (let p = 0; p < pairs.a.length; p++) {
    start[pairs.a[p] + 1]++;
    start[pairs.b[p] + 1]++;
  }
  for (let i = 0; i < n; i++) start[i + 1] += start[i];
  const fill = start.slice(0, n);
  const other = new Uint32Array(2 * pairs.a.length);
  for (let p = 0; p < pairs.a.length; p++) {
    other[fill[pairs.a[p]]++] = pairs.b[p];
    other[fill[pairs.b[p]]++] = pairs.a[p];
  }
  return { start, other };
}

/** Members of each group the chaining guard compares (in input order), so a merge costs at most 16 x 16 checks. */
const MAX_GUARD_MEMBERS = 16;

/** Cluster ids are derived from the founding article's id only: the same founder, the same id, every run. */
export function clusterIdFor(founderId: string): string {
  // The one-shot hash: a hash object per cluster cost twice the time over a million clusters.
  return 'c' + hash('sha256', founderId, 'hex').slice(0, 16);
}

/**
 * The clusters of a grouping (`root[i]`: any label shared by the articles of one group), with their founders,
 * ids (`idOf(label, founder)`, by default the founder's), order and each article's nearest fellow member.
 */
export function describeClusters(
  keys: ArticleKeys,
  pairs: VerifiedPairs,
  root: Uint32Array,
  idOf: (label: number, founder: number) => string = (_label, founder) => clusterIdFor(keys.ids[founder]),
): Clustering {
  const n = root.length;
  // Groups numbered in the order of their first article; each group's size and founder.
  const { group, count } = numberGroups(root);
  const size = new Uint32Array(count);
  const founder = new Uint32Array(count);
  for (let i = 0; i < n; i++) {
    const g = group[i];
    if (size[g]++ === 0 || compareFounders(keys, i, founder[g]) < 0) founder[g] = i;
  }
  const order = clusterOrder(keys, size, founder);
  const clusterOf = new Uint32Array(n);
  const at = new Uint32Array(count);
  for (let c = 0; c < count; c++) at[order[c]] = c;
  for (let i = 0; i < n; i++) clusterOf[i] = at[group[i]];
  // Members in input order, cluster by cluster (a counting sort), then each cluster's as a list of its own.
  const start = new Uint32Array(count + 1);
  for (let c = 0; c < count; c++) start[c + 1] = start[c] + size[order[c]];
  const members = new Uint32Array(n);
  const fill = start.slice(0, count);
  for (let i = 0; i < n; i++) members[fill[clusterOf[i]]++] = i;
  const clusters: Cluster[] = new Array(count);
  for (let c = 0; c < count; c++) {
    const g = order[c];
    const list = size[g] === 1 ? [members[start[c]]] : Array.from(members.subarray(start[c], start[c + 1]));
    clusters[c] = { id: idOf(root[founder[g]], founder[g]), founder: founder[g], members: list };
  }

  const nearest = new Int32Array(n).fill(-1);
  const nearestSimilarity = new Float32Array(n);
  for (let p = 0; p < pairs.a.length; p++) {
    const i = pairs.a[p];
    const j = pairs.b[p];
    pairs.clustered[p] = clusterOf[i] === clusterOf[j] ? 1 : 0;
    if (!pairs.clustered[p]) continue;
    const s = pairs.similarity[p];
    // Pairs are sorted by (a, b), so on equal similarity the earlier article wins: deterministic.
    if (s > nearestSimilarity[i] || nearest[i] === -1) {
      nearest[i] = j;
      nearestSimilarity[i] = s;
    }
    if (s > nearestSimilarity[j] || nearest[j] === -1) {
      nearest[j] = i;
      nearestSimilarity[j] = s;
    }
  }
  return { pairs, clusterOf, clusters, nearest, nearestSimilarity };
}

/** A number for each group of `root` (labels below its length), in the order of the group's first article. */
function numberGroups(root: Uint32Array): { group: Uint32Array; count: number } {
  const numberOf = new Int32Array(root.length).fill(-1);
  const group = new Uint32Array(root.length);
  let count = 0;
  for (let i = 0; i < root.length; i++) {
    const label = root[i];
    invariant(label < root.length, 'group labels are below the number of articles');
    if (numberOf[label] < 0) numberOf[label] = count++;
    group[i] = numberOf[label];
  }
  return { group, count };
}

/**
 * The groups in cluster order: largest first, then by founder (compareFounders). Radix sorts by publication
 * time and size, and the founders' ids compared only among groups alike in both: a comparison sort of the
 * clusters of a million articles took a second.
 */
function clusterOrder(keys: ArticleKeys, size: Uint32Array, founder: Uint32Array): Uint32Array {
  const count = size.length;
  // Each founder's publication time as its rank among all founders' times, unknown times last.
  const times = new Float64Array(count);
  for (let g = 0; g < count; g++) {
    const t = keys.publishedMs[founder[g]];
    times[g] = Number.isNaN(t) ? Infinity : t;
  }
  const ascending = times.slice().sort();
  const timeRank = new Uint32Array(count);
  const sorter = new KeySorter(count);
  for (let g = 0; g < count; g++) {
    timeRank[g] = lowerBound(ascending, times[g]);
    sorter.keys[g] = timeRank[g];
    sorter.items[g] = g;
  }
  sorter.sort(count);
  // Stable: by size, largest first, groups of one size keep their order by time.
  for (let x = 0; x < count; x++) sorter.keys[x] = 0xffffffff - size[sorter.items[x]];
  const order = sorter.sort(count).items.slice(0, count);
  // Groups of one size and time: by their founders' ids.
  const byId = (g: number, h: number) => compareFounders(keys, founder[g], founder[h]);
  for (let from = 0; from < count; ) {
    let to = from + 1;
    while (to < count && size[order[to]] === size[order[from]] && timeRank[order[to]] === timeRank[order[from]]) to++;
    if (to - from > 1) order.set(Array.from(order.subarray(from, to)).sort(byId), from);
    from = to;
  }
  return order;
}

/** The first index of sorted `a` whose value is at least `x`. */
function lowerBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
