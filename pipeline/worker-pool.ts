/**
 * A fixed pool of worker threads running the CPU-heavy stage cores (shingling, signing) on batches of
 * articles. Results come back in submission order, so outputs are the same for 1 or N workers. With zero
 * workers, tasks run inline on the main thread through the very same functions.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { type TaskRequest, type TaskResult, runTask } from './tasks.js';

export const DEFAULT_WORKERS = Math.max(1, availableParallelism());

export interface WorkerPoolOptions {
  /**
   * The most each worker's young generation (V8's space for new objects) may grow to, in MB; V8's default
   * when not given. Tasks that make many short-lived objects collect garbage less often, and move fewer
   * survivors, in a larger one: documents.csv and pairs.csv of a million articles on one worker took 5.5-5.6 s
   * with V8's default and 3.9-4.4 s with 192 MB (node /tmp/sh/tabw.mjs, with another engineer's runs on the
   * machine). The shingle workers gained nothing measurable and held 250 MB more at 300,000 articles.
   */
  youngGenerationMb?: number;
}

interface Pending {
  resolve(result: TaskResult): void;
  reject(error: Error): void;
}

export class WorkerPool {
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly queue: Array<{ request: TaskRequest; pending: Pending }> = [];
  private readonly running = new Map<Worker, Pending>();

  /** `size` 0 runs every task inline. */
  constructor(
    readonly size: number,
    options: WorkerPoolOptions = {},
  ) {
    const resourceLimits = options.youngGenerationMb === undefined ? undefined : { maxYoungGenerationSizeMb: options.youngGenerationMb };
    for (let i = 0; i < size; i++) {
      const worker = new Worker(new URL('./worker.js', import.meta.url), { resourceLimits });
      worker.on('message', (result: TaskResult | { error: string }) => this.settle(worker, result));
      worker.on('error', (error) => this.fail(worker, error));
      this.all.push(worker);
      this.idle.push(worker);
    }
  }

  run<R extends TaskResult>(request: TaskRequest): Promise<R> {
    if (this.size === 0) return Promise.resolve().then(() => runTask(request) as R);
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ request, pending: { resolve: resolve as (r: TaskResult) => void, reject } });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((worker) => worker.terminate()));
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.pop()!;
      const { request, pending } = this.queue.shift()!;
      this.running.set(worker, pending);
      worker.postMessage(request);
    }
  }

  private settle(worker: Worker, result: TaskResult | { error: string }): void {
    const pending = this.running.get(worker);
    this.running.delete(worker);
    this.idle.push(worker);
    if (pending) {
      if ('error' in result) pending.reject(new Error(result.error));
      else pending.resolve(result);
    }
    this.dispatch();
  }

  private fail(worker: Worker, error: Error): void {
    this.running.get(worker)?.reject(error);
    this.running.delete(worker);
    for (const { pending } of this.queue.splice(0)) pending.reject(error);
  }
}
