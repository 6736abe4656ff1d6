/** Worker thread body of calibrateInWorker: load the reference, calibrate, post the result. */
import { parentPort, workerData } from 'node:worker_threads';
import { type CalibrationOptions, calibrateThresholds } from './calibration.ts';
import { loadDriftReference } from './reference.ts';

const { folder, options } = workerData as {
  folder: string;
  options: Omit<CalibrationOptions, 'onProgress'>;
};
try {
  const thresholds = calibrateThresholds(loadDriftReference(folder), {
    ...options,
    onProgress: (stage, done, total) =>
      parentPort?.postMessage({ type: 'progress', stage, done, total }),
  });
  parentPort?.postMessage({ type: 'done', thresholds });
} catch (error) {
  parentPort?.postMessage({
    type: 'failed',
    message: error instanceof Error ? error.message : String(error),
    code: (error as { code?: unknown } | null)?.code ?? null,
  });
}
