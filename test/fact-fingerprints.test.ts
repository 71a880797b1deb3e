import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REJECTED_BY_FACTS, pairScore, verifyPairs, HISTOGRAM_SLOTS, factsDisagree } from '../pipeline/cluster.js';
import { FINGERPRINT_BITS, RECORDED_FACTS, SharedFactsBound, factFingerprints } from '../pipeline/fact-fingerprints.js';
import { FeatureSetsBuilder, type FeatureSets, selectFeatures } from '../pipeline/feature-sets.js';
import { isFact } from '../pipeline/facts.js';
import { randomStream } from '../pipeline/hash.js';
import { SIMILARITY_SLOTS, rangeSimilarity } from '../pipeline/similarity.js';

/**
 * `n` articles of wording (even hashes) and facts (odd hashes) drawn from small pools, so that articles share
 * some. Facts come in groups whose hashes differ only in their low bits: the same fingerprint, different facts.
 * Some articles have more facts than a record holds. A feature's weight depends on the feature alone, as IDF's.
 */
function articles(seed: number, n: number): FeatureSets {
  const random = randomStream(seed);
  const uniform = () => random() / 2 ** 32;
  const builder = new FeatureSetsBuilder();
  for (let i = 0; i < n; i++) {
    const features = new Set<number>();
    for (let f = 0; f < 40; f++) features.add(2 * (random() % 300));
    const facts = uniform() < 0.3 ? RECORDED_FACTS + (random() % 80) : random() % 40;
    for (let f = 0; f < facts; f++) {
      // 64 fingerprints (the top bits), 4 facts each.
      const print = random() % 64;
      features.add(((print << 20) | ((random() % 4) << 1) | 1) >>> 0);
    }
    builder.add(Uint32Array.from(features).sort());
  }
  return builder.build((sets) => Float32Array.from(sets.values, (v) => 0.25 + ((v >>> 1) % 13) / 2));
}

/** The fact weight articles i and j share: the lesser weight of each fact both have, as rangeSimilarity counts it. */
function sharedFactWeight(sets: FeatureSets, i: number, j: number): number {
  const weightsOf = (a: number) => {
    const weights = new Map<number, number>();
    for (let p = sets.offsets[a]; p < sets.offsets[a + 1]; p++) if (isFact(sets.values[p])) weights.set(sets.values[p], sets.weightOfCode[sets.weightCodes[p]]);
    return weights;
  };
  const other = weightsOf(j);
  let shared = 0;
  for (const [fact, weight] of weightsOf(i)) if (other.has(fact)) shared += Math.min(weight, other.get(fact)!);
  return shared;
}

test('the fingerprint bound is never below the fact weight two articles share, and is 0 for articles that share no fingerprint', () => {
  for (let round = 0; round < 5; round++) {
    const sets = articles(round + 1, 60);
    const facts = selectFeatures(sets, isFact);
    const prints = factFingerprints(facts);
    const bound = new SharedFactsBound();
    let overflowing = 0;
    let apart = 0;
    for (let i = 0; i < 60; i++) {
      if (facts.offsets[i + 1] - facts.offsets[i] > RECORDED_FACTS) overflowing++;
      bound.load(i, facts);
      for (let j = 0; j < 60; j++) {
        const shared = sharedFactWeight(sets, i, j);
        const atMost = bound.bound(j, prints);
        assert.ok(atMost >= shared - 1e-9, `round ${round}: ${i} and ${j} share ${shared}, bound ${atMost}`);
        const printsOf = (a: number) => new Set(Array.from(facts.values.subarray(facts.offsets[a], facts.offsets[a + 1]), (f) => f >>> (32 - FINGERPRINT_BITS)));
        const printsJ = printsOf(j);
        if (facts.offsets[j + 1] - facts.offsets[j] <= RECORDED_FACTS && ![...printsOf(i)].some((p) => printsJ.has(p))) {
          apart++;
          assert.equal(atMost, 0, `round ${round}: ${i} and ${j} share no fingerprint`);
        }
      }
    }
    assert.ok(overflowing > 5 && apart > 5, `round ${round}: articles over a record (${overflowing}) and pairs apart (${apart})`);
  }
});

test('verification with the fingerprint bound rejects for their facts exactly the pairs the exact comparison rejects', () => {
  for (let round = 0; round < 4; round++) {
    const sets = articles(100 + round, 50);
    const pairs: number[] = [];
    for (let i = 0; i < 50; i++) for (let j = i + 1; j < 50; j++) pairs.push(i, j);
    const exact = new Float64Array(SIMILARITY_SLOTS);
    for (const factAgreement of [0.05, 0.13, 0.2]) {
      const options = { threshold: 0.05, measure: 'jaccard' as const, factAgreement };
      const histogram = new Uint32Array(HISTOGRAM_SLOTS);
      const verified = verifyPairs(sets, undefined, 1, Uint32Array.from(pairs), options, undefined, undefined, histogram);
      const expected: string[] = [];
      let disagreeing = 0;
      for (let p = 0; p < pairs.length; p += 2) {
        rangeSimilarity(sets, pairs[p], sets, pairs[p + 1], exact);
        if (factsDisagree(exact, factAgreement)) disagreeing++;
        else if (pairScore(exact, options) >= options.threshold) expected.push(`${pairs[p]}-${pairs[p + 1]}`);
      }
      const label = `round ${round}, fact agreement ${factAgreement}`;
      assert.ok(disagreeing > 10 && expected.length > 10, `${label}: a mix of outcomes (${disagreeing} disagree, ${expected.length} kept)`);
      assert.equal(histogram[REJECTED_BY_FACTS], disagreeing, label);
      assert.deepEqual(Array.from(verified.a, (a, p) => `${a}-${verified.b[p]}`), expected, label);
    }
  }
});
