/**
 * Killing a run at any moment (SIGKILL, SIGTERM, SIGINT) leaves OUT with the reports of one complete run:
 * the last one that finished, or none before any has. Runs over two different inputs take turns and are
 * killed at random points (a fixed seed), and after each kill every report must describe the same input.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parse } from 'csv-parse/sync';
import { randomStream } from '../pipeline/hash.js';
import { REPORT_FILES } from '../pipeline/stages.js';

const CLI = fileURLToPath(new URL('../pipeline/cli.js', import.meta.url));
const SEEDS = fileURLToPath(new URL('../../seeds', import.meta.url));
const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** `count` articles made of the seeds' sentences, shuffled: enough work for a run to last a second or so. */
async function corpus(dir: string, prefix: string, count: number, seed: number): Promise<Set<string>> {
  const sentences = (await Promise.all((await readdir(SEEDS)).filter((f) => f.endsWith('.txt')).map((f) => readFile(join(SEEDS, f), 'utf8'))))
    .flatMap((text) => text.split(/(?<=[.!?])\s+/))
    .filter((s) => s.length > 30);
  const random = randomStream(seed);
  const ids = new Set<string>();
  const lines = Array.from({ length: count }, (_, i) => {
    const id = `${prefix}${i}`;
    ids.add(id);
    const text = Array.from({ length: 6 + (random() % 10) }, () => sentences[random() % sentences.length]).join(' ');
    return JSON.stringify({ id, title: `Story ${i}`, text });
  });
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'articles.jsonl'), lines.join('\n') + '\n');
  return ids;
}

/** Runs the CLI; kills it with `signal` after `delay` ms unless it finished. Resolves when it has exited. */
function runUntil(input: string, out: string, delay: number, signal: NodeJS.Signals): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'run', input, '--out', out, '--workers', '1'], { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill(signal), delay);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** Which input OUT's reports describe (undefined: no run has finished), after checking they all agree. */
async function reportedInput(out: string, inputs: Map<string, Set<string>>): Promise<string | undefined> {
  if (!existsSync(join(out, 'current'))) {
    for (const name of REPORT_FILES) assert.ok(!existsSync(join(out, name)), `${name} without any finished run`);
    return undefined;
  }
  const csv = async (name: string) => parse(await readFile(join(out, name), 'utf8'), { columns: true }) as Record<string, string>[];
  const run = JSON.parse(await readFile(join(out, 'run.json'), 'utf8')) as { stages: { read: { options: { inputs: string[] } } } };
  const input = run.stages.read.options.inputs[0];
  const ids = inputs.get(input)!;
  assert.ok(ids, `run.json names a known input (${input})`);
  const documents = await csv('documents.csv');
  assert.deepEqual(new Set(documents.map((d) => d.doc_id)), ids, 'documents.csv is that run\'s');
  for (const c of await csv('clusters.csv')) for (const id of c.member_ids.split(' ')) assert.ok(ids.has(id), `clusters.csv: ${id}`);
  for (const p of await csv('pairs.csv')) assert.ok(ids.has(p.doc_a) && ids.has(p.doc_b), 'pairs.csv');
  for (const line of (await readFile(join(out, 'deduplicated.jsonl'), 'utf8')).trim().split('\n')) assert.ok(ids.has((JSON.parse(line) as { id: string }).id));
  assert.equal((await readFile(join(out, 'rejected.csv'), 'utf8')).split('\n')[0], 'file,line,id,action,reason');
  return input;
}

/** The bytes of every report in OUT, or undefined before any run finished. */
async function snapshot(out: string): Promise<string[] | undefined> {
  if (!existsSync(join(out, 'current'))) return undefined;
  return Promise.all(REPORT_FILES.map((name) => readFile(join(out, name), 'latin1')));
}

test('a run killed at any moment leaves the reports of one complete run, never a mix', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'neardup-crash-'));
  dirs.push(root);
  const inputs = new Map<string, Set<string>>();
  for (const [name, count, seed] of [['a', 1500, 1], ['b', 1700, 2]] as const) {
    const dir = join(root, name);
    inputs.set(join(dir, 'articles.jsonl'), await corpus(dir, `${name}-`, count, seed));
  }
  const [inputA, inputB] = [...inputs.keys()];
  const out = join(root, 'out');
  const random = randomStream(7);
  const signals: NodeJS.Signals[] = ['SIGKILL', 'SIGTERM', 'SIGINT'];
  let finished: string | undefined;
  let finishedBytes: string[] | undefined;
  let killed = 0;
  let bytesChecked = 0;
  // Kill points are spread over one whole run's duration on this machine, measured first (elsewhere).
  const started = performance.now();
  assert.equal(await runUntil(inputB, join(root, 'timing'), 600_000, 'SIGKILL'), 0);
  const runMs = performance.now() - started;
  for (let round = 0; round < 12; round++) {
    const input = round % 2 === 0 ? inputA : inputB;
    // Round 3 runs to the end, so the later kills have earlier reports to preserve.
    const delay = round === 3 ? 600_000 : runMs * (0.05 + (0.9 * (random() % 1000)) / 1000);
    const code = await runUntil(input, out, delay, signals[round % 3]);
    if (code === 0) {
      finished = input;
      finishedBytes = await snapshot(out);
    } else killed++;
    assert.equal(await reportedInput(out, inputs), finished, `round ${round}: the last finished run's reports`);
    // Not a byte of the last finished run's reports lost or changed.
    const now = await snapshot(out);
    assert.deepEqual(now, finishedBytes, `round ${round}: the reports' bytes`);
    bytesChecked += now?.reduce((sum, text) => sum + text.length, 0) ?? 0;
    // Half-written generations are cleared by the next finished run; at most the current one and one killed.
    const generations = (await readdir(out)).filter((e) => e.startsWith('.reports-'));
    assert.ok(generations.length <= 2, `generations left: ${generations.length}`);
  }
  assert.ok(killed >= 6, `${killed} runs killed`);
  t.diagnostic(`12 rounds: ${killed} runs killed (SIGKILL, SIGTERM, SIGINT in turn), ${bytesChecked} report bytes compared with the last finished run after each round, 0 lost`);
  assert.equal(await runUntil(inputB, out, 600_000, 'SIGKILL'), 0);
  assert.equal(await reportedInput(out, inputs), inputB);
});
