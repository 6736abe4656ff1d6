/**
 * Runs CPU-heavy work (drift calibration, head training: tens of seconds) in a worker thread,
 * so the calling service keeps its Kafka heartbeats and /health answers. The task is a
 * module exporting `run(input, progress)` (its URL: `siblingModule('./task.ts', import.meta.url)`,
 * so the build runs the compiled one); input, progress and result are structured-cloned.
 */
import { Worker } from 'node:worker_threads';
import { AppError } from './errors.ts';
import { workerEntry } from './paths.ts';

export class WorkerTaskError extends AppError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}

type TaskMessage<P, R> =
  | { type: 'progress'; progress: P }
  | { type: 'done'; result: R }
  | { type: 'failed'; message: string; code: string | null };

export function runInWorker<I, R, P = unknown>(
  moduleUrl: URL,
  input: I,
  onProgress?: (progress: P) => void,
): Promise<R> {
  const worker = new Worker(
    workerEntry('./task-worker.ts', './task-worker-entry.mjs', import.meta.url),
    {
      workerData: { moduleUrl: moduleUrl.href, input },
    },
  );
  return new Promise<R>((resolve, reject) => {
    let settled = false;
    worker.on('message', (message: TaskMessage<P, R>) => {
      if (message.type === 'progress') {
        onProgress?.(message.progress);
        return;
      }
      settled = true;
      if (message.type === 'done') resolve(message.result);
      else reject(new WorkerTaskError(message.code ?? 'WORKER_TASK_FAILED', message.message));
      void worker.terminate();
    });
    worker.once('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!settled)
        reject(new WorkerTaskError('WORKER_TASK_FAILED', `worker exited with code ${code}`));
    });
  });
}
