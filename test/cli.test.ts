import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RunSummary } from '../pipeline/cli.js';

const CLI = fileURLToPath(new URL('../pipeline/cli.js', import.meta.url));
const SEEDS = fileURLToPath(new URL('../../seeds', import.meta.url));
const neardup = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
/** The CLI run in `cwd`, where it looks for neardup.config.json. */
const neardupIn = (cwd: string, ...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd });
const COMMANDS = ['run', 'read', 'shingle', 'sign', 'candidates', 'cluster', 'report', 'eval'];

async function scratch(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'neardup-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('--help lists every command and exits 0; each command has its own help', () => {
  const help = neardup('--help');
  assert.equal(help.status, 0);
  for (const command of COMMANDS) assert.match(help.stdout, new RegExp(`\\n  ${command} `));
  const runHelp = neardup('run', '--help');
  assert.equal(runHelp.status, 0);
  assert.match(runHelp.stdout, /--threshold T/);
  assert.match(runHelp.stdout, /Examples:/);
});

test('wrong usage exits 2 with a one-line message saying what to do', () => {
  const unknown = neardup('frobnicate');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"; commands: run, /);
  const badValue = neardup('run', SEEDS, '--threshold', '2');
  assert.equal(badValue.status, 2);
  assert.match(badValue.stderr, /--threshold 2: expected a number in \(0, 1\]/);
  const noInput = neardup('run');
  assert.equal(noInput.status, 2);
});

test('bad input is skipped and listed in rejected.csv; with --strict it exits 1 naming the file and line, and writes no reports', async (t) => {
  const dir = await scratch(t);
  const feed = join(dir, 'feed.jsonl');
  await writeFile(feed, '{"id": "a", "text": "Drones over Kaluga"}\n{"id": "b"}\n{"id": "c", "text": "Airports closed in Moscow"}\n');
  const lenient = neardup('run', feed, '--out', join(dir, 'out'));
  assert.equal(lenient.status, 0, lenient.stderr);
  const rejected = await readFile(join(dir, 'out', 'rejected.csv'), 'utf8');
  assert.equal(rejected.split('\n')[0], 'file,line,id,action,reason');
  assert.match(rejected, /feed\.jsonl,2,,skipped,"""text"" must be a string/);
  assert.equal((await readFile(join(dir, 'out', 'documents.csv'), 'utf8')).trim().split('\n').length, 3, 'header and the two good articles');
  // A clean re-run leaves a rejected.csv with its header only: never a stale list.
  await writeFile(feed, '{"id": "a", "text": "Drones over Kaluga"}\n');
  assert.equal(neardup('run', feed, '--out', join(dir, 'out')).status, 0);
  assert.equal(await readFile(join(dir, 'out', 'rejected.csv'), 'utf8'), 'file,line,id,action,reason\n');
  await writeFile(feed, '{"id": "a", "text": "Drones over Kaluga"}\n{"id": "b"}\n');
  const strict = neardup('run', feed, '--out', join(dir, 'strict'), '--strict');
  assert.equal(strict.status, 1);
  assert.match(strict.stderr, /feed\.jsonl:2: "text" must be a string/);
  assert.ok(!existsSync(join(dir, 'strict', 'documents.csv')));
});

test('every command\'s help lists --quiet, --json, --config, the config file and examples; the main help lists the exit codes', () => {
  for (const command of COMMANDS) {
    const help = neardup(command, '--help');
    assert.equal(help.status, 0, command);
    for (const flag of [/-q, --quiet/, /--json/, /--config PATH/, /--no-config/, /neardup\.config\.json/, /Examples:\n  neardup /]) assert.match(help.stdout, flag, command);
  }
  const main = neardup('--help').stdout;
  for (const [code, meaning] of [[0, 'ok'], [1, 'bad input'], [2, 'usage'], [3, 'the index cannot be used'], [4, 'the run failed']]) {
    assert.match(main, new RegExp(`\\n  ${code}  ${meaning}`));
  }
  assert.match(main, /Config file: \.\/neardup\.config\.json/);
});

/** What --json prints (a type-only import: the CLI module is not loaded). */
type Summary = RunSummary;

test('run --json prints one summary object: the counts, the absolute report paths and every stage', async (t) => {
  const out = await scratch(t);
  const result = neardup('run', SEEDS, '--out', out, '--json');
  assert.equal(result.status, 0, result.stderr);
  const summary = JSON.parse(result.stdout) as Summary;
  assert.equal(summary.command, 'run');
  assert.equal(summary.out, out);
  assert.deepEqual(
    [summary.articles, summary.rejected, summary.stories, summary.clusters, summary.clusteredArticles, summary.duplicatesRemoved, summary.verifiedPairs],
    [5, 0, 3, 1, 3, 2, 3],
  );
  assert.equal(summary.reports?.documents, join(out, 'documents.csv'));
  assert.equal(summary.reports?.searchUpdates, join(out, 'search-updates.ndjson'));
  assert.equal(summary.nightly, null);
  assert.ok(summary.seconds > 0);
  assert.deepEqual(summary.stages.map((s) => s.stage), ['read', 'shingle', 'sign', 'candidates', 'cluster', 'report']);
  assert.ok(summary.stages.every((s) => s.articles === 5));
  // A stage alone: the counts it knows, null for the rest.
  const cluster = JSON.parse(neardup('cluster', '--out', out, '--json').stdout) as Summary;
  assert.equal(cluster.command, 'cluster');
  assert.deepEqual([cluster.articles, cluster.rejected, cluster.clusters, cluster.duplicatesRemoved, cluster.reports], [5, null, 1, 2, null]);
});

test('by default a line per stage, then a one-line summary', async (t) => {
  const out = await scratch(t);
  const result = neardup('run', SEEDS, '--out', out);
  assert.equal(result.status, 0, result.stderr);
  const lines = result.stdout.trimEnd().split('\n');
  assert.deepEqual(lines.slice(0, -1).map((line) => line.split(' ')[0]), ['read', 'shingle', 'sign', 'candidates', 'cluster', 'report']);
  assert.match(lines.at(-1)!, /^neardup: 5 articles \(0 rejected\) -> 3 stories, 1 cluster of 2\+ articles, 2 duplicates removed, in \d+\.\d\d s; reports in /);
  assert.ok(lines.at(-1)!.includes(`reports in ${out}`));
});

test('--quiet prints nothing, on stdout or stderr, and the exit code tells the result; errors are still printed', async (t) => {
  const out = await scratch(t);
  const quiet = neardup('run', SEEDS, '--out', out, '--quiet');
  assert.equal(quiet.status, 0);
  assert.equal(quiet.stdout, '');
  assert.equal(quiet.stderr, '');
  assert.ok(existsSync(join(out, 'documents.csv')));
  assert.equal(neardup('cluster', '--out', out, '-q').stdout, '');
  const failed = neardup('run', join(out, 'no-such-feed'), '--out', out, '-q');
  assert.equal(failed.status, 1);
  assert.equal(failed.stdout, '');
  assert.match(failed.stderr, /no-such-feed/);
});

test('a missing input exits 1; an index built with other options exits 3, saying which option differs (--json of a nightly run: its summary)', async (t) => {
  const dir = await scratch(t);
  const missing = neardup('run', join(dir, 'no-such-feed'), '--out', join(dir, 'out'));
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^neardup: bad input: .*no-such-feed/);
  const noStage = neardup('cluster', '--out', join(dir, 'nothing-here'));
  assert.equal(noStage.status, 1, 'a stage whose input file was never made');
  assert.match(noStage.stderr, /shingles\.bin: does not exist: run `neardup shingle`/);
  const index = join(dir, 'index.sqlite');
  const first = neardup('run', SEEDS, '--out', join(dir, 'night'), '--index', index, '--word-ngrams', '1', '--json');
  assert.equal(first.status, 0, first.stderr);
  const nightly = (JSON.parse(first.stdout) as Summary).nightly;
  assert.deepEqual([nightly?.runId, nightly?.newArticles, nightly?.merges], ['run-000001', 5, 0]);
  const refused = neardup('run', SEEDS, '--out', join(dir, 'night'), '--index', index, '--word-ngrams', '1,2');
  assert.equal(refused.status, 3);
  assert.match(refused.stderr, /the index was built with shingles = .*"wordNgrams":\[1\]/);
  assert.doesNotMatch(refused.stderr, /at .*\.js/, 'a message, not a stack trace');
});

/** The options the cluster stage ran with, from run.json. */
const clusterOptions = async (out: string) =>
  (JSON.parse(await readFile(join(out, 'run.json'), 'utf8')) as { stages: { cluster: { options: { threshold: number } } } }).stages.cluster.options;
const clusterRows = async (out: string) => (await readFile(join(out, 'clusters.csv'), 'utf8')).trimEnd().split('\n').slice(1);

test('neardup.config.json in the current directory sets options; a flag overrides it; --no-config ignores it', async (t) => {
  const dir = await scratch(t);
  const defaults = join(dir, 'defaults');
  assert.equal(neardup('run', SEEDS, '--out', defaults, '-q').status, 0);
  const threshold = (await clusterOptions(defaults)).threshold;
  assert.equal((await clusterRows(defaults)).length, 1, 'the seeds\' one cluster');
  // A threshold no rewrite reaches, and the output folder, from the file.
  await writeFile(join(dir, 'neardup.config.json'), JSON.stringify({ threshold: 0.9, out: 'from-config' }));
  assert.equal(neardupIn(dir, 'run', SEEDS, '-q').status, 0);
  const configured = join(dir, 'from-config');
  assert.equal((await clusterOptions(configured)).threshold, 0.9);
  assert.deepEqual(await clusterRows(configured), [], 'no pair is that similar');
  // The command line wins over the file.
  assert.equal(neardupIn(dir, 'run', SEEDS, '--threshold', String(threshold), '-q').status, 0);
  assert.equal((await clusterOptions(configured)).threshold, threshold);
  assert.equal((await clusterRows(configured)).length, 1);
  assert.equal(neardupIn(dir, 'run', SEEDS, '--out', join(dir, 'flag-out'), '-q').status, 0);
  assert.equal((await clusterOptions(join(dir, 'flag-out'))).threshold, 0.9, '--out from the flag, threshold still from the file');
  assert.equal(neardupIn(dir, 'run', SEEDS, '--no-config', '--out', join(dir, 'no-config'), '-q').status, 0);
  assert.equal((await clusterOptions(join(dir, 'no-config'))).threshold, threshold);
});

test('--config PATH names the file: lists as arrays, booleans; keys of other commands are ignored', async (t) => {
  const dir = await scratch(t);
  const config = join(dir, 'nightly.json');
  const out = join(dir, 'out');
  await writeFile(config, JSON.stringify({ 'word-ngrams': [1, 2], facts: false, strict: true, index: join(dir, 'index.sqlite'), out }));
  // `read` has no --word-ngrams nor --index: the file's are ignored, its --strict and --out taken.
  assert.equal(neardup('read', SEEDS, '--config', config, '-q').status, 0);
  assert.ok(!existsSync(join(dir, 'index.sqlite')));
  const read = JSON.parse(await readFile(join(out, 'work', 'read.stats.json'), 'utf8')) as { options: { strict: boolean } };
  assert.equal(read.options.strict, true);
  const shingle = JSON.parse(neardup('shingle', '--config', config, '--json').stdout) as { stages: Array<{ options: { wordNgrams: number[]; facts: boolean } }> };
  assert.deepEqual(shingle.stages[0].options.wordNgrams, [1, 2]);
  assert.equal(shingle.stages[0].options.facts, false);
  const missing = neardup('run', SEEDS, '--config', join(dir, 'no-such.json'));
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /no-such\.json: cannot read the config file: no such file/);
});

test('a config file with an unknown key, a bad value or bad JSON exits 2, naming the file and what is wrong', async (t) => {
  const dir = await scratch(t);
  const file = join(dir, 'neardup.config.json');
  const run = () => neardupIn(dir, 'run', SEEDS, '--out', join(dir, 'out'));
  for (const [content, message] of [
    ['{"treshold": 0.2}', /^neardup: neardup\.config\.json: unknown key "treshold"; did you mean "threshold"\?\n$/],
    ['{"colour": "blue"}', /neardup\.config\.json: unknown key "colour"; valid keys: out, threshold, /],
    ['{"threshold": 2}', /^neardup: neardup\.config\.json: --threshold 2: expected a number in \(0, 1\]\n$/],
    ['{"strict": "yes"}', /neardup\.config\.json: "strict": expected true or false, not "yes"/],
    ['{"quiet": true}', /neardup\.config\.json: "quiet" is for the command line only/],
    ['{\n  "threshold": 0.2\n  "k": 64\n}', /^neardup: neardup\.config\.json:3:3: not valid JSON: /],
    ['[0.2]', /neardup\.config\.json: expected a JSON object/],
  ] as const) {
    await writeFile(file, content);
    const result = run();
    assert.equal(result.status, 2, content);
    assert.match(result.stderr, message, content);
  }
  assert.ok(!existsSync(join(dir, 'out')), 'nothing run');
  // Help works whatever the file holds.
  assert.equal(neardupIn(dir, 'run', '--help').status, 0);
  // A bad value on the command line is the command line's, even with a config file.
  await mkdir(join(dir, 'fine'));
  await writeFile(join(dir, 'fine', 'neardup.config.json'), '{"threshold": 0.2}');
  assert.match(neardupIn(join(dir, 'fine'), 'run', SEEDS, '--k', '1').stderr, /^neardup: --k 1: expected/);
});

test('the README shows the real --help text', async () => {
  const readme = await readFile(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
  const block = /```text\n(Usage: neardup COMMAND[\s\S]*?)```/.exec(readme);
  assert.ok(block, 'README has the main help in a text block');
  assert.equal(block[1], neardup('--help').stdout, 'paste the output of `node dist/pipeline/cli.js --help` into the README');
});
