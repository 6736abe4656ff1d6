import {
  type Env,
  numberField,
  parseConfig,
  processConfigFields,
  stringField,
  intField,
} from '#platform/common';
import { backboneConfigFields } from '#platform/kafka';
import { liveTrialConfigFields, registryConfigFields } from '#domain/registry';
import { clickhouseConfigFields } from '#platform/store';

export const promoterConfigSchema = {
  ...backboneConfigFields,
  ...clickhouseConfigFields,
  ...processConfigFields,
  artifactRoot: registryConfigFields.artifactRoot,
  goldenSetFile: registryConfigFields.goldenSetFile,
  deploymentSigningKeyFile: registryConfigFields.deploymentSigningKeyFile,
  minF1: registryConfigFields.minF1,
  ...liveTrialConfigFields,
  livePollMs: intField(
    'LIVE_TRIAL_POLL_MS',
    'How often the candidate in SHADOW or CANARY is assessed on live evidence',
    { default: 15_000, min: 100 },
  ),
  modelName: stringField('MODEL_NAME', 'Model whose candidates this promoter decides', {
    default: 'sentiment',
  }),
  groupId: stringField('PROMOTER_GROUP_ID', 'Consumer group (one active member: one partition)', {
    default: 'promoter',
  }),
  margin: numberField('PROMOTION_MARGIN', 'Required holdout-F1 gain over production', {
    default: 0,
    min: -1,
    max: 1,
  }),
  guardrail: numberField('PROMOTION_GOLDEN_GUARDRAIL', 'Largest allowed golden-F1 drop', {
    default: 0.02,
    min: 0,
    max: 1,
  }),
  testDelayAfterDecisionMs: intField(
    'PROMOTER_TEST_DELAY_AFTER_DECISION_MS',
    'Test hook: wait this long after a decision before committing (crash tests)',
    { default: 0, min: 0 },
  ),
  metricsHost: stringField('METRICS_HOST', 'Listen address of /metrics, /health and /ready', {
    default: '127.0.0.1',
  }),
  metricsPort: intField('METRICS_PORT', 'Port of /metrics, /health and /ready', {
    default: 9468,
    min: 0,
    max: 65535,
  }),
};

export function parsePromoterConfig(env: Env) {
  return parseConfig(promoterConfigSchema, env);
}
