import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findCandidates, findCandidatesIn, mergeBounds, mergeCandidateRange } from '../pipeline/candidates.js';
import { mix32, randomStream } from '../pipeline/hash.js';
import { candidateProbability, optimalBanding } from '../pipeline/lsh-params.js';
import { setSimilarity } from '../pipeline/similarity.js';
import { EMPTY_SIGNATURE_VALUE, type EngineName, createEngine, estimateJaccard } from '../pipeline/signature.js';
import { FeatureSetsBuilder, encodeWeights } from '../pipeline/feature-sets.js';
import { WEIGHT_CODES, featureWeights, signatureWeights, weighPart, weightCode, weightTable } from '../pipeline/weights.js';

/** Two random sets of the given sizes sharing `shared` elements, as sorted distinct arrays. */
function setPair(random: () => number, sizeA: number, sizeB: number, shared: number): [Uint32Array, Uint32Array] {
  const used = new Set<number>();
  const fresh = () => {
    let x: number;
    do x = random();
    while (used.has(x));
    used.add(x);
    return x;
  };
  const common = Array.from({ length: shared }, fresh);
  const a = common.concat(Array.from({ length: sizeA - shared }, fresh));
  const b = common.concat(Array.from({ length: sizeB - shared }, fresh));
  return [Uint32Array.from(a).sort(), Uint32Array.from(b).sort()];
}

function meanAbsoluteError(engineName: EngineName, k: number, trials: number, seed: number): { mae: number; bias: number } {
  const random = randomStream(seed);
  const engine = createEngine(engineName, k, 7);
  const sa = new Uint32Array(k);
  const sb = new Uint32Array(k);
  const both = new Uint32Array(2 * k);
  let absolute = 0;
  let signed = 0;
  for (let t = 0; t < trials; t++) {
    // Seed-sized articles: a few hundred content words, similarity spread over 0..1.
    const sizeA = 30 + (random() % 400);
    const sizeB = 30 + (random() % 400);
    const shared = random() % (Math.min(sizeA, sizeB) + 1);
    const [a, b] = setPair(random, sizeA, sizeB, shared);
    engine.sign(a, sa);
    engine.sign(b, sb);
    both.set(sa, 0);
    both.set(sb, k);
    const error = estimateJaccard(both, k, 0, 1) - setSimilarity(a, b).jaccard;
    absolute += Math.abs(error);
    signed += error;
  }
  return { mae: absolute / trials, bias: signed / trials };
}

test('the one-hash-per-feature engines estimate Jaccard as well as classic k-permutation MinHash', () => {
  const k = 128;
  const sketch = meanAbsoluteError('sketch', k, 400, 11);
  const oph = meanAbsoluteError('oph', k, 400, 11);
  const classic = meanAbsoluteError('minhash', k, 400, 11);
  // Fast similarity sketching samples bins without replacement: never worse than classic.
  assert.ok(sketch.mae <= classic.mae, `sketch MAE ${sketch.mae} vs classic ${classic.mae}`);
  assert.ok(Math.abs(sketch.bias) < 0.006, `sketch bias ${sketch.bias}`);
  // Classic MinHash has standard error sqrt(J(1-J)/k) <= 0.044 at k = 128; its mean absolute error over
  // J spread on [0, 1] is about 0.026. Densified OPH must be no worse, up to sampling noise.
  assert.ok(classic.mae < 0.035, `classic MAE ${classic.mae}`);
  assert.ok(oph.mae <= classic.mae * 1.15, `OPH MAE ${oph.mae} vs classic ${classic.mae}`);
  assert.ok(Math.abs(oph.bias) < 0.006, `OPH bias ${oph.bias}`);
  assert.ok(Math.abs(classic.bias) < 0.006, `classic bias ${classic.bias}`);
});

/** The weighted sketch's error against the exact weighted Jaccard over random pairs of sets, with k bins. */
function checkWeightedEstimates(k: number): void {
  const random = randomStream(23);
  const engine = createEngine('sketch', k, 5);
  const both = new Uint32Array(2 * k);
  // IDF weights ln(N / df) of a batch of N = 100,000, df spread log-uniformly over 1..5,000 (a feature's
  // weight is the same in both sets); one feature in seven weighs nothing (left out of signatures).
  const weightOf = (x: number) => (x % 7 === 0 ? 0 : Math.log(100_000 / Math.exp((mix32(x) / 2 ** 32) * Math.log(5000))));
  let absolute = 0;
  let signed = 0;
  const trials = 300;
  for (let t = 0; t < trials; t++) {
    const sizeA = 50 + (random() % 600);
    const sizeB = 50 + (random() % 600);
    const [a, b] = setPair(random, sizeA, sizeB, random() % (Math.min(sizeA, sizeB) + 1));
    const wa = Float32Array.from(a, weightOf);
    const wb = Float32Array.from(b, weightOf);
    engine.signWeighted!(a, wa, both.subarray(0, k));
    engine.signWeighted!(b, wb, both.subarray(k));
    const error = estimateJaccard(both, k, 0, 1) - setSimilarity(a, b, wa, wb).jaccard;
    absolute += Math.abs(error);
    signed += error;
  }
  // The bounds of the plain estimate above: no worse than classic MinHash on plain sets.
  assert.ok(absolute / trials < 0.035 * Math.sqrt(128 / k), `weighted MAE ${absolute / trials} at k = ${k}`);
  assert.ok(Math.abs(signed / trials) < 0.006 * Math.sqrt(128 / k), `weighted bias ${signed / trials} at k = ${k}`);
}

test('weighted signatures estimate the IDF-weighted Jaccard similarity without bias', () => {
  // 128 bins are found by the hash's top bits, 96 by scaling it: both ways give the same quality.
  for (const k of [128, 96]) checkWeightedEstimates(k);
  const k = 128;
  const engine = createEngine('sketch', k, 5);
  const both = new Uint32Array(2 * k);
  // Weight moves the estimate: the same two sets with the shared features 4 times heavier than the rest,
  // then 4 times lighter. Exact weighted Jaccard: 400 / 1000 = 0.4, then 25 / 625 = 0.04; plain: 0.14. The
  // per-bin race drifts a little towards the plain value when weights differ this much (0.34 and 0.07 with
  // this seed), far from ignoring the weights.
  const [a, b] = setPair(randomStream(3), 400, 400, 100);
  const shared = new Set(a.filter((x) => b.includes(x)));
  const estimate = (sharedWeight: number) => {
    engine.signWeighted!(a, Float32Array.from(a, (x) => (shared.has(x) ? sharedWeight : 1)), both.subarray(0, k));
    engine.signWeighted!(b, Float32Array.from(b, (x) => (shared.has(x) ? sharedWeight : 1)), both.subarray(k));
    return estimateJaccard(both, k, 0, 1);
  };
  assert.ok(Math.abs(estimate(4) - 0.4) < 0.1, `heavy shared features: ${estimate(4)}`);
  assert.ok(Math.abs(estimate(0.25) - 0.04) < 0.05, `light shared features: ${estimate(0.25)}`);
});

test('identical sets get identical signatures; tiny sets are densified without leaving empty positions', () => {
  for (const name of ['sketch', 'oph', 'minhash'] as const) {
    const engine = createEngine(name, 64, 3);
    const a = new Uint32Array(64);
    const b = new Uint32Array(64);
    engine.sign(Uint32Array.of(5, 9), a);
    engine.sign(Uint32Array.of(5, 9), b);
    assert.deepEqual(a, b);
    assert.ok(!a.includes(EMPTY_SIGNATURE_VALUE), `${name}: every position filled`);
    engine.sign(new Uint32Array(0), a);
    assert.ok(a.every((v) => v === EMPTY_SIGNATURE_VALUE), `${name}: empty set marked empty`);
  }
});

test('the seed changes the hash functions and the same seed reproduces them', () => {
  const features = Uint32Array.of(1, 2, 3, 4, 5, 6, 7, 8);
  const sign = (seed: number) => {
    const out = new Uint32Array(32);
    createEngine('sketch', 32, seed).sign(features, out);
    return out;
  };
  assert.deepEqual(sign(1), sign(1));
  assert.notDeepEqual(sign(1), sign(2));
});

test('LSH banding matches datasketch for its default weights and favours recall with ours', () => {
  // datasketch's MinHashLSH(threshold=0.8, num_perm=128) uses 9 bands of 13 rows with its equal weights
  // (its hashranges, as printed in ekzhu/datasketch issue #209).
  const equal = optimalBanding(0.8, 128, 0.5, 0.5);
  assert.deepEqual([equal.bands, equal.rows], [9, 13]);
  const ours = optimalBanding(0.8, 128);
  assert.ok(ours.bands * ours.rows <= 128);
  assert.ok(ours.falseNegativeArea < equal.falseNegativeArea, 'recall-weighted banding misses less');
  // The chosen S-curve rises through the threshold: pairs well above it are nearly always candidates.
  const low = optimalBanding(0.2, 128);
  assert.ok(candidateProbability(0.35, low.bands, low.rows) > 0.99);
  assert.ok(candidateProbability(0.02, low.bands, low.rows) < 0.05);
});

test('candidates are the pairs sharing a band, each once, sorted, whatever the band order', () => {
  const k = 4;
  // Articles 0 and 2 share band 0; 1 and 2 share band 1; 3 shares nothing; 4 is empty.
  const e = EMPTY_SIGNATURE_VALUE;
  const signatures = Uint32Array.of(1, 1, 7, 7, 2, 2, 8, 8, 1, 1, 8, 8, 3, 3, 9, 9, e, e, e, e);
  assert.deepEqual([...findCandidates(signatures, k, { bands: 2, rows: 2, maxBucketSize: 100 })], [0, 2, 1, 2]);
  // Five identical articles: all ten pairs, or only those through the first two with a bucket cap of 2.
  const same = new Uint32Array(5 * k).fill(4);
  assert.equal(findCandidates(same, k, { bands: 2, rows: 2, maxBucketSize: 100 }).length / 2, 10);
  assert.deepEqual([...findCandidates(same, k, { bands: 2, rows: 2, maxBucketSize: 2 })], [0, 1, 0, 2, 0, 3, 0, 4, 1, 2, 1, 3, 1, 4]);
  // 1,600 identical articles over two bands: 2.6 million pairs found (the pair store grows many times), each
  // kept once.
  const many = 1600;
  const found = findCandidates(new Uint32Array(many * k).fill(4), k, { bands: 2, rows: 2, maxBucketSize: many });
  assert.equal(found.length / 2, (many * (many - 1)) / 2);
  for (let p = 0, i = 0, j = 1; p < found.length; p += 2) {
    assert.ok(found[p] === i && found[p + 1] === j, `pair ${p / 2} is ${i}, ${j}`);
    if (++j === many) j = ++i + 1;
  }
});

test('candidates of bands split into interleaved shares (one per worker), merged, are those of one pass over all the bands', () => {
  // 300 articles over two signature sets whose values come from a small alphabet, so that bands collide often.
  let state = 7;
  const next = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) >>> 16) % 5;
  const n = 300;
  const main = Uint32Array.from({ length: n * 8 }, next);
  const copies = Uint32Array.from({ length: n * 6 }, next);
  const sources = [
    { signatures: main, k: 8, bands: 8, rows: 1 },
    { signatures: copies, k: 6, bands: 3, rows: 2 },
  ];
  const whole = findCandidatesIn(sources, 40);
  assert.ok(whole.length / 2 > 1000);
  for (const parts of [2, 3, 11]) {
    const shares = Array.from({ length: parts }, (_, part) => findCandidatesIn(sources, 40, undefined, { part, parts }));
    assert.ok(shares.every((r) => r.length < whole.length), 'each share finds only part of the pairs');
    for (const mergeParts of [1, 2, 3]) assert.deepEqual(mergedInParts(shares, mergeParts), whole, `${parts} band shares, ${mergeParts} merge parts`);
  }
});

/** Candidate lists merged as the candidates stage does with `parts` workers: a part each, one after the other. */
function mergedInParts(lists: Uint32Array[], parts: number): Uint32Array {
  const bounds = mergeBounds(lists, parts);
  assert.equal(bounds.length, parts + 1);
  const merged = Array.from({ length: parts }, (_, part) => mergeCandidateRange(lists, bounds[part], bounds[part + 1]));
  return Uint32Array.from(merged.flatMap((part) => [...part]));
}

/** Pairs [i0, j0, i1, j1, ...] as a sorted, distinct candidate list. */
const pairList = (...pairs: Array<[number, number]>): Uint32Array => Uint32Array.from(pairs.flat());

test('merging candidate lists in parts by first article gives the same pairs for 1, 2 or 3 parts, at any bounds', () => {
  const lists = [
    // Pairs in several lists (0-5, 2-3, 2-9, 7-8), articles in one list only (1, 4, 6), ties on i across lists.
    pairList([0, 5], [0, 6], [2, 3], [2, 9], [7, 8]),
    pairList(),
    pairList([0, 5], [1, 2], [2, 3], [2, 4], [7, 8], [7, 9]),
    pairList([2, 9], [4, 5], [6, 7], [7, 8]),
  ];
  const expected = pairList([0, 5], [0, 6], [1, 2], [2, 3], [2, 4], [2, 9], [4, 5], [6, 7], [7, 8], [7, 9]);
  for (const parts of [1, 2, 3]) {
    assert.deepEqual(mergedInParts(lists, parts), expected, `${parts} parts`);
    assert.deepEqual(mergedInParts([...lists].reverse(), parts), expected, `${parts} parts, lists in reverse`);
  }
  // Whatever the bounds (an article's pairs never split), the parts together are the whole.
  for (let first = 0; first <= 8; first++) {
    for (let second = first; second <= 8; second++) {
      const parts = [mergeCandidateRange(lists, 0, first), mergeCandidateRange(lists, first, second), mergeCandidateRange(lists, second, 8)];
      assert.deepEqual(Uint32Array.from(parts.flatMap((part) => [...part])), expected, `bounds ${first}, ${second}`);
    }
  }
  assert.deepEqual(mergeCandidateRange(lists, 3, 4), pairList(), 'no pairs start at article 3');
  assert.deepEqual(mergeCandidateRange([lists[3]], 0, 8), lists[3], 'one list is its own merge');
  for (const parts of [1, 2, 3]) {
    assert.deepEqual(mergedInParts([], parts), pairList(), `no lists, ${parts} parts`);
    assert.deepEqual(mergedInParts([pairList(), pairList()], parts), pairList(), `empty lists, ${parts} parts`);
  }
});

test('merge bounds share the pairs out evenly by first article, and the merge matches a set union on random lists', () => {
  let state = 11;
  // The high bits: the low bits of this generator repeat after a few steps.
  const random = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) >>> 16;
  for (let round = 0; round < 20; round++) {
    const n = 1 + (random() % 60);
    const lists = Array.from({ length: 1 + (random() % 4) }, () => {
      const pairs = new Set<number>();
      const size = random() % 3 === 0 ? 0 : random() % 200;
      for (let p = 0; p < size; p++) {
        const i = random() % n;
        const j = random() % n;
        if (i < j) pairs.add(i * n + j);
      }
      return pairList(...[...pairs].sort((a, b) => a - b).map((key): [number, number] => [Math.floor(key / n), key % n]));
    });
    const union = [...new Set(lists.flatMap((list) => Array.from({ length: list.length / 2 }, (_, p) => list[2 * p] * n + list[2 * p + 1])))].sort((a, b) => a - b);
    const expected = pairList(...union.map((key): [number, number] => [Math.floor(key / n), key % n]));
    for (const parts of [1, 2, 3]) {
      assert.deepEqual(mergedInParts(lists, parts), expected, `round ${round}, ${parts} parts`);
      const bounds = mergeBounds(lists, parts);
      assert.ok(bounds.every((bound, p) => p === 0 || bound >= bounds[p - 1]), 'bounds in order');
      // Each part's pairs (of all the lists) fall short of an even share by less than one article's pairs.
      const total = lists.reduce((sum, list) => sum + list.length / 2, 0);
      const pairsOf = (from: number, to: number) => lists.reduce((sum, list) => sum + pairsStartingIn(list, from, to), 0);
      let mostOneArticle = 0;
      for (let i = 0; i < n; i++) mostOneArticle = Math.max(mostOneArticle, pairsOf(i, i + 1));
      for (let p = 0; p < parts; p++) assert.ok(Math.abs(pairsOf(bounds[p], bounds[p + 1]) - total / parts) <= mostOneArticle + 1, `round ${round}, part ${p} of ${parts}`);
    }
  }
});

/** The pairs of one list whose first article is in from .. to - 1, counted the slow way. */
function pairsStartingIn(list: Uint32Array, from: number, to: number): number {
  let count = 0;
  for (let p = 0; p < list.length; p += 2) if (list[p] >= from && list[p] < to) count++;
  return count;
}

test('weights: plain IDF all but drops features every article has; a df cap and facts stay out of signatures only', () => {
  // Three articles: feature 6 is in all of them, 8 in two, 10 in one (even hashes: wording, not facts).
  const offsets = Float64Array.of(0, 3, 5, 6);
  const values = Uint32Array.of(6, 8, 10, 6, 8, 6);
  const plain = featureWeights({ offsets, values }, 'idf');
  // ln((N + 1) / df): as if a fourth article shared nothing.
  assert.ok(Math.abs(plain[0] - Math.log(4 / 3)) < 1e-6);
  assert.ok(Math.abs(plain[1] - Math.log(4 / 2)) < 1e-6);
  assert.ok(Math.abs(plain[2] - Math.log(4)) < 1e-6);
  const smooth = featureWeights({ offsets, values }, 'smooth-idf');
  assert.ok(smooth.every((w) => w > 0), 'smoothed IDF never reaches zero');
  const capped = signatureWeights({ offsets, values, ...encodeWeights(smooth) }, 1, 'smooth-idf');
  assert.deepEqual([...capped].map((w) => w > 0), [false, false, true, false, false, false]);
  // A fact (odd hash) weighs nothing in signatures, whatever its document frequency; the rest keep theirs.
  const withFact = signatureWeights({ offsets: Float64Array.of(0, 2), values: Uint32Array.of(6, 9), ...encodeWeights([1, 1]) }, 0, 'none');
  assert.deepEqual([...withFact], [1, 0]);
  // A zero-weight feature contributes nothing: an article whose only feature weighs 0 has an empty signature.
  const out = new Uint32Array(16);
  createEngine('sketch', 16, 1).signWeighted!(Uint32Array.of(6), Float32Array.of(0), out);
  assert.ok(out.every((v) => v === EMPTY_SIGNATURE_VALUE));
});

test('one-byte weight codes: exact under a df of 128, above within ln(N / 128) / 256 of the IDF, never out of order', () => {
  for (const articles of [5, 300, 462, 100_000, 1_000_000, 20_000_000]) {
    const table = weightTable('idf', articles);
    const bound = Math.log(Math.max(articles + 1, 256) / 128) / 256 + 1e-6;
    let previous = 0;
    for (let df = 1; df <= articles; df += df < 1000 ? 1 : Math.ceil(df / 997)) {
      const code = weightCode(df, articles);
      assert.ok(code >= previous && code < WEIGHT_CODES, `N ${articles}, df ${df}: code ${code} after ${previous}`);
      previous = code;
      const exact = Math.log((articles + 1) / df);
      if (df < 128) assert.equal(table[code], Math.fround(exact), `N ${articles}, df ${df}`);
      else assert.ok(Math.abs(table[code] - exact) <= bound, `N ${articles}, df ${df}: ${table[code]} against ${exact}`);
    }
  }
});

test('the document-frequency cap of signatures read off IDF weights leaves out exactly the features a recount would', () => {
  // 300 articles; feature 2f is in the first f articles, so document frequencies run from 1 to 300. Caps under
  // 128, where every df has its own weight code (weights.ts), and one above every df.
  const builder = new FeatureSetsBuilder();
  for (let i = 0; i < 300; i++) builder.add(Uint32Array.from({ length: 300 - i }, (_, f) => 2 * (i + 1 + f)));
  const unweighted = builder.build((sets) => new Float32Array(sets.values.length).fill(1));
  for (const maxDf of [1, 2, 49, 50, 126, 127, 1000]) {
    const counted = signatureWeights(unweighted, maxDf, 'none').map((w) => (w > 0 ? 1 : 0));
    assert.ok(counted.includes(1), `maxDf ${maxDf} keeps something`);
    for (const weighting of ['idf', 'smooth-idf'] as const) {
      const weights = featureWeights(unweighted, weighting);
      const sets = { ...unweighted, ...encodeWeights(weights) };
      const fromWeights = signatureWeights(sets, maxDf, weighting).map((w, p) => (w > 0 || (weights[p] === 0 && counted[p] === 1) ? 1 : 0));
      assert.deepEqual([...fromWeights], [...counted], `${weighting}, maxDf ${maxDf}`);
    }
  }
});

test('weights come out the same however many parts of the hash space weigh them', () => {
  const random = randomStream(99);
  const builder = new FeatureSetsBuilder();
  for (let i = 0; i < 200; i++) builder.add(Uint32Array.from(new Set(Array.from({ length: 1 + (random() % 80) }, () => random() % 3000 === 0 ? 0 : random()))).sort());
  const sets = builder.buildUnweighted();
  for (const weighting of ['idf', 'smooth-idf', 'none'] as const) {
    const whole = new Uint8Array(sets.values.length);
    weighPart(sets, weighting, whole, 0, 1);
    for (const parts of [2, 3, 7]) {
      const codes = new Uint8Array(sets.values.length); // code 0: no feature gets it, so an unwritten code shows
      for (let part = 0; part < parts; part++) weighPart(sets, weighting, codes, part, parts);
      assert.deepEqual(codes, whole, `${weighting}, ${parts} parts`);
    }
  }
});
