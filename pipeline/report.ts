/**
 * Stage 6: the reports. All CSV goes through csv-stringify (quotes, commas and line breaks escaped per
 * RFC 4180); every file is written to a temporary name and renamed into place.
 *
 * Order: documents.csv and deduplicated.jsonl follow the input order (files sorted by path, articles in file
 * order); clusters.csv is largest cluster first, then earliest founder; pairs.csv is by the pair's first
 * article, then its second, in input order.
 */
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { AtomicLineWriter, writeFileAtomic } from './atomic-write.js';
import { type ByteLines } from './byte-lines.js';
import type { Rejection } from './read-articles.js';
import type { LoadedClustering, NightlyReport, StoredArticle } from './stages.js';
import type { TablesResult } from './tasks.js';
import type { WorkerPool } from './worker-pool.js';

/** Similarities are printed with a fixed number of decimals, so outputs are byte-identical run to run. */
const fixed = (x: number) => x.toFixed(4);

export interface ReportCounts {
  documents: number;
  clusters: number;
  clusteredArticles: number;
  duplicatesRemoved: number;
  verifiedPairs: number;
  [name: string]: number;
}

/**
 * rejected.csv (at `path`): every input skipped (or cut) by the read stage, in input order, with the reason.
 * Written on every run, with only its header when nothing was rejected, so it never describes an earlier run.
 */
export async function writeRejected(path: string, rejections: Rejection[]): Promise<void> {
  // A rejected id may hold control characters: written escaped, as the reason quotes it.
  const printable = (id: string) => id.replace(/[\x00-\x1f\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const rows = rejections.map((r) => [r.file, r.line ?? '', r.id === undefined ? '' : printable(r.id), r.action, r.reason]);
  await writeCsv(path, ['file', 'line', 'id', 'action', 'reason'], rows);
}

/** Per cluster: its size, and the similarity figures over its verified pairs that the clustering kept together. */
export interface ClusterFigures {
  size: Uint32Array;
  /** NaN for a cluster without such a pair (a single article). */
  minSimilarity: Float64Array;
  maxSimilarity: Float64Array;
  meanSimilarity: Float64Array;
}

export function clusterFigures(clustering: Pick<LoadedClustering, 'clusterIds' | 'clusterOf' | 'pairs'>): ClusterFigures {
  const { clusterIds, clusterOf, pairs } = clustering;
  const size = new Uint32Array(clusterIds.length);
  for (let i = 0; i < clusterOf.length; i++) size[clusterOf[i]]++;
  const minSimilarity = new Float64Array(clusterIds.length).fill(NaN);
  const maxSimilarity = new Float64Array(clusterIds.length).fill(NaN);
  const meanSimilarity = new Float64Array(clusterIds.length);
  const pairCount = new Uint32Array(clusterIds.length);
  for (let p = 0; p < pairs.a.length; p++) {
    if (!pairs.clustered[p]) continue;
    const cluster = clusterOf[pairs.a[p]];
    const x = pairs.similarity[p];
    // NaN compares false: the first pair sets both bounds.
    if (!(x >= minSimilarity[cluster])) minSimilarity[cluster] = x;
    if (!(x <= maxSimilarity[cluster])) maxSimilarity[cluster] = x;
    meanSimilarity[cluster] += x;
    pairCount[cluster]++;
  }
  for (let c = 0; c < clusterIds.length; c++) meanSimilarity[c] = pairCount[c] > 0 ? meanSimilarity[c] / pairCount[c] : NaN;
  return { size, minSimilarity, maxSimilarity, meanSimilarity };
}

/** The fields of an article report.html shows. */
export type ShownArticle = Pick<StoredArticle, 'title' | 'text' | 'source' | 'published_at' | 'url'>;

/**
 * What the HTML report needs of the articles, collected during the one pass over them: `wanted` (report-html.ts,
 * selectForReport) marks the articles whose title (1) or title and text (2) go `into` the map, texts cut after
 * `maxText` characters (one more is kept, so that the report can tell a text was cut).
 */
export interface ArticleCollection {
  wanted: Uint8Array;
  maxText: number;
  into: Map<number, ShownArticle>;
}

/**
 * What documents.csv and pairs.csv are made of: typed arrays (the clustering's in shared memory when it was
 * loaded so) and strings, all of which a worker thread can be sent.
 */
export interface TableSource extends Pick<LoadedClustering, 'ids' | 'clusterIds' | 'clusterOf' | 'founders' | 'nearest' | 'nearestSimilarity' | 'pairs'> {
  /** Cluster sizes (clusterFigures). */
  size: Uint32Array;
  /** Articles with a row in documents.csv: the first `reported` (see writeReports). */
  reported: number;
  /** Nightly runs: the run each article was first seen in. */
  firstSeenRun?: string[];
}

/**
 * documents.csv and pairs.csv, the UTF-8 bytes of each in pieces (csvPieces) that joined are the file. Bytes,
 * not text: a worker hands them over without a copy, and the main thread has no text to encode.
 */
export interface CsvTables {
  documents: Uint8Array[];
  pairs: Uint8Array[];
}

/** One of the two tables to make, and what it is made of: pairs.csv needs only the ids and the pairs. */
export type CsvTableRequest = { table: 'documents'; source: TableSource } | { table: 'pairs'; source: Pick<TableSource, 'ids' | 'pairs'> };

/**
 * Starts making documents.csv and pairs.csv on `pool`, a task each, so that two workers make them side by side.
 * A failure surfaces where the tables are awaited; until then it does not count as unhandled.
 */
function startTables(pool: WorkerPool, clustering: LoadedClustering, figures: ClusterFigures): Promise<CsvTables> {
  const { ids, clusterIds, clusterOf, founders, nearest, nearestSimilarity, pairs, nightly } = clustering;
  const source: TableSource = {
    ids,
    clusterIds,
    clusterOf,
    founders,
    nearest,
    nearestSimilarity,
    pairs,
    size: figures.size,
    reported: nightly?.reported ?? ids.length,
    ...(nightly === undefined ? {} : { firstSeenRun: nightly.firstSeenRun }),
  };
  const make = (request: CsvTableRequest) => pool.run<TablesResult>({ task: 'tables', ...request }).then((result) => result.pieces);
  const tables = Promise.all([make({ table: 'documents', source }), make({ table: 'pairs', source: { ids, pairs } })]).then(([documents, pairs]) => ({ documents, pairs }));
  tables.catch(() => undefined);
  return tables;
}

/** documents.csv or pairs.csv: a pure function of the request's source, for a worker thread (tasks.ts). */
export function csvTable(request: CsvTableRequest): Uint8Array[] {
  const utf8 = new TextEncoder();
  const pieces = request.table === 'documents' ? csvPieces(DOCUMENT_COLUMNS, documentRows(request.source)) : csvPieces(PAIR_COLUMNS, pairRows(request.source));
  return Array.from(pieces, (piece) => utf8.encode(piece));
}

const DOCUMENT_COLUMNS = ['doc_id', 'cluster_id', 'cluster_size', 'is_representative', 'nearest_id', 'similarity', 'first_seen_run'];
const PAIR_COLUMNS = ['doc_a', 'doc_b', 'similarity', 'jaccard', 'containment', 'fact_jaccard', 'estimated_jaccard', 'same_cluster'];

// Rows of the two big files are made as they are stringified (csvPieces), not held: a million at a time made
// the report stage's garbage collection as long as its writing.
function* documentRows({ ids, clusterIds, clusterOf, size, founders, nearest, nearestSimilarity, reported, firstSeenRun }: TableSource): Generator<unknown[]> {
  for (let i = 0; i < reported; i++) {
    const cluster = clusterOf[i];
    yield [
      ids[i],
      clusterIds[cluster],
      size[cluster],
      founders[cluster] === i ? 1 : 0,
      nearest[i] >= 0 ? ids[nearest[i]] : '',
      nearest[i] >= 0 ? fixed(nearestSimilarity[i]) : '',
      firstSeenRun?.[i] ?? '',
    ];
  }
}

function* pairRows({ ids, pairs }: Pick<TableSource, 'ids' | 'pairs'>): Generator<unknown[]> {
  for (let p = 0; p < pairs.a.length; p++) {
    yield [
      ids[pairs.a[p]],
      ids[pairs.b[p]],
      fixed(pairs.similarity[p]),
      fixed(pairs.jaccard[p]),
      fixed(pairs.containment[p]),
      fixed(pairs.factJaccard[p]),
      fixed(pairs.estimated[p]),
      pairs.clustered[p],
    ];
  }
}

/**
 * Writes the CSV reports and deduplicated.jsonl, and fills `collect` on the way. `lines`: the lines of
 * work/articles.jsonl as bytes, as the read stage wrote them (JSON.stringify of a StoredArticle, id first,
 * origin last). documents.csv and pairs.csv are made on `pool` meanwhile.
 */
export async function writeReports(
  out: string,
  clustering: LoadedClustering,
  /** The lines of work/articles.jsonl, a chunk at a time. */
  lines: AsyncIterable<ByteLines>,
  pool: WorkerPool,
  figures: ClusterFigures = clusterFigures(clustering),
  collect?: ArticleCollection,
): Promise<ReportCounts> {
  const { ids, clusterIds, clusterOf, founders, pairs, nightly } = clustering;
  const n = ids.length;
  // A nightly run also holds the indexed articles tonight's were matched with (after the first `reported`):
  // they count in their clusters and are named in clusters.csv and pairs.csv, but get no rows of their own.
  const reported = nightly?.reported ?? n;
  const { size, minSimilarity, meanSimilarity } = figures;
  // The rows of documents.csv and pairs.csv and their csv-stringify took about as long as the pass below and
  // need nothing of it: on a worker thread, they are made while it runs.
  const tables = startTables(pool, clustering, figures);

  // One pass over the stored articles: the deduplicated feed, and the titles of clusters' representatives.
  // Lines are kept as bytes; only the articles the HTML report shows and the representatives of clusters are
  // decoded and parsed. The feed's line is the stored one with its origin cut and the cluster added, as
  // JSON.stringify of the parsed article with those fields would write it (a million articles: 12 s of
  // parsing and writing JSON before, then 2.3 s of decoding and encoding the lines as text).
  const representativeTitle = new Map<number, string>();
  const feed = await AtomicLineWriter.create(join(out, 'deduplicated.jsonl'));
  let index = 0;
  try {
    for await (const { bytes, starts, ends, count } of lines) {
      for (let q = 0; q < count; q++) {
        const start = starts[q];
        const end = ends[q];
        if (index >= n || !isStoredLineOf(bytes, start, end, ids[index])) {
          throw new Error(`work/articles.jsonl no longer matches work/shingles.bin at article ${index + 1}; re-run from \`neardup shingle\``);
        }
        const cluster = clusterOf[index];
        const founder = founders[cluster] === index;
        const wanted = collect !== undefined && collect.wanted[index] > 0;
        if (wanted || (founder && size[cluster] > 1)) {
          const article = JSON.parse(bytes.toString('utf8', start, end)) as StoredArticle;
          if (wanted) {
            const { title, source, published_at, url } = article;
            const text = collect.wanted[index] === 2 ? article.text.slice(0, collect.maxText + 1) : '';
            collect.into.set(index, { title, text, source, published_at, url });
          }
          if (founder) representativeTitle.set(cluster, article.title);
        }
        if (founder && index < reported) {
          // Two pieces a line: awaited only when the writer's buffer is full.
          const cut = withoutOrigin(bytes, start, end);
          if (!feed.tryWriteBytes(bytes, start, cut)) await feed.writeBytes(bytes, start, cut);
          const rest = `,"cluster_id":${JSON.stringify(clusterIds[cluster])},"cluster_size":${size[cluster]}}\n`;
          if (!feed.tryWrite(rest)) await feed.write(rest);
        }
        index++;
      }
    }
    if (index !== n) throw new Error(`work/articles.jsonl has ${index} articles, work/shingles.bin ${n}; re-run from \`neardup shingle\``);
    await feed.commit();
  } catch (error) {
    await feed.abort();
    throw error;
  }

  const { documents, pairs: pairBytes } = await tables;
  await writeFileAtomic(join(out, 'documents.csv'), documents);

  const members: number[][] = clusterIds.map(() => []);
  for (let i = 0; i < n; i++) if (size[clusterOf[i]] > 1) members[clusterOf[i]].push(i);
  const clusterRows: unknown[][] = [];
  let clusteredArticles = 0;
  for (let c = 0; c < clusterIds.length; c++) {
    if (size[c] < 2) continue;
    clusteredArticles += size[c];
    clusterRows.push([
      clusterIds[c],
      size[c],
      ids[founders[c]],
      representativeTitle.get(c) ?? '',
      members[c].map((i) => ids[i]).join(' '),
      fixed(minSimilarity[c]),
      fixed(meanSimilarity[c]),
    ]);
  }
  await writeCsv(
    join(out, 'clusters.csv'),
    ['cluster_id', 'size', 'representative_id', 'representative_title', 'member_ids', 'min_similarity', 'mean_similarity'],
    clusterRows,
  );

  await writeFileAtomic(join(out, 'pairs.csv'), pairBytes);

  return {
    documents: reported,
    clusters: clusterRows.length,
    clusteredArticles,
    duplicatesRemoved: clusteredArticles - clusterRows.length,
    verifiedPairs: pairs.a.length,
  };
}

const COMMA = 0x2c;
const CLOSE_BRACE = 0x7d;

/** `{"id":"`, how every stored line starts. */
const ID_START = Buffer.from('{"id":"');
const QUOTE = 0x22;

/**
 * Whether bytes[start .. end), a line of work/articles.jsonl, is the stored article `id`: its first field is
 * the id.
 */
function isStoredLineOf(bytes: Buffer, start: number, end: number, id: string): boolean {
  let at = start;
  for (let c = 0; c < ID_START.length; c++) if (at === end || bytes[at++] !== ID_START[c]) return false;
  for (let c = 0; c < id.length; c++) {
    const code = id.charCodeAt(c);
    // Most ids are printable ASCII without quotes or backslashes, the same in JSON, compared a code unit to a
    // byte; the others as the UTF-8 bytes of their JSON.
    if (code < 0x20 || code > 0x7e || code === QUOTE || code === 0x5c) return startsWithJson(bytes, start, end, id);
    if (at === end || bytes[at++] !== code) return false;
  }
  if (at === end || bytes[at++] !== QUOTE) return false;
  return at < end && (bytes[at] === COMMA || bytes[at] === CLOSE_BRACE);
}

function startsWithJson(bytes: Buffer, start: number, end: number, id: string): boolean {
  const prefix = Buffer.from(`{"id":${JSON.stringify(id)}`);
  if (end - start <= prefix.length || !prefix.equals(bytes.subarray(start, start + prefix.length))) return false;
  const next = bytes[start + prefix.length];
  return next === COMMA || next === CLOSE_BRACE;
}

const ORIGIN_KEY = Buffer.from(',"origin":');

/**
 * Where a stored line (bytes[start .. end)) ends without its last field, origin, and without the closing
 * brace. Inside a JSON string every quote is escaped, so `,"origin":` with a bare quote is the key itself.
 */
function withoutOrigin(bytes: Buffer, start: number, end: number): number {
  const at = bytes.subarray(start, end).lastIndexOf(ORIGIN_KEY);
  return at >= 0 ? start + at : end - 1;
}

/**
 * merges.csv (old_cluster_id,new_cluster_id,run_id: an older story absorbed a newer one's id tonight) and
 * search-updates.ndjson (Elasticsearch/OpenSearch bulk `update` actions, an action line and a doc line per
 * article whose cluster id search must learn). Both are written on every run, empty without an index, so
 * they never describe an earlier run.
 */
export async function writeNightlyReports(out: string, nightly: NightlyReport | undefined): Promise<void> {
  const merges = nightly?.merges.map((m) => [m.oldClusterId, m.newClusterId, nightly.runId]) ?? [];
  await writeCsv(join(out, 'merges.csv'), ['old_cluster_id', 'new_cluster_id', 'run_id'], merges);
  let bulk = '';
  for (const { id, clusterId } of nightly?.searchUpdates ?? []) {
    bulk += JSON.stringify({ update: { _id: id } }) + '\n' + JSON.stringify({ doc: { cluster_id: clusterId } }) + '\n';
  }
  await writeFileAtomic(join(out, 'search-updates.ndjson'), bulk);
}

/** Rows per piece of CSV written: the rows of a million articles are never all held at once. */
const CSV_CHUNK = 10_000;

/** `rows` as CSV at `path`, with a header of `columns`, made and written a piece of `chunkRows` rows at a time. */
export async function writeCsv(path: string, columns: string[], rows: Iterable<unknown[]>, chunkRows = CSV_CHUNK): Promise<void> {
  const writer = await AtomicLineWriter.create(path);
  try {
    for (const piece of csvPieces(columns, rows, chunkRows)) await writer.write(piece);
    await writer.commit();
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/**
 * `rows` as CSV with a header of `columns`, a piece per `chunkRows` rows. Every CSV the project writes is
 * made here: RFC 4180 quoting, and no cell a spreadsheet would run (inertCell).
 */
function* csvPieces(columns: string[], rows: Iterable<unknown[]>, chunkRows = CSV_CHUNK): Generator<string> {
  // Each piece ends with its last record's newline, so the pieces joined are the CSV of all the rows.
  const piece = (chunk: unknown[][], header: boolean) => stringify(chunk, { header, columns, record_delimiter: 'unix', cast: { string: inertCell } });
  let chunk: unknown[][] = [];
  let header = true;
  for (const row of rows) {
    chunk.push(row);
    if (chunk.length === chunkRows) {
      yield piece(chunk, header);
      header = false;
      chunk = [];
    }
  }
  // The header alone when there are no rows.
  if (chunk.length > 0 || header) yield piece(chunk, header);
}

/**
 * A cell starting with =, +, -, @, a tab or a carriage return is a formula to a spreadsheet (CSV injection:
 * an article id or title like "=HYPERLINK(...)" would run when an editor opens the file). Such cells get a
 * leading apostrophe, which spreadsheets show as text and which the OWASP guidance recommends; a program
 * reading ids from the CSV strips a leading apostrophe, or reads deduplicated.jsonl, which is left as is.
 */
export function inertCell(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}

const FORMULA_START = /^[=+\-@\t\r]/;
