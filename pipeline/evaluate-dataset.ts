/** `neardup eval`: run the pipeline on a labelled dataset folder and score the clustering. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from './errors.js';
import { type ClusteringScores, type PairScores, parseLabelsCsv, parsePairsCsv, scoreClustering, scorePairs } from './evaluate.js';
import { type PipelineOptions } from './options.js';
import { loadClustering, runPipeline } from './stages.js';

export interface DatasetScores {
  dataset: string;
  clustering: ClusteringScores;
  /** Only for datasets with a pairs.csv (source,derived,label). */
  pairs?: PairScores;
}

/**
 * Runs every stage on DATASET/articles.jsonl into `out` and scores the clusters against DATASET/labels.csv
 * and, when present, DATASET/pairs.csv.
 */
export async function evaluateDataset(dataset: string, out: string, options: PipelineOptions): Promise<DatasetScores> {
  // Labels first: a dataset without them fails before the run, not after it.
  const gold = await readGold(dataset);
  await runPipeline([join(dataset, 'articles.jsonl')], out, options);
  return scoreAgainst(dataset, out, gold);
}

/** Scores the clustering a run left in `out` against DATASET's labels (see evaluateDataset). */
export async function scoreDataset(dataset: string, out: string): Promise<DatasetScores> {
  return scoreAgainst(dataset, out, await readGold(dataset));
}

async function scoreAgainst(dataset: string, out: string, { gold, pairsText, pairsPath }: Gold): Promise<DatasetScores> {
  const clustering = await loadClustering(out);
  const predicted = new Map<string, string>();
  clustering.ids.forEach((id, i) => predicted.set(id, clustering.clusterIds[clustering.clusterOf[i]]));
  return {
    dataset,
    clustering: scoreClustering(gold, predicted),
    pairs: pairsText === undefined ? undefined : scorePairs(parsePairsCsv(pairsText, pairsPath), predicted),
  };
}

interface Gold {
  gold: Map<string, string>;
  pairsText: string | undefined;
  pairsPath: string;
}

async function readGold(dataset: string): Promise<Gold> {
  const labelsPath = join(dataset, 'labels.csv');
  const pairsPath = join(dataset, 'pairs.csv');
  const gold = parseLabelsCsv(await readFile(labelsPath, 'utf8').catch(() => {
    throw new InputError(labelsPath, undefined, 'missing: an eval dataset has articles.jsonl and labels.csv (id,cluster)');
  }), labelsPath);
  const pairsText = await readFile(pairsPath, 'utf8').catch(() => undefined);
  return { gold, pairsText, pairsPath };
}
