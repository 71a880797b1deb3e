/** matchIndexed (candidates.ts), the nightly lookup of indexed articles, against a brute-force reading of its rule. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TonightBuckets, joinMatches, matchIndexed, matchIndexedRange } from '../pipeline/candidates.js';

/**
 * The rule, spelled out: indexed article j matches when one of tonight's looked-for articles shares a copy
 * band with it, or shares `minShared` main bands with it; in each band only the first `maxBucketSize` looked-for
 * articles (in article order) with j's key count.
 */
function reference(tonight: Uint32Array, lookFor: Uint8Array, indexed: Uint32Array, bandCount: number, mainBands: number, minShared: number, maxBucketSize: number) {
  const n = lookFor.length;
  const m = indexed.length / bandCount;
  const matched = new Uint8Array(m);
  const partners: number[][] = [];
  for (let j = 0; j < m; j++) {
    const shared = new Uint32Array(n);
    const mine = new Set<number>();
    for (let band = 0; band < bandCount; band++) {
      const bucket: number[] = [];
      for (let i = 0; i < n; i++) if (lookFor[i] === 1 && tonight[i * bandCount + band] === indexed[j * bandCount + band]) bucket.push(i);
      for (const i of bucket.slice(0, maxBucketSize)) {
        if (band >= mainBands) mine.add(i);
        else shared[i]++;
      }
    }
    shared.forEach((count, i) => count >= minShared && mine.add(i));
    if (mine.size > 0) matched[j] = 1;
    partners.push([...mine].sort((a, b) => a - b));
  }
  return { matched, partners };
}

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0), state);
}

test('matchIndexed follows its rule: shared main bands counted per article, any copy band, bucket caps; each match lists its partners', () => {
  for (let round = 0; round < 40; round++) {
    const next = random(round + 1);
    const bandCount = 6 + (next() % 6);
    const mainBands = bandCount - (next() % 3);
    const n = 1 + (next() % 40);
    const m = 1 + (next() % 60);
    // Few distinct keys, so that buckets grow past the cap and articles share several bands.
    const alphabet = 2 + (next() % 12);
    // Keys near 2^32 too: a key is a full 32-bit value.
    const key = () => (next() % alphabet) * 0x1fffffff;
    const tonight = Uint32Array.from({ length: n * bandCount }, key);
    const indexed = Uint32Array.from({ length: m * bandCount }, key);
    const lookFor = Uint8Array.from({ length: n }, () => (next() % 4 === 0 ? 0 : 1));
    const minShared = 1 + (next() % 4);
    const maxBucketSize = 1 + (next() % 5);
    let reported = 0;
    const got = matchIndexed(tonight, lookFor, indexed, bandCount, mainBands, minShared, maxBucketSize, (count) => (reported += count));
    const expected = reference(tonight, lookFor, indexed, bandCount, mainBands, minShared, maxBucketSize);
    assert.deepEqual(got.matched, expected.matched, `round ${round}`);
    const partners = Array.from({ length: m }, (_, j) => [...got.partners.subarray(got.partnerStarts[j], got.partnerStarts[j + 1])]);
    assert.deepEqual(partners, expected.partners, `round ${round}: partners`);
    assert.equal(reported, m, 'progress covers every indexed article');
  }
});

test('matching ranges of the index apart and joining them gives what matching it whole gives', () => {
  for (let round = 0; round < 20; round++) {
    const next = random(1000 + round);
    const bandCount = 5 + (next() % 4);
    const mainBands = bandCount - 1;
    const n = 1 + (next() % 30);
    const m = 1 + (next() % 50);
    const key = () => next() % 6;
    const tonight = Uint32Array.from({ length: n * bandCount }, key);
    const indexed = Uint32Array.from({ length: m * bandCount }, key);
    const lookFor = Uint8Array.from({ length: n }, () => (next() % 3 === 0 ? 0 : 1));
    const whole = matchIndexed(tonight, lookFor, indexed, bandCount, mainBands, 2, 3);
    const buckets = new TonightBuckets(tonight, lookFor, bandCount);
    const cuts = [0, ...[...new Set(Array.from({ length: next() % 4 }, () => next() % m))].sort((a, b) => a - b), m];
    const ranges = cuts.slice(1).map((to, r) => matchIndexedRange(buckets, indexed, cuts[r], to, mainBands, 2, 3));
    assert.deepEqual(joinMatches(ranges), whole, `round ${round}: cut at ${cuts.join(', ')}`);
  }
});

test('matchIndexed: nothing looked for matches nothing', () => {
  const tonight = Uint32Array.from([1, 2, 3, 4]);
  const none = matchIndexed(tonight, new Uint8Array(2), Uint32Array.from([1, 2]), 2, 2, 1, 10);
  assert.deepEqual(none.matched, new Uint8Array(1));
  assert.deepEqual([...none.partnerStarts], [0, 0]);
  assert.equal(none.partners.length, 0);
});
