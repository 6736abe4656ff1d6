import { intField, numberField } from '#platform/common';

/**
 * The calibration settings shared by the drift detector (which looks up the thresholds for
 * its windows) and every process that registers versions (retrainer, mlops CLI: the registry
 * calibrates a version for them when it is registered): one definition, one default, so the
 * detector finds what the registry stored.
 */
export const driftCalibrationConfigFields = {
  windowSize: intField(
    'DRIFT_WINDOW_SIZE',
    'W: predictions per drift window (count windows; calibration)',
    {
      // docs/drift.md: W = 200 meets every benchmark target; larger W flags MR's tokenisation.
      default: 200,
      min: 20,
      max: 100_000,
    },
  ),
  alpha: numberField('DRIFT_ALPHA', 'False-alarm probability per window and statistic', {
    default: 0.001,
    min: 1e-6,
    max: 0.5,
  }),
};
