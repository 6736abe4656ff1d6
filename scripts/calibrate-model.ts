/**
 * Calibrates a model folder's drift thresholds once, at build time, and ships them with the
 * folder as `drift-calibration.json`, so that a committed model is registered with its
 * thresholds (registry bootstrap) and the drift service does not spend minutes calibrating
 * at first start. The same calibration as the drift service's (calibrateInWorker on the
 * folder's reference), for the shipped window size and alpha unless told otherwise; a
 * detector configured otherwise calibrates for its own settings as before.
 *
 *   node --import tsx scripts/calibrate-model.ts <model folder> [--window 200] [--alpha 0.001]
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  DRIFT_CALIBRATION_FILE,
  calibrateInWorker,
  calibrationKey,
  driftCalibrationConfigFields,
} from '#domain/drift';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    window: { type: 'string', default: String(driftCalibrationConfigFields.windowSize.default) },
    alpha: { type: 'string', default: String(driftCalibrationConfigFields.alpha.default) },
  },
});
if (!positionals[0]) {
  console.error('usage: calibrate-model.ts <model folder> [--window W] [--alpha A]');
  process.exit(2);
}
const folder = resolve(positionals[0]);
const windowSize = Number(values.window);
const alpha = Number(values.alpha);
const started = performance.now();
let lastStage = '';
const thresholds = await calibrateInWorker(folder, {
  windowSize,
  alpha,
  onProgress: (stage, done, total) => {
    if (stage !== lastStage && lastStage) process.stderr.write('\n');
    lastStage = stage;
    process.stderr.write(`\r[calibrate] ${stage} ${done}/${total}`);
  },
});
process.stderr.write('\n');
const file = {
  format: 1,
  note: 'drift thresholds calibrated on this folder reference (scripts/calibrate-model.ts)',
  calibrations: { [calibrationKey(windowSize, alpha, thresholds.domainAuc !== null)]: thresholds },
};
writeFileSync(join(folder, DRIFT_CALIBRATION_FILE), `${JSON.stringify(file, null, 2)}\n`);
console.log(
  `[calibrate] ${folder}: W ${windowSize}, alpha ${alpha}: domain AUC threshold ` +
    `${thresholds.domainAuc?.threshold.toFixed(4) ?? 'n/a'}, class-mix ` +
    `${thresholds.classMix.threshold.toFixed(4)} (${((performance.now() - started) / 1000).toFixed(0)} s)`,
);
