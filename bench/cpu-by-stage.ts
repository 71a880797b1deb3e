/**
 * `node dist/bench/cpu-by-stage.js DATASET_DIR OUT_DIR`: one benchmark run (bench/run-once.js, every stage
 * with the defaults on DATASET_DIR/articles.jsonl) in a child process, and where its time went: for each
 * stage, its wall seconds and the CPU-seconds of the process (all its threads, user and system) in that time,
 * so that "cores busy" tells a stage that waits from one that is short of cores.
 *
 * A stage's end is when its statistics file (OUT_DIR/work/STAGE.stats.json, written once the stage is done)
 * appears; the process's CPU time is read from /proc/PID/stat at the same moment, four times a second.
 * Linux only. OUT_DIR must not exist yet: statistics files of an earlier run would end its stages at once.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { workPath } from '../pipeline/stages.js';

/** A moment of the run: seconds since the child started, and the CPU-seconds it had used by then. */
export interface Mark {
  label: string;
  seconds: number;
  cpuSeconds: number;
}

export interface StageTime {
  label: string;
  seconds: number;
  cpuSeconds: number;
  /** CPU-seconds per second: 2 is both cores of the bench machine busy. */
  coresBusy: number;
}

/** The time between each mark and the one before it (the first from the start), labelled by its end. */
export function timesBetween(marks: Mark[]): StageTime[] {
  let seconds = 0;
  let cpuSeconds = 0;
  return marks.map((mark) => {
    const row = { label: mark.label, seconds: mark.seconds - seconds, cpuSeconds: mark.cpuSeconds - cpuSeconds };
    seconds = mark.seconds;
    cpuSeconds = mark.cpuSeconds;
    return { ...row, coresBusy: row.seconds > 0 ? row.cpuSeconds / row.seconds : 0 };
  });
}

/** User plus system CPU-seconds of process `pid` and all its threads, from /proc/PID/stat. */
export function processCpuSeconds(stat: string, ticksPerSecond: number): number {
  // Fields after the command name (in parentheses, which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[14 - 3]) + Number(fields[15 - 3])) / ticksPerSecond;
}

/** The stages in the order their statistics files appear; the read stage ends first, inside the shingle stage. */
const STAGES = ['read', 'shingle', 'sign', 'candidates', 'cluster', 'report'];

const LABELS: Record<string, string> = {
  read: 'read (shingling alongside)',
  shingle: 'shingle, after the read (weighing, writing shingles.bin)',
};

async function main(): Promise<void> {
  const [dataset, out] = process.argv.slice(2);
  if (dataset === undefined || out === undefined) throw new Error('usage: node dist/bench/cpu-by-stage.js DATASET_DIR OUT_DIR');
  if (existsSync(out)) throw new Error(`${out} exists: give a new directory, so that no earlier run's statistics files end the stages`);
  const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  const runOnce = fileURLToPath(new URL('run-once.js', import.meta.url));
  const start = performance.now();
  const child = spawn(process.execPath, [runOnce, dataset, out], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const marks: Mark[] = [];
  let cpuSeconds = 0;
  let next = 0;
  const sample = (): void => {
    try {
      cpuSeconds = processCpuSeconds(readFileSync(`/proc/${child.pid}/stat`, 'utf8'), ticksPerSecond);
    } catch {
      // The process has exited: its last sample stands, taken at most a quarter of a second before.
    }
    const seconds = (performance.now() - start) / 1000;
    while (next < STAGES.length && existsSync(workPath(out, `${STAGES[next]}.stats.json`))) {
      marks.push({ label: LABELS[STAGES[next]] ?? STAGES[next], seconds, cpuSeconds });
      next++;
    }
  };
  const timer = setInterval(sample, 250);
  const code = await exited;
  clearInterval(timer);
  // A stage that ended since the last sample.
  sample();
  // After the report stage, run-once scores the clusters against labels.csv: the bench's time, not the pipeline's.
  if (code !== 0) throw new Error(`run-once exited with ${code}`);
  const rows = timesBetween(marks);
  process.stdout.write('| from the previous line to the end of | wall s | CPU s | cores busy |\n| --- | ---: | ---: | ---: |\n');
  for (const row of rows) process.stdout.write(`| ${row.label} | ${row.seconds.toFixed(1)} | ${row.cpuSeconds.toFixed(1)} | ${row.coresBusy.toFixed(2)} |\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
