// Entry of task worker threads (runInWorker): registers tsx (workers do not reliably inherit
// the TypeScript loader of the process that starts them), imports the task module and runs
// its exported `run(input, progress)`, posting progress, the result or the failure.
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { moduleUrl, input } = workerData;
try {
  const task = await import(moduleUrl);
  const result = await task.run(input, (progress) =>
    parentPort.postMessage({ type: 'progress', progress }),
  );
  parentPort.postMessage({ type: 'done', result });
} catch (error) {
  parentPort.postMessage({
    type: 'failed',
    message: error instanceof Error ? error.message : String(error),
    code: typeof error?.code === 'string' ? error.code : null,
  });
}
