import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../pipeline/errors.js';
import {
  formatScores,
  parseLabelsCsv,
  parsePairsCsv,
  scoreClustering,
  scorePairs,
  type LabelledPair,
} from '../pipeline/evaluate.js';
import { randomStream } from '../pipeline/hash.js';

/** Uniform numbers in [0, 1) from the project's deterministic stream, so the random checks are reproducible. */
function rng(seed: number): () => number {
  const next = randomStream(seed);
  return () => next() / 4294967296;
}

const labels = (entries: Record<string, string>): Map<string, string> => new Map(Object.entries(entries));

function randomLabels(ids: string[], clusters: number, random: () => number): Map<string, string> {
  return new Map(ids.map((id) => [id, `c${Math.floor(random() * clusters)}`]));
}

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `a${i}`);

function close(actual: number, expected: number, message?: string): void {
  assert.ok(Math.abs(actual - expected) < 1e-12, `${message ?? ''} expected ${expected}, got ${actual}`);
}

test('hand-computed example: gold {a,b,c | d,e}, predicted {a,b | c,d,e}', () => {
  // True pairs: ab ac bc de = 4. Predicted pairs: ab cd ce de = 4. Correct: ab de = 2.
  // P = 2/4, R = 2/4, F1 = 0.5.
  // ARI: N = C(5,2) = 10, expected = 4*4/10 = 1.6, max = (4+4)/2 = 4, ARI = (2-1.6)/(4-1.6) = 1/6.
  const gold = labels({ a: 'X', b: 'X', c: 'X', d: 'Y', e: 'Y' });
  const predicted = labels({ a: '1', b: '1', c: '2', d: '2', e: '2' });
  const s = scoreClustering(gold, predicted);
  assert.equal(s.articles, 5);
  assert.equal(s.goldClusters, 2);
  assert.equal(s.predictedClusters, 2);
  assert.equal(s.largestPredictedCluster, 3);
  assert.equal(s.truePairs, 4);
  assert.equal(s.predictedPairs, 4);
  assert.equal(s.correctPairs, 2);
  close(s.precision, 0.5);
  close(s.recall, 0.5);
  close(s.f1, 0.5);
  close(s.ari, 1 / 6);
});

test('hand-computed example separating precision from recall', () => {
  // Gold {a,b,c,d} has 6 true pairs; predicted {a,b | c,d} has 2, both correct.
  // P = 1, R = 2/6, F1 = 2*(1/3)/(4/3) = 0.5. ARI: N = 6, expected = 6*2/6 = 2, max = 4, ARI = 0/2 = 0.
  const s = scoreClustering(labels({ a: 'X', b: 'X', c: 'X', d: 'X' }), labels({ a: '1', b: '1', c: '2', d: '2' }));
  close(s.precision, 1);
  close(s.recall, 1 / 3);
  close(s.f1, 0.5);
  close(s.ari, 0);
});

test('missing articles are singletons and non-gold predictions are ignored', () => {
  // c is unpredicted; z is predicted into cluster 1 but has no gold label, so it must not add pairs.
  const gold = labels({ a: 'X', b: 'X', c: 'X' });
  const predicted = labels({ a: '1', b: '1', z: '1' });
  const s = scoreClustering(gold, predicted);
  assert.equal(s.unpredicted, 1);
  assert.equal(s.predictedClusters, 2);
  assert.equal(s.largestPredictedCluster, 2);
  assert.equal(s.truePairs, 3);
  assert.equal(s.predictedPairs, 1);
  assert.equal(s.correctPairs, 1);

  // Two missing articles must not end up in one shared "missing" cluster.
  const none = scoreClustering(labels({ a: 'X', b: 'X' }), new Map());
  assert.equal(none.predictedPairs, 0);
  assert.equal(none.predictedClusters, 2);
  assert.equal(none.largestPredictedCluster, 1);
  assert.equal(none.precision, 0);
  assert.equal(none.recall, 0);
  assert.equal(none.f1, 0);
});

test('cluster names cannot collide when joined into contingency cells', () => {
  // Naive "g|p" keys would merge ("a|b","c") with ("a","b|c").
  const gold = labels({ x: 'a|b', y: 'a' });
  const predicted = labels({ x: 'c', y: 'b|c' });
  assert.equal(scoreClustering(gold, predicted).correctPairs, 0);
});

test('ARI is 1 for identical and for relabelled identical partitions', () => {
  const random = rng(1);
  const gold = randomLabels(ids(100), 7, random);
  assert.equal(scoreClustering(gold, gold).ari, 1);
  const relabelled = new Map([...gold].map(([id, c]) => [id, `other-${c.toUpperCase()}`]));
  const s = scoreClustering(gold, relabelled);
  close(s.ari, 1);
  close(s.f1, 1);
  // Degenerate partitions (zero ARI denominator) that agree count as perfect.
  const singletons = new Map(ids(5).map((id) => [id, id]));
  assert.equal(scoreClustering(singletons, singletons).ari, 1);
  const oneCluster = new Map(ids(5).map((id) => [id, 'all']));
  assert.equal(scoreClustering(oneCluster, oneCluster).ari, 1);
});

test('ARI averages about 0 for random labellings', () => {
  const random = rng(42);
  const articles = ids(200);
  const gold = randomLabels(articles, 10, random);
  let total = 0;
  for (let i = 0; i < 50; i++) total += scoreClustering(gold, randomLabels(articles, 10, random)).ari;
  assert.ok(Math.abs(total / 50) < 0.05, `mean ARI ${total / 50}`);
});

test('contingency-table counts agree with brute-force enumeration of all pairs', () => {
  const random = rng(7);
  const articles = ids(200);
  const gold = randomLabels(articles, 15, random);
  const predicted = randomLabels(articles, 12, random);
  // Some gold articles missing from the prediction, and some extra predicted articles.
  for (const id of articles) if (random() < 0.1) predicted.delete(id);
  for (let i = 0; i < 20; i++) predicted.set(`extra${i}`, `c${i % 12}`);

  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (let i = 0; i < articles.length; i++) {
    for (let j = i + 1; j < articles.length; j++) {
      const same = gold.get(articles[i]) === gold.get(articles[j]);
      const pi = predicted.get(articles[i]);
      const together = pi !== undefined && pi === predicted.get(articles[j]);
      if (same && together) tp++;
      else if (together) fp++;
      else if (same) fn++;
      else tn++;
    }
  }
  const s = scoreClustering(gold, predicted);
  assert.ok(s.unpredicted > 0);
  assert.equal(s.correctPairs, tp);
  assert.equal(s.predictedPairs, tp + fp);
  assert.equal(s.truePairs, tp + fn);
  // ARI in its pair-confusion form, independent of the expected-index formula used by the module.
  const ari = (2 * (tp * tn - fn * fp)) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn));
  close(s.ari, ari, 'ARI');
});

const pairs: LabelledPair[] = [
  { source: 's1', derived: 'd1', label: 'WD' },
  { source: 's2', derived: 'd2', label: 'PD' },
  { source: 's3', derived: 'd3', label: 'PD' },
  { source: 's4', derived: 'd4', label: 'ND' },
  { source: 's5', derived: 'd5', label: 'ND' },
];

test('pairs: hand-computed confusion counts and MCC', () => {
  // Together: s1/d1 (WD), s2/d2 (PD), s4/d4 (ND); d3 missing; s5/d5 apart.
  // TP 2, FN 1, FP 1, TN 1: P = R = F1 = 2/3, MCC = (2*1 - 1*1)/sqrt(3*3*2*2) = 1/6.
  const predicted = labels({ s1: 'A', d1: 'A', s2: 'B', d2: 'B', s3: 'C', s4: 'D', d4: 'D', s5: 'E', d5: 'F' });
  const s = scorePairs(pairs, predicted);
  assert.deepEqual([s.pairs, s.tp, s.fp, s.fn, s.tn], [5, 2, 1, 1, 1]);
  close(s.precision, 2 / 3);
  close(s.recall, 2 / 3);
  close(s.f1, 2 / 3);
  close(s.mcc, 1 / 6);
});

test('pairs: everything in one cluster gives MCC 0, a perfect prediction MCC 1', () => {
  const all = new Map(pairs.flatMap((p) => [[p.source, 'all'] as const, [p.derived, 'all'] as const]));
  const merged = scorePairs(pairs, all);
  assert.deepEqual([merged.tp, merged.fp, merged.fn, merged.tn], [3, 2, 0, 0]);
  assert.equal(merged.mcc, 0);

  const perfect = new Map<string, string>();
  for (const [i, p] of pairs.entries()) {
    perfect.set(p.source, `s${i}`);
    perfect.set(p.derived, p.label === 'ND' ? `d${i}` : `s${i}`);
  }
  const s = scorePairs(pairs, perfect);
  assert.equal(s.mcc, 1);
  assert.equal(s.f1, 1);

  // Custom positive labels: only WD counts as a rewrite.
  assert.deepEqual(scorePairs(pairs, perfect, ['WD']).tp, 1);
});

test('parseLabelsCsv accepts CRLF, a trailing newline and quoted fields', () => {
  const text = 'id,cluster\r\na,X\r\n"b,1","say ""hi""\r\nthere"\r\nc,X\r\n';
  const parsed = parseLabelsCsv(text, 'labels.csv');
  assert.deepEqual([...parsed], [
    ['a', 'X'],
    ['b,1', 'say "hi"\r\nthere'],
    ['c', 'X'],
  ]);
  assert.equal(parseLabelsCsv('\ufeffid,cluster\na,X', 'l.csv').get('a'), 'X');
  assert.equal(parseLabelsCsv('id,cluster\n', 'l.csv').size, 0);
});

function assertInputError(fn: () => unknown, line: number | undefined, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InputError, `expected InputError, got ${String(err)}`);
    assert.equal(err.file, 'f.csv');
    assert.equal(err.line, line);
    assert.match(err.message, pattern);
    return true;
  });
}

test('parse errors name the file and line', () => {
  assertInputError(() => parseLabelsCsv('id,cluster\na,X\nb,Y\na,Z\n', 'f.csv'), 4, /^f\.csv:4: duplicate id "a"/);
  assertInputError(() => parseLabelsCsv('id,label\na,X\n', 'f.csv'), 1, /expected header "id,cluster"/);
  assertInputError(() => parseLabelsCsv('', 'f.csv'), 1, /empty file/);
  assertInputError(() => parseLabelsCsv('id,cluster\na,X,extra\n', 'f.csv'), 2, /expected 2 fields, found 3/);
  assertInputError(() => parseLabelsCsv('id,cluster\na\n', 'f.csv'), 2, /expected 2 fields, found 1/);
  assertInputError(() => parseLabelsCsv('id,cluster\na,\n', 'f.csv'), 2, /empty cluster/);
  // The quoted field spans lines 2-3, so the bad record after it is on line 4.
  assertInputError(() => parseLabelsCsv('id,cluster\na,"X\nY"\nb\n', 'f.csv'), 4, /expected 2 fields/);
  assertInputError(() => parseLabelsCsv('id,cluster\na,"X\n', 'f.csv'), 2, /unterminated quoted field/);
  assertInputError(() => parseLabelsCsv('id,cluster\na,"X"Y\n', 'f.csv'), 2, /after a closing quote/);
  assertInputError(() => parseLabelsCsv('id,cluster\na,X"Y\n', 'f.csv'), 2, /quote inside an unquoted field/);
});

test('parsePairsCsv reads pairs and rejects malformed ones', () => {
  const parsed = parsePairsCsv('source,derived,label\nu1,u1p,PD\r\nu2,u2p,ND\n', 'f.csv');
  assert.deepEqual(parsed, [
    { source: 'u1', derived: 'u1p', label: 'PD' },
    { source: 'u2', derived: 'u2p', label: 'ND' },
  ]);
  assertInputError(() => parsePairsCsv('source,derived\nu1,u1p\n', 'f.csv'), 1, /expected header "source,derived,label"/);
  assertInputError(() => parsePairsCsv('source,derived,label\nu1,u1p\n', 'f.csv'), 2, /expected 3 fields/);
  assertInputError(() => parsePairsCsv('source,derived,label\nu1,u1p,WD\nu1p,u1,WD\n', 'f.csv'), 3, /duplicate pair/);
  assertInputError(() => parsePairsCsv('source,derived,label\nu1,u1,WD\n', 'f.csv'), 2, /same article/);
});

test('formatScores prints fixed 3-decimal figures', () => {
  const gold = labels({ a: 'X', b: 'X', c: 'X', d: 'Y', e: 'Y' });
  const predicted = labels({ a: '1', b: '1', c: '2', d: '2', e: '2' });
  const text = formatScores(scoreClustering(gold, predicted), scorePairs(pairs, predicted));
  assert.match(text, /P 0\.500 {2}R 0\.500 {2}F1 0\.500 {2}ARI 0\.167/);
  assert.match(text, /MCC 0\.000/);
  assert.equal(text.split('\n').length, 4);
  assert.equal(formatScores(undefined, scorePairs(pairs, predicted)).split('\n').length, 2);
});
