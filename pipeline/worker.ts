/** Worker thread entry: runs one task at a time for the WorkerPool. */
import { parentPort } from 'node:worker_threads';
import invariant from 'tiny-invariant';
import { type TaskRequest, runTask, transferablesOf } from './tasks.js';

invariant(parentPort, 'worker.js runs as a worker thread');
const port = parentPort;
port.on('message', (request: TaskRequest) => {
  try {
    const result = runTask(request);
    port.postMessage(result, transferablesOf(result));
  } catch (error) {
    port.postMessage({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
});
