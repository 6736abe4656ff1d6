import {
  type ConfigField,
  type Env,
  enumField,
  intField,
  listField,
  parseConfig,
  processConfigFields,
  stringField,
} from '#platform/common';
import { type InputStatistic, driftCalibrationConfigFields } from '#domain/drift';
import { backboneConfigFields } from '#platform/kafka';
import { modelConfigFields } from '#domain/model';
import { registryConfigFields } from '#domain/registry';
import { clickhouseConfigFields } from '#platform/store';

const { artifactRoot } = registryConfigFields;

const INPUT_STATISTICS: readonly InputStatistic[] = ['cosine', 'domainAuc'];

/** Which statistics decide input drift (any of them over its threshold). */
const inputStatisticsField: ConfigField<InputStatistic[]> = {
  env: 'DRIFT_INPUT_STATISTICS',
  doc: 'Statistics that decide input drift (any over threshold): cosine, domainAuc',
  // docs/drift.md: the class-matched domain-classifier AUC alone is quiet on the in-domain
  // null and on a class-mix change and fires first on every measured shift; the cosine
  // over-fires on the null (1-2 % of windows against a nominal 0.1 %).
  default: ['domainAuc'],
  parse: (raw) => {
    const names = listField('', '').parse(raw);
    const unknown = names.filter((name) => !INPUT_STATISTICS.includes(name as InputStatistic));
    if (names.length === 0 || unknown.length > 0) {
      throw new Error(`expected a list of ${INPUT_STATISTICS.join(', ')}`);
    }
    return names as InputStatistic[];
  },
};

export const driftConfigSchema = {
  ...backboneConfigFields,
  ...clickhouseConfigFields,
  ...processConfigFields,
  artifactRoot,
  // Production is what the registry's signed deployments say (as for inference and gateway).
  deploymentTrustedKeysFile: modelConfigFields.deploymentTrustedKeysFile,
  modelName: stringField('MODEL_NAME', 'Model whose production version is watched', {
    default: 'sentiment',
  }),
  windowKind: enumField(
    'DRIFT_WINDOW_KIND',
    'Window by prediction count or by time',
    ['count', 'time'],
    {
      default: 'count',
    },
  ),
  ...driftCalibrationConfigFields,
  windowMs: intField('DRIFT_WINDOW_MS', 'Window length for time windows', {
    default: 600_000,
    min: 1_000,
  }),
  minWindowRows: intField('DRIFT_MIN_WINDOW_ROWS', 'Rows a window needs before it is judged', {
    default: 200,
    min: 1,
  }),
  driftAfter: intField('DRIFT_AFTER_WINDOWS', 'k: consecutive windows over threshold for DRIFT', {
    default: 2,
    min: 1,
  }),
  recoverAfter: intField(
    'DRIFT_RECOVER_AFTER_WINDOWS',
    'm: consecutive windows under threshold to recover',
    {
      default: 3,
      min: 1,
    },
  ),
  inputStatistics: inputStatisticsField,
  segments: enumField('DRIFT_SEGMENTS', 'Judge every review source separately too', ['on', 'off'], {
    default: 'on',
  }),
  segmentLookback: intField(
    'DRIFT_SEGMENT_LOOKBACK',
    'Newest predictions scanned for active sources',
    {
      default: 20_000,
      min: 1,
    },
  ),
  everyPredictions: intField(
    'DRIFT_EVERY_PREDICTIONS',
    'Evaluate after this many new predictions',
    {
      // = W: consecutive windows do not overlap, so k of them in a row are independent evidence.
      default: 200,
      min: 1,
    },
  ),
  intervalMs: intField(
    'DRIFT_INTERVAL_MS',
    'Evaluate at least this often while predictions arrive',
    {
      default: 60_000,
      min: 100,
    },
  ),
  pollMs: intField('DRIFT_POLL_MS', 'How often the loop checks whether a round is due', {
    default: 1_000,
    min: 50,
  }),
  sessionTimeoutMs: intField(
    'DRIFT_LEADER_SESSION_MS',
    'A dead leader is replaced after this long',
    {
      default: 10_000,
      min: 3_000,
    },
  ),
  metricsHost: stringField('METRICS_HOST', 'Listen address of /metrics, /health and /ready', {
    default: '127.0.0.1',
  }),
  metricsPort: intField('METRICS_PORT', 'Port of /metrics, /health and /ready', {
    default: 9466,
    min: 0,
    max: 65535,
  }),
};

export function parseDriftConfig(env: Env) {
  return parseConfig(driftConfigSchema, env);
}
