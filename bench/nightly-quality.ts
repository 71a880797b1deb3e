/**
 * How well two nights over a labelled corpus found its stories (bench.ts, --nightly): for the pairs of one
 * story split over the two nights (cross-night), and for the pairs within the second night.
 *
 * The first night's cluster ids are followed through the second night's merges.csv, so a first-night article
 * is counted in the cluster its story has after the second night.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';

export interface PairCounts {
  /** Pairs of one story (by the labels). */
  truePairs: number;
  /** Pairs put in one cluster. */
  predictedPairs: number;
  /** Pairs both. */
  correctPairs: number;
}

export interface NightlyQuality {
  crossNight: PairCounts;
  secondNight: PairCounts;
}

const rows = (path: string) => parse(readFileSync(path, 'utf8'), { columns: true }) as Record<string, string>[];

/** `labels`: id -> story; the documents and merges of each night's output directory. */
export function nightlyQuality(labels: Map<string, string>, firstOut: string, secondOut: string): NightlyQuality {
  const merged = new Map(rows(join(secondOut, 'merges.csv')).map((r) => [r.old_cluster_id, r.new_cluster_id]));
  const resolve = (cluster: string) => {
    let id = cluster;
    for (let hops = 0; merged.has(id) && hops < merged.size; hops++) id = merged.get(id)!;
    return id;
  };
  const first = rows(join(firstOut, 'documents.csv')).map((r) => ({ story: labels.get(r.doc_id)!, cluster: resolve(r.cluster_id) }));
  const second = rows(join(secondOut, 'documents.csv')).map((r) => ({ story: labels.get(r.doc_id)!, cluster: r.cluster_id }));
  return { crossNight: crossPairs(first, second), secondNight: withinPairs(second) };
}

type Labelled = { story: string; cluster: string }[];

function countBy(items: Labelled, key: (item: Labelled[number]) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

function crossPairs(first: Labelled, second: Labelled): PairCounts {
  const byStory = countBy(first, (a) => a.story);
  const byCluster = countBy(first, (a) => a.cluster);
  const byBoth = countBy(first, (a) => `${a.cluster}\n${a.story}`);
  let truePairs = 0;
  let predictedPairs = 0;
  let correctPairs = 0;
  for (const a of second) {
    truePairs += byStory.get(a.story) ?? 0;
    predictedPairs += byCluster.get(a.cluster) ?? 0;
    correctPairs += byBoth.get(`${a.cluster}\n${a.story}`) ?? 0;
  }
  return { truePairs, predictedPairs, correctPairs };
}

function withinPairs(items: Labelled): PairCounts {
  const pairs = (counts: Map<string, number>) => [...counts.values()].reduce((sum, n) => sum + (n * (n - 1)) / 2, 0);
  return {
    truePairs: pairs(countBy(items, (a) => a.story)),
    predictedPairs: pairs(countBy(items, (a) => a.cluster)),
    correctPairs: pairs(countBy(items, (a) => `${a.cluster}\n${a.story}`)),
  };
}

/** "recall 0.863, precision 0.179, F1 0.296 (102,264 of 118,512 pairs)". */
export function describePairs(counts: PairCounts): string {
  const recall = counts.correctPairs / Math.max(1, counts.truePairs);
  const precision = counts.correctPairs / Math.max(1, counts.predictedPairs);
  const f1 = recall + precision > 0 ? (2 * recall * precision) / (recall + precision) : 0;
  return `recall ${recall.toFixed(3)}, precision ${precision.toFixed(3)}, F1 ${f1.toFixed(3)} (${counts.correctPairs} of ${counts.truePairs} pairs found, ${counts.predictedPairs} predicted)`;
}
