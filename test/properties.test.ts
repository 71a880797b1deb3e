/**
 * Properties that must hold for any input, checked on inputs fast-check draws (fixed seed, so a failure
 * reproduces; fast-check shrinks it to a small counterexample).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { parse } from 'csv-parse/sync';
import { clusterIdFor } from '../pipeline/cluster.js';
import { DEFAULT_OPTIONS } from '../pipeline/options.js';
import { createEngine, estimateJaccard } from '../pipeline/signature.js';
import { setSimilarity } from '../pipeline/similarity.js';
import { runPipeline } from '../pipeline/stages.js';

const SEED = 20261124;

test('the MinHash estimate is unbiased: over many hash seeds it averages to the exact Jaccard within its standard error', () => {
  const k = 64;
  const seeds = 48;
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 300 }), (shared, onlyA, onlyB) => {
      const a = Uint32Array.from({ length: shared + onlyA }, (_, i) => 2 * i).sort();
      const b = Uint32Array.from({ length: shared + onlyB }, (_, i) => (i < shared ? 2 * i : 2 * (100_000 + i))).sort();
      const exact = setSimilarity(a, b).jaccard;
      const both = new Uint32Array(2 * k);
      let sum = 0;
      for (let seed = 1; seed <= seeds; seed++) {
        const engine = createEngine('sketch', k, seed);
        engine.sign(a, both.subarray(0, k));
        engine.sign(b, both.subarray(k));
        sum += estimateJaccard(both, k, 0, 1);
      }
      // Each estimate has standard error at most sqrt(J(1 - J) / k); their mean, that over sqrt(seeds).
      const standardError = Math.sqrt((exact * (1 - exact)) / k / seeds);
      return Math.abs(sum / seeds - exact) <= 4 * standardError + 1e-9;
    }),
    { seed: SEED, numRuns: 40 },
  );
});

// Batches of articles from a small vocabulary: topics shared, stories not.
const WORDS = ['drone', 'governor', 'region', 'airport', 'attack', 'ministry', 'defense', 'village', 'bridge', 'market', 'harvest', 'election', 'storm', 'river', 'factory', 'contract', 'talks', 'court', 'strike', 'budget'];
const NAMES = ['Kaluga', 'Voronezh', 'Moscow', 'Lagos', 'Lima', 'Oslo', 'Hanoi', 'Quito'];
const sentence = fc
  .tuple(fc.constantFrom(...NAMES), fc.array(fc.constantFrom(...WORDS), { minLength: 6, maxLength: 14 }), fc.integer({ min: 1, max: 999 }))
  .map(([name, words, n]) => `In ${name} the ${words.join(' ')} reached ${n}.`);
const articleText = fc.array(sentence, { minLength: 2, maxLength: 8 }).map((s) => s.join('\n'));

interface Row {
  [column: string]: string;
}

async function cluster(texts: string[], published: (string | undefined)[]): Promise<{ documents: Row[]; clusters: Row[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'neardup-prop-'));
  try {
    const lines = texts.map((text, i) => JSON.stringify({ id: `a${String(i).padStart(3, '0')}`, title: '', text, published_at: published[i] }));
    await writeFile(join(dir, 'in.jsonl'), lines.join('\n') + '\n');
    await runPipeline([join(dir, 'in.jsonl')], join(dir, 'out'), { ...DEFAULT_OPTIONS, workers: 0 });
    const read = async (file: string) => parse(await readFile(join(dir, 'out', file), 'utf8'), { columns: true }) as Row[];
    return { documents: await read('documents.csv'), clusters: await read('clusters.csv') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('identical texts always cluster; every article is in exactly one cluster; a cluster id is that of its founder', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(articleText, { minLength: 1, maxLength: 12 }),
      fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
      fc.array(fc.option(fc.date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true }), { nil: undefined }), { minLength: 30, maxLength: 30 }),
      async (originals, copied, dates) => {
        // Some originals printed twice, appended after the rest.
        const copies = copied.map((c) => originals[c % originals.length]);
        const texts = [...originals, ...copies];
        const published = texts.map((_, i) => dates[i]?.toISOString());
        const { documents, clusters } = await cluster(texts, published);
        assert.equal(documents.length, texts.length, 'one row per article');
        const clusterOf = new Map(documents.map((d) => [d.doc_id, d.cluster_id]));
        assert.equal(clusterOf.size, texts.length, 'each article once');
        // Identical texts: one cluster.
        copies.forEach((_, c) => {
          const original = `a${String(copied[c] % originals.length).padStart(3, '0')}`;
          const copy = `a${String(originals.length + c).padStart(3, '0')}`;
          assert.equal(clusterOf.get(copy), clusterOf.get(original), `${copy} is a copy of ${original}`);
        });
        // clusters.csv partitions the clustered articles, and agrees with documents.csv.
        const listed = clusters.flatMap((c) => c.member_ids.split(' '));
        assert.equal(new Set(listed).size, listed.length, 'no article in two clusters');
        for (const c of clusters) for (const id of c.member_ids.split(' ')) assert.equal(clusterOf.get(id), c.cluster_id);
        // The id is the founder's: earliest published_at (undated last), then smallest id.
        const time = (id: string) => published[Number(id.slice(1))] ?? '\uffff';
        for (const c of clusters) {
          const founder = c.member_ids.split(' ').sort((x, y) => (time(x) < time(y) ? -1 : time(x) > time(y) ? 1 : x < y ? -1 : 1))[0];
          assert.equal(c.cluster_id, clusterIdFor(founder));
        }
      },
    ),
    { seed: SEED, numRuns: 15 },
  );
});
