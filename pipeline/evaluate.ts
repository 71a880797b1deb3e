/**
 * Scoring a predicted clustering against gold labels (see ../shared/data/README.md for the conventions).
 *
 * Conventions worth knowing when reading the numbers:
 * - Only gold articles are scored; predicted articles without a gold label are ignored, and gold articles
 *   missing from the prediction count as singletons (so they can only cost recall).
 * - Precision, recall, F1 and MCC are 0 when undefined (no predicted or no true positives, zero MCC
 *   denominator): a prediction that says nothing gets no credit, and merging everything gets MCC 0.
 * - ARI is 1 when its denominator is 0, which happens only when both partitions have the same pairs
 *   (both all-singletons, both one cluster, or fewer than two articles).
 */
import { InputError } from './errors.js';

export interface ClusteringScores {
  /** Gold-labelled articles; the population that is scored. */
  articles: number;
  goldClusters: number;
  /** Predicted clusters among gold articles, each missing article counted as its own cluster. */
  predictedClusters: number;
  /** Size of the largest predicted cluster, counting gold articles only. */
  largestPredictedCluster: number;
  /** Gold articles absent from the prediction; a high count usually means mismatched ids. */
  unpredicted: number;
  truePairs: number;
  predictedPairs: number;
  correctPairs: number;
  precision: number;
  recall: number;
  f1: number;
  ari: number;
}

export interface PairScores {
  pairs: number;
  tp: number;
  fp: number;
  fn: number;
  tn: number;
  precision: number;
  recall: number;
  f1: number;
  mcc: number;
}

export interface LabelledPair {
  source: string;
  derived: string;
  label: string;
}

interface CsvRecord {
  /** Line on which the record starts (1-based); quoted fields may span lines. */
  line: number;
  fields: string[];
}

/** RFC 4180 records; accepts LF or CRLF, a leading BOM, and skips blank lines (a trailing newline is one). */
function parseCsv(text: string, file: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  while (i < text.length) {
    const start = line;
    const fields: string[] = [];
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= text.length) throw new InputError(file, start, 'unterminated quoted field');
          const c = text[i++];
          if (c !== '"') {
            if (c === '\n') line++;
            field += c;
          } else if (text[i] === '"') {
            field += '"';
            i++;
          } else {
            break;
          }
        }
      } else {
        const begin = i;
        while (i < text.length && text[i] !== ',' && text[i] !== '\n' && !(text[i] === '\r' && text[i + 1] === '\n')) {
          if (text[i] === '"') throw new InputError(file, line, 'quote inside an unquoted field');
          i++;
        }
        field = text.slice(begin, i);
      }
      fields.push(field);
      if (i >= text.length) break;
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '\n' || (text[i] === '\r' && text[i + 1] === '\n')) {
        i += text[i] === '\n' ? 1 : 2;
        line++;
        break;
      }
      throw new InputError(file, line, 'expected a comma or end of line after a closing quote');
    }
    if (!(fields.length === 1 && fields[0] === '')) records.push({ line: start, fields });
  }
  return records;
}

/** Parses a CSV with exactly `columns` as header; every value must be non-empty. */
function parseTable(text: string, file: string, columns: string[]): CsvRecord[] {
  const [header, ...rows] = parseCsv(text, file);
  if (header === undefined) throw new InputError(file, 1, `empty file, expected header "${columns.join(',')}"`);
  if (header.fields.join(',') !== columns.join(',')) {
    throw new InputError(file, header.line, `expected header "${columns.join(',')}", found "${header.fields.join(',')}"`);
  }
  for (const row of rows) {
    if (row.fields.length !== columns.length) {
      throw new InputError(file, row.line, `expected ${columns.length} fields, found ${row.fields.length}`);
    }
    const empty = row.fields.findIndex((f) => f === '');
    if (empty >= 0) throw new InputError(file, row.line, `empty ${columns[empty]}`);
  }
  return rows;
}

/** Gold or predicted labels, `id,cluster`: article id → cluster id. */
export function parseLabelsCsv(text: string, file: string): Map<string, string> {
  const labels = new Map<string, string>();
  for (const { line, fields } of parseTable(text, file, ['id', 'cluster'])) {
    const [id, cluster] = fields;
    if (labels.has(id)) throw new InputError(file, line, `duplicate id "${id}"`);
    labels.set(id, cluster);
  }
  return labels;
}

/** Labelled pairs, `source,derived,label` (COUNTER: label WD, PD or ND). */
export function parsePairsCsv(text: string, file: string): LabelledPair[] {
  const seen = new Set<string>();
  return parseTable(text, file, ['source', 'derived', 'label']).map(({ line, fields }) => {
    const [source, derived, label] = fields;
    if (source === derived) throw new InputError(file, line, `source and derived are the same article "${source}"`);
    // A repeated pair would be counted twice and skew the scores.
    const key = JSON.stringify([source, derived].sort());
    if (seen.has(key)) throw new InputError(file, line, `duplicate pair "${source}","${derived}"`);
    seen.add(key);
    return { source, derived, label };
  });
}

const choose2 = (n: number): number => (n * (n - 1)) / 2;
const ratio = (num: number, den: number): number => (den === 0 ? 0 : num / den);
const harmonic = (p: number, r: number): number => (p + r === 0 ? 0 : (2 * p * r) / (p + r));

function increment<K>(counts: Map<K, number>, key: K): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/**
 * Pairwise precision/recall/F1 and ARI, from the contingency table rather than by enumerating pairs,
 * so it is linear in the number of articles. All pair counts stay far below 2^53, so they are exact.
 */
export function scoreClustering(gold: Map<string, string>, predicted: Map<string, string>): ClusteringScores {
  const goldSizes = new Map<string, number>();
  const predictedSizes = new Map<string, number>();
  // Keyed by a JSON pair so that no choice of cluster names can make two cells collide.
  const cells = new Map<string, number>();
  let unpredicted = 0;
  for (const [id, g] of gold) {
    increment(goldSizes, g);
    const p = predicted.get(id);
    // A missing article is a singleton: its own cluster and cell of size 1, so it adds no pairs.
    if (p === undefined) {
      unpredicted++;
      continue;
    }
    increment(predictedSizes, p);
    increment(cells, JSON.stringify([g, p]));
  }

  const sumPairs = (sizes: Map<string, number>): number => {
    let total = 0;
    for (const n of sizes.values()) total += choose2(n);
    return total;
  };
  // A loop, not Math.max(...sizes): spreading a million arguments overflows the stack.
  let largest = unpredicted > 0 ? 1 : 0;
  for (const n of predictedSizes.values()) largest = Math.max(largest, n);
  const truePairs = sumPairs(goldSizes);
  const predictedPairs = sumPairs(predictedSizes);
  const correctPairs = sumPairs(cells);

  const allPairs = choose2(gold.size);
  const expected = allPairs === 0 ? 0 : (truePairs * predictedPairs) / allPairs;
  const maximum = (truePairs + predictedPairs) / 2;
  const ari = maximum === expected ? 1 : (correctPairs - expected) / (maximum - expected);

  const precision = ratio(correctPairs, predictedPairs);
  const recall = ratio(correctPairs, truePairs);
  return {
    articles: gold.size,
    goldClusters: goldSizes.size,
    predictedClusters: predictedSizes.size + unpredicted,
    largestPredictedCluster: largest,
    unpredicted,
    truePairs,
    predictedPairs,
    correctPairs,
    precision,
    recall,
    f1: harmonic(precision, recall),
    ari,
  };
}

/** Confusion counts, F1 and MCC over labelled pairs; a pair is predicted positive when both share a cluster. */
export function scorePairs(
  pairs: readonly LabelledPair[],
  predicted: Map<string, string>,
  positiveLabels: readonly string[] = ['WD', 'PD'],
): PairScores {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (const { source, derived, label } of pairs) {
    const s = predicted.get(source);
    const together = s !== undefined && s === predicted.get(derived);
    if (positiveLabels.includes(label)) {
      if (together) tp++;
      else fn++;
    } else if (together) fp++;
    else tn++;
  }
  const precision = ratio(tp, tp + fp);
  const recall = ratio(tp, tp + fn);
  const denominator = Math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn));
  return {
    pairs: pairs.length,
    tp,
    fp,
    fn,
    tn,
    precision,
    recall,
    f1: harmonic(precision, recall),
    mcc: ratio(tp * tn - fp * fn, denominator),
  };
}

/** A few lines for the CLI; either part may be omitted. */
export function formatScores(clustering?: ClusteringScores, pairs?: PairScores): string {
  const f = (x: number): string => x.toFixed(3);
  const lines: string[] = [];
  if (clustering) {
    const c = clustering;
    lines.push(
      `clustering: ${c.articles} articles, ${c.goldClusters} gold clusters, ${c.predictedClusters} predicted ` +
        `(largest ${c.largestPredictedCluster}, ${c.unpredicted} unpredicted)`,
      `  pairwise P ${f(c.precision)}  R ${f(c.recall)}  F1 ${f(c.f1)}  ARI ${f(c.ari)}` +
        `  (${c.correctPairs} correct of ${c.predictedPairs} predicted, ${c.truePairs} true pairs)`,
    );
  }
  if (pairs) {
    const p = pairs;
    lines.push(
      `pairs: ${p.pairs} labelled  TP ${p.tp}  FP ${p.fp}  FN ${p.fn}  TN ${p.tn}`,
      `  P ${f(p.precision)}  R ${f(p.recall)}  F1 ${f(p.f1)}  MCC ${f(p.mcc)}`,
    );
  }
  return lines.join('\n');
}
