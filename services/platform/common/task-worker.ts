/**
 * Body of task worker threads (runInWorker): imports the task module and runs its exported
 * `run(input, progress)`, posting progress, then the result or the failure (message and
 * stable code, as errors cross the thread boundary by structured clone).
 */
import { parentPort, workerData } from 'node:worker_threads';

interface TaskModule {
  run(input: unknown, progress: (progress: unknown) => void): Promise<unknown>;
}

const { moduleUrl, input } = workerData as { moduleUrl: string; input: unknown };
const port = parentPort;
if (!port) throw new Error('task-worker must run in a worker thread');

try {
  const task = (await import(moduleUrl)) as TaskModule;
  const result = await task.run(input, (progress) =>
    port.postMessage({ type: 'progress', progress }),
  );
  port.postMessage({ type: 'done', result });
} catch (error) {
  const code = (error as { code?: unknown } | null)?.code;
  port.postMessage({
    type: 'failed',
    message: error instanceof Error ? error.message : String(error),
    code: typeof code === 'string' ? code : null,
  });
}
