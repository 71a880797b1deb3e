/**
 * Progress bars on stderr, drawn by cli-progress, for the stages that take a while: a bar appears only once
 * its stage has run for over a second, and only when stderr is a terminal, so quick stages, logs and pipes
 * stay clean. A stage that knows its total gets a bar with a percentage and an ETA; one that does not gets a
 * counter with its rate. `done()` clears the bar and stops its redraw timer, which would otherwise keep the
 * process alive.
 */
import { performance } from 'node:perf_hooks';
import cliProgress from 'cli-progress';

export interface Progress {
  /** Adds `count` units of work done. */
  advance(count: number): void;
  /** Clears the bar, if one is shown; safe to call more than once. */
  done(): void;
}

/** What tests replace; the defaults are the process's stderr, its clock and one second. */
export interface ProgressOptions {
  /** Where bars go; nothing is drawn unless `isTTY` is true. A terminal that reports no width (0) counts as 80 columns. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** A clock in milliseconds. */
  now?: () => number;
  /** How long a stage runs before its bar appears, in milliseconds. */
  delayMs?: number;
}

const DEFAULT_DELAY_MS = 1000;
/** Redraws per second: enough to look alive, few enough to cost nothing next to the work. */
const FPS = 5;

let enabled = true;

/** Turns every bar on or off (off for `--quiet`). */
export function setProgressEnabled(on: boolean): void {
  enabled = on;
}

/** A progress that shows nothing: for work whose progress another bar already shows. */
export const SILENT: Progress = { advance() {}, done() {} };

/** Bars not yet done, so that a failed run can clear them before its error message (see doneAll). */
const open = new Set<Progress>();

/** Clears every bar still shown: the CLI calls it when a command ends, however it ends. */
export function doneAll(): void {
  for (const shown of open) shown.done();
}

/** `unit` names what `advance` counts; 'bytes' are shown as megabytes. */
export function progress(stage: string, unit: string, total?: number, options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  if (!enabled || stream.isTTY !== true) return SILENT;
  const now = options.now ?? (() => performance.now());
  const delayMs = options.delayMs ?? DEFAULT_DELAY_MS;
  const start = now();
  let count = 0;
  let bar: cliProgress.SingleBar | undefined;
  let finished = false;
  let timer: NodeJS.Timeout | undefined;

  const line = () => progressLine({ stage, unit, total, count, seconds: (now() - start) / 1000, width: stream.columns || 80 });
  /** Shows the bar once the delay has passed; says whether it is shown. */
  const show = (): boolean => {
    if (bar !== undefined || finished) return bar !== undefined;
    if (now() - start < delayMs) return false;
    bar = new cliProgress.SingleBar({ stream, format: () => line(), fps: FPS, clearOnComplete: true, linewrap: true });
    bar.start(total ?? 0, count);
    return true;
  };
  // A stage whose work runs in workers may advance rarely: a timer shows its bar on time all the same. It
  // never keeps the process alive (unref), and its callback checks the clock, which tests replace.
  const wait = (ms: number) => {
    timer = setTimeout(() => {
      if (!show()) wait(Math.max(1, delayMs - (now() - start)));
    }, ms);
    timer.unref();
  };
  wait(delayMs);
  const shown: Progress = {
    advance(n) {
      count += n;
      if (bar !== undefined) bar.update(count);
      else show();
    },
    done() {
      finished = true;
      open.delete(shown);
      clearTimeout(timer);
      bar?.stop();
      bar = undefined;
    },
  };
  open.add(shown);
  return shown;
}

/** Runs a synchronous step with a progress bar, cleared however the step ends. */
export function withProgress<T>(stage: string, unit: string, total: number | undefined, step: (advance: (n: number) => void) => T): T {
  const shown = progress(stage, unit, total);
  try {
    return step((n) => shown.advance(n));
  } finally {
    shown.done();
  }
}

interface LineState {
  stage: string;
  unit: string;
  total: number | undefined;
  count: number;
  seconds: number;
  /** The terminal's columns. */
  width: number;
}

/** One line that fits the terminal: the bar is left out before anything else is. */
export function progressLine({ stage, unit, total, count, seconds, width }: LineState): string {
  const bytes = unit === 'bytes';
  const amount = (x: number) =>
    bytes ? (x / 1e6).toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 }) : Math.round(x).toLocaleString('en-US');
  const shownUnit = bytes ? 'MB' : unit;
  const rate = count / Math.max(seconds, 1e-3);
  const speed = `${amount(rate)}${bytes ? ' MB' : ''}/s`;
  const fit = (text: string) => text.slice(0, Math.max(0, width - 1));
  if (total === undefined) return fit(`${stage}: ${amount(count)} ${shownUnit}, ${speed}, ${duration(seconds)}`);
  const fraction = total > 0 ? Math.min(1, count / total) : 1;
  const eta = rate > 0 ? Math.max(0, total - count) / rate : NaN;
  const text = `${Math.floor(fraction * 100)}% ${amount(count)}/${amount(total)} ${shownUnit}, ${speed}, ETA ${duration(eta)}`;
  const barWidth = Math.min(30, width - 1 - `${stage}: [] ${text}`.length);
  if (barWidth < 10) return fit(`${stage}: ${text}`);
  const filled = Math.round(fraction * barWidth);
  return `${stage}: [${'='.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${text}`;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  // Short, so that a line with a long unit still fits 80 columns.
  const s = Math.round(seconds);
  const two = (x: number) => String(x).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${two(Math.floor((s % 3600) / 60))}m`;
}
