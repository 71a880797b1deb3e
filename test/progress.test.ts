/**
 * Progress bars (pipeline/progress.ts) against a fake terminal and a fake clock: nothing off a terminal,
 * nothing in a stage's first second, a bar naming the stage after it, and no bar nor redraw timer once done.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { doneAll, progress, progressLine, setProgressEnabled } from '../pipeline/progress.js';

class FakeTerminal extends Writable {
  text = '';
  columns = 80;
  constructor(readonly isTTY: boolean) {
    super();
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString();
    callback();
  }
}

function setup(isTTY = true) {
  const stream = new FakeTerminal(isTTY);
  const clock = { ms: 0 };
  return { stream, clock, options: { stream, now: () => clock.ms, delayMs: 1000 } };
}

/** What a terminal shows on the bar's line: the text after the last carriage return or line clear. */
const visible = (text: string) => text.split(/\r|\x1b\[2K|\x1b\[1G|\x1b8/).at(-1)!;
const redrawTimers = () => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;

test('a stream that is not a terminal gets no bytes, however long the stage runs', () => {
  const { stream, clock, options } = setup(false);
  const shown = progress('sign', 'articles', 1000, options);
  clock.ms = 5000;
  shown.advance(500);
  shown.done();
  assert.equal(stream.text, '');
});

test('a terminal gets no bytes in a stage\'s first second', () => {
  const { stream, clock, options } = setup();
  const shown = progress('sign', 'articles', 1000, options);
  clock.ms = 999;
  shown.advance(500);
  assert.equal(stream.text, '');
  shown.done();
  assert.equal(stream.text, '', 'a bar never shown is not cleared either');
});

test('after a second the bar names the stage and its progress; done() clears it and stops its redraw timer', () => {
  const { stream, clock, options } = setup();
  const timers = redrawTimers();
  const shown = progress('sign', 'articles', 1000, options);
  clock.ms = 1500;
  shown.advance(500);
  assert.match(stream.text, /sign: \[=+-+\] 50% 500\/1,000 articles, 333\/s, ETA 2s/);
  assert.equal(redrawTimers(), timers + 1, 'cli-progress redraws on a timer while the bar is up');
  shown.done();
  assert.equal(visible(stream.text), '', 'nothing left on the line');
  assert.equal(redrawTimers(), timers, 'the redraw timer is stopped: the process can exit');
  const written = stream.text.length;
  shown.advance(100);
  shown.done();
  assert.equal(stream.text.length, written, 'nothing drawn after done()');
});

test('a terminal that reports no width (columns 0, as under script(1)) still gets a bar, 80 columns wide', () => {
  const { stream, clock, options } = setup();
  stream.columns = 0;
  const shown = progress('sign', 'articles', 1000, options);
  clock.ms = 1500;
  shown.advance(500);
  assert.match(stream.text, /sign: \[=+-+\] 50% 500\/1,000 articles/);
  shown.done();
});

test('without a total, a counter with its rate', () => {
  const { stream, clock, options } = setup();
  const shown = progress('read', 'articles', undefined, options);
  clock.ms = 2000;
  shown.advance(4000);
  assert.match(stream.text, /read: 4,000 articles, 2,000\/s, 2s/);
  shown.done();
  assert.equal(visible(stream.text), '');
});

test('doneAll() clears a bar a failing stage left up (the CLI calls it before printing the error)', () => {
  const { stream, clock, options } = setup();
  const timers = redrawTimers();
  const shown = progress('cluster', 'candidate pairs verified', 10, options);
  clock.ms = 2000;
  shown.advance(1);
  assert.match(stream.text, /cluster: /);
  doneAll();
  assert.equal(visible(stream.text), '');
  assert.equal(redrawTimers(), timers);
});

test('setProgressEnabled(false) (--quiet) silences a terminal too', () => {
  const { stream, clock, options } = setup();
  setProgressEnabled(false);
  try {
    const shown = progress('sign', 'articles', 1000, options);
    clock.ms = 5000;
    shown.advance(500);
    shown.done();
  } finally {
    setProgressEnabled(true);
  }
  assert.equal(stream.text, '');
});

test('a line fits the terminal: bytes in MB, the bar left out when narrow', () => {
  const wide = progressLine({ stage: 'shingle', unit: 'bytes', total: 4e9, count: 1e9, seconds: 10, width: 120 });
  assert.equal(wide, `shingle: [${'='.repeat(8)}${'-'.repeat(22)}] 25% 1,000.0/4,000.0 MB, 100.0 MB/s, ETA 30s`);
  const narrow = progressLine({ stage: 'cluster', unit: 'candidate pairs verified', total: 2_345_678, count: 1_234_567, seconds: 100, width: 80 });
  assert.equal(narrow, 'cluster: 52% 1,234,567/2,345,678 candidate pairs verified, 12,346/s, ETA 1m30s');
  assert.ok(progressLine({ stage: 'cluster', unit: 'candidate pairs verified', total: 10, count: 1, seconds: 1, width: 30 }).length < 30);
});
