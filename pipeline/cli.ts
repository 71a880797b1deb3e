#!/usr/bin/env node
/**
 * `neardup`: a thin shell over the stages. Parses flags into PipelineOptions, runs the stage(s), prints a
 * summary. Exit codes: 0 ok (bad inputs skipped are listed in rejected.csv), 1 bad input under --strict, a
 * missing input or a failed run, 2 wrong usage.
 */
import { realpathSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { LINKAGES, type Linkage, MIN_FACTS, SIMILARITY_MEASURES, type SimilarityMeasure } from './cluster.js';
import { InputError, UsageError } from './errors.js';
import { formatScores } from './evaluate.js';
import { evaluateDataset } from './evaluate-dataset.js';
import { IndexError } from './index-store.js';
import { runNightly } from './nightly.js';
import { DEFAULT_OPTIONS, LSH_SHARE, type PipelineOptions, lshThresholdFor } from './options.js';
import { ENGINE_NAMES, type EngineName } from './signature.js';
import { WEIGHTINGS, type Weighting } from './weights.js';
import {
  type StageStats,
  candidatesStage,
  clusterStage,
  readStage,
  reportStage,
  runPipeline,
  shingleStage,
  signatureStage,
} from './stages.js';

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

interface Command {
  usage: string;
  /** One line for the command list. */
  brief: string;
  summary: string;
  options: string[];
  examples: string[];
  run(positionals: string[], options: PipelineOptions, out: string, json: boolean, values: Record<string, string | boolean | undefined>): Promise<void>;
}

const COMMANDS: Record<string, Command> = {
  run: {
    usage: 'neardup run INPUT... [--out DIR] [options]',
    brief: 'run every stage on INPUT... and write the reports',
    summary: 'Run every stage: read INPUT (files or directories of .txt, .jsonl, RSS/Atom .xml) and write the reports.',
    options: [...ALL_PIPELINE_OPTIONS, ...NIGHTLY_OPTIONS],
    examples: ['neardup run seeds --out output', 'neardup run feeds/ today.jsonl --threshold 0.1', 'neardup run feeds/2026-11-24 --index output/index.sqlite --keep-days 30'],
    async run(positionals, options, out, json, values) {
      if (positionals.length === 0) throw new UsageError('run needs at least one INPUT file or directory');
      const index = values.index as string | undefined;
      if (index === undefined) {
        const stray = NIGHTLY_OPTIONS.find((flag) => values[flag] !== undefined);
        if (stray !== undefined) throw new UsageError(`--${stray} needs --index PATH`);
        printStats(await runPipeline(positionals, out, options), out, json);
        return;
      }
      const keepDays = parseNumber('keep-days', values['keep-days'] as string | undefined, isWhole(1), 'a whole number of days >= 1');
      const runId = values['run-id'] as string | undefined;
      if (runId !== undefined && !/^[\w.:-]{1,64}$/.test(runId)) throw new UsageError(`--run-id ${runId}: expected 1-64 letters, digits, or . _ : -`);
      printStats(await runNightly(positionals, out, options, { index, update: values.update === true, keepDays, runId }), out, json);
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
  report: stageCommand('report', 'Write documents.csv, clusters.csv, pairs.csv, deduplicated.jsonl and run.json into DIR.', 'neardup report --out output', false, (_p, _o, out) =>
    reportStage(out),
  ),
  eval: {
    usage: 'neardup eval DATASET_DIR [--out DIR] [options]',
    brief: 'run on a labelled dataset and score the clusters',
    summary:
      'Run the pipeline on DATASET_DIR/articles.jsonl and score it against DATASET_DIR/labels.csv (pairwise precision, recall, F1, ARI, largest cluster) and, when present, DATASET_DIR/pairs.csv (F1, MCC).',
    options: ALL_PIPELINE_OPTIONS,
    examples: ['neardup eval ../shared/data/ecbplus-dev', 'neardup eval ../shared/data/counter-dev --json'],
    async run(positionals, options, out, json) {
      if (positionals.length !== 1) throw new UsageError('eval needs exactly one DATASET_DIR');
      const dataset = positionals[0];
      const scores = await evaluateDataset(dataset, out, options);
      if (json) process.stdout.write(JSON.stringify(scores, null, 2) + '\n');
      else process.stdout.write(`${dataset}\n${formatScores(scores.clustering, scores.pairs)}\n`);
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
    examples: [example],
    async run(positionals, options, out, json) {
      if (takesInputs && positionals.length === 0) throw new UsageError(`${name} needs at least one INPUT file or directory`);
      if (!takesInputs && positionals.length > 0) throw new UsageError(`${name} takes no INPUT; it reads ${out}/work`);
      printStats([await stage(positionals, options, out)], out, json);
    },
  };
}

function printStats(stats: StageStats[], out: string, json: boolean): void {
  if (json) {
    process.stdout.write(JSON.stringify(stats, null, 2) + '\n');
    return;
  }
  for (const s of stats) {
    const counts = Object.entries(s)
      .filter(([key, value]) => !['stage', 'seconds', 'articlesPerSecond', 'options'].includes(key) && typeof value !== 'object')
      .map(([key, value]) => `${key}=${value}`)
      .join(' ');
    process.stdout.write(`${s.stage.padEnd(10)} ${s.seconds.toFixed(3).padStart(8)} s ${String(s.articlesPerSecond).padStart(9)} articles/s  ${counts}\n`);
  }
  if (stats.some((s) => s.stage === 'report')) process.stdout.write(`reports in ${resolve(out)}\n`);
}

function parseNumber(flag: string, value: string | undefined, check: (x: number) => boolean, expected: string): number | undefined {
  if (value === undefined) return undefined;
  const x = Number(value);
  if (value.trim() === '' || !Number.isFinite(x) || !check(x)) throw new UsageError(`--${flag} ${value}: expected ${expected}`);
  return x;
}

function parseSwitch(flag: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'on' || value === 'off') return value === 'on';
  throw new UsageError(`--${flag} ${value}: expected on or off`);
}

const isFraction = (x: number) => x > 0 && x < 1;
const isWhole = (min: number) => (x: number) => Number.isInteger(x) && x >= min;

export function optionsFrom(values: Record<string, string | boolean | undefined>): PipelineOptions {
  const get = (flag: string) => values[flag] as string | undefined;
  const threshold = parseNumber('threshold', get('threshold'), (x) => x > 0 && x <= 1, 'a number in (0, 1]');
  const measure = get('measure');
  if (measure !== undefined && !(SIMILARITY_MEASURES as readonly string[]).includes(measure)) {
    throw new UsageError(`--measure ${measure}: expected one of ${SIMILARITY_MEASURES.join(', ')}`);
  }
  const weighting = get('weighting');
  if (weighting !== undefined && !(WEIGHTINGS as readonly string[]).includes(weighting)) {
    throw new UsageError(`--weighting ${weighting}: expected one of ${WEIGHTINGS.join(', ')}`);
  }
  const linkage = get('linkage');
  if (linkage !== undefined && !(LINKAGES as readonly string[]).includes(linkage)) {
    throw new UsageError(`--linkage ${linkage}: expected one of ${LINKAGES.join(', ')}`);
  }
  const engine = get('engine');
  if (engine !== undefined && !(ENGINE_NAMES as readonly string[]).includes(engine)) {
    throw new UsageError(`--engine ${engine}: expected one of ${ENGINE_NAMES.join(', ')}`);
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
  lines.push(helpLine('--json', 'print the stage statistics (or the scores) as JSON'), helpLine('-h, --help', 'this help'), '', 'Examples:');
  for (const example of command.examples) lines.push(`  ${example}`);
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
    'Exit codes: 0 ok (skipped bad inputs are listed in DIR/rejected.csv), 1 bad input under --strict, a missing input or a failed run, 2 wrong usage.',
  );
  return lines.join('\n') + '\n';
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  try {
    if (!command) throw new UsageError(`unknown command "${name}"; commands: ${Object.keys(COMMANDS).join(', ')}`);
    const optionSpec: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
      out: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    };
    for (const option of command.options) optionSpec[option] = { type: BOOLEAN_OPTIONS.has(option) ? 'boolean' : 'string' };
    let parsed;
    try {
      parsed = parseArgs({ args: rest, options: optionSpec, allowPositionals: true, strict: true });
    } catch (error) {
      throw new UsageError(`${(error as Error).message.split('\n')[0]}; see \`neardup ${name} --help\``);
    }
    if (parsed.values.help) {
      process.stdout.write(commandHelp(command));
      return 0;
    }
    const out = (parsed.values.out as string | undefined) ?? (name === 'eval' ? join('output', 'eval', basename(resolve(parsed.positionals[0] ?? '.'))) : 'output');
    await command.run(parsed.positionals, optionsFrom(parsed.values), out, Boolean(parsed.values.json), parsed.values);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`neardup: ${error.message}\n`);
      return 2;
    }
    if (error instanceof IndexError) {
      process.stderr.write(`neardup: ${error.message}\n`);
      return 1;
    }
    if (error instanceof InputError) {
      process.stderr.write(`neardup: bad input: ${error.message}\n`);
      return 1;
    }
    process.stderr.write(`neardup: ${(error as Error).stack ?? String(error)}\n`);
    return 1;
  }
}

// Run only as a program, not when a test imports this module for `optionsFrom` or `main`.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
