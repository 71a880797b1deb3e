import assert from 'node:assert/strict';
import { mkdir, mkdtemp, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { type TableSource, inertCell, writeCsv } from '../pipeline/report.js';
import { openArtifact, readArtifact, writeArtifact } from '../pipeline/artifact.js';
import { AtomicLineWriter, writeAll } from '../pipeline/atomic-write.js';
import { readByteLines } from '../pipeline/byte-lines.js';
import { randomStream } from '../pipeline/hash.js';
import { DEFAULT_OPTIONS, type PipelineOptions } from '../pipeline/options.js';
import { COPY_K, clusterStage, loadFeaturesOf, loadShingles, loadSignatures, readStage, reportStage, runPipeline, shingleStage, signatureStage, stagesSeconds, type StageStats } from '../pipeline/stages.js';
import { type SignResult, type TablesResult, runTask } from '../pipeline/tasks.js';
import { sharedCopy } from '../pipeline/typed-arrays.js';
import { signatureWeightFloor } from '../pipeline/weights.js';
import { WorkerPool } from '../pipeline/worker-pool.js';

const SEEDS = fileURLToPath(new URL('../../seeds', import.meta.url));
const scratchDirs: string[] = [];
const scratch = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'neardup-test-'));
  scratchDirs.push(dir);
  return dir;
};
after(() => Promise.all(scratchDirs.map((dir) => rm(dir, { recursive: true, force: true }))));
type Row = Record<string, string>;
/** A report file's bytes; report.html's run time, the one figure that changes from run to run, blanked. */
const readReport = async (out: string, file: string): Promise<Buffer> => {
  const bytes = await readFile(join(out, file));
  return file === 'report.html' ? Buffer.from(bytes.toString('utf8').replace(/<dd id="run-time">[^<]*<\/dd>/, '<dd id="run-time"></dd>')) : bytes;
};
const REPORTS = ['documents.csv', 'clusters.csv', 'pairs.csv', 'deduplicated.jsonl', 'report.html'];
const readCsv = async (path: string): Promise<Row[]> => parse(await readFile(path, 'utf8'), { columns: true }) as Row[];

async function seedClusters(options: PipelineOptions): Promise<Record<string, string>> {
  const out = await scratch();
  await runPipeline([SEEDS], out, options);
  const rows = await readCsv(join(out, 'documents.csv'));
  return Object.fromEntries(rows.map((r) => [r.doc_id.slice(0, 3), r.cluster_id]));
}

test('seeds: the three rewrites form one cluster, the two other stories stand alone', async () => {
  const c = await seedClusters(DEFAULT_OPTIONS);
  assert.equal(c['000'], c['001']);
  assert.equal(c['000'], c['002']);
  assert.notEqual(c['003'], c['000']);
  assert.notEqual(c['004'], c['000']);
  assert.notEqual(c['003'], c['004']);
});

test('a story printed word for word by more outlets than the signature df cap is one cluster', async () => {
  // The five seeds, and seed 004 printed by 60 outlets: more than signatureMaxDf (50) articles share each of
  // its grams, so the capped signatures have nothing left for them; the copy signatures find them.
  const dir = await scratch();
  const copied = (await readdir(SEEDS)).find((f) => f.startsWith('004'))!;
  const text = await readFile(join(SEEDS, copied), 'utf8');
  const lines = Array.from({ length: 60 }, (_, i) => JSON.stringify({ id: `outlet${String(i).padStart(2, '0')}`, text }));
  await writeFile(join(dir, 'copies.jsonl'), lines.join('\n') + '\n');
  const cluster = async (options: PipelineOptions) => {
    const out = await scratch();
    await runPipeline([SEEDS, join(dir, 'copies.jsonl')], out, options);
    const rows = await readCsv(join(out, 'documents.csv'));
    return new Map(rows.map((r) => [r.doc_id.startsWith('outlet') ? r.doc_id : r.doc_id.slice(0, 3), r.cluster_id]));
  };
  assert.ok(DEFAULT_OPTIONS.signatureMaxDf < 60);
  const c = await cluster(DEFAULT_OPTIONS);
  const copyClusters = new Set(Array.from({ length: 60 }, (_, i) => c.get(`outlet${String(i).padStart(2, '0')}`)));
  assert.deepEqual([...copyClusters], [c.get('004')], 'the 60 copies and seed 004: one cluster');
  assert.equal(c.get('000'), c.get('001'));
  assert.notEqual(c.get('000'), c.get('004'));
  // Without copy bands the copies match nothing: every one of their grams is over the cap.
  const without = await cluster({ ...DEFAULT_OPTIONS, copyThreshold: 0 });
  assert.equal(new Set(Array.from({ length: 60 }, (_, i) => without.get(`outlet${String(i).padStart(2, '0')}`))).size, 60);
});

test('two articles alone in a batch: copies and rewrites match, other stories do not', async () => {
  const seed = async (prefix: string) => readFile(join(SEEDS, (await readdir(SEEDS)).find((f) => f.startsWith(prefix))!), 'utf8');
  const pairClusters = async (a: string, b: string) => {
    const dir = await scratch();
    await writeFile(join(dir, 'a.txt'), await seed(a));
    await writeFile(join(dir, 'b.txt'), await seed(b));
    const out = await scratch();
    await runPipeline([dir], out, DEFAULT_OPTIONS);
    return new Set((await readCsv(join(out, 'documents.csv'))).map((r) => r.cluster_id)).size;
  };
  // Every gram of two copies is in both articles: IDF must not weigh them all 0.
  assert.equal(await pairClusters('000', '000'), 1, 'two copies');
  assert.equal(await pairClusters('000', '001'), 1, 'two rewrites');
  assert.equal(await pairClusters('003', '004'), 2, 'two other stories');
});

test('seeds: the minhash package engine gives the same clusters as the default engine', async () => {
  assert.deepEqual(await seedClusters({ ...DEFAULT_OPTIONS, engine: 'minhash' }), await seedClusters(DEFAULT_OPTIONS));
});

test('reports: every file written, consistent with each other, byte-identical on a second run', async () => {
  const out = await scratch();
  await runPipeline([SEEDS], out, DEFAULT_OPTIONS);
  const files = REPORTS;
  const first = await Promise.all(files.map((f) => readReport(out, f)));
  assert.match(first[4].toString('utf8'), /<dd id="run-time"><\/dd>/, 'the run time was blanked, and only it');
  await runPipeline([SEEDS], out, DEFAULT_OPTIONS);
  const second = await Promise.all(files.map((f) => readReport(out, f)));
  files.forEach((f, i) => assert.ok(first[i].equals(second[i]), `${f} is byte-identical`));

  const documents = await readCsv(join(out, 'documents.csv'));
  assert.deepEqual(Object.keys(documents[0]), ['doc_id', 'cluster_id', 'cluster_size', 'is_representative', 'nearest_id', 'similarity', 'first_seen_run']);
  const clusters = await readCsv(join(out, 'clusters.csv'));
  assert.equal(clusters.length, 1);
  const [cluster] = clusters;
  assert.equal(cluster.size, '3');
  assert.equal(cluster.representative_id, '000_d098e9b3e80ee6a1'); // no dates: the smallest id founds it
  assert.equal(cluster.member_ids.split(' ').length, 3);
  for (const d of documents) {
    assert.equal(d.is_representative === '1', d.doc_id === cluster.representative_id || d.cluster_size === '1');
  }
  const feed = (await readFile(join(out, 'deduplicated.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(feed.map((a) => a.id.slice(0, 3)), ['000', '003', '004']);
  assert.equal(feed[0].cluster_size, 3);
  assert.equal(feed[0].cluster_id, cluster.cluster_id);
  // Each line is the stored article without its origin, plus its cluster, field for field and byte for byte.
  const stored = new Map((await readFile(join(out, 'work', 'articles.jsonl'), 'utf8')).trim().split('\n').map((l) => {
    const { origin, ...fields } = JSON.parse(l) as { id: string; origin: string };
    assert.match(origin, /seeds/);
    return [fields.id, fields];
  }));
  const feedLines = (await readFile(join(out, 'deduplicated.jsonl'), 'utf8')).trim().split('\n');
  feed.forEach((a, at) => {
    assert.equal(feedLines[at], JSON.stringify({ ...stored.get(a.id), cluster_id: a.cluster_id, cluster_size: a.cluster_size }));
  });
  const run = JSON.parse(await readFile(join(out, 'run.json'), 'utf8'));
  assert.deepEqual(Object.keys(run.stages), ['candidates', 'cluster', 'read', 'shingle', 'sign', 'report']);
  assert.equal(run.stages.read.articles, 5);
  assert.ok(!(await readdir(out)).some((f) => f.includes('.tmp-')), 'no temporary files left behind');
});

test('the feed copies each stored line as it is, whatever its id holds, and the report refuses articles that no longer match', async () => {
  const dir = await scratch();
  const text = 'Kaluga governor Vladislav Shapsha said 40 drones were shot down over the region on Sunday night.';
  const ids = ['q"uote', 'https://x.example/a?b=1&c=ü', 'ünï-1', '😀-2', 'plain-3'];
  await writeFile(join(dir, 'feed.jsonl'), ids.map((id, i) => JSON.stringify({ id, title: `Drones ${i}`, text: i % 2 ? text : `${text} Officials gave no more details.` })).join('\n') + '\n');
  const out = await scratch();
  await runPipeline([join(dir, 'feed.jsonl')], out, DEFAULT_OPTIONS);
  const stored = (await readFile(join(out, 'work', 'articles.jsonl'), 'utf8')).trim().split('\n');
  const feed = (await readFile(join(out, 'deduplicated.jsonl'), 'utf8')).trim().split('\n');
  const byId = new Map(stored.map((line) => [(JSON.parse(line) as { id: string }).id, line]));
  assert.ok(feed.length > 0 && feed.length < ids.length, 'some articles are duplicates');
  for (const line of feed) {
    const { cluster_id, cluster_size, ...fields } = JSON.parse(line) as { id: string; cluster_id: string; cluster_size: number };
    const { origin, ...kept } = JSON.parse(byId.get(fields.id)!) as { origin: string };
    assert.ok(origin.endsWith('feed.jsonl:' + (ids.indexOf(fields.id) + 1)));
    assert.equal(line, JSON.stringify({ ...kept, cluster_id, cluster_size }));
  }
  // Stored articles out of step with the other stages' files: swapped, or one missing.
  const path = join(out, 'work', 'articles.jsonl');
  await writeFile(path, [stored[1], stored[0], ...stored.slice(2)].join('\n') + '\n');
  await assert.rejects(reportStage(out, DEFAULT_OPTIONS), /no longer matches work\/shingles.bin at article 1;/);
  await writeFile(path, stored.slice(0, -1).join('\n') + '\n');
  await assert.rejects(reportStage(out, DEFAULT_OPTIONS), /has 4 articles, work\/shingles.bin 5/);
});

test('the report reads the features of the articles it shows alone, as they are in work/shingles.bin', async () => {
  const out = await scratch();
  await runPipeline([SEEDS], out, DEFAULT_OPTIONS);
  const { sets } = await loadShingles(out);
  const wanted = [1, 0, 1, 1, 0];
  const { sets: some, at } = await loadFeaturesOf(out, wanted);
  assert.deepEqual([...at], [0, -1, 1, 2, -1]);
  for (const i of [0, 2, 3]) {
    const [from, to] = [sets.offsets[i], sets.offsets[i + 1]];
    assert.ok(to > from);
    assert.deepEqual([...some.values.subarray(some.offsets[at[i]], some.offsets[at[i] + 1])], [...sets.values.subarray(from, to)]);
    assert.deepEqual([...some.weightCodes.subarray(some.offsets[at[i]], some.offsets[at[i] + 1])], [...sets.weightCodes.subarray(from, to)]);
  }
  assert.equal(some.values.length, sets.offsets[1] - sets.offsets[0] + sets.offsets[4] - sets.offsets[2]);
  assert.deepEqual(some.weightOfCode, sets.weightOfCode);
});

test('the sign stage reads and signs a batch at a time: the same signatures as signing the whole batch at once', async () => {
  const out = await scratch();
  // 4,500 articles of words drawn from a small vocabulary: three of the stage's batches of 2,000.
  let state = 12345;
  const word = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return `w${(state >>> 8) % 3000}`;
  };
  const lines = Array.from({ length: 4500 }, (_, i) => JSON.stringify({ id: `a${i}`, text: Array.from({ length: 60 }, word).join(' ') }));
  await writeFile(join(out, 'in.jsonl'), lines.join('\n') + '\n');
  const options = { ...DEFAULT_OPTIONS, workers: 2 };
  await readStage([join(out, 'in.jsonl')], out, options);
  await shingleStage(out, options);
  await signatureStage(out, options);
  const { sets, weighting, idfArticles } = await loadShingles(out);
  const { signatures, copySignatures, meta } = await loadSignatures(out);
  const whole = runTask({
    task: 'sign',
    engine: options.engine,
    k: meta.k,
    seed: options.seed,
    features: sets,
    from: 0,
    to: 4500,
    weightFloor: signatureWeightFloor(options.signatureMaxDf, weighting, idfArticles),
    copyK: COPY_K,
  }) as SignResult;
  assert.equal(signatures.length, 4500 * meta.k);
  assert.deepEqual(signatures, whole.signatures);
  assert.deepEqual(copySignatures, whole.copySignatures);
});

test('a late stage re-runs alone on the earlier stages\' files', async () => {
  const out = await scratch();
  await runPipeline([SEEDS], out, DEFAULT_OPTIONS);
  // A threshold no pair reaches: the cluster and report stages alone turn every article into a singleton.
  await clusterStage(out, { ...DEFAULT_OPTIONS, threshold: 0.99 });
  await reportStage(out, DEFAULT_OPTIONS);
  const documents = await readCsv(join(out, 'documents.csv'));
  assert.ok(documents.every((d) => d.cluster_size === '1'));
  assert.equal((await readCsv(join(out, 'clusters.csv'))).length, 0);
});

test('a run shingles the articles as the read stage writes them: the same work files as the stages one by one, signatures signed from the features handed on in memory included', async () => {
  // 2.4 MB of articles: several of the read stage's chunks (a megabyte each) and of the shingler's batches.
  const dir = await scratch();
  const line = (i: number, text = `Report ${i} from Kaluga: ${'the council met again and voted on the budget. '.repeat(8)}${i * 7919}`) =>
    JSON.stringify({ id: `a${i}`, title: `Story ${i}`, text });
  await writeFile(join(dir, 'many.jsonl'), Array.from({ length: 5000 }, (_, i) => line(i)).join('\n') + '\n');
  const together = await scratch();
  const start = performance.now();
  await runPipeline([SEEDS, dir], together, DEFAULT_OPTIONS);
  const wallSeconds = (performance.now() - start) / 1000;
  const apart = await scratch();
  await readStage([SEEDS, dir], apart, DEFAULT_OPTIONS);
  await shingleStage(apart, DEFAULT_OPTIONS);
  // A run's sign stage signs the features the shingle stage hands on in memory; alone, it reads them back.
  await signatureStage(apart, DEFAULT_OPTIONS);
  for (const file of ['articles.jsonl', 'rejected.json', 'shingles.bin', 'unusable.json', 'signatures.bin']) {
    assert.ok((await readFile(join(together, 'work', file))).equals(await readFile(join(apart, 'work', file))), file);
  }
  for (const stage of ['read', 'shingle']) {
    const counts = async (out: string) => ({ ...JSON.parse(await readFile(join(out, 'work', `${stage}.stats.json`), 'utf8')), seconds: 0, articlesPerSecond: 0 });
    // The read stage's statistics say it ran alongside the shingle stage, within its time.
    assert.deepEqual(await counts(together), { ...(await counts(apart)), ...(stage === 'read' ? { alongside: 'shingle' } : {}) }, stage);
  }
  // So a run's time counts it once (the report's run time is no more than the run took).
  const stats = ['read', 'shingle'].map((stage): StageStats => ({ stage, seconds: 2, articlesPerSecond: 1, articles: 1, options: {} }));
  assert.equal(stagesSeconds(stats), 4);
  stats[0].alongside = 'shingle';
  assert.equal(stagesSeconds(stats), 2);
  const html = await readFile(join(together, 'report.html'), 'utf8');
  const reported = Number(/<dd id="run-time">([\d.]+) s<\/dd>/.exec(html)![1]);
  assert.ok(reported <= wallSeconds + 0.005, `report says ${reported} s, the run took ${wallSeconds} s`);

  // A failure on either side while the read stage is still going leaves no articles.jsonl, whole or half-
  // written: a bad line past its first chunks, or an article the shingle stage turns down (strict) in its
  // first batch, found while the read stage is thousands of lines ahead (the bad line comes first in path order).
  const bad = await scratch();
  const short = Array.from({ length: 30000 }, (_, i) => JSON.stringify({ id: `b${i}`, text: `Item ${i} on the budget vote in Kaluga.` }));
  short[25000] = '{"id": "broken", "text": ';
  await writeFile(join(bad, 'bad.jsonl'), short.join('\n'));
  short[25000] = JSON.stringify({ id: 'b25000', text: 'fine' });
  short[100] = JSON.stringify({ id: 'b100', title: 'The', text: '!!! the and of ???' });
  await writeFile(join(bad, 'unusable.jsonl'), short.join('\n'));
  for (const [file, message] of [['bad.jsonl', /bad\.jsonl:25001: not valid JSON/], ['unusable.jsonl', /unusable\.jsonl:101: no usable shingles/]] as const) {
    const out = await scratch();
    await assert.rejects(runPipeline([join(bad, file)], out, { ...DEFAULT_OPTIONS, strict: true }), message);
    assert.deepEqual((await readdir(join(out, 'work'))).filter((name) => name.includes('articles')), [], file);
  }
});

test('CSV written a piece at a time is the CSV of all the rows at once, header included, even with no rows', async () => {
  const dir = await scratch();
  const rows = Array.from({ length: 25_003 }, (_, i) => [`a${i}`, i % 7 === 0 ? '=SUM(1)' : `x, "y"\n${i}`, i / 3]);
  const whole = (some: unknown[][]) => stringify(some, { header: true, columns: ['id', 'text', 'n'], record_delimiter: 'unix', cast: { string: inertCell } });
  for (const [count, chunk] of [[25_003, 10_000], [20_000, 10_000], [5, 2], [0, 10_000]]) {
    await writeCsv(join(dir, 'f.csv'), ['id', 'text', 'n'], rows.slice(0, count), chunk);
    assert.equal(await readFile(join(dir, 'f.csv'), 'utf8'), whole(rows.slice(0, count)), `${count} rows, ${chunk} a piece`);
  }
});

test('documents.csv and pairs.csv are the same bytes made on a worker thread or on the main thread', async () => {
  // Pieces of 10,000 rows and a short last one; ids a spreadsheet would run, quoted, or outside ASCII; the
  // last three articles indexed ones, without rows (a nightly run); some arrays in shared memory, some not.
  const n = 25_003;
  const clusters = 5_000;
  const random = randomStream(7);
  const fraction = () => random() / 2 ** 32;
  const pairCount = 30_001;
  const size = new Uint32Array(clusters).fill(Math.floor(n / clusters));
  size.fill(size[0] + 1, 0, n % clusters);
  const source: TableSource = {
    ids: Array.from({ length: n }, (_, i) => (i % 7 === 0 ? `=id${i}` : i % 11 === 0 ? `a "${i}", ünï` : `a${i}`)),
    clusterIds: Array.from({ length: clusters }, (_, c) => `c${c}`),
    clusterOf: sharedCopy(Uint32Array.from({ length: n }, (_, i) => i % clusters)),
    founders: Uint32Array.from({ length: clusters }, (_, c) => c),
    nearest: Int32Array.from({ length: n }, (_, i) => (i < clusters ? -1 : i - clusters)),
    nearestSimilarity: sharedCopy(Float32Array.from({ length: n }, fraction)),
    pairs: {
      a: Uint32Array.from({ length: pairCount }, () => random() % n),
      b: Uint32Array.from({ length: pairCount }, () => random() % n),
      estimated: Float32Array.from({ length: pairCount }, fraction),
      jaccard: sharedCopy(Float32Array.from({ length: pairCount }, fraction)),
      containment: Float32Array.from({ length: pairCount }, fraction),
      factJaccard: Float32Array.from({ length: pairCount }, fraction),
      similarity: Float32Array.from({ length: pairCount }, fraction),
      clustered: Uint8Array.from({ length: pairCount }, (_, p) => p % 2),
    },
    size,
    reported: n - 3,
    firstSeenRun: Array.from({ length: n }, (_, i) => `run-${i % 3}`),
  };
  const made = async (workers: number): Promise<Buffer[]> => {
    const pool = new WorkerPool(workers);
    try {
      const [documents, pairs] = await Promise.all([
        pool.run<TablesResult>({ task: 'tables', table: 'documents', source }),
        pool.run<TablesResult>({ task: 'tables', table: 'pairs', source: { ids: source.ids, pairs: source.pairs } }),
      ]);
      return [Buffer.concat(documents.pieces), Buffer.concat(pairs.pieces)];
    } finally {
      await pool.close();
    }
  };
  const inline = await made(0);
  for (const workers of [1, 2]) {
    const worker = await made(workers);
    assert.ok(worker[0].equals(inline[0]), `documents.csv, ${workers} workers`);
    assert.ok(worker[1].equals(inline[1]), `pairs.csv, ${workers} workers`);
  }
  const documents = parse(inline[0].toString('utf8'), { columns: true }) as Row[];
  assert.deepEqual(documents.map((d) => d.doc_id), source.ids.slice(0, n - 3).map(inertCell));
  assert.deepEqual(documents[clusters], { doc_id: 'a5000', cluster_id: 'c0', cluster_size: '6', is_representative: '0', nearest_id: "'=id0", similarity: source.nearestSimilarity[clusters].toFixed(4), first_seen_run: 'run-2' });
  assert.equal((parse(inline[1].toString('utf8'), { columns: true }) as Row[]).length, pairCount);
});

test('a failure making documents.csv leaves the last reports as they were, on a worker thread or not', async () => {
  const out = await scratch();
  await runPipeline([SEEDS], out, DEFAULT_OPTIONS);
  const before = await Promise.all(REPORTS.map((f) => readReport(out, f)));
  // clusters.bin without the similarities of the articles' nearest ones: documents.csv cannot be made.
  const path = join(out, 'work', 'clusters.bin');
  const { meta, arrays } = await readArtifact(path, 'clusters', 'cluster');
  await writeArtifact(path, 'clusters', meta as object, { ...arrays, nearestSimilarity: new Float32Array(0) });
  for (const workers of [0, 1, 2]) {
    await assert.rejects(reportStage(out, { workers }), /toFixed/);
    const after = await Promise.all(REPORTS.map((f) => readReport(out, f)));
    REPORTS.forEach((f, i) => assert.ok(after[i].equals(before[i]), `${f}, ${workers} workers`));
    const entries = await readdir(out);
    assert.equal(entries.filter((e) => e.startsWith('.reports-')).length, 1, 'the last run\'s reports alone');
    assert.ok(!entries.some((e) => e.includes('.tmp-')), 'no temporary files left behind');
  }
});

test('CSV cells with quotes, commas and line breaks survive a round trip', async () => {
  const dir = await scratch();
  const out = await scratch();
  const body = 'Police said the suspect, "a local man", fled.\nWitnesses saw him run north on Main Street at noon.\n';
  const lines = [
    { id: 'a,1', title: 'He said "no", then\nleft', text: body },
    { id: 'b"2', title: '=SUM(A1)', text: body },
    // A third, unrelated article: IDF needs words that not every article of the batch has.
    { id: 'c3', title: 'Weather', text: 'Sunny skies and light winds are forecast for the weekend across the region.\n' },
  ];
  await writeFile(join(dir, 'feed.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  await runPipeline([dir], out, DEFAULT_OPTIONS);
  const clusters = await readCsv(join(out, 'clusters.csv'));
  assert.equal(clusters.length, 1);
  assert.equal(clusters[0].representative_title, 'He said "no", then\nleft');
  assert.deepEqual(clusters[0].member_ids.split(' '), ['a,1', 'b"2']);
  const documents = await readCsv(join(out, 'documents.csv'));
  assert.deepEqual(documents.map((d) => d.doc_id), ['a,1', 'b"2', 'c3']);
});

test('outputs are byte-identical whatever the number of worker threads', async () => {
  // candidates.bin: with 3 workers, 3 lists of pairs merged in 3 parts; with 0 or 1, one list.
  const files = [...REPORTS, 'work/similarities.json', 'work/candidates.bin'];
  const outputs: Buffer[][] = [];
  for (const workers of [0, 1, 3]) {
    const out = await scratch();
    await runPipeline([SEEDS], out, { ...DEFAULT_OPTIONS, workers });
    outputs.push(await Promise.all(files.map((f) => readReport(out, f))));
  }
  for (const other of outputs.slice(1)) files.forEach((f, i) => assert.ok(other[i].equals(outputs[0][i]), `${f} differs`));
});

test('large outputs are written whole, in pieces (one write call takes at most 2 GiB)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'neardup-write-'));
  try {
    const data = Uint8Array.from({ length: 100_003 }, (_, i) => (i * 7919) & 0xff);
    const handle = await open(join(dir, 'f'), 'w');
    await writeAll(handle, data, 4096);
    await handle.close();
    assert.deepEqual(new Uint8Array(await readFile(join(dir, 'f'))), data);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a line writer that flushes to disk as it goes writes every line, and nothing until committed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'neardup-lines-'));
  try {
    const path = join(dir, 'lines.txt');
    const writer = await AtomicLineWriter.create(path, 64);
    const lines = Array.from({ length: 2000 }, (_, i) => `line ${i} ${'x'.repeat(i % 37)}\n`);
    for (const line of lines) await writer.write(line);
    assert.deepEqual(await readdir(dir).then((names) => names.filter((name) => !name.startsWith('.'))), []);
    await writer.commit();
    assert.equal(await readFile(path, 'utf8'), lines.join(''));
    assert.deepEqual(await readdir(dir), ['lines.txt']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** Up to `pieces` - 1 random picks from `alphabet`, joined. */
const randomText = (random: () => number, alphabet: string[], pieces: number): string => {
  let text = '';
  for (let i = random() % pieces; i > 0; i--) text += alphabet[random() % alphabet.length];
  return text;
};

test('a file read as byte lines gives its non-empty lines, whatever the size of the pieces read', async () => {
  const dir = await scratch();
  const random = randomStream(9);
  for (let trial = 0; trial < 40; trial++) {
    const text = randomText(random, ['a', 'é', '😀', '\n', '\n\n', 'x'.repeat(70)], 60);
    const path = join(dir, `f${trial}`);
    await writeFile(path, text);
    const expected = text.split('\n').filter((line) => line !== '');
    for (const pieceBytes of [1, 3, 16, 1 << 20]) {
      const got: string[] = [];
      const read = { bytes: 0 };
      for await (const { bytes, starts, ends, count } of readByteLines(path, read, pieceBytes)) {
        for (let q = 0; q < count; q++) got.push(bytes.toString('utf8', starts[q], ends[q]));
      }
      assert.deepEqual(got, expected, `${JSON.stringify(text)} in pieces of ${pieceBytes}`);
      assert.equal(read.bytes, Buffer.byteLength(text));
    }
  }
});

test('a line writer gives the bytes of what it was given, text and bytes in turn, across buffer boundaries and characters of every length', async () => {
  const dir = await scratch();
  const random = randomStream(3);
  for (const bufferBytes of [4, 7, 64, 1 << 20]) {
    const path = join(dir, `lines-${bufferBytes}.txt`);
    const writer = await AtomicLineWriter.create(path, 100, bufferBytes);
    const expected: Buffer[] = [];
    // tryWrite and tryWriteBytes, which write a piece only if it fits: how often they did and did not.
    const tried = { fitted: 0, refused: 0 };
    for (let piece = 0; piece < 400; piece++) {
      const text = randomText(random, ['a', 'é', '€', '😀', '\n', 'x'.repeat(50)], 20);
      const bytes = Buffer.from(text);
      if (piece % 4 === 0 || piece % 4 === 3) {
        // Only a part of the bytes, from a buffer the caller then overwrites.
        const from = random() % (bytes.length + 1);
        if (piece % 4 === 0) await writer.writeBytes(bytes, from);
        else if (writer.tryWriteBytes(bytes, from, bytes.length)) tried.fitted++;
        else {
          tried.refused++;
          await writer.writeBytes(bytes, from);
        }
        expected.push(Buffer.from(bytes.subarray(from)));
        bytes.fill(0);
      } else {
        // A piece tryWrite refuses must leave nothing behind: it is then written whole.
        if (piece % 4 === 1) await writer.write(text);
        else if (writer.tryWrite(text)) tried.fitted++;
        else {
          tried.refused++;
          await writer.write(text);
        }
        expected.push(bytes);
      }
    }
    await writer.commit();
    assert.deepEqual(await readFile(path), Buffer.concat(expected), `buffers of ${bufferBytes} bytes`);
    assert.ok(tried.fitted > 0 && (bufferBytes > 1000 || tried.refused > 0), `buffers of ${bufferBytes} bytes: pieces tried ${JSON.stringify(tried)}`);
  }
});

test('work files: arrays come back as written; a missing, foreign or truncated file says which stage to run', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'neardup-artifact-'));
  try {
    const path = join(dir, 'x.bin');
    const values = Uint32Array.of(1, 2, 3, 0xffffffff);
    const weights = Float32Array.of(0.5, 1.5);
    await writeArtifact(path, 'things', { note: 'meta' }, { values, weights, empty: new Float64Array(0) });
    // An array given in consecutive parts is stored as the whole would be.
    const inParts = join(dir, 'parts.bin');
    await writeArtifact(inParts, 'things', { note: 'meta' }, { values: [values.slice(0, 1), values.slice(1, 1), values.slice(1)], weights, empty: [new Float64Array(0)] });
    assert.deepEqual(await readFile(inParts), await readFile(path));
    await assert.rejects(writeArtifact(join(dir, 'mixed.bin'), 'things', {}, { values: [values, weights] }), /array values: one or more parts of one type/);
    for (const shared of [false, true]) {
      const { meta, arrays } = await readArtifact<{ note: string }>(path, 'things', 'make', shared);
      assert.equal(meta.note, 'meta');
      assert.deepEqual([...arrays.values], [...values]);
      assert.deepEqual([...arrays.weights], [...weights]);
      assert.equal(arrays.empty.length, 0);
      assert.equal(arrays.values.buffer instanceof SharedArrayBuffer, shared);
    }
    const opened = await openArtifact(path, 'things', 'make');
    try {
      assert.deepEqual([...(await opened.readRange('values', 1, 4))], [2, 3, 0xffffffff]);
      assert.deepEqual([...(await opened.readRange('weights', 1, 2))], [1.5]);
      assert.equal((await opened.readRange('values', 2, 2)).length, 0);
      await assert.rejects(opened.readRange('values', 3, 5), /elements 3\.\.5 of values/);
      await assert.rejects(opened.read('nothing'), /has no array "nothing"/);
    } finally {
      await opened.close();
    }
    await assert.rejects(readArtifact(join(dir, 'none.bin'), 'things', 'make'), /does not exist: run `neardup make`/);
    await assert.rejects(readArtifact(path, 'other', 'make'), /holds things, not other; run `neardup make`/);
    await writeFile(join(dir, 'foreign.bin'), 'hello, world');
    await assert.rejects(readArtifact(join(dir, 'foreign.bin'), 'things', 'make'), /not a neardup work file/);
    const whole = await readFile(path);
    await writeFile(join(dir, 'cut.bin'), whole.subarray(0, whole.length - 6));
    await assert.rejects(readArtifact(join(dir, 'cut.bin'), 'things', 'make'), /ends early/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('work files: long lists of strings in the meta (ids) come back as written, stored as one joined string when no item has a line break', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'neardup-artifact-'));
  try {
    const ids = Array.from({ length: 3000 }, (_, i) => (i % 7 === 0 ? `ü-${i}` : `id ${i},"x"`));
    const broken = [...ids.slice(0, 2000), 'two\nlines'];
    const meta = { ids, broken, short: ['a', 'b'], empty: [] as string[], count: 3, name: 'x' };
    const path = join(dir, 'meta.bin');
    await writeArtifact(path, 'things', meta, { values: Uint32Array.of(7) });
    const { meta: back, arrays } = await readArtifact<typeof meta>(path, 'things', 'make');
    assert.deepEqual(back, meta);
    assert.deepEqual([...arrays.values], [7]);
    // Stored joined: one string in the header instead of thousands.
    const header = (await readFile(path)).toString('utf8');
    assert.ok(header.includes(JSON.stringify(ids.join('\n'))), 'the ids as one string');
    assert.ok(header.includes(JSON.stringify(broken)), 'a list with a line break in an item stays an array');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('no CSV cell starts a spreadsheet formula: ids, titles and reasons from the input are made inert', async () => {
  const dir = await scratch();
  const seed = await readFile(join(SEEDS, (await readdir(SEEDS)).find((f) => f.startsWith('000'))!), 'utf8');
  const body = seed.split('\n').slice(1).join('\n');
  const hostile = ['=HYPERLINK("http://evil.example","x")', '+1+1', '-2+3', '@SUM(A1)', '\tTAB', '\rCR'];
  const lines = hostile.map((id) => JSON.stringify({ id, title: '=cmd|" /C calc"!A0', text: body }));
  lines.push(JSON.stringify({ id: '=dup', text: 'x' }), JSON.stringify({ id: '=dup', text: 'y' }));
  await writeFile(join(dir, 'feed.jsonl'), lines.join('\n') + '\n');
  const out = await scratch();
  await runPipeline([join(dir, 'feed.jsonl'), SEEDS], out, DEFAULT_OPTIONS);
  for (const file of ['documents.csv', 'clusters.csv', 'pairs.csv', 'rejected.csv']) {
    const rows = await readCsv(join(out, file));
    assert.ok(rows.length > 0, `${file} has rows`);
    for (const row of rows) for (const [column, cell] of Object.entries(row)) assert.ok(!/^[=+\-@\t\r]/.test(cell), `${file} ${column}: ${JSON.stringify(cell)}`);
  }
  // The apostrophe is all that changes: the ids are still there to read.
  const documents = await readCsv(join(out, 'documents.csv'));
  assert.ok(documents.some((r) => r.doc_id === `'${hostile[0]}`));
  const clusters = await readCsv(join(out, 'clusters.csv'));
  assert.ok(clusters.some((r) => r.representative_title === `'=cmd|" /C calc"!A0`));
  // JSON output is not a spreadsheet: the feed keeps the ids as given (ids with a tab or a carriage return
  // were rejected as unsafe; the cluster's founder is the smallest id left).
  assert.match(await readFile(join(out, 'deduplicated.jsonl'), 'utf8'), /"id":"\+1\+1"/);
});

test('an article with nothing to compare stays alone and is listed in rejected.csv; --strict stops at it', async () => {
  const dir = await scratch();
  await writeFile(join(dir, 'empty-words.txt'), 'The and of\n!!! ??? a b c — the\n');
  const out = await scratch();
  await runPipeline([SEEDS, join(dir, 'empty-words.txt')], out, DEFAULT_OPTIONS);
  const documents = await readCsv(join(out, 'documents.csv'));
  const row = documents.find((d) => d.doc_id === 'empty-words')!;
  assert.equal(row.cluster_size, '1');
  const rejected = await readCsv(join(out, 'rejected.csv'));
  assert.deepEqual(rejected.map((r) => [r.id, r.action]), [['empty-words', 'kept alone']]);
  assert.match(rejected[0].reason, /no usable shingles/);
  await assert.rejects(runPipeline([join(dir, 'empty-words.txt')], await scratch(), { ...DEFAULT_OPTIONS, strict: true }), /empty-words\.txt: no usable shingles/);
});

test('outputs do not depend on the order inputs are named in (files are taken in path order)', async () => {
  const dir = await scratch();
  const names = (await readdir(SEEDS)).filter((f) => f.endsWith('.txt'));
  for (const [i, name] of names.entries()) {
    await mkdir(join(dir, `part${i % 2}`), { recursive: true });
    await writeFile(join(dir, `part${i % 2}`, name), await readFile(join(SEEDS, name)));
  }
  const outputs = async (inputs: string[]) => {
    const out = await scratch();
    await runPipeline(inputs, out, { ...DEFAULT_OPTIONS, workers: 0 });
    return Promise.all(['documents.csv', 'clusters.csv', 'pairs.csv', 'deduplicated.jsonl', 'rejected.csv'].map((f) => readFile(join(out, f), 'utf8')));
  };
  const forward = await outputs([join(dir, 'part0'), join(dir, 'part1')]);
  assert.deepEqual(await outputs([join(dir, 'part1'), join(dir, 'part0')]), forward);
  assert.deepEqual(await outputs([join(dir, 'part1', names[1]), join(dir, 'part0'), join(dir, 'part1')]), forward);
});

test('a directory of 100,000 tiny files is read whole, in path order', async () => {
  const dir = await scratch();
  const count = 100_000;
  for (let start = 0; start < count; start += 5000) {
    await mkdir(join(dir, `d${start / 5000}`));
    await Promise.all(Array.from({ length: 5000 }, (_, i) => writeFile(join(dir, `d${start / 5000}`, `${String(start + i).padStart(6, '0')}.txt`), `Item ${start + i}\nCargo ${start + i} shipped\n`)));
  }
  const out = await scratch();
  const stats = await readStage([dir], out, DEFAULT_OPTIONS);
  assert.equal(stats.articles, count);
  assert.equal(stats.rejected, 0);
});
