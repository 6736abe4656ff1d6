/**
 * Calibration off the event loop: `calibrateThresholds` runs for tens of seconds (thousands
 * of resamples and 200 classifier fits), which on the main thread would stop the process's
 * Kafka heartbeats (a leader would lose its group membership mid-calibration) and its
 * /health answers. This runs it in a worker thread that loads the reference itself.
 */
import { runInWorker, siblingModule } from '#platform/common';
import type { CalibrationOptions, DriftThresholds } from './calibration.ts';
import type { CalibrationProgress, CalibrationTaskInput } from './calibration-task.ts';
import { DriftReferenceError } from './reference.ts';

export async function calibrateInWorker(
  folder: string,
  options: CalibrationOptions,
): Promise<DriftThresholds> {
  const { onProgress, ...serialisable } = options;
  try {
    return await runInWorker<CalibrationTaskInput, DriftThresholds, CalibrationProgress>(
      siblingModule('./calibration-task.ts', import.meta.url),
      { folder, options: serialisable },
      (progress) => onProgress?.(progress.stage, progress.done, progress.total),
    );
  } catch (error) {
    if ((error as { code?: unknown }).code === 'DRIFT_REFERENCE_INVALID') {
      throw new DriftReferenceError((error as Error).message, { cause: error });
    }
    throw error;
  }
}
