import { intField, numberField } from '#shared/common';

/**
 * The calibration settings shared by the drift detector and the retrainer (which calibrates
 * a candidate's thresholds for the detector's windows): one definition, one default.
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
