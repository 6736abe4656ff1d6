import {
  type Env,
  intField,
  listField,
  numberField,
  parseConfig,
  processConfigFields,
  stringField,
} from '#platform/common';
import { driftCalibrationConfigFields } from '#domain/drift';
import { backboneConfigFields } from '#platform/kafka';
import { registryConfigFields } from '#domain/registry';
import { clickhouseConfigFields } from '#platform/store';

export const retrainerConfigSchema = {
  ...backboneConfigFields,
  ...clickhouseConfigFields,
  ...processConfigFields,
  artifactRoot: registryConfigFields.artifactRoot,
  goldenSetFile: registryConfigFields.goldenSetFile,
  bootstrapModelDir: registryConfigFields.bootstrapModelDir,
  modelName: stringField('MODEL_NAME', 'Model this retrainer trains candidates for', {
    default: 'sentiment',
  }),
  groupId: stringField('RETRAINER_GROUP_ID', 'Consumer group (one active member)', {
    default: 'retrainer',
  }),
  workDir: stringField('RETRAIN_WORK_DIR', 'Scratch folder for candidate folders', {
    default: 'var/retrainer',
  }),
  segments: listField(
    'RETRAIN_SEGMENTS',
    "Drift segments that trigger retraining ('*' = all traffic)",
    {
      default: ['*'],
    },
  ),
  // docs/retraining.md: from 1,000 labels every draw gained >= 4 F1 points on IMDB; at 500
  // one draw gained only 1.7.
  minLabels: intField('RETRAIN_MIN_LABELS', 'Labelled recent predictions needed to train', {
    default: 1_000,
    min: 10,
  }),
  maxRows: intField('RETRAIN_MAX_ROWS', 'Newest labelled predictions used at most', {
    default: 20_000,
    min: 10,
  }),
  holdoutFraction: numberField('RETRAIN_HOLDOUT_FRACTION', 'Share of recent data held out', {
    default: 0.25,
    min: 0.05,
    max: 0.9,
  }),
  lookbackMs: intField('RETRAIN_LOOKBACK_MS', 'Manual requests: labelled data of this long', {
    default: 86_400_000,
    min: 1,
  }),
  maxTriggerAgeMs: intField(
    'RETRAIN_MAX_TRIGGER_AGE_MS',
    'Older drift events and requests are skipped',
    {
      default: 86_400_000,
      min: 1_000,
    },
  ),
  referenceRatio: numberField('RETRAIN_REFERENCE_RATIO', 'Reference rows mixed in per recent row', {
    // docs/retraining.md
    default: 0.5,
    min: 0,
    max: 10,
  }),
  l2sp: numberField('RETRAIN_L2SP', 'L2 penalty toward the parent head', {
    default: 0.01,
    min: 0,
  }),
  maxEpochs: intField('RETRAIN_MAX_EPOCHS', 'Epochs at most (early stopping ends sooner)', {
    default: 20,
    min: 1,
  }),
  // The drift service's window size and alpha: the registry calibrates each candidate's
  // thresholds for them as it registers the version (the drift service only reads them).
  ...driftCalibrationConfigFields,
  metricsHost: stringField('METRICS_HOST', 'Listen address of /metrics, /health and /ready', {
    default: '127.0.0.1',
  }),
  metricsPort: intField('METRICS_PORT', 'Port of /metrics, /health and /ready', {
    default: 9467,
    min: 0,
    max: 65535,
  }),
};

export function parseRetrainerConfig(env: Env) {
  return parseConfig(retrainerConfigSchema, env);
}
