/**
 * Nightly runs against a persistent index (index-store.ts): tonight's rewrites of an older story join the
 * older story's cluster, and a cluster id, once given, never changes unless its story merges into an older
 * one (then merges.csv says so).
 *
 *   read       tonight's inputs, each article looked up by id in the index: new, already indexed
 *              (the same text: it keeps its cluster), or changed (kept as indexed and listed in rejected.csv;
 *              with --update re-matched and replaced)
 *   find       tonight's new articles are shingled and signed, IDF counted over the index's document
 *              frequencies and theirs, and their band keys looked up among the index's: the indexed
 *              articles sharing enough bands, and whose stored facts pass the fact check with one of the
 *              articles they matched (fact-screen.ts), are tonight's guests
 *   match      the usual stages over tonight's articles plus the guests (re-shingled from their stored
 *              text, so they are verified exactly as tonight's pairs are); two indexed articles are never a
 *              candidate pair, so only a new article can join two stories
 *   assign     a group with no indexed article founds a new cluster; with one indexed cluster it takes that
 *              id; with several, the oldest id survives and the others are merges
 *   report     the usual reports (guests are not reported), plus merges.csv and search-updates.ndjson
 *   commit     the index takes tonight's articles (band keys, facts, text), their document frequencies,
 *              new clusters, merges and retention in one transaction,
 *              after the reports are in place: a run killed before it leaves the index as it was, and a
 *              re-run repeats the same night
 */
import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { AtomicLineWriter, LINE_CHUNK_CHARS, writeFileAtomic } from './atomic-write.js';
import { type IndexMatches, bandKeysOf, joinMatches } from './candidates.js';
import { MIN_FACTS, clusterIdFor, describeClusters } from './cluster.js';
import { FactScreen } from './fact-screen.js';
import { factsOf } from './facts.js';
import { type PipelineOptions } from './options.js';
import { progress, withProgress } from './progress.js';
import { type Rejection, originOf } from './read-articles.js';
import { type ArticleIndex, type IndexSettings, type NewEntry, SqliteArticleIndex, textHashOf } from './index-store.js';
import { createEngine } from './signature.js';
import {
  COPY_K,
  NIGHTLY_FILE,
  type NightlyReport,
  type StageStats,
  type StoredArticle,
  bandedSources,
  candidatesStage,
  clusterStage,
  loadClustering,
  loadCountedFeatures,
  loadFeatureValues,
  loadShingles,
  loadSignatures,
  readStage,
  readStoredArticles,
  reportStage,
  shingleStage,
  signatureStage,
  workPath,
  writeClustering,
} from './stages.js';
import { optimalBanding } from './lsh-params.js';
import { Shingler } from './shingle.js';
import { type MatchResult, articleFeatures } from './tasks.js';
import { sharedCopy } from './typed-arrays.js';
import { type IdfBackground, countOf, mergeCounts, plainIdf, smoothedIdf } from './weights.js';
import { WorkerPool } from './worker-pool.js';

export interface NightlyOptions {
  /** The index file (created if missing). */
  index: string;
  /** Tonight's run id; by default the index's next (run-000001, ...). */
  runId?: string;
  /** Re-match and replace indexed articles whose text changed, instead of keeping the indexed version. */
  update: boolean;
  /** Indexed articles published more than this many days before tonight's newest leave matching. */
  keepDays?: number;
}

/** What a nightly run did to the index, for the CLI's summary (`--json`: "nightly"). */
export interface NightlySummary {
  /** The index file, absolute. */
  index: string;
  runId: string;
  /** Tonight's articles the index did not have. */
  newArticles: number;
  /** Indexed articles whose text tonight's replaced (--update). */
  replacedArticles: number;
  /** Indexed articles sent again with another text, kept as indexed (listed in rejected.csv). */
  conflicts: number;
  /** Indexed articles matched with tonight's (re-shingled and verified with them, not reported). */
  guests: number;
  /** Indexed articles whose band keys matched tonight's but whose facts did not (fact-screen.ts): left alone. */
  guestsScreenedOut: number;
  newClusters: number;
  merges: number;
  /** Articles in search-updates.ndjson. */
  searchUpdates: number;
}

export interface NightlyRun {
  stats: StageStats[];
  summary: NightlySummary;
}

const DAY_MS = 86_400_000;

/**
 * Shared main bands an indexed article needs with one of tonight's to come back as a guest (see
 * matchIndexed): 4 of the 49 one-value bands, a signature estimate of 0.082, about the threshold. One shared
 * value is what nearly every indexed article has with somebody: 2,000 generated articles against an index of
 * 20,000 brought back 19,998 guests with 1, 15,589 with 2, 2,768 with 4, and the cross-night rewrite pairs
 * found were 2,268 of 2,268 with 2 and 2,267 with 4 (`npm run bench -- --nightly 20000,2000`).
 */
const MIN_SHARED_BANDS = 4;

/** What tonight's article is to the index. */
const NEW = 0;
const KNOWN = 1;
const REPLACED = 2;
const GUEST = 3;

/** The options an index is bound to: signatures and band keys made with others would not match. */
export function indexSettings(options: PipelineOptions): IndexSettings {
  return {
    shingles: options.shingles,
    weighting: options.weighting,
    engine: options.engine,
    k: options.k,
    seed: options.seed,
    signatureMaxDf: options.signatureMaxDf,
    lshThreshold: options.lshThreshold,
    copyThreshold: options.copyThreshold,
  };
}

function bandCountOf(options: PipelineOptions): number {
  const { k } = createEngine(options.engine, options.k, options.seed);
  return optimalBanding(options.lshThreshold, k).bands + (options.copyThreshold > 0 ? optimalBanding(options.copyThreshold, COPY_K).bands : 0);
}

export async function runNightly(inputs: string[], out: string, options: PipelineOptions, nightly: NightlyOptions): Promise<NightlyRun> {
  const shingler = new Shingler(options.shingles);
  const index = new SqliteArticleIndex(nightly.index, indexSettings(options), bandCountOf(options), (title, text) => articleFeatures(shingler, title, text).features);
  try {
    return await runAgainst(index, inputs, out, options, nightly);
  } finally {
    index.close();
  }
}

async function runAgainst(index: ArticleIndex, inputs: string[], out: string, options: PipelineOptions, nightly: NightlyOptions): Promise<NightlyRun> {
  const stats: StageStats[] = [];
  stats.push(await readStage(inputs, out, options));
  const runId = nightly.runId ?? index.nextRunId();

  // Tonight's articles against the index, by id.
  const roles: number[] = [];
  const storedIds: (string | undefined)[] = [];
  const firstSeenRun: string[] = [];
  const conflicts: Rejection[] = [];
  const tonightIds = new Set<string>();
  let newestMs = NaN;
  const lookingUp = progress('index lookup', 'articles', stats[0].articles);
  try {
    for await (const article of readStoredArticles(out)) {
      lookingUp.advance(1);
      tonightIds.add(article.id);
      const publishedMs = article.published_at === undefined ? NaN : Date.parse(article.published_at);
      if (publishedMs > newestMs || Number.isNaN(newestMs)) newestMs = publishedMs;
      const entry = index.lookup(article.id);
      if (entry === undefined) {
        roles.push(NEW);
        storedIds.push(undefined);
        firstSeenRun.push(runId);
        continue;
      }
      firstSeenRun.push(entry.firstSeenRun);
      const changed = entry.textHash !== textHashOf(article.title, article.text);
      if (changed && nightly.update && !entry.retired) {
        roles.push(REPLACED);
        storedIds.push(undefined);
        continue;
      }
      if (changed) {
        conflicts.push({
          ...originOf(article.origin),
          id: article.id,
          action: 'kept indexed version',
          reason: `id already indexed (first seen in ${entry.firstSeenRun}) with another text; --update replaces it`,
        });
      }
      roles.push(KNOWN);
      storedIds.push(entry.clusterId);
    }
  } finally {
    lookingUp.done();
  }
  const tonight = roles.length;
  const sinceMs = nightly.keepDays === undefined || Number.isNaN(newestMs) ? NaN : newestMs - nightly.keepDays * DAY_MS;

  // IDF is counted over every text indexed so far and tonight's new texts: not over the guests or the
  // articles sent again, which the index has counted already.
  const stored = index.featureCounts();
  // In shared memory: the workers that weigh features read them without a copy each.
  const background: IdfBackground = { articles: stored.articles, features: sharedCopy(stored.features), counts: sharedCopy(stored.counts) };
  const counted = Uint8Array.from(roles, (r) => (r === NEW || r === REPLACED ? 1 : 0));
  // Guests: indexed articles that share a band with one of tonight's new articles.
  const lookFor = counted.slice();
  const guests: string[] = [];
  let screenedOut = 0;
  let signed = false;
  const firstPass = lookFor.includes(1);
  if (firstPass) {
    stats.push(await shingleStage(out, options, 0, { counted, background }));
    stats.push(await signatureStage(out, options));
    signed = true;
    const tonightKeys = await bandKeysIn(out, options);
    for (let i = 0; i < tonight; i++) if (!tonightKeys.bandable[i]) lookFor[i] = 0;
    const matchable = withProgress('index load', 'articles', undefined, (advance) => index.matchable(sinceMs, advance));
    const { matched, partnerStarts, partners } = await matchInWorkers(tonightKeys, lookFor, matchable.bandKeys, options);
    // A guest whose facts disagree with those of every article that brought it back would fail the cluster
    // stage's fact check with each: it stays in the index (fact-screen.ts).
    let screen: FactScreen | undefined;
    if (options.factAgreement > 0 && options.weighting !== 'none' && matched.includes(1)) {
      const first = await loadShingles(out);
      const idf = options.weighting === 'idf' ? plainIdf : smoothedIdf;
      // As the shingle stage weighs a fact none of tonight's articles has: by the index's count, as float32.
      const weightOf = (fact: number) => Math.fround(idf(Math.max(1, countOf(background, fact)), first.idfArticles));
      screen = new FactScreen(first.sets, tonight, MIN_FACTS, options.factAgreement, weightOf);
    }
    for (let j = 0; j < matchable.ids.length; j++) {
      if (matched[j] === 0 || tonightIds.has(matchable.ids[j])) continue;
      const facts = matchable.facts.subarray(matchable.factStarts[j], matchable.factStarts[j + 1]);
      if (screen === undefined || screen.passes(facts, partners.subarray(partnerStarts[j], partnerStarts[j + 1]))) guests.push(matchable.ids[j]);
      else screenedOut++;
    }
  }
  if (guests.length > 0) {
    await appendGuests(out, index, guests, roles, storedIds);
    signed = false;
  }
  if (!signed) {
    // The guests are shingled and signed. Tonight's articles keep their features, weights and signatures:
    // the guests do not count in IDF, so nothing of tonight's changes.
    const withGuests = new Uint8Array(roles.length);
    withGuests.set(counted);
    stats.push(await shingleStage(out, options, firstPass ? tonight : 0, { counted: withGuests, background }));
    stats.push(await signatureStage(out, options, firstPass ? tonight : 0));
  }
  const pinned = Uint8Array.from(roles, (r) => (r === KNOWN || r === GUEST ? 1 : 0));
  stats.push(await candidatesStage(out, options, pinned));
  stats.push(await clusterStage(out, options));

  const assigned = await assignIds(out, index, roles, storedIds, runId);
  const report: NightlyReport = {
    runId,
    reported: tonight,
    firstSeenRun,
    merges: assigned.merges,
    searchUpdates: assigned.searchUpdates,
    conflicts,
  };
  await writeFileAtomic(workPath(out, NIGHTLY_FILE), JSON.stringify(report));
  stats.push(await reportStage(out, options));

  // The index last: until this transaction commits, the index is as it was before the run.
  const added: NewEntry[] = [];
  const replaced: NewEntry[] = [];
  const keys = await bandKeysIn(out, options);
  const sets = await loadFeatureValues(out);
  let i = 0;
  for await (const article of readStoredArticles(out)) {
    if (i >= tonight) break;
    if (roles[i] === NEW || roles[i] === REPLACED) {
      const bandKeys = keys.bandable[i] ? keys.keys.slice(i * keys.bandCount, (i + 1) * keys.bandCount) : undefined;
      const facts = factsOf(sets.values.subarray(sets.offsets[i], sets.offsets[i + 1]));
      (roles[i] === NEW ? added : replaced).push(entryFor(article, assigned.finalIds[i], bandKeys, facts));
    }
    i++;
  }
  // Tonight's new texts join the index's feature counts (counted by the shingle stage, as it weighed them).
  let featureCounts: IdfBackground | undefined;
  // Without IDF (--weighting none) nothing is counted, and nothing needs to be.
  if (counted.includes(1) && options.weighting !== 'none') {
    const tonightCounts = await loadCountedFeatures(out);
    featureCounts = mergeCounts(background, tonightCounts.counts, tonightCounts.articles);
  }
  const retiring = !Number.isNaN(sinceMs);
  if (added.length + replaced.length + assigned.merges.length > 0 || retiring) {
    withProgress('index commit', 'articles', added.length + replaced.length, (advance) =>
      index.apply({ runId, added, replaced, newClusters: assigned.newClusters, merges: assigned.merges, retireBeforeMs: sinceMs, featureCounts }, advance),
    );
  }
  const summary: NightlySummary = {
    index: resolve(index.path),
    runId,
    newArticles: added.length,
    replacedArticles: replaced.length,
    conflicts: conflicts.length,
    guests: guests.length,
    guestsScreenedOut: screenedOut,
    newClusters: assigned.newClusters.length,
    merges: assigned.merges.length,
    searchUpdates: assigned.searchUpdates.length,
  };
  return { stats, summary };
}

function entryFor(article: StoredArticle, clusterId: string, bandKeys: Uint32Array | undefined, facts: Uint32Array): NewEntry {
  return {
    id: article.id,
    title: article.title,
    text: article.text,
    ...(article.url === undefined ? {} : { url: article.url }),
    ...(article.source === undefined ? {} : { source: article.source }),
    publishedMs: article.published_at === undefined ? NaN : Date.parse(article.published_at),
    textHash: textHashOf(article.title, article.text),
    bandKeys,
    facts,
    clusterId,
  };
}

/**
 * matchIndexed (candidates.ts) by the workers, over ranges of the indexed articles; the ranges' results are
 * joined in order, so they are the same for any number of workers.
 */
async function matchInWorkers(
  tonightKeys: { keys: Uint32Array; bandCount: number; mainBands: number },
  lookFor: Uint8Array,
  indexedKeys: Uint32Array,
  options: PipelineOptions,
): Promise<IndexMatches> {
  const { bandCount, mainBands } = tonightKeys;
  const m = indexedKeys.length / bandCount;
  // In shared memory: every range reads them without a copy.
  const tonight = sharedCopy(tonightKeys.keys);
  const looked = sharedCopy(lookFor);
  const indexed = sharedCopy(indexedKeys);
  const key = `${process.pid}:${++matchRuns}`;
  const ranges = Math.max(1, Math.min(Math.ceil(m / 50_000), 4 * Math.max(1, options.workers)));
  const pool = new WorkerPool(options.workers);
  const shown = progress('index match', 'articles', m);
  try {
    const results = await Promise.all(
      Array.from({ length: ranges }, (_, r) => {
        const from = Math.floor((r * m) / ranges);
        const to = Math.floor(((r + 1) * m) / ranges);
        return pool
          .run<MatchResult>({ task: 'match', key, tonight, lookFor: looked, indexed, from, to, bandCount, mainBands, minShared: MIN_SHARED_BANDS, maxBucketSize: options.maxBucketSize })
          .then((result) => {
            shown.advance(to - from);
            return result;
          });
      }),
    );
    return joinMatches(results);
  } finally {
    shown.done();
    await pool.close();
  }
}

let matchRuns = 0;

/** Tonight's band keys, and how many of each article's keys are the main signatures' (the rest: copy bands). */
async function bandKeysIn(out: string, options: PipelineOptions) {
  const { signatures, copySignatures, meta } = await loadSignatures(out);
  const sources = bandedSources(signatures, copySignatures, meta.k, meta.copyK, options);
  return { ...bandKeysOf(sources), mainBands: sources[0].bands };
}

/** Appends the guests' stored text to work/articles.jsonl, after tonight's articles. */
async function appendGuests(out: string, index: ArticleIndex, guests: string[], roles: number[], storedIds: (string | undefined)[]): Promise<void> {
  const path = workPath(out, 'articles.jsonl');
  const writer = await AtomicLineWriter.create(path);
  try {
    const input = createReadStream(path, { encoding: 'utf8' });
    for await (const line of createInterface({ input, crlfDelay: Infinity })) if (line !== '') await writer.write(line + '\n');
    let chunk = '';
    // Fetched a batch at a time, for the progress bar.
    const fetching = progress('index fetch', 'guests', guests.length);
    const bodies = function* () {
      try {
        for (let from = 0; from < guests.length; from += GUEST_BATCH) {
          yield* index.bodies(guests.slice(from, from + GUEST_BATCH));
          fetching.advance(Math.min(GUEST_BATCH, guests.length - from));
        }
      } finally {
        fetching.done();
      }
    };
    for (const body of bodies()) {
      const stored: StoredArticle = {
        id: body.id,
        title: body.title,
        text: body.text,
        ...(Number.isNaN(body.publishedMs) ? {} : { published_at: new Date(body.publishedMs).toISOString() }),
        ...(body.source === undefined ? {} : { source: body.source }),
        ...(body.url === undefined ? {} : { url: body.url }),
        origin: `${index.path} (indexed)`,
      };
      chunk += JSON.stringify(stored) + '\n';
      if (chunk.length >= LINE_CHUNK_CHARS) {
        await writer.write(chunk);
        chunk = '';
      }
      roles.push(GUEST);
      storedIds.push(body.clusterId);
    }
    await writer.write(chunk);
    await writer.commit();
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/** Guests whose stored text is fetched at once. */
const GUEST_BATCH = 1000;

interface Assignment {
  finalIds: string[];
  newClusters: string[];
  merges: { oldClusterId: string; newClusterId: string }[];
  searchUpdates: { id: string; clusterId: string }[];
}

/**
 * Gives each of tonight's groups its cluster id: the index's id of the indexed articles in it, the oldest
 * of them when it holds several (the others merge into it), else a new id from its founder. Rewrites
 * work/clusters.bin with the final grouping: indexed articles of one story are one cluster even when
 * tonight's clustering left them apart.
 */
async function assignIds(
  out: string,
  index: ArticleIndex,
  roles: number[],
  storedIds: (string | undefined)[],
  runId: string,
): Promise<Assignment> {
  const clustering = await loadClustering(out);
  const keys = { ids: clustering.ids, publishedMs: clustering.publishedMs };
  const n = roles.length;
  // Looked up once per cluster: the sorts below compare each cluster many times (3.3 s of SQL at a million).
  const ages = new Map<string, number>();
  const age = (id: string) => {
    let known = ages.get(id);
    if (known === undefined) ages.set(id, (known = index.clusterAge(id) ?? Infinity));
    return known;
  };
  const older = (a: string, b: string) => age(a) - age(b) || (a < b ? -1 : a > b ? 1 : 0);

  // Per group, how many of its articles each indexed cluster has in it.
  const inGroup: Map<string, number>[] = clustering.clusterIds.map(() => new Map());
  for (let i = 0; i < n; i++) {
    const stored = storedIds[i];
    if (stored === undefined) continue;
    const counts = inGroup[clustering.clusterOf[i]];
    counts.set(stored, (counts.get(stored) ?? 0) + 1);
  }
  // Each group's anchor is the indexed cluster with most articles in it (then the oldest): tonight's new
  // articles of the group join it. Another indexed cluster of the group merges into it only when all its
  // matchable articles are in the group, each through a verified pair: the every-member rule, for a whole
  // indexed story. A story that came only partly (one article matched a new one) keeps its id.
  const parent = new Map<string, string>();
  const find = (id: string): string => {
    let root = id;
    while ((parent.get(root) ?? root) !== root) root = parent.get(root)!;
    return root;
  };
  const anchors: (string | undefined)[] = inGroup.map((counts) => {
    let anchor: string | undefined;
    for (const [id, count] of counts) if (anchor === undefined || count > counts.get(anchor)! || (count === counts.get(anchor)! && older(id, anchor) < 0)) anchor = id;
    return anchor;
  });
  inGroup.forEach((counts, c) => {
    const anchor = anchors[c];
    if (anchor === undefined || counts.size < 2) return;
    for (const [id, count] of [...counts].sort((x, y) => older(x[0], y[0]))) {
      if (id === anchor || count < index.matchableSize(id)) continue;
      const [a, b] = [find(anchor), find(id)];
      if (a === b) continue;
      const [keep, drop] = older(a, b) <= 0 ? [a, b] : [b, a];
      parent.set(drop, keep);
    }
  });
  const merges: { oldClusterId: string; newClusterId: string }[] = [];
  for (const id of [...parent.keys()].sort(older)) merges.push({ oldClusterId: id, newClusterId: find(id) });

  // New ids for groups without an indexed article: their founder's, unless the index already gave that id
  // out (an --update'd founder of an older story).
  const used = new Set<string>();
  const newClusters: string[] = [];
  const idOfGroup: string[] = clustering.clusterIds.map((_, c) => {
    const anchor = anchors[c];
    if (anchor !== undefined) return find(anchor);
    const founder = clustering.ids[clustering.founders[c]];
    let id = clusterIdFor(founder);
    if (index.clusterAge(id) !== undefined || used.has(id)) id = clusterIdFor(`${founder}\n${runId}`);
    used.add(id);
    return id;
  });
  const finalIds = Array.from({ length: n }, (_, i) => {
    const stored = storedIds[i];
    return stored === undefined ? idOfGroup[clustering.clusterOf[i]] : find(stored);
  });

  // The final grouping, one label per id; new clusters get their ages in cluster order (largest first).
  const label = new Map<string, number>();
  const root = Uint32Array.from(finalIds, (id) => {
    let l = label.get(id);
    if (l === undefined) label.set(id, (l = label.size));
    return l;
  });
  const ids = [...label.keys()];
  const final = describeClusters(keys, clustering.pairs, root, (l) => ids[l]);
  for (const cluster of final.clusters) if (used.has(cluster.id) && cluster.members.some((i) => roles[i] !== GUEST)) newClusters.push(cluster.id);
  await writeClustering(out, final, clustering.options);

  // Search learns the id of every new or replaced article, and the new id of every member of a merged cluster.
  const searchUpdates: { id: string; clusterId: string }[] = [];
  const listed = new Set<string>();
  for (let i = 0; i < n; i++) {
    if (roles[i] === NEW || roles[i] === REPLACED) {
      searchUpdates.push({ id: keys.ids[i], clusterId: finalIds[i] });
      listed.add(keys.ids[i]);
    }
  }
  for (const { oldClusterId, newClusterId } of merges) {
    for (const id of index.membersOf(oldClusterId)) {
      if (!listed.has(id)) {
        searchUpdates.push({ id, clusterId: newClusterId });
        listed.add(id);
      }
    }
  }
  return { finalIds, newClusters, merges, searchUpdates };
}
