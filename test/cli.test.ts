import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../pipeline/cli.js', import.meta.url));
const SEEDS = fileURLToPath(new URL('../../seeds', import.meta.url));
const neardup = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

async function scratch(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'neardup-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('--help lists every command and exits 0; each command has its own help', () => {
  const help = neardup('--help');
  assert.equal(help.status, 0);
  for (const command of ['run', 'read', 'shingle', 'sign', 'candidates', 'cluster', 'report', 'eval']) assert.match(help.stdout, new RegExp(`\\n  ${command} `));
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

test('run --json prints every stage with its counts', async (t) => {
  const out = await scratch(t);
  const result = neardup('run', SEEDS, '--out', out, '--json');
  assert.equal(result.status, 0, result.stderr);
  const stages = JSON.parse(result.stdout) as Array<{ stage: string; articles: number }>;
  assert.deepEqual(stages.map((s) => s.stage), ['read', 'shingle', 'sign', 'candidates', 'cluster', 'report']);
  assert.ok(stages.every((s) => s.articles === 5));
});
