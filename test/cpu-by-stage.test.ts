/** bench/cpu-by-stage.ts: the time between marks, and a process's CPU time read from /proc. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { processCpuSeconds, timesBetween } from '../bench/cpu-by-stage.js';

test('each row is the time from the mark before (the first from the start), with the cores it kept busy', () => {
  const rows = timesBetween([
    { label: 'read', seconds: 10, cpuSeconds: 19 },
    { label: 'shingle', seconds: 14, cpuSeconds: 25 },
    { label: 'sign', seconds: 14, cpuSeconds: 25 },
  ]);
  assert.deepEqual(
    rows.map((r) => [r.label, r.seconds, r.cpuSeconds, r.coresBusy]),
    [
      ['read', 10, 19, 1.9],
      ['shingle', 4, 6, 1.5],
      // Two marks in the same sample: no time between them, and no division by zero.
      ['sign', 0, 0, 0],
    ],
  );
});

test('the CPU time read from /proc/PID/stat is the process\'s own, user and system', { skip: process.platform !== 'linux' }, () => {
  // Enough CPU that fields read in the wrong place (counts of page faults, a child's time: 0) would show.
  const until = Date.now() + 300;
  let spin = 0;
  while (Date.now() < until) spin++;
  assert.ok(spin > 0);
  const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  const fromProc = processCpuSeconds(readFileSync('/proc/self/stat', 'utf8'), ticks);
  const usage = process.cpuUsage();
  const fromNode = (usage.user + usage.system) / 1e6;
  assert.ok(fromNode > 0.3, `spun for 0.3 s of CPU, got ${fromNode}`);
  // The kernel counts in ticks (1/100 s), so the two agree to a few ticks.
  assert.ok(Math.abs(fromProc - fromNode) < 0.05, `/proc says ${fromProc} s, process.cpuUsage ${fromNode} s`);
});

test('a command name with spaces and parentheses does not shift the fields', () => {
  // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
  const stat = '4242 (node (a) b) S 1 2 3 0 -1 4194304 900 0 7 0 250 50 0 0 20 0 9 0';
  assert.equal(processCpuSeconds(stat, 100), 3);
});
