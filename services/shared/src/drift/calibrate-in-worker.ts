/**
 * Calibration off the event loop: `calibrateThresholds` runs for tens of seconds (thousands
 * of resamples and 200 classifier fits), which on the main thread would stop the process's
 * Kafka heartbeats (a leader would lose its group membership mid-calibration) and its
 * /health answers. This runs it in a worker thread that loads the reference itself.
 */
import { Worker } from 'node:worker_threads';
import type { CalibrationOptions, DriftThresholds } from './calibration.ts';
import { DriftReferenceError } from './reference.ts';

type WorkerMessage =
  | { type: 'progress'; stage: string; done: number; total: number }
  | { type: 'done'; thresholds: DriftThresholds }
  | { type: 'failed'; message: string; code: string | null };

export function calibrateInWorker(
  folder: string,
  options: CalibrationOptions,
): Promise<DriftThresholds> {
  const { onProgress, ...serialisable } = options;
  const worker = new Worker(new URL('./calibration-worker-entry.mjs', import.meta.url), {
    workerData: { folder, options: serialisable },
  });
  return new Promise<DriftThresholds>((resolve, reject) => {
    let settled = false;
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'progress') {
        onProgress?.(message.stage, message.done, message.total);
        return;
      }
      settled = true;
      if (message.type === 'done') resolve(message.thresholds);
      else if (message.code === 'DRIFT_REFERENCE_INVALID') {
        reject(new DriftReferenceError(message.message));
      } else reject(new Error(`calibration failed: ${message.message}`));
      void worker.terminate();
    });
    worker.once('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`calibration worker exited with code ${code}`));
    });
  });
}
