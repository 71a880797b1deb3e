import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openArtifact, writeArtifact } from '../pipeline/artifact.js';
import { type ArticleKeys, type Linkage, type VerifiedPairs, clusterArticles, clusterIdFor, compareFounders, describeClusters, estimatePairs, pairScore, verifyPairs } from '../pipeline/cluster.js';
import { estimateFromFile } from '../pipeline/stages.js';
import { randomStream } from '../pipeline/hash.js';
import { SIMILARITY_SLOTS, rangeSimilarity } from '../pipeline/similarity.js';
import { FeatureSetsBuilder } from '../pipeline/feature-sets.js';
import { EMPTY_SIGNATURE_VALUE, createEngine } from '../pipeline/signature.js';

/**
 * Builds articles from explicit feature lists and clusters them. Without `candidates` (flat index pairs, as
 * LSH would propose them) every pair is a candidate. Feature x is stored as hash 2x: even hashes are wording,
 * odd ones facts (facts.ts).
 */
function clusterSets(ids: string[], sets: number[][], published: (string | undefined)[], linkage: Linkage = 'every-member', candidates?: number[]) {
  const builder = new FeatureSetsBuilder();
  for (const s of sets) builder.add(Uint32Array.from(new Set(s), (x) => 2 * x).sort());
  const features = builder.build((sets) => new Float32Array(sets.values.length).fill(1));
  const k = 64;
  const engine = createEngine('oph', k, 1);
  const signatures = new Uint32Array(ids.length * k);
  for (let i = 0; i < ids.length; i++) engine.sign(features.values.subarray(features.offsets[i], features.offsets[i + 1]), signatures.subarray(i * k, (i + 1) * k));
  const all: number[] = [];
  for (let i = 0; i < ids.length; i++) for (let j = i + 1; j < ids.length; j++) all.push(i, j);
  const pairs = candidates ?? all;
  const keys: ArticleKeys = { ids, publishedMs: Float64Array.from(published, (p) => (p === undefined ? NaN : Date.parse(p))) };
  return clusterArticles(keys, features, signatures, k, Uint32Array.from(pairs), { threshold: 0.3, measure: 'jaccard', factAgreement: 0, linkage, groupSimilarity: 0.5 });
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** Story A: three articles sharing most of 1..40; story B likewise on 100..140; a3 and b1 are just similar
 * enough (Jaccard 0.32 >= 0.3) to link them, the other cross pairs far less (mean 0.10 < 0.5 x 0.3). */
function twoStories() {
  const ids = ['a1', 'a2', 'a3', 'b1', 'b2', 'b3'];
  const sets = [
    range(1, 40),
    range(3, 42),
    [...range(5, 38), ...range(120, 135)],
    [...range(100, 140), ...range(30, 38)],
    range(102, 141),
    range(101, 139),
  ];
  return { ids, sets };
}

function groups(ids: string[], result: ReturnType<typeof clusterSets>): string[][] {
  return result.clusters.map((c) => c.members.map((i) => ids[i]).sort()).sort((x, y) => x[0].localeCompare(y[0]));
}

test('one weak link does not chain two stories together; single link does', () => {
  const { ids, sets } = twoStories();
  const none: (string | undefined)[] = ids.map(() => undefined);
  const apart = [
    ['a1', 'a2', 'a3'],
    ['b1', 'b2', 'b3'],
  ];
  assert.deepEqual(groups(ids, clusterSets(ids, sets, none, 'every-member')), apart);
  assert.deepEqual(groups(ids, clusterSets(ids, sets, none, 'average')), apart);
  assert.deepEqual(groups(ids, clusterSets(ids, sets, none, 'single')), [['a1', 'a2', 'a3', 'b1', 'b2', 'b3']]);
});

test('every-member linkage: a group joins another only when each of its articles matches it', () => {
  // A core story (c1, c2) and a rewrite pair (x1, x2) whose articles each match the core (Jaccard about
  // 0.36 >= 0.3): one story. y1 matches the core too, but its close partner y2 (Jaccard 0.44 with y1, found
  // first) shares nothing with it: y2 tells another story, and y1 cannot carry it in.
  const ids = ['c1', 'c2', 'x1', 'x2', 'y1', 'y2'];
  const sets = [
    range(1, 40),
    range(2, 41),
    [...range(1, 21), ...range(200, 215)],
    [...range(1, 21), ...range(200, 216)],
    [...range(1, 21), ...range(300, 320)],
    [...range(300, 320), ...range(400, 405)],
  ];
  const none = ids.map(() => undefined);
  assert.deepEqual(groups(ids, clusterSets(ids, sets, none, 'every-member')), [
    ['c1', 'c2', 'x1', 'x2'],
    ['y1', 'y2'],
  ]);
  // The average-link guard lets the pair in: y1 alone lifts the mean over the bar.
  assert.deepEqual(groups(ids, clusterSets(ids, sets, none, 'average')), [ids.slice().sort()]);
});

test('every-member linkage counts verified pairs only: an exact check does not stand in for a pair LSH did not propose', () => {
  // Four items of one template (features 1..29) around figures of their own, so every pair scores over the bar
  // (0.61-0.95), as template items do. LSH, whose signatures leave common grams out, proposed a1-a2, b1-b2 and
  // a2-b1 only: b2 has no verified pair in group a, so group b stays apart, though b2 scores 0.63 with a1.
  const ids = ['a1', 'a2', 'b1', 'b2'];
  const template = range(1, 30);
  const sets = [
    [...template, ...range(100, 110)],
    [...template, ...range(100, 108), 150],
    [...template, ...range(200, 210)],
    [...template, ...range(200, 208)],
  ];
  const none = ids.map(() => undefined);
  const proposed = [0, 1, 2, 3, 1, 2];
  assert.deepEqual(groups(ids, clusterSets(ids, sets, none, 'every-member', proposed)), [
    ['a1', 'a2'],
    ['b1', 'b2'],
  ]);
  // The same pairs under single link: a2-b1 alone joins them.
  assert.deepEqual(groups(ids, clusterSets(ids, sets, none, 'single', proposed)), [ids]);
  // With every pair proposed, b2's own pair with group a lets group b in.
  assert.deepEqual(groups(ids, clusterSets(ids, sets, none, 'every-member')), [ids]);
});

test('the founder is the earliest published article, then the smallest id; the cluster id derives from it', () => {
  const { ids, sets } = twoStories();
  const published = ['2024-08-27T10:00:00Z', '2024-08-27T09:00:00Z', undefined, undefined, undefined, undefined];
  const result = clusterSets(ids, sets, published);
  const founders = result.clusters.map((c) => ids[c.founder]).sort();
  assert.deepEqual(founders, ['a2', 'b1']);
  const a = result.clusters.find((c) => ids[c.founder] === 'a2')!;
  assert.equal(a.id, clusterIdFor('a2'));
  assert.match(a.id, /^c[0-9a-f]{16}$/);
});

test('clusters and ids do not depend on the order articles arrive in', () => {
  const { ids, sets } = twoStories();
  const none = ids.map(() => undefined);
  const forward = clusterSets(ids, sets, none);
  const order = [4, 2, 0, 5, 1, 3];
  const shuffled = clusterSets(
    order.map((i) => ids[i]),
    order.map((i) => sets[i]),
    none,
  );
  const byId = (result: typeof forward, names: string[]) =>
    Object.fromEntries(names.map((id, i) => [id, result.clusters[result.clusterOf[i]].id]));
  assert.deepEqual(byId(shuffled, order.map((i) => ids[i])), byId(forward, ids));
  assert.equal(clusterIdFor('x'), clusterIdFor('x'));
  assert.notEqual(clusterIdFor('x'), clusterIdFor('y'));
});

test('clusters come largest first, then by founder: earliest time, unknown times last, then smallest id', () => {
  const random = randomStream(7);
  const n = 3000;
  // Few distinct times and sizes, so that many clusters tie on both and the ids decide.
  const times = [Date.parse('2024-01-01T00:00:00Z'), Date.parse('2024-01-02T00:00:00Z'), NaN];
  const keys: ArticleKeys = {
    ids: Array.from({ length: n }, (_, i) => `id-${(random() % 100000).toString(36)}-${i}`),
    publishedMs: Float64Array.from({ length: n }, () => times[random() % times.length]),
  };
  const root = Uint32Array.from({ length: n }, () => random() % 900);
  const none = new Uint32Array(0);
  const pairs: VerifiedPairs = { a: none, b: none, estimated: new Float32Array(0), jaccard: new Float32Array(0), containment: new Float32Array(0), factJaccard: new Float32Array(0), similarity: new Float32Array(0), clustered: new Uint8Array(0) };
  const result = describeClusters(keys, pairs, root);
  // The rule, directly: members in input order, the founder the first by compareFounders, then the order.
  const byLabel = new Map<number, number[]>();
  for (let i = 0; i < n; i++) byLabel.set(root[i], [...(byLabel.get(root[i]) ?? []), i]);
  const expected = [...byLabel.values()]
    .map((members) => ({ members, founder: members.reduce((f, i) => (compareFounders(keys, i, f) < 0 ? i : f)) }))
    .sort((x, y) => y.members.length - x.members.length || compareFounders(keys, x.founder, y.founder));
  assert.deepEqual(
    result.clusters.map((c) => [c.id, c.founder, c.members]),
    expected.map((c) => [clusterIdFor(keys.ids[c.founder]), c.founder, c.members]),
  );
  for (let i = 0; i < n; i++) assert.ok(result.clusters[result.clusterOf[i]].members.includes(i));
});

test('every article is in exactly one cluster and its nearest neighbour is in the same cluster', () => {
  const { ids, sets } = twoStories();
  const result = clusterSets(ids, sets, ids.map(() => undefined));
  const seen = result.clusters.flatMap((c) => c.members).sort();
  assert.deepEqual(seen, range(0, ids.length));
  for (let i = 0; i < ids.length; i++) {
    if (result.nearest[i] >= 0) assert.equal(result.clusterOf[result.nearest[i]], result.clusterOf[i]);
  }
  // Cross-story pairs that were verified are reported but not clustered.
  for (let p = 0; p < result.pairs.a.length; p++) {
    assert.equal(result.pairs.clustered[p] === 1, result.clusterOf[result.pairs.a[p]] === result.clusterOf[result.pairs.b[p]]);
  }
});

test('the length filter bounds the wording only: facts, however many, do not hide a matching pair', () => {
  // Same wording (even hashes 2..40); one article also has 100 facts (odd hashes). Their wording Jaccard is 1.
  const wording = range(1, 21).map((x) => 2 * x);
  const facts = range(0, 100).map((x) => 2 * x + 1001);
  const builder = new FeatureSetsBuilder();
  builder.add(Uint32Array.from([...wording, ...facts]).sort());
  builder.add(Uint32Array.from(wording));
  const features = builder.build((sets) => new Float32Array(sets.values.length).fill(1));
  const k = 64;
  const engine = createEngine('oph', k, 1);
  const signatures = new Uint32Array(2 * k);
  for (let i = 0; i < 2; i++) engine.sign(Uint32Array.from(wording), signatures.subarray(i * k, (i + 1) * k));
  const pairs = verifyPairs(features, signatures, k, Uint32Array.of(0, 1), { threshold: 0.3, measure: 'jaccard', factAgreement: 0 });
  assert.equal(pairs.a.length, 1);
  assert.equal(pairs.jaccard[0], 1);
});

test('verification keeps exactly the candidate pairs whose exact score passes, facts checked first or not', () => {
  const random = randomStream(77);
  // 40 articles from 8 templates: each keeps 60-100% of its template's wording (even hashes) and facts (odd
  // hashes), so pairs range from disjoint to near copies and facts agree or not independently of wording.
  const builder = new FeatureSetsBuilder();
  for (let i = 0; i < 40; i++) {
    const template = i % 8;
    const keepWording = 0.6 + (random() % 5) / 10;
    const keepFacts = (random() % 10) / 10;
    const features = new Set<number>();
    for (let f = 0; f < 200; f++) if (random() / 2 ** 32 < keepWording) features.add(2 * (template * 1000 + f));
    for (let f = 0; f < 12; f++) if (random() / 2 ** 32 < keepFacts) features.add(2 * (template * 1000 + f) + 1);
    builder.add(Uint32Array.from(features).sort());
  }
  const features = builder.build((sets) => Float32Array.from(sets.values, (v) => 1 + (v % 5)));
  const k = 32;
  const signatures = new Uint32Array(40 * k);
  const pairs: number[] = [];
  for (let i = 0; i < 40; i++) for (let j = i + 1; j < 40; j++) pairs.push(i, j);
  const exact = new Float64Array(SIMILARITY_SLOTS);
  for (const factAgreement of [0, 0.3, 0.6]) {
    const options = { threshold: 0.3, measure: 'jaccard' as const, factAgreement };
    const verified = verifyPairs(features, signatures, k, Uint32Array.from(pairs), options);
    const expected: string[] = [];
    for (let p = 0; p < pairs.length; p += 2) {
      const [i, j] = [pairs[p], pairs[p + 1]];
      rangeSimilarity(features, i, features, j, exact);
      if (pairScore(exact, options) >= options.threshold) expected.push(`${i}-${j}`);
    }
    assert.ok(expected.length > 10 && expected.length < pairs.length / 2 - 10, `a mix of outcomes (${expected.length})`);
    assert.deepEqual(Array.from(verified.a, (a, p) => `${a}-${verified.b[p]}`), expected, `fact agreement ${factAgreement}`);
  }
});

test('pair estimates from a window of signatures at a time equal those over the whole file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'neardup-estimate-'));
  try {
    const random = randomStream(77);
    const k = 8;
    const n = 60;
    // Values from a small range, so that pairs agree in some positions; article 5's signature is empty.
    const signatures = Uint32Array.from({ length: n * k }, () => random() % 4);
    signatures.fill(EMPTY_SIGNATURE_VALUE, 5 * k, 6 * k);
    const path = join(dir, 'signatures.bin');
    await writeArtifact(path, 'signatures', { engine: 'sketch', k, copyK: 1, seed: 1, articles: n }, { signatures, copySignatures: new Uint32Array(n) });
    // Pairs over a few articles only, so that most windows hold none and are skipped.
    const used = [3, 5, 17, 18, 40, 59];
    const a = Uint32Array.from({ length: 30 }, () => used[random() % used.length]);
    const b = Uint32Array.from(a, () => used[random() % used.length]);
    const expected = { a, b, estimated: new Float32Array(a.length) } as unknown as VerifiedPairs;
    estimatePairs(expected, signatures, k);
    assert.ok(expected.estimated.some((e) => e > 0) && expected.estimated.some((e) => e < 1), 'estimates vary');
    for (const window of [1, 7, 64, 8192]) {
      const got = { a, b, estimated: new Float32Array(a.length) } as unknown as VerifiedPairs;
      const file = await openArtifact<{ articles: number; k: number }>(path, 'signatures', 'sign');
      try {
        await estimateFromFile(got, file as Parameters<typeof estimateFromFile>[1], k, window);
      } finally {
        await file.close();
      }
      assert.deepEqual(got.estimated, expected.estimated, `windows of ${window} articles`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
