/**
 * The persistent index of nightly runs: every article indexed so far, its story's cluster id, and what
 * tonight's articles are matched against (see nightly.ts). Storage sits behind the small ArticleIndex
 * interface; SqliteArticleIndex (one file, through better-sqlite3) is the embedded default.
 *
 * Per article it keeps the id, published_at, source, cluster id, first-seen run, a hash of its text (to
 * tell a re-sent article from a changed one), its LSH band keys (to find tonight's candidates without
 * recomputing anything), and its title and text, deflated: a candidate from the index is re-shingled with
 * tonight's articles, so that it is verified exactly as tonight's pairs are, not by a signature estimate.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { doubled } from './typed-arrays.js';
import { factsOf } from './facts.js';
import { DocumentFrequencies, EMPTY_BACKGROUND, type IdfBackground } from './weights.js';

/** The schema this code reads and writes. Bump it with a migration in `migrate` when the tables change. */
export const SCHEMA_VERSION = 2;

export interface IndexedEntry {
  clusterId: string;
  firstSeenRun: string;
  textHash: string;
  /** Dropped from matching by retention; its cluster id is kept in the history. */
  retired: boolean;
}

/** An article's own fields, as the index keeps them. */
export interface IndexedArticle {
  id: string;
  title: string;
  text: string;
  url?: string;
  source?: string;
  /** NaN when unknown. */
  publishedMs: number;
}

/** An article as stored: enough to put it back into a batch. */
export interface IndexedBody extends IndexedArticle {
  clusterId: string;
  firstSeenRun: string;
}

export interface NewEntry extends IndexedArticle {
  textHash: string;
  /** Band keys (bandCount values), or undefined for an article with nothing to band. */
  bandKeys: Uint32Array | undefined;
  /** Its facts (facts.ts), sorted and distinct: screened against tonight's before its text is fetched. */
  facts: Uint32Array;
  clusterId: string;
}

/** Everything one run changes, applied in one transaction. */
export interface RunChange {
  runId: string;
  /** Articles seen for the first time, and (with --update) articles whose text replaces the stored one. */
  added: NewEntry[];
  replaced: NewEntry[];
  /** New cluster ids, oldest first. */
  newClusters: string[];
  /** Cluster ids absorbed into an older one. */
  merges: { oldClusterId: string; newClusterId: string }[];
  /** Articles published before this time (ms) leave matching for the history; NaN keeps all. */
  retireBeforeMs: number;
  /** The feature counts with tonight's texts added (undefined: unchanged). */
  featureCounts?: IdfBackground;
}

/** An article's features (sorted, distinct), as the shingle stage makes them: for the migration of old indexes. */
export type ArticleFeatures = (title: string, text: string) => Uint32Array;

/**
 * Document frequencies over every text ever indexed (retired or replaced ones included): nightly runs weigh
 * features by them (weights.ts, IdfPopulation), so that IDF does not depend on the size of one night. One
 * row, features and counts as two blobs: a few bytes per distinct feature, rewritten by each run.
 */
const FEATURE_COUNTS_TABLE = 'CREATE TABLE feature_counts (id INTEGER PRIMARY KEY CHECK (id = 1), articles INTEGER NOT NULL, features BLOB NOT NULL, counts BLOB NOT NULL);';

export interface MatchableArticles {
  ids: string[];
  /** ids.length x bandCount band keys. */
  bandKeys: Uint32Array;
  /** The facts of article j (sorted, distinct) are facts[factStarts[j] .. factStarts[j + 1]). */
  factStarts: Float64Array;
  facts: Uint32Array;
}

export interface ArticleIndex {
  readonly path: string;
  /** The document frequencies of every text indexed so far. */
  featureCounts(): IdfBackground;
  /** What the index holds for an id, if anything. */
  lookup(id: string): IndexedEntry | undefined;
  /** The id the next run gets unless one is given: run-000001, run-000002, ... */
  nextRunId(): string;
  /**
   * Articles tonight's are matched against: not retired, published at or after `sinceMs` (NaN: all).
   * `onProgress` is told of the rows loaded, a batch at a time.
   */
  matchable(sinceMs: number, onProgress?: (rows: number) => void): MatchableArticles;
  bodies(ids: string[]): IndexedBody[];
  /** A number per cluster id that orders clusters by age (smaller is older); undefined if unknown. */
  clusterAge(clusterId: string): number | undefined;
  /** Ids of every article, indexed or retired, of the given cluster. */
  membersOf(clusterId: string): string[];
  /** How many articles of the cluster are still matched against (not retired). */
  matchableSize(clusterId: string): number;
  /** `onProgress` is told of the added and replaced articles written, a batch at a time. */
  apply(change: RunChange, onProgress?: (articles: number) => void): void;
  close(): void;
}

/** What must not change between the runs of one index: signatures and band keys depend on it. */
export type IndexSettings = Record<string, unknown>;

export const textHashOf = (title: string, text: string): string => createHash('sha256').update(title).update('\n').update(text).digest('hex').slice(0, 32);

/** An index this run cannot use (another schema, other options, not an index): exit code 3. */
export class IndexError extends Error {}

/** Rows between two progress reports: often enough for a bar, rarely enough to cost nothing. */
const PROGRESS_BATCH = 10_000;

export class SqliteArticleIndex implements ArticleIndex {
  private readonly db: Database.Database;
  private readonly bandCount: number;

  /**
   * Opens (or creates) the index at `path`. Refuses a file of another schema version, or one built with
   * other `settings` (band keys from other signatures would never match), saying what differs.
   */
  /** `featuresOf`: how the shingle stage makes features, for the migration from schema version 1. */
  constructor(
    readonly path: string,
    settings: IndexSettings,
    bandCount: number,
    featuresOf?: ArticleFeatures,
  ) {
    const created = !existsSync(path);
    try {
      this.db = new Database(path);
      this.db.pragma('journal_mode = DELETE');
      this.db.pragma('synchronous = FULL');
    } catch (error) {
      throw new IndexError(`${path}: cannot open as an index: ${(error as Error).message}`);
    }
    this.bandCount = bandCount;
    try {
      if (created || !this.hasTable('meta')) this.create(settings);
      else this.check(settings, featuresOf);
    } catch (error) {
      this.db.close();
      if (error instanceof IndexError) throw error;
      throw new IndexError(`${path}: not a neardup index (${(error as Error).message})`);
    }
  }

  private hasTable(name: string): boolean {
    return this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
  }

  private create(settings: IndexSettings): void {
    this.db.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE runs (run_id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, added INTEGER NOT NULL, replaced INTEGER NOT NULL, merges INTEGER NOT NULL);
      CREATE TABLE clusters (cluster_id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, first_run TEXT NOT NULL);
      CREATE TABLE articles (
        id TEXT PRIMARY KEY,
        published_ms INTEGER,
        source TEXT,
        cluster_id TEXT NOT NULL,
        first_seen_run TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        band_keys BLOB,
        facts BLOB,
        body BLOB NOT NULL
      );
      CREATE INDEX articles_cluster ON articles (cluster_id);
      CREATE TABLE history (id TEXT PRIMARY KEY, published_ms INTEGER, cluster_id TEXT NOT NULL, first_seen_run TEXT NOT NULL, text_hash TEXT NOT NULL, retired_run TEXT NOT NULL);
      CREATE INDEX history_cluster ON history (cluster_id);
      CREATE TABLE merges (old_cluster_id TEXT NOT NULL, new_cluster_id TEXT NOT NULL, run_id TEXT NOT NULL);
      ${FEATURE_COUNTS_TABLE}
    `);
    const put = this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
    put.run('schema_version', String(SCHEMA_VERSION));
    put.run('settings', JSON.stringify(settings));
    put.run('band_count', String(this.bandCount));
  }

  private check(settings: IndexSettings, featuresOf: ArticleFeatures | undefined): void {
    const meta = new Map((this.db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
    const version = Number(meta.get('schema_version'));
    if (version > SCHEMA_VERSION) {
      throw new IndexError(`${this.path}: index schema version ${version} is newer than this neardup reads (${SCHEMA_VERSION}): upgrade neardup`);
    }
    const stored = JSON.parse(meta.get('settings') ?? '{}') as IndexSettings;
    for (const key of new Set([...Object.keys(stored), ...Object.keys(settings)])) {
      const was = JSON.stringify(stored[key]);
      const now = JSON.stringify(settings[key]);
      if (was !== now) {
        throw new IndexError(
          `${this.path}: the index was built with ${key} = ${was}, this run has ${now}; signatures from the two would not match. Run with the index's options, or start a new index with --index OTHER_PATH`,
        );
      }
    }
    // After the options check: the migration shingles with this run's options.
    if (version < SCHEMA_VERSION) this.migrate(version, featuresOf);
  }

  /**
   * Version 1 had no facts per article and no feature counts: both come from the stored texts of the articles
   * still matched against (the history keeps no text), shingled by `featuresOf`, in one transaction with the
   * version's bump.
   */
  private migrate(version: number, featuresOf: ArticleFeatures | undefined): void {
    if (version !== 1) throw new IndexError(`${this.path}: index schema version ${version} has no migration to ${SCHEMA_VERSION}: rebuild the index`);
    if (featuresOf === undefined) throw new IndexError(`${this.path}: index schema version 1 needs a migration to ${SCHEMA_VERSION}: open it with a nightly run`);
    this.db.transaction(() => {
      this.db.exec(`ALTER TABLE articles ADD COLUMN facts BLOB; ${FEATURE_COUNTS_TABLE}`);
      const setFacts = this.db.prepare('UPDATE articles SET facts = ? WHERE rowid = ?');
      const frequencies = new DocumentFrequencies();
      let articles = 0;
      // A batch of rows at a time: the connection cannot update while a query iterates.
      const batch = this.db.prepare('SELECT rowid, body FROM articles WHERE rowid > ? ORDER BY rowid LIMIT 10000').raw();
      for (let last = -Infinity; ; ) {
        const rows = batch.all(last) as [number, Buffer][];
        if (rows.length === 0) break;
        for (const [rowid, body] of rows) {
          const { title, text } = JSON.parse(inflateRawSync(body).toString('utf8')) as { title: string; text: string };
          const features = featuresOf(title, text);
          frequencies.addArticle(features);
          articles++;
          const facts = factsOf(features);
          setFacts.run(Buffer.from(facts.buffer, facts.byteOffset, facts.byteLength), rowid);
          last = rowid;
        }
      }
      this.writeFeatureCounts({ articles, ...frequencies.entries() });
      this.db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(String(SCHEMA_VERSION));
    })();
    // Every row grew: rewritten compactly, the file shrinks by a twentieth (a million generated articles: 1,450 -> 1,373 bytes each).
    this.db.exec('VACUUM');
  }

  /** The document frequencies of every text indexed so far (see IdfBackground). */
  featureCounts(): IdfBackground {
    const row = this.statement('SELECT articles, features, counts FROM feature_counts WHERE id = 1').get() as { articles: number; features: Buffer; counts: Buffer } | undefined;
    if (row === undefined) return EMPTY_BACKGROUND;
    // Copied byte by byte: a blob's Buffer need not start on a 4-byte boundary.
    const copy = (blob: Buffer) => {
      const values = new Uint32Array(blob.length / 4);
      new Uint8Array(values.buffer).set(blob);
      return values;
    };
    return { articles: row.articles, features: copy(row.features), counts: copy(row.counts) };
  }

  private writeFeatureCounts(counts: IdfBackground): void {
    const blob = (values: Uint32Array) => Buffer.from(values.buffer, values.byteOffset, values.byteLength);
    this.db
      .prepare('INSERT INTO feature_counts (id, articles, features, counts) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET articles = excluded.articles, features = excluded.features, counts = excluded.counts')
      .run(counts.articles, blob(counts.features), blob(counts.counts));
  }

  /** Statements run once per article or cluster, prepared once. */
  private readonly statements = new Map<string, Database.Statement>();
  private statement(sql: string): Database.Statement {
    let prepared = this.statements.get(sql);
    if (prepared === undefined) this.statements.set(sql, (prepared = this.db.prepare(sql)));
    return prepared;
  }

  lookup(id: string): IndexedEntry | undefined {
    const row = this.statement('SELECT cluster_id, first_seen_run, text_hash FROM articles WHERE id = ?').get(id) as
      | { cluster_id: string; first_seen_run: string; text_hash: string }
      | undefined;
    if (row) return { clusterId: row.cluster_id, firstSeenRun: row.first_seen_run, textHash: row.text_hash, retired: false };
    const old = this.statement('SELECT cluster_id, first_seen_run, text_hash FROM history WHERE id = ?').get(id) as
      | { cluster_id: string; first_seen_run: string; text_hash: string }
      | undefined;
    return old && { clusterId: old.cluster_id, firstSeenRun: old.first_seen_run, textHash: old.text_hash, retired: true };
  }

  nextRunId(): string {
    const { seq } = this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS seq FROM runs').get() as { seq: number };
    return `run-${String(seq + 1).padStart(6, '0')}`;
  }

  matchable(sinceMs: number, onProgress: (rows: number) => void = () => {}): MatchableArticles {
    // Articles without a date are never too old.
    const rows = (
      Number.isNaN(sinceMs)
        ? this.db.prepare('SELECT id, band_keys, facts FROM articles WHERE band_keys IS NOT NULL ORDER BY rowid')
        : this.db.prepare('SELECT id, band_keys, facts FROM articles WHERE band_keys IS NOT NULL AND (published_ms IS NULL OR published_ms >= ?) ORDER BY rowid').bind(sinceMs)
    ).raw().iterate() as IterableIterator<[string, Buffer, Buffer | null]>;
    const ids: string[] = [];
    let keys = new Uint32Array(1024 * this.bandCount);
    let factStarts = new Float64Array(1024);
    let facts = new Uint32Array(1024);
    let factCount = 0;
    for (const [id, blob, factBlob] of rows) {
      if ((ids.length + 1) * this.bandCount > keys.length) keys = doubled(keys);
      // Byte by byte: a blob's Buffer need not start on a 4-byte boundary, as a Uint32Array view would need.
      new Uint8Array(keys.buffer, ids.length * this.bandCount * 4, this.bandCount * 4).set(blob.subarray(0, this.bandCount * 4));
      const length = factBlob === null ? 0 : factBlob.length / 4;
      while (factCount + length > facts.length) facts = doubled(facts);
      if (length > 0) new Uint8Array(facts.buffer, factCount * 4, length * 4).set(factBlob!);
      factCount += length;
      ids.push(id);
      if (ids.length + 1 > factStarts.length) {
        const grown = new Float64Array(factStarts.length * 2);
        grown.set(factStarts);
        factStarts = grown;
      }
      factStarts[ids.length] = factCount;
      if (ids.length % PROGRESS_BATCH === 0) onProgress(PROGRESS_BATCH);
    }
    onProgress(ids.length % PROGRESS_BATCH);
    return { ids, bandKeys: keys.slice(0, ids.length * this.bandCount), factStarts: factStarts.slice(0, ids.length + 1), facts: facts.slice(0, factCount) };
  }

  bodies(ids: string[]): IndexedBody[] {
    const get = this.statement('SELECT id, published_ms, source, cluster_id, first_seen_run, body FROM articles WHERE id = ?');
    return ids.map((id) => {
      const row = get.get(id) as { id: string; published_ms: number | null; source: string | null; cluster_id: string; first_seen_run: string; body: Buffer };
      const body = JSON.parse(inflateRawSync(row.body).toString('utf8')) as { title: string; text: string; url?: string };
      return {
        id: row.id,
        title: body.title,
        text: body.text,
        ...(body.url === undefined ? {} : { url: body.url }),
        ...(row.source === null ? {} : { source: row.source }),
        publishedMs: row.published_ms ?? NaN,
        clusterId: row.cluster_id,
        firstSeenRun: row.first_seen_run,
      };
    });
  }

  clusterAge(clusterId: string): number | undefined {
    const row = this.statement('SELECT seq FROM clusters WHERE cluster_id = ?').get(clusterId) as { seq: number } | undefined;
    return row?.seq;
  }

  matchableSize(clusterId: string): number {
    return (this.statement('SELECT COUNT(*) AS n FROM articles WHERE cluster_id = ?').get(clusterId) as { n: number }).n;
  }

  membersOf(clusterId: string): string[] {
    const rows = this.statement('SELECT id FROM articles WHERE cluster_id = ? UNION SELECT id FROM history WHERE cluster_id = ? ORDER BY id').all(clusterId, clusterId) as { id: string }[];
    return rows.map((r) => r.id);
  }

  apply(change: RunChange, onProgress: (articles: number) => void = () => {}): void {
    const { runId } = change;
    const insert = this.db.prepare(
      'INSERT INTO articles (id, published_ms, source, cluster_id, first_seen_run, text_hash, band_keys, facts, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const replace = this.db.prepare('UPDATE articles SET published_ms = ?, source = ?, cluster_id = ?, text_hash = ?, band_keys = ?, facts = ?, body = ? WHERE id = ?');
    const blobOf = (keys: Uint32Array | undefined) => (keys === undefined ? null : Buffer.from(keys.buffer, keys.byteOffset, keys.byteLength));
    const bodyOf = (e: NewEntry) => deflateRawSync(JSON.stringify({ title: e.title, text: e.text, ...(e.url === undefined ? {} : { url: e.url }) }));
    const published = (ms: number) => (Number.isNaN(ms) ? null : ms);
    this.db.transaction(() => {
      const { seq } = this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS seq FROM runs').get() as { seq: number };
      this.db
        .prepare('INSERT INTO runs (run_id, seq, added, replaced, merges) VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET added = added + excluded.added, replaced = replaced + excluded.replaced, merges = merges + excluded.merges')
        .run(runId, seq + 1, change.added.length, change.replaced.length, change.merges.length);
      const { clusterSeq } = this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS clusterSeq FROM clusters').get() as { clusterSeq: number };
      const addCluster = this.db.prepare('INSERT OR IGNORE INTO clusters (cluster_id, seq, first_run) VALUES (?, ?, ?)');
      change.newClusters.forEach((id, i) => addCluster.run(id, clusterSeq + i + 1, runId));
      let written = 0;
      const wrote = () => {
        if (++written % PROGRESS_BATCH === 0) onProgress(PROGRESS_BATCH);
      };
      for (const e of change.added) {
        insert.run(e.id, published(e.publishedMs), e.source ?? null, e.clusterId, runId, e.textHash, blobOf(e.bandKeys), blobOf(e.facts), bodyOf(e));
        wrote();
      }
      for (const e of change.replaced) {
        replace.run(published(e.publishedMs), e.source ?? null, e.clusterId, e.textHash, blobOf(e.bandKeys), blobOf(e.facts), bodyOf(e), e.id);
        wrote();
      }
      onProgress(written % PROGRESS_BATCH);
      const moveArticles = this.db.prepare('UPDATE articles SET cluster_id = ? WHERE cluster_id = ?');
      const moveHistory = this.db.prepare('UPDATE history SET cluster_id = ? WHERE cluster_id = ?');
      const recordMerge = this.db.prepare('INSERT INTO merges (old_cluster_id, new_cluster_id, run_id) VALUES (?, ?, ?)');
      for (const { oldClusterId, newClusterId } of change.merges) {
        moveArticles.run(newClusterId, oldClusterId);
        moveHistory.run(newClusterId, oldClusterId);
        recordMerge.run(oldClusterId, newClusterId, runId);
      }
      if (change.featureCounts !== undefined) this.writeFeatureCounts(change.featureCounts);
      if (!Number.isNaN(change.retireBeforeMs)) {
        this.db
          .prepare(
            'INSERT INTO history (id, published_ms, cluster_id, first_seen_run, text_hash, retired_run) SELECT id, published_ms, cluster_id, first_seen_run, text_hash, ? FROM articles WHERE published_ms < ?',
          )
          .run(runId, change.retireBeforeMs);
        this.db.prepare('DELETE FROM articles WHERE published_ms < ?').run(change.retireBeforeMs);
      }
    })();
  }

  close(): void {
    this.db.close();
  }
}
