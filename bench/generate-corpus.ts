#!/usr/bin/env node
/**
 * `npm run corpus -- --n N --out FILE.jsonl [--seed S] [--rewrite-rate R] [--base PATH]`: writes a labelled
 * corpus of N articles built from the Reuters-21578 newswire to FILE.jsonl and labels.csv beside it, the
 * layout `neardup eval DIR` reads. Same arguments, byte-identical files. The scheme is in corpus-lib.ts.
 * Exit codes: 0 ok, 1 failed (unreadable base corpus, write error), 2 wrong usage.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateCorpus, loadBase } from './corpus-lib.js';

const DEFAULT_BASE = '../shared/data/reuters21578/articles.jsonl';
const MAX_N = 100_000_000;

const USAGE = `usage: npm run corpus -- --n N --out FILE.jsonl [--seed S] [--rewrite-rate R] [--base PATH]

Writes N generated news articles ({"id","title","text","published_at"} per line, ids g0000001...) to
FILE.jsonl and their story labels (id,cluster) to labels.csv in the same directory, so that
\`neardup eval DIR\` can score a run on them. Stories are written from real Reuters-21578 articles
(prose afresh from a word chain of each topic, tables kept, names and figures re-drawn); a share of the
articles are rewrites of one another in clusters of 2 to 10. Same arguments give byte-identical files.

  --n N              number of articles, 1..${MAX_N.toLocaleString('en-US')} (required)
  --out FILE         the articles file, e.g. /tmp/c1m/articles.jsonl (required)
  --seed S           random seed, 0..4294967295 (default: 1)
  --rewrite-rate R   fraction of articles in a cluster of 2 or more rewrites, 0..1 (default: 0.3)
  --base PATH        base corpus JSONL with "title" and "text" (default: ${DEFAULT_BASE},
                     relative to the current directory)
  --help             this text

example: npm run corpus -- --n 1000000 --out /tmp/c1m/articles.jsonl && neardup eval /tmp/c1m`;

class UsageError extends Error {}

function integer(flag: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}, got "${value}"`);
  return Number(value);
}

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        n: { type: 'string' },
        out: { type: 'string' },
        seed: { type: 'string', default: '1' },
        'rewrite-rate': { type: 'string', default: '0.3' },
        base: { type: 'string', default: DEFAULT_BASE },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    return usage((error as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  try {
    if (values.n === undefined) throw new UsageError('--n is required');
    if (values.out === undefined || values.out === '') throw new UsageError('--out is required');
    const n = integer('n', values.n, 1, MAX_N);
    const seed = integer('seed', values.seed, 0, 0xffffffff);
    const rate = values['rewrite-rate'];
    if (!/^(?:0|1|0?\.\d+|1\.0*)$/.test(rate)) throw new UsageError(`--rewrite-rate must be a number from 0 to 1, got "${rate}"`);
    const out = resolve(values.out);
    if (basename(out) === 'labels.csv') throw new UsageError('--out cannot be labels.csv: the labels are written beside the articles under that name');
    if (existsSync(out) && statSync(out).isDirectory()) throw new UsageError(`--out ${values.out} is a directory; give the articles file, e.g. ${join(values.out, 'articles.jsonl')}`);
    const basePath = resolve(values.base);
    if (!existsSync(basePath)) throw new UsageError(`base corpus not found: ${basePath} (give it with --base PATH)`);

    const started = process.hrtime.bigint();
    const base = loadBase(readFileSync(basePath, 'utf8'), basePath);
    const summary = await generateCorpus({ n, out, seed, rewriteRate: Number(rate), basePath }, base);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(
      `wrote ${n} articles, ${summary.stories} stories, ${summary.clustered} articles (${((100 * summary.clustered) / n).toFixed(1)}%) in clusters of 2-10\n` +
        `  ${out}\n  ${summary.labels}\n  ${seconds.toFixed(1)} s, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
    );
    return 0;
  } catch (error) {
    if (error instanceof UsageError) return usage(error.message);
    console.error(`generate-corpus: ${(error as Error).message}`);
    return 1;
  }
}

function usage(message: string): number {
  console.error(`generate-corpus: ${message}\nRun with --help for usage.`);
  return 2;
}

process.exitCode = await main(process.argv.slice(2));
