/**
 * Nightly IDF (weights.ts, IdfPopulation) and the guests' fact screen (fact-screen.ts): a nightly run must
 * weigh features as one batch of everything indexed plus tonight's new articles would, and the screen must
 * keep every guest that the cluster stage's fact check could keep.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FactScreen } from '../pipeline/fact-screen.js';
import { FeatureSetsBuilder, encodeWeights } from '../pipeline/feature-sets.js';
import { isFact } from '../pipeline/facts.js';
import {
  DocumentFrequencies,
  EMPTY_BACKGROUND,
  type IdfBackground,
  type Weighting,
  countOf,
  featureWeights,
  idfArticles,
  joinParts,
  mergeCounts,
  plainIdf,
  weighPart,
  weightTable,
} from '../pipeline/weights.js';

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0), state);
}

/** `n` random sorted distinct sets over a small alphabet of odd (fact) and even (wording) hashes near 2^32. */
function randomSets(next: () => number, n: number, alphabet: number): Uint32Array[] {
  return Array.from({ length: n }, () => {
    const set = new Set<number>();
    for (let k = 1 + (next() % 12); k > 0; k--) set.add(((next() % alphabet) * 0x0fffffff + (next() % 2)) >>> 0);
    return Uint32Array.from(set).sort();
  });
}

/** The background with the counts of `sets`' articles that `counted` marks added: what a night adds to its index. */
function addToBackground(background: IdfBackground, sets: { offsets: Float64Array; values: Uint32Array }, counted: Uint8Array): IdfBackground {
  const frequencies = new DocumentFrequencies();
  let articles = 0;
  for (let i = 0; i + 1 < sets.offsets.length; i++) {
    if (counted[i] !== 1) continue;
    articles++;
    frequencies.addArticle(sets.values.subarray(sets.offsets[i], sets.offsets[i + 1]));
  }
  return mergeCounts(background, frequencies.entries(), articles);
}

function build(sets: Uint32Array[]) {
  const builder = new FeatureSetsBuilder();
  for (const s of sets) builder.add(s);
  return builder.buildUnweighted();
}

test('counts of counted articles merged into earlier counts: each feature once, counted once per article', () => {
  for (let round = 0; round < 30; round++) {
    const next = random(round + 1);
    const before = randomSets(next, 1 + (next() % 20), 2 + (next() % 30));
    const tonight = randomSets(next, 1 + (next() % 20), 2 + (next() % 30));
    const counted = Uint8Array.from(tonight, () => (next() % 3 === 0 ? 0 : 1));
    const background = addToBackground(EMPTY_BACKGROUND, build(before), new Uint8Array(before.length).fill(1));
    const after = addToBackground(background, build(tonight), counted);
    const expected = new Map<number, number>();
    [...before, ...tonight.filter((_, i) => counted[i] === 1)].forEach((set) => set.forEach((f) => expected.set(f, (expected.get(f) ?? 0) + 1)));
    const keys = [...expected.keys()].sort((a, b) => a - b);
    assert.deepEqual([...after.features], keys, `round ${round}: features ascending, each once`);
    assert.deepEqual([...after.counts], keys.map((k) => expected.get(k)), `round ${round}: counts`);
    assert.equal(after.articles, before.length + counted.reduce((a, b) => a + b, 0));
    for (const k of keys) assert.equal(countOf(after, k), expected.get(k));
    assert.equal(countOf(after, 12345678), expected.get(12345678) ?? 0);
  }
});

test('weights over indexed frequencies + tonight equal the weights of one batch of both; guests do not count twice', () => {
  for (const weighting of ['idf', 'smooth-idf'] as Weighting[]) {
    for (let round = 0; round < 20; round++) {
      const next = random(100 + round);
      const indexed = randomSets(next, 2 + (next() % 30), 2 + (next() % 40));
      const tonight = randomSets(next, 1 + (next() % 20), 2 + (next() % 40));
      // Tonight's batch: tonight's articles, then some indexed articles brought back as guests.
      const guests = indexed.filter(() => next() % 2 === 0);
      const background: IdfBackground = addToBackground(EMPTY_BACKGROUND, build(indexed), new Uint8Array(indexed.length).fill(1));
      const batch = build([...tonight, ...guests]);
      const counted = Uint8Array.from({ length: tonight.length + guests.length }, (_, i) => (i < tonight.length ? 1 : 0));
      const whole = build([...indexed, ...tonight]);
      const wholeWeights = featureWeights(whole, weighting);
      const weightOf = new Map<number, number>();
      whole.values.forEach((f, p) => weightOf.set(f, wholeWeights[p]));
      const tonightCounts = addToBackground(EMPTY_BACKGROUND, batch, counted);
      for (const [parts, block] of [[1, undefined], [3, undefined], [1, 1], [3, 7]]) {
        const codes = new Uint8Array(batch.values.length);
        const population = { counted, background };
        const counts = joinParts(Array.from({ length: parts! }, (_, part) => weighPart(batch, weighting, codes, part, parts!, population, block)!));
        const table = weightTable(weighting, idfArticles(batch.offsets.length - 1, population));
        const label = `${weighting} round ${round} parts ${parts} blocks of ${block ?? 'default'}`;
        batch.values.forEach((f, p) => assert.equal(table[codes[p]], weightOf.get(f), `${label}: feature ${f}`));
        // What the parts counted, joined: tonight's articles' counts alone, for the index to add.
        assert.deepEqual(counts, { features: tonightCounts.features, counts: tonightCounts.counts }, `${label}: counts`);
      }
    }
  }
});

test('the fact screen keeps a guest exactly when its facts agree enough with one partner, or either has too few', () => {
  const minFacts = 3;
  const agreement = 0.13;
  for (let round = 0; round < 40; round++) {
    const next = random(500 + round);
    const tonight = randomSets(next, 1 + (next() % 10), 2 + (next() % 25));
    const sets = build(tonight);
    const weights = featureWeights(sets, 'idf');
    const weightOf = new Map<number, number>();
    sets.values.forEach((f, p) => weightOf.set(f, weights[p]));
    const unseen = (fact: number) => plainIdf(1 + (fact % 3), tonight.length);
    const weight = (f: number) => weightOf.get(f) ?? unseen(f);
    const screen = new FactScreen({ ...sets, ...encodeWeights(weights) }, tonight.length, minFacts, agreement, unseen);
    for (let g = 0; g < 10; g++) {
      const guestFacts = randomSets(next, 1, 2 + (next() % 25))[0].filter(isFact);
      const partners = Uint32Array.from(new Set(Array.from({ length: 1 + (next() % 3) }, () => next() % tonight.length))).sort();
      const keeps = [...partners].some((i) => {
        const partnerFacts = tonight[i].filter(isFact);
        if (guestFacts.length < minFacts || partnerFacts.length < minFacts) return true;
        const union = new Set([...guestFacts, ...partnerFacts]);
        let shared = 0;
        let total = 0;
        for (const f of union) {
          total += weight(f);
          if (guestFacts.includes(f) && partnerFacts.includes(f)) shared += weight(f);
        }
        return shared / total >= agreement;
      });
      assert.equal(screen.passes(guestFacts, partners), keeps, `round ${round} guest ${g}`);
    }
  }
});

test('weights split over parts of the hash space, and parts over blocks of their key range, equal one part', () => {
  for (let round = 0; round < 20; round++) {
    const next = random(round + 101);
    // Features over the whole 32-bit range, so that every part has some and an article can lack a part.
    const batch = build(
      Array.from({ length: 1 + (next() % 40) }, () => Uint32Array.from(new Set(Array.from({ length: next() % 30 }, () => next() % 64 << 26 | (next() & 1)))).sort()),
    );
    for (const weighting of ['idf', 'smooth-idf', 'none'] as Weighting[]) {
      const whole = new Uint8Array(batch.values.length);
      weighPart(batch, weighting, whole, 0, 1);
      for (const parts of [1, 2, 3, 5]) {
        // Blocks of 1 occurrence: as many blocks as features, most of them empty in most articles.
        for (const block of [undefined, 1, 4, 50]) {
          const codes = new Uint8Array(batch.values.length); // code 0: no feature gets it, so an unwritten code shows
          for (let part = 0; part < parts; part++) weighPart(batch, weighting, codes, part, parts, undefined, block);
          assert.deepEqual(codes, whole, `${weighting} round ${round} parts ${parts} blocks of ${block ?? 'default'}`);
        }
      }
    }
  }
});
