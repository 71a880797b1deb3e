/**
 * Nightly runs against a persistent index (pipeline/nightly.ts): a story told over several nights keeps one
 * cluster id, a merge is reported, a re-run changes nothing, a changed text is reported (or, with --update,
 * replaced), retention drops old articles from matching without changing ids, and a run killed at any
 * moment leaves the index as it was.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { parse } from 'csv-parse/sync';
import { randomStream } from '../pipeline/hash.js';
import { loadShingles } from '../pipeline/stages.js';

const CLI = fileURLToPath(new URL('../pipeline/cli.js', import.meta.url));
const SEEDS = fileURLToPath(new URL('../../seeds', import.meta.url));
const scratch = await mkdtemp(join(tmpdir(), 'neardup-nightly-'));
after(() => rm(scratch, { recursive: true, force: true }));

const seedFiles = (await readdir(SEEDS)).filter((f) => f.endsWith('.txt')).sort();
const seed = (prefix: string) => readFileSync(join(SEEDS, seedFiles.find((f) => f.startsWith(prefix))!), 'utf8');

interface Item {
  id: string;
  text: string;
  published_at?: string;
}

let dirCount = 0;
async function night(items: Item[]): Promise<string> {
  const dir = join(scratch, `night-${++dirCount}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'articles.jsonl'), items.map((item) => JSON.stringify({ title: '', ...item })).join('\n') + '\n');
  return dir;
}

function neardup(...args: string[]): { status: number | null; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: result.status, stderr: result.stderr };
}

function runNight(input: string, out: string, index: string, ...extra: string[]): void {
  const result = neardup('run', input, '--out', out, '--index', index, ...extra);
  assert.equal(result.status, 0, result.stderr);
}

const csv = (path: string) => parse(readFileSync(path, 'utf8'), { columns: true }) as Record<string, string>[];
const clusterOf = (out: string) => new Map(csv(join(out, 'documents.csv')).map((row) => [row.doc_id, row.cluster_id]));

/** Every table of the index as text, for before/after comparisons that ignore the file's page layout. */
function dump(path: string): string {
  const db = new Database(path, { readonly: true });
  try {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
    // Columns by name: a migrated table has its added columns last.
    const columns = (t: string) => (db.prepare(`PRAGMA table_info(${t})`).all() as { name: string }[]).map((c) => c.name).sort();
    return tables.map((t) => `${t}\n${JSON.stringify(db.prepare(`SELECT ${columns(t).join(', ')} FROM ${t} ORDER BY 1, 2`).raw().all())}`).join('\n');
  } finally {
    db.close();
  }
}

test('a story told over three nights keeps one cluster id; other stories get their own', async () => {
  const index = join(scratch, 'three.sqlite');
  const out = join(scratch, 'three-out');
  runNight(await night([{ id: 'a0', text: seed('000') }, { id: 'x3', text: seed('003') }]), out, index);
  const first = clusterOf(out);
  assert.equal(csv(join(out, 'documents.csv'))[0].first_seen_run, 'run-000001');
  runNight(await night([{ id: 'a1', text: seed('001') }, { id: 'x4', text: seed('004') }]), out, index);
  const second = clusterOf(out);
  runNight(await night([{ id: 'a2', text: seed('002') }]), out, index);
  const third = clusterOf(out);
  assert.equal(second.get('a1'), first.get('a0'), 'the second night rewrite joins the first night story');
  assert.equal(third.get('a2'), first.get('a0'), 'so does the third night rewrite');
  assert.notEqual(first.get('x3'), first.get('a0'));
  assert.notEqual(second.get('x4'), first.get('a0'));
  assert.notEqual(second.get('x4'), first.get('x3'));
  assert.equal(csv(join(out, 'documents.csv'))[0].first_seen_run, 'run-000003');
  // Search learns tonight's article and its id, in the bulk update format.
  const bulk = readFileSync(join(out, 'search-updates.ndjson'), 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line));
  assert.deepEqual(bulk, [{ update: { _id: 'a2' } }, { doc: { cluster_id: first.get('a0') } }]);
  assert.equal(readFileSync(join(out, 'merges.csv'), 'utf8'), 'old_cluster_id,new_cluster_id,run_id\n');
});

test('running the same night again changes nothing: same ids, same index', async () => {
  const index = join(scratch, 'again.sqlite');
  const out = join(scratch, 'again-out');
  const input = await night(seedFiles.map((f, i) => ({ id: `s${i}`, text: seed(f.slice(0, 3)) })));
  runNight(input, out, index);
  const ids = clusterOf(out);
  const before = readFileSync(index);
  runNight(input, out, index);
  assert.deepEqual(clusterOf(out), ids);
  assert.ok(readFileSync(index).equals(before), 'the index file is byte for byte the same');
  assert.equal(readFileSync(join(out, 'search-updates.ndjson'), 'utf8'), '', 'nothing new for search');
  const db = new Database(index, { readonly: true });
  assert.deepEqual(db.prepare('SELECT COUNT(*) AS n FROM articles').get(), { n: 5 });
  assert.deepEqual(db.prepare('SELECT COUNT(*) AS n FROM runs').get(), { n: 1 });
  db.close();
});

test('an article that links two indexed stories merges them: the older id survives, and merges.csv says so', async () => {
  const index = join(scratch, 'merge.sqlite');
  const out = join(scratch, 'merge-out');
  const older = seed('000');
  const newer = seed('004');
  runNight(await night([{ id: 'old', text: older, published_at: '2026-01-01T00:00:00Z' }]), out, index);
  const oldId = clusterOf(out).get('old')!;
  runNight(await night([{ id: 'new', text: newer, published_at: '2026-01-02T00:00:00Z' }]), out, index);
  const newId = clusterOf(out).get('new')!;
  assert.notEqual(newId, oldId);
  // A round-up that carries both stories whole.
  runNight(await night([{ id: 'both', text: `${older}\n\n${newer}`, published_at: '2026-01-03T00:00:00Z' }]), out, index);
  assert.equal(clusterOf(out).get('both'), oldId);
  assert.deepEqual(csv(join(out, 'merges.csv')), [{ old_cluster_id: newId, new_cluster_id: oldId, run_id: 'run-000003' }]);
  const bulk = readFileSync(join(out, 'search-updates.ndjson'), 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line));
  assert.deepEqual(bulk, [{ update: { _id: 'both' } }, { doc: { cluster_id: oldId } }, { update: { _id: 'new' } }, { doc: { cluster_id: oldId } }]);
  const db = new Database(index, { readonly: true });
  assert.deepEqual(db.prepare('SELECT id, cluster_id FROM articles ORDER BY id').all(), [
    { id: 'both', cluster_id: oldId },
    { id: 'new', cluster_id: oldId },
    { id: 'old', cluster_id: oldId },
  ]);
  db.close();
});

test('an indexed id sent again with another text is reported and kept; --update replaces it', async () => {
  const index = join(scratch, 'update.sqlite');
  const out = join(scratch, 'update-out');
  runNight(await night([{ id: 'a', text: seed('000') }, { id: 'b', text: seed('003') }]), out, index);
  const ids = clusterOf(out);
  const before = dump(index);
  const changed = await night([{ id: 'b', text: seed('001') }]);
  runNight(changed, out, index);
  assert.equal(clusterOf(out).get('b'), ids.get('b'), 'the indexed version keeps its id');
  const rejected = csv(join(out, 'rejected.csv'));
  assert.equal(rejected.length, 1);
  assert.equal(rejected[0].id, 'b');
  assert.equal(rejected[0].action, 'kept indexed version');
  assert.match(rejected[0].reason, /--update/);
  assert.equal(dump(index), before, 'the index is unchanged');
  // With --update, b's new text (a rewrite of a's story) is matched again and replaces the stored one.
  runNight(changed, out, index, '--update');
  assert.equal(clusterOf(out).get('b'), ids.get('a'));
  assert.equal(csv(join(out, 'documents.csv'))[0].first_seen_run, 'run-000001', 'first seen stays the first run');
  const db = new Database(index, { readonly: true });
  assert.deepEqual(db.prepare("SELECT cluster_id FROM articles WHERE id = 'b'").get(), { cluster_id: ids.get('a') });
  db.close();
});

test('retention drops old articles from matching and keeps their cluster ids', async () => {
  const index = join(scratch, 'retention.sqlite');
  const out = join(scratch, 'retention-out');
  runNight(await night([{ id: 'jan', text: seed('000'), published_at: '2026-01-01T08:00:00Z' }]), out, index);
  const janId = clusterOf(out).get('jan')!;
  // Two months later, with a 30-day window, a rewrite of January's story no longer joins it.
  runNight(await night([{ id: 'mar', text: seed('001'), published_at: '2026-03-01T08:00:00Z' }]), out, index, '--keep-days', '30');
  assert.notEqual(clusterOf(out).get('mar'), janId);
  const db = new Database(index, { readonly: true });
  assert.deepEqual(db.prepare('SELECT id FROM articles').all(), [{ id: 'mar' }]);
  assert.deepEqual(db.prepare('SELECT id, cluster_id FROM history').all(), [{ id: 'jan', cluster_id: janId }]);
  db.close();
  // January's article sent again keeps its id.
  runNight(await night([{ id: 'jan', text: seed('000'), published_at: '2026-01-01T08:00:00Z' }]), out, index);
  assert.equal(clusterOf(out).get('jan'), janId);
  // Without the window, the same rewrite would have joined: the window is what kept them apart.
  const control = join(scratch, 'retention-control.sqlite');
  runNight(await night([{ id: 'jan', text: seed('000'), published_at: '2026-01-01T08:00:00Z' }]), out, control);
  runNight(await night([{ id: 'mar', text: seed('001'), published_at: '2026-03-01T08:00:00Z' }]), out, control);
  assert.equal(clusterOf(out).get('mar'), janId);
});

test('an index of another schema version or other signature options is refused with a clear message', async () => {
  const index = join(scratch, 'schema.sqlite');
  const out = join(scratch, 'schema-out');
  const input = await night([{ id: 'a', text: seed('000') }]);
  runNight(input, out, index);
  const other = neardup('run', input, '--out', out, '--index', index, '--k', '64');
  assert.equal(other.status, 3, 'exit code 3: the index cannot be used');
  assert.match(other.stderr, /built with k = 128, this run has 64/);
  const db = new Database(index);
  db.prepare("UPDATE meta SET value = '99' WHERE key = 'schema_version'").run();
  db.close();
  const newer = neardup('run', input, '--out', out, '--index', index);
  assert.equal(newer.status, 3);
  assert.match(newer.stderr, /schema version 99 is newer than this neardup reads \(2\): upgrade neardup/);
  assert.doesNotMatch(newer.stderr, /at .*\.js/, 'a message, not a stack trace');
  assert.equal(neardup('run', input, '--update').status, 2, '--update without --index is a usage error');
});

/** Each article's features and their weights, from a run's work/shingles.bin. */
async function weightsOf(out: string): Promise<Map<string, string>> {
  const { keys, sets } = await loadShingles(out);
  return new Map(keys.ids.map((id, i) => [id, Array.from(sets.values.subarray(sets.offsets[i], sets.offsets[i + 1]), (f, q) => `${f}:${sets.weightOfCode[sets.weightCodes[sets.offsets[i] + q]]}`).join(' ')]));
}

test('a night weighs features as one batch of everything indexed and its new articles would, guests included', async () => {
  const index = join(scratch, 'idf.sqlite');
  const out = join(scratch, 'idf-out');
  const first = [{ id: 'a0', text: seed('000') }, { id: 'x3', text: seed('003') }];
  const second = [{ id: 'a1', text: seed('001') }, { id: 'x4', text: seed('004') }];
  runNight(await night(first), out, index);
  runNight(await night(second), out, index);
  const nightly = await weightsOf(out);
  assert.ok(nightly.has('a0'), 'the first night story came back as a guest');
  const single = join(scratch, 'idf-single');
  assert.equal(neardup('run', await night([...first, ...second]), '--out', single).status, 0);
  const batch = await weightsOf(single);
  for (const [id, weighted] of nightly) assert.equal(weighted, batch.get(id), `${id}: same features, same weights`);
  // Tonight's signatures were kept from before the guests came (signatureStage, keepFirst): signing the
  // whole batch again gives the same file.
  const kept = readFileSync(join(out, 'work', 'signatures.bin'));
  assert.equal(neardup('sign', '--out', out).status, 0);
  assert.ok(readFileSync(join(out, 'work', 'signatures.bin')).equals(kept), 'the same signatures, signed again');
  // The indexed articles do not count twice: a0 and x3 are in the index's counts and (a0) among the guests.
  const db = new Database(index, { readonly: true });
  assert.deepEqual(db.prepare('SELECT articles FROM feature_counts').get(), { articles: 4 });
  db.close();
});

test('an index without IDF (--weighting none) runs night after night', async () => {
  const index = join(scratch, 'unweighted.sqlite');
  const out = join(scratch, 'unweighted-out');
  runNight(await night([{ id: 'a0', text: seed('000') }]), out, index, '--weighting', 'none');
  const first = clusterOf(out).get('a0');
  runNight(await night([{ id: 'a0c', text: seed('000') }]), out, index, '--weighting', 'none');
  assert.equal(clusterOf(out).get('a0c'), first, 'a copy of the first night story joins it');
});

test('an index of schema version 1 is migrated: facts and feature counts from its stored texts', async () => {
  const index = join(scratch, 'migrate.sqlite');
  const out = join(scratch, 'migrate-out');
  runNight(await night([{ id: 'a0', text: seed('000') }, { id: 'x3', text: seed('003') }]), out, index);
  runNight(await night([{ id: 'x4', text: seed('004') }]), out, index);
  const old = join(scratch, 'migrate-v1.sqlite');
  await writeFile(old, readFileSync(index));
  const db = new Database(old);
  db.exec("ALTER TABLE articles DROP COLUMN facts; DROP TABLE feature_counts; UPDATE meta SET value = '1' WHERE key = 'schema_version'");
  db.close();
  const tonight = await night([{ id: 'a1', text: seed('001') }]);
  runNight(tonight, join(scratch, 'migrate-out-v2'), index);
  runNight(tonight, join(scratch, 'migrate-out-v1'), old);
  assert.equal(dump(old), dump(index), 'the migrated index ends the night as the one built with facts and counts');
  assert.equal(readFileSync(join(scratch, 'migrate-out-v1', 'documents.csv'), 'utf8'), readFileSync(join(scratch, 'migrate-out-v2', 'documents.csv'), 'utf8'));
});

/** `count` articles made of the seeds' sentences: enough work for a nightly run to last a second or so. */
function corpus(prefix: string, count: number, seedNumber: number): Item[] {
  const sentences = seedFiles.flatMap((f) => seed(f.slice(0, 3)).split(/(?<=[.!?])\s+/)).filter((s) => s.length > 30);
  const random = randomStream(seedNumber);
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}${i}`,
    text: Array.from({ length: 6 + (random() % 10) }, () => sentences[random() % sentences.length]).join(' '),
  }));
}

test('a run killed at any moment leaves the index readable and as it was before the run', async () => {
  const index = join(scratch, 'crash.sqlite');
  const out = join(scratch, 'crash-out');
  runNight(await night(corpus('base', 1500, 1)), out, index);
  const input = await night(corpus('tonight', 1500, 2));
  const before = dump(index);
  const beforeFile = readFileSync(index);
  // A full run's duration, so that kills land all over it.
  const started = performance.now();
  const probe = join(scratch, 'crash-probe.sqlite');
  await writeFile(probe, beforeFile);
  runNight(input, join(scratch, 'probe-out'), probe);
  const duration = performance.now() - started;
  const after = dump(probe);
  assert.notEqual(after, before);
  const random = randomStream(7);
  let killed = 0;
  for (let round = 0; round < 6; round++) {
    const child = spawn(process.execPath, [CLI, 'run', input, '--out', out, '--index', index], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const delay = ((random() % 1000) / 1000) * duration;
    const timer = setTimeout(() => child.kill('SIGKILL'), delay);
    const code = await exited;
    clearTimeout(timer);
    const now = dump(index);
    if (code === null) {
      killed++;
      assert.ok(now === before || now === after, `round ${round}: killed after ${Math.round(delay)} ms, the index is neither before nor after the run`);
    } else {
      assert.equal(now, after, `round ${round}: a finished run leaves the index as a finished run does`);
    }
    // Back to the night before, to kill the same run again.
    if (now !== before) await writeFile(index, beforeFile);
  }
  assert.ok(killed >= 3, `at least 3 of 6 runs were killed mid-way (${killed})`);
});
