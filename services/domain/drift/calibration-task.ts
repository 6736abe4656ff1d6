/** Worker task of calibrateInWorker: load the folder's reference and calibrate it. */
import {
  type CalibrationOptions,
  type DriftThresholds,
  calibrateThresholds,
} from './calibration.ts';
import { loadDriftReference } from './reference.ts';

export interface CalibrationTaskInput {
  readonly folder: string;
  readonly options: Omit<CalibrationOptions, 'onProgress'>;
}

export interface CalibrationProgress {
  readonly stage: string;
  readonly done: number;
  readonly total: number;
}

export function run(
  input: CalibrationTaskInput,
  progress: (value: CalibrationProgress) => void,
): DriftThresholds {
  return calibrateThresholds(loadDriftReference(input.folder), {
    ...input.options,
    onProgress: (stage, done, total) => progress({ stage, done, total }),
  });
}
