#!/usr/bin/env node
/**
 * `neardup`: a thin shell over the stages. Parses flags (over neardup.config.json, when there is one) into
 * PipelineOptions, runs the stage(s), prints what they did: a line per stage and a one-line summary, one
 * JSON object (--json), or nothing (--quiet). Exit codes: EXIT_CODES below.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { LINKAGES, type Linkage, MIN_FACTS, SIMILARITY_MEASURES, type SimilarityMeasure } from './cluster.js';
import { InputError, UsageError } from './errors.js';
import { formatScores } from './evaluate.js';
import { type DatasetScores, evaluateDataset } from './evaluate-dataset.js';
import { IndexError } from './index-store.js';
import { type NightlySummary, runNightly } from './nightly.js';
import { DEFAULT_OPTIONS, LSH_SHARE, type PipelineOptions, lshThresholdFor } from './options.js';
import { doneAll, setProgressEnabled } from './progress.js';
import { ENGINE_NAMES, type EngineName } from './signature.js';
import { WEIGHTINGS, type Weighting } from './weights.js';
import {
  REPORT_FILES,
  type StageStats,
  candidatesStage,
  clusterStage,
  readStage,
  reportStage,
  runPipeline,
  shingleStage,
  signatureStage,
} from './stages.js';

/** The exit codes, as `--help` and the README list them. */
export const EXIT = { ok: 0, badInput: 1, usage: 2, index: 3, failed: 4 } as const;
const EXIT_CODES: [number, string][] = [
  [EXIT.ok, 'ok; bad inputs that were skipped are listed in DIR/rejected.csv'],
  [EXIT.badInput, "bad input: under --strict, or an input path (or a stage's file in DIR/work) that does not exist"],
  [EXIT.usage, 'usage: unknown command or flag, bad flag value, bad config file'],
  [EXIT.index, 'the index cannot be used: a newer schema, built with other options, or not an index'],
  [EXIT.failed, 'the run failed for another reason (an I/O error such as a full disk, or a bug): message and stack trace'],
];

/** Read from the current directory when present (unless --no-config); --config PATH names another. */
const CONFIG_FILE = 'neardup.config.json';

const D = DEFAULT_OPTIONS;

/** Flag -> [argument name, description]. */
const OPTION_HELP: Record<string, [string, string]> = {
  out: ['DIR', 'where reports go; stage files go to DIR/work (default: output)'],
  threshold: ['T', `a pair is verified when its similarity is at least T (default: ${D.threshold})`],
  measure: ['M', `similarity: ${SIMILARITY_MEASURES.join(' | ')}, IDF-weighted (default: ${D.measure})`],
  linkage: ['L', `when two groups joined by a verified pair merge: every-member (each article of the smaller group has a verified pair into the larger) | average (mean similarity >= group-similarity x threshold) | single (default: ${D.linkage})`],
  'group-similarity': ['F', `with --linkage average: the mean similarity two groups need, as a fraction of the threshold (default: ${D.groupSimilarity})`],
  'word-ngrams': ['LIST', `word n-gram sizes over content words, e.g. 1 or 1,2 (default: ${D.shingles.wordNgrams.join(',')})`],
  'char-ngram': ['N', `character n-grams of size N over content words; 0 = none (default: ${D.shingles.charNgram})`],
  stopwords: ['LANGS', `stopword languages skipped before shingling: all | none | en,ru,... (default: ${D.shingles.stopwords})`],
  facts: ['on|off', `also take each article's numbers and capitalised names as facts, compared apart from the wording (default: ${D.shingles.facts ? 'on' : 'off'})`],
  'fact-agreement': ['F', `reject a pair whose articles both have ${MIN_FACTS}+ facts when their facts' weighted Jaccard is below F; 0 = never (default: ${D.factAgreement})`],
  'min-word-length': ['N', `skip words shorter than N letters; numbers are always kept (default: ${D.shingles.minWordLength})`],
  weighting: ['W', `feature weights over the batch: idf = ln((N+1)/df), smooth-idf = ln(1 + N/df), none (default: ${D.weighting})`],
  engine: ['NAME', `signature engine: sketch (fast similarity sketching) | oph (one permutation, densified) | minhash (the npm package, slow) (default: ${D.engine})`],
  k: ['N', `values per MinHash signature (default: ${D.k})`],
  'signature-max-df': ['N', `leave features found in more than N articles out of signatures (not of the exact check); 0 = keep all (default: ${D.signatureMaxDf})`],
  seed: ['N', `hash seed (default: ${D.seed})`],
  'lsh-threshold': ['J', `weighted Jaccard similarity the LSH bands are tuned for (default: ${LSH_SHARE} x threshold)`],
  'copy-threshold': ['J', `also band copy signatures (every gram, no df cap) for near copies at this similarity, so a story printed by more outlets than the cap is still found; 0 = off (default: ${D.copyThreshold})`],
  'max-bucket-size': ['N', `LSH buckets larger than N are linked through their first N members (default: ${D.maxBucketSize})`],
  concurrency: ['N', `files read at once (default: ${D.readConcurrency})`],
  strict: ['', 'stop with exit code 1 at the first bad input, instead of skipping it and listing it in DIR/rejected.csv'],
  workers: ['N', `worker threads for shingling and signing; 0 = main thread only; outputs do not change (default: ${D.workers}, the cores)`],
  index: ['PATH', 'nightly mode: match against the index at PATH (a SQLite file, created if missing; e.g. output/index.sqlite) and add tonight\'s articles to it; cluster ids already given never change'],
  update: ['', 'with --index: an indexed id that comes again with another text is re-matched and replaced (by default the indexed version is kept and the article listed in rejected.csv)'],
  'keep-days': ['N', 'with --index: indexed articles published more than N days before tonight\'s newest leave matching (their cluster ids stay in the history)'],
  'run-id': ['ID', 'with --index: the id of tonight\'s run in the index and in first_seen_run (default: run-000001, run-000002, ...)'],
};
const NIGHTLY_OPTIONS = ['index', 'update', 'keep-days', 'run-id'];

const STAGE_OPTIONS: Record<string, string[]> = {
  read: ['concurrency', 'strict'],
  shingle: ['word-ngrams', 'char-ngram', 'stopwords', 'min-word-length', 'facts', 'weighting', 'workers', 'strict'],
  sign: ['engine', 'k', 'seed', 'signature-max-df', 'workers'],
  candidates: ['lsh-threshold', 'copy-threshold', 'max-bucket-size'],
  cluster: ['threshold', 'measure', 'fact-agreement', 'linkage', 'group-similarity', 'workers'],
  report: [],
};
const ALL_PIPELINE_OPTIONS = [...new Set(Object.values(STAGE_OPTIONS).flat())];
/** Flags that take no argument. */
const BOOLEAN_OPTIONS = new Set(['strict', 'update']);
/** Flags whose value is a comma-separated list: an array in the config file. */
const LIST_OPTIONS = new Set(['word-ngrams', 'stopwords']);

/** Flags every command takes besides its options: where options come from and what is printed; not config keys. */
const GENERAL_OPTIONS = {
  config: { type: 'string' },
  'no-config': { type: 'boolean' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = Record<string, string | boolean | undefined>;

/** What a command did: its stages' statistics (and a nightly run's), or eval's scores. */
type Outcome = { stats: StageStats[]; nightly?: NightlySummary } | { scores: DatasetScores };

interface Command {
  usage: string;
  /** One line for the command list. */
  brief: string;
  summary: string;
  options: string[];
  examples: string[];
  /** What --json prints. */
  json: string;
  run(positionals: string[], options: PipelineOptions, out: string, values: Values): Promise<Outcome>;
}

const SUMMARY_JSON = 'print a run summary as one JSON object on stdout (fields: see the README)';

const COMMANDS: Record<string, Command> = {
  run: {
    usage: 'neardup run INPUT... [--out DIR] [options]',
    brief: 'run every stage on INPUT... and write the reports',
    summary: 'Run every stage: read INPUT (files or directories of .txt, .jsonl, RSS/Atom .xml) and write the reports.',
    options: [...ALL_PIPELINE_OPTIONS, ...NIGHTLY_OPTIONS],
    examples: [
      'neardup run seeds --out output',
      'neardup run feeds/ today.jsonl --threshold 0.1',
      'neardup run feeds/2026-11-24 --index output/index.sqlite --keep-days 30',
      'neardup run feeds/ --json > summary.json',
      'neardup run feeds/ --quiet || echo "neardup failed with exit code $?"',
    ],
    json: SUMMARY_JSON,
    async run(positionals, options, out, values) {
      if (positionals.length === 0) throw new UsageError('run needs at least one INPUT file or directory');
      const index = values.index as string | undefined;
      if (index === undefined) {
        const stray = NIGHTLY_OPTIONS.find((flag) => values[flag] !== undefined);
        if (stray !== undefined) throw new UsageError(`--${stray} needs --index PATH`, stray);
        return { stats: await runPipeline(positionals, out, options) };
      }
      const keepDays = parseNumber('keep-days', values['keep-days'] as string | undefined, isWhole(1), 'a whole number of days >= 1');
      const runId = values['run-id'] as string | undefined;
      if (runId !== undefined && !/^[\w.:-]{1,64}$/.test(runId)) throw new UsageError(`--run-id ${runId}: expected 1-64 letters, digits, or . _ : -`, 'run-id');
      const { stats, summary } = await runNightly(positionals, out, options, { index, update: values.update === true, keepDays, runId });
      return { stats, nightly: summary };
    },
  },
  read: stageCommand('read', 'Read and normalize INPUT... into DIR/work/articles.jsonl.', 'neardup read seeds --out output', true, (p, o, out) =>
    readStage(p, out, o),
  ),
  shingle: stageCommand('shingle', 'Shingle DIR/work/articles.jsonl into DIR/work/shingles.bin.', 'neardup shingle --out output --word-ngrams 1,2', false, (_p, o, out) =>
    shingleStage(out, o),
  ),
  sign: stageCommand('sign', 'Compute MinHash signatures into DIR/work/signatures.bin.', 'neardup sign --out output --engine minhash', false, (_p, o, out) =>
    signatureStage(out, o),
  ),
  candidates: stageCommand('candidates', 'Find LSH candidate pairs into DIR/work/candidates.bin.', 'neardup candidates --out output --lsh-threshold 0.3', false, (_p, o, out) =>
    candidatesStage(out, o),
  ),
  cluster: stageCommand('cluster', 'Verify candidate pairs and cluster into DIR/work/clusters.bin.', 'neardup cluster --out output --threshold 0.1', false, (_p, o, out) =>
    clusterStage(out, o),
  ),
  report: stageCommand('report', 'Write report.html, documents.csv, clusters.csv, pairs.csv, deduplicated.jsonl and run.json into DIR.', 'neardup report --out output', false, (_p, o, out) =>
    reportStage(out, o),
  ),
  eval: {
    usage: 'neardup eval DATASET_DIR [--out DIR] [options]',
    brief: 'run on a labelled dataset and score the clusters',
    summary:
      'Run the pipeline on DATASET_DIR/articles.jsonl and score it against DATASET_DIR/labels.csv (pairwise precision, recall, F1, ARI, largest cluster) and, when present, DATASET_DIR/pairs.csv (F1, MCC).',
    options: ALL_PIPELINE_OPTIONS,
    examples: ['neardup eval ../shared/data/ecbplus-dev', 'neardup eval ../shared/data/counter-dev --json', 'neardup eval ../shared/data/ecbplus-dev --threshold 0.1 --out /tmp/ecb'],
    json: 'print the scores as one JSON object on stdout ({dataset, clustering, pairs})',
    async run(positionals, options, out) {
      if (positionals.length !== 1) throw new UsageError('eval needs exactly one DATASET_DIR');
      return { scores: await evaluateDataset(positionals[0], out, options) };
    },
  },
};

function stageCommand(
  name: string,
  summary: string,
  example: string,
  takesInputs: boolean,
  stage: (positionals: string[], options: PipelineOptions, out: string) => Promise<StageStats>,
): Command {
  return {
    usage: `neardup ${name} ${takesInputs ? 'INPUT... ' : ''}[--out DIR]${STAGE_OPTIONS[name].length > 0 ? ' [options]' : ''}`,
    brief: `stage: ${summary.replace(/\.$/, '').replace(/^\w/, (c) => c.toLowerCase())}`,
    summary,
    options: STAGE_OPTIONS[name],
    examples: [example, `neardup ${name} ${takesInputs ? 'seeds ' : ''}--out output --json`],
    json: SUMMARY_JSON,
    async run(positionals, options, out) {
      if (takesInputs && positionals.length === 0) throw new UsageError(`${name} needs at least one INPUT file or directory`);
      if (!takesInputs && positionals.length > 0) throw new UsageError(`${name} takes no INPUT; it reads ${out}/work`);
      return { stats: [await stage(positionals, options, out)] };
    },
  };
}

/**
 * What `--json` prints for run and the stage commands. The fields are always there, null when the stages
 * that ran do not tell (say, clusters after `neardup read`); README "Using it" documents them.
 */
export interface RunSummary {
  command: string;
  /** --out, absolute. */
  out: string;
  /** Articles reported (a nightly run: tonight's), else the articles the stage saw. */
  articles: number;
  /** Inputs the read stage skipped (listed in rejected.csv). */
  rejected: number | null;
  /** Clusters of any size: articles - duplicatesRemoved; null for nightly runs, whose clusters hold indexed articles too. */
  stories: number | null;
  /** Clusters of two or more articles. */
  clusters: number | null;
  clusteredArticles: number | null;
  /** Articles in a cluster of two or more that are not its representative. */
  duplicatesRemoved: number | null;
  verifiedPairs: number | null;
  /** Wall time of the command. */
  seconds: number;
  /** Report name (documents, clusters, pairs, deduplicated, rejected, merges, searchUpdates, run, ...) -> absolute path. */
  reports: Record<string, string> | null;
  nightly: NightlySummary | null;
  /** Each stage's statistics, as in run.json. */
  stages: StageStats[];
}

function summaryOf(command: string, out: string, outcome: { stats: StageStats[]; nightly?: NightlySummary }, seconds: number): RunSummary {
  const { stats } = outcome;
  const stage = (name: string) => stats.find((s) => s.stage === name);
  const count = (s: StageStats | undefined, key: string): number | null => (typeof s?.[key] === 'number' ? (s[key] as number) : null);
  const report = stage('report');
  // The report's counts are final (a nightly run re-assigns clusters after the cluster stage); the cluster
  // stage's stand in when it ran alone.
  const clustering = report ?? stage('cluster');
  const articles = count(report, 'documents') ?? stats[0].articles;
  const clusters = count(clustering, 'clusters');
  const duplicatesRemoved = count(clustering, 'duplicatesRemoved');
  const root = resolve(out);
  return {
    command,
    out: root,
    articles,
    rejected: count(stage('read'), 'rejected'),
    stories: duplicatesRemoved === null || outcome.nightly !== undefined ? null : articles - duplicatesRemoved,
    clusters,
    clusteredArticles: count(report, 'clusteredArticles') ?? (clusters === null || duplicatesRemoved === null ? null : clusters + duplicatesRemoved),
    duplicatesRemoved,
    verifiedPairs: count(clustering, 'verifiedPairs'),
    seconds: Number(seconds.toFixed(3)),
    reports: report === undefined ? null : Object.fromEntries(REPORT_FILES.map((file) => [reportKey(file), join(root, file)])),
    nightly: outcome.nightly ?? null,
    stages: stats,
  };
}

/** documents.csv -> documents, search-updates.ndjson -> searchUpdates. */
const reportKey = (file: string) => file.replace(/\.[^.]*$/, '').replace(/-(\w)/g, (_, c: string) => c.toUpperCase());

const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

/** The last line of a run: what came in, what came out, how long it took, where to look. */
export function summaryLine(s: RunSummary): string {
  let line = `neardup: ${plural(s.articles, 'article')}`;
  if (s.rejected !== null) line += ` (${s.rejected.toLocaleString('en-US')} rejected)`;
  if (s.clusters !== null && s.duplicatesRemoved !== null) {
    const found = [`${plural(s.clusters, 'cluster')} of 2+ articles`, `${plural(s.duplicatesRemoved, 'duplicate')} removed`];
    if (s.stories !== null) found.unshift(plural(s.stories, 'story', 'stories'));
    line += ` -> ${found.join(', ')}`;
  }
  if (s.nightly !== null) line += `; ${s.nightly.runId}: ${s.nightly.newArticles.toLocaleString('en-US')} new, ${plural(s.nightly.merges, 'merge')}`;
  line += `, in ${s.seconds.toFixed(2)} s`;
  if (s.reports === null) return `${line}; stage files in ${join(s.out, 'work')}`;
  return `${line}; reports in ${s.out}${REPORT_FILES.includes('report.html') ? ' (open report.html)' : ''}`;
}

function stageLine(s: StageStats): string {
  const counts = Object.entries(s)
    .filter(([key, value]) => !['stage', 'seconds', 'articlesPerSecond', 'options'].includes(key) && typeof value !== 'object')
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
  return `${s.stage.padEnd(10)} ${s.seconds.toFixed(3).padStart(8)} s ${String(s.articlesPerSecond).padStart(9)} articles/s  ${counts}`;
}

/** Prints what a command did: one JSON object with --json, nothing else with --quiet, else lines for people. */
function printOutcome(command: string, out: string, outcome: Outcome, seconds: number, json: boolean, quiet: boolean): void {
  if ('scores' in outcome) {
    if (json) process.stdout.write(JSON.stringify(outcome.scores, null, 2) + '\n');
    else if (!quiet) process.stdout.write(`${outcome.scores.dataset}\n${formatScores(outcome.scores.clustering, outcome.scores.pairs)}\n`);
    return;
  }
  const summary = summaryOf(command, out, outcome, seconds);
  if (json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  else if (!quiet) process.stdout.write([...outcome.stats.map(stageLine), summaryLine(summary)].join('\n') + '\n');
}

function parseNumber(flag: string, value: string | undefined, check: (x: number) => boolean, expected: string): number | undefined {
  if (value === undefined) return undefined;
  const x = Number(value);
  if (value.trim() === '' || !Number.isFinite(x) || !check(x)) throw new UsageError(`--${flag} ${value}: expected ${expected}`, flag);
  return x;
}

function parseSwitch(flag: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'on' || value === 'off') return value === 'on';
  throw new UsageError(`--${flag} ${value}: expected on or off`, flag);
}

const isFraction = (x: number) => x > 0 && x < 1;
const isWhole = (min: number) => (x: number) => Number.isInteger(x) && x >= min;

export function optionsFrom(values: Values): PipelineOptions {
  const get = (flag: string) => values[flag] as string | undefined;
  const threshold = parseNumber('threshold', get('threshold'), (x) => x > 0 && x <= 1, 'a number in (0, 1]');
  const measure = get('measure');
  if (measure !== undefined && !(SIMILARITY_MEASURES as readonly string[]).includes(measure)) {
    throw new UsageError(`--measure ${measure}: expected one of ${SIMILARITY_MEASURES.join(', ')}`, 'measure');
  }
  const weighting = get('weighting');
  if (weighting !== undefined && !(WEIGHTINGS as readonly string[]).includes(weighting)) {
    throw new UsageError(`--weighting ${weighting}: expected one of ${WEIGHTINGS.join(', ')}`, 'weighting');
  }
  const linkage = get('linkage');
  if (linkage !== undefined && !(LINKAGES as readonly string[]).includes(linkage)) {
    throw new UsageError(`--linkage ${linkage}: expected one of ${LINKAGES.join(', ')}`, 'linkage');
  }
  const engine = get('engine');
  if (engine !== undefined && !(ENGINE_NAMES as readonly string[]).includes(engine)) {
    throw new UsageError(`--engine ${engine}: expected one of ${ENGINE_NAMES.join(', ')}`, 'engine');
  }
  const ngrams = get('word-ngrams');
  const wordNgrams =
    ngrams === undefined ? undefined : ngrams.trim() === '' || ngrams === '0' ? [] : ngrams.split(',').map((x) => parseNumber('word-ngrams', x, (n) => isWhole(1)(n) && n <= 16, 'sizes 1..16, comma-separated')!);
  const shingles = {
    wordNgrams: wordNgrams ?? D.shingles.wordNgrams,
    charNgram: parseNumber('char-ngram', get('char-ngram'), isWhole(0), 'a whole number >= 0') ?? D.shingles.charNgram,
    stopwords: get('stopwords') ?? D.shingles.stopwords,
    minWordLength: parseNumber('min-word-length', get('min-word-length'), isWhole(1), 'a whole number >= 1') ?? D.shingles.minWordLength,
    facts: parseSwitch('facts', get('facts')) ?? D.shingles.facts,
  };
  if (shingles.wordNgrams.length === 0 && shingles.charNgram === 0) throw new UsageError('--word-ngrams and --char-ngram are both off: no shingles to compare');
  return {
    shingles,
    weighting: (weighting as Weighting | undefined) ?? D.weighting,
    engine: (engine as EngineName | undefined) ?? D.engine,
    signatureMaxDf: parseNumber('signature-max-df', get('signature-max-df'), isWhole(0), 'a whole number >= 0') ?? D.signatureMaxDf,
    k: parseNumber('k', get('k'), (x) => isWhole(2)(x) && x <= 4096, 'a whole number in 2..4096') ?? D.k,
    seed: parseNumber('seed', get('seed'), (x) => isWhole(0)(x) && x < 2 ** 32, 'a whole number in 0..2^32-1') ?? D.seed,
    threshold: threshold ?? D.threshold,
    measure: (measure as SimilarityMeasure | undefined) ?? D.measure,
    lshThreshold: parseNumber('lsh-threshold', get('lsh-threshold'), isFraction, 'a number in (0, 1)') ?? lshThresholdFor(threshold ?? D.threshold),
    copyThreshold: parseNumber('copy-threshold', get('copy-threshold'), (x) => x === 0 || isFraction(x), 'a number in (0, 1), or 0 for off') ?? D.copyThreshold,
    maxBucketSize: parseNumber('max-bucket-size', get('max-bucket-size'), isWhole(2), 'a whole number >= 2') ?? D.maxBucketSize,
    linkage: (linkage as Linkage | undefined) ?? D.linkage,
    factAgreement: parseNumber('fact-agreement', get('fact-agreement'), (x) => x >= 0 && x <= 1, 'a number in [0, 1]') ?? D.factAgreement,
    groupSimilarity: parseNumber('group-similarity', get('group-similarity'), (x) => x >= 0 && x <= 1, 'a number in [0, 1]') ?? D.groupSimilarity,
    workers: parseNumber('workers', get('workers'), (x) => isWhole(0)(x) && x <= 256, 'a whole number in 0..256') ?? D.workers,
    strict: values.strict === true,
    readConcurrency: parseNumber('concurrency', get('concurrency'), (x) => isWhole(1)(x) && x <= 1024, 'a whole number in 1..1024') ?? D.readConcurrency,
  };
}

const helpLine = (flag: string, description: string) => `  ${flag.padEnd(24)} ${description}`;

function commandHelp(command: Command): string {
  const lines = [`Usage: ${command.usage}`, '', command.summary, '', 'Options:'];
  for (const option of ['out', ...command.options]) {
    const [argument, description] = OPTION_HELP[option];
    lines.push(helpLine(argument === '' ? `--${option}` : `--${option} ${argument}`, description));
  }
  lines.push(
    '',
    'General options:',
    helpLine('--config PATH', `read options from the JSON file PATH (default: ./${CONFIG_FILE} when present)`),
    helpLine('--no-config', `ignore ./${CONFIG_FILE}`),
    helpLine('--json', command.json),
    helpLine('-q, --quiet', 'print nothing but error messages (with --json, only the JSON); the exit code tells the result'),
    helpLine('-h, --help', 'this help'),
    '',
    `Options can also come from ./${CONFIG_FILE} (or --config PATH): a JSON object of long flag names without`,
    '"--" and their values, e.g. {"threshold": 0.12, "word-ngrams": [1, 2], "strict": true}. A flag on the',
    "command line overrides the file; keys of other commands' options are ignored.",
    '',
    'Examples:',
  );
  for (const example of command.examples) lines.push(`  ${example}`);
  lines.push('', 'Exit codes: 0 ok, 1 bad input, 2 usage, 3 the index cannot be used, 4 the run failed (see `neardup --help`).');
  return lines.join('\n') + '\n';
}

function mainHelp(): string {
  const lines = ['Usage: neardup COMMAND [options]', '', 'Find near-duplicate and rewritten news articles and cluster them by story.', '', 'Commands:'];
  for (const [name, command] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(11)} ${command.brief}`);
  lines.push(
    '',
    'The stages read and write DIR/work/, so each can be re-run alone after `neardup run`.',
    "Run `neardup COMMAND --help` for a command's options.",
    '',
    'Every command takes:',
    helpLine('--config PATH', `read options from the JSON file PATH instead of ./${CONFIG_FILE}`),
    helpLine('--no-config', `ignore ./${CONFIG_FILE}`),
    helpLine('--json', 'print one JSON object on stdout: a run summary (eval: the scores)'),
    helpLine('-q, --quiet', 'print nothing but error messages (with --json, only the JSON); the exit code tells the result'),
    helpLine('-h, --help', 'help: this one, or a command\'s'),
    '',
    `Config file: ./${CONFIG_FILE}, read when present (or --config PATH), holds options as JSON, e.g.`,
    '  {"threshold": 0.12, "out": "nightly-out", "workers": 2, "index": "output/index.sqlite"}',
    'Keys are the long flag names without "--"; a flag on the command line overrides the file.',
    '',
    'Examples:',
    '  neardup run seeds --out output',
    '  neardup run feeds/2026-11-24 --index output/index.sqlite --keep-days 30 --quiet',
    '  neardup cluster --out output --threshold 0.1 && neardup report --out output',
    '',
    'Exit codes:',
  );
  for (const [code, meaning] of EXIT_CODES) lines.push(`  ${code}  ${meaning}`);
  return lines.join('\n') + '\n';
}

interface Config {
  /** The file, as named on the command line or found in the current directory. */
  file: string;
  /** Its keys as flag values, as parseArgs would give them. */
  values: Record<string, string | true>;
}

/** neardup.config.json, or --config PATH; undefined when there is none (or --no-config). */
function loadConfig(values: Values): Config | undefined {
  const given = values.config as string | undefined;
  if (given !== undefined && values['no-config'] === true) throw new UsageError('--config and --no-config exclude each other');
  if (given === undefined && (values['no-config'] === true || !existsSync(CONFIG_FILE))) return undefined;
  const file = given ?? CONFIG_FILE;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new UsageError(`${file}: cannot read the config file: ${reason}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(jsonError(file, text, error as Error));
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`${file}: expected a JSON object of option names and values, e.g. {"threshold": 0.12, "out": "nightly-out"}`);
  }
  const config: Config = { file, values: {} };
  for (const [key, value] of Object.entries(parsed)) {
    const flag = configValue(file, key, value);
    if (flag !== undefined) config.values[key] = flag;
  }
  return config;
}

/** "FILE:LINE:COLUMN: not valid JSON: what", from JSON.parse's "... in JSON at position N". */
function jsonError(file: string, text: string, error: Error): string {
  const match = /\s*(?:in JSON )?at position (\d+)/.exec(error.message);
  if (match === null) return `${file}: not valid JSON: ${error.message}`;
  const before = text.slice(0, Number(match[1])).split('\n');
  return `${file}:${before.length}:${before.at(-1)!.length + 1}: not valid JSON: ${error.message.replace(match[0], '')}`;
}

/** A config value as the string (or true) the flag would have; undefined for false. Checks its JSON type only. */
function configValue(file: string, key: string, value: unknown): string | true | undefined {
  if (!(key in OPTION_HELP)) {
    if (key in GENERAL_OPTIONS) throw new UsageError(`${file}: "${key}" is for the command line only, not the config file`);
    throw new UsageError(`${file}: unknown key "${key}"; ${suggest(key)}`);
  }
  const wrongType = (expected: string) => new UsageError(`${file}: "${key}": expected ${expected}, not ${JSON.stringify(value)}`);
  if (BOOLEAN_OPTIONS.has(key)) {
    if (typeof value !== 'boolean') throw wrongType('true or false');
    return value ? true : undefined;
  }
  if (key === 'facts' && typeof value === 'boolean') return value ? 'on' : 'off';
  if (LIST_OPTIONS.has(key) && Array.isArray(value)) {
    if (!value.every((item) => typeof item === 'number' || typeof item === 'string')) throw wrongType('an array of numbers or strings');
    return value.join(',');
  }
  if (typeof value === 'number' || typeof value === 'string') return String(value);
  throw wrongType(LIST_OPTIONS.has(key) ? 'a string, a number or an array' : key === 'facts' ? '"on", "off", true or false' : 'a number or a string');
}

/** The closest valid key when there is one near enough, else them all. */
function suggest(key: string): string {
  const keys = Object.keys(OPTION_HELP);
  const [closest] = keys.map((k) => [k, editDistance(key.replace(/^-+/, ''), k)] as const).sort((a, b) => a[1] - b[1]);
  if (closest[1] <= Math.max(1, Math.floor(closest[0].length / 3))) return `did you mean "${closest[0]}"?`;
  return `valid keys: ${keys.join(', ')}`;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next.push(Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
    row = next;
  }
  return row[b.length];
}

/** The message for an error, and the exit code it gets. */
function failure(error: unknown, config: Config | undefined, fromConfig: Set<string>): [string, number] {
  if (error instanceof UsageError) {
    // A bad value from the config file says so: the command line may not even name that flag.
    const inConfig = config !== undefined && error.flag !== undefined && fromConfig.has(error.flag);
    return [inConfig ? `${config.file}: ${error.message}` : error.message, EXIT.usage];
  }
  if (error instanceof InputError) return [`bad input: ${error.message}`, EXIT.badInput];
  if (error instanceof IndexError) return [error.message, EXIT.index];
  return [(error as Error).stack ?? String(error), EXIT.failed];
}

export async function main(argv: string[]): Promise<number> {
  const started = performance.now();
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? COMMANDS[rest[0]] : undefined;
    process.stdout.write(topic === undefined ? mainHelp() : commandHelp(topic));
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS[name];
  let config: Config | undefined;
  const fromConfig = new Set<string>();
  try {
    if (!command) throw new UsageError(`unknown command "${name}"; commands: ${Object.keys(COMMANDS).join(', ')}`);
    const optionSpec: Record<string, { type: 'string' | 'boolean'; short?: string }> = { ...GENERAL_OPTIONS, out: { type: 'string' } };
    for (const option of command.options) optionSpec[option] = { type: BOOLEAN_OPTIONS.has(option) ? 'boolean' : 'string' };
    let parsed;
    try {
      parsed = parseArgs({ args: rest, options: optionSpec, allowPositionals: true, strict: true });
    } catch (error) {
      throw new UsageError(`${(error as Error).message.split('\n')[0]}; see \`neardup ${name} --help\``);
    }
    if (parsed.values.help) {
      process.stdout.write(commandHelp(command));
      return EXIT.ok;
    }
    const json = parsed.values.json === true;
    const quiet = parsed.values.quiet === true;
    setProgressEnabled(!quiet);
    config = loadConfig(parsed.values);
    // The file's keys for this command (others' are ignored), under the command line's flags.
    const values: Values = {};
    for (const [key, value] of Object.entries(config?.values ?? {})) {
      if ((key === 'out' || command.options.includes(key)) && parsed.values[key] === undefined) {
        values[key] = value;
        fromConfig.add(key);
      }
    }
    Object.assign(values, parsed.values);
    const out = (values.out as string | undefined) ?? (name === 'eval' ? join('output', 'eval', basename(resolve(parsed.positionals[0] ?? '.'))) : 'output');
    const outcome = await command.run(parsed.positionals, optionsFrom(values), out, values);
    printOutcome(name, out, outcome, (performance.now() - started) / 1000, json, quiet);
    return EXIT.ok;
  } catch (error) {
    // A bar left on the line would run into the message.
    doneAll();
    const [message, code] = failure(error, config, fromConfig);
    process.stderr.write(`neardup: ${message}\n`);
    return code;
  } finally {
    doneAll();
  }
}

// Run only as a program, not when a test imports this module for `optionsFrom` or `main`.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
