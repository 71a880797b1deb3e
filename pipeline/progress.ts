/**
 * One progress line per stage on stderr, redrawn at most five times a second, and only when stderr is a
 * terminal: logs and pipes stay clean.
 */
import { performance } from 'node:perf_hooks';

export interface Progress {
  /** Adds `count` units of work done. */
  advance(count: number): void;
  /** Clears the line. */
  done(): void;
}

const SILENT: Progress = { advance() {}, done() {} };

export function progress(stage: string, unit: string, total?: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return SILENT;
  const start = performance.now();
  let doneCount = 0;
  let lastDraw = 0;
  const draw = () => {
    const seconds = (performance.now() - start) / 1000;
    const rate = Math.round(doneCount / Math.max(seconds, 1e-3));
    const of = total === undefined ? '' : ` / ${total.toLocaleString('en-US')}`;
    stream.write(`\r\x1b[K${stage}: ${doneCount.toLocaleString('en-US')}${of} ${unit} (${rate.toLocaleString('en-US')}/s)`);
  };
  return {
    advance(count) {
      doneCount += count;
      const now = performance.now();
      if (now - lastDraw >= 200) {
        lastDraw = now;
        draw();
      }
    },
    done() {
      stream.write('\r\x1b[K');
    },
  };
}
