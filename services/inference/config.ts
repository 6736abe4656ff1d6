import { type Env, intField, parseConfig, processConfigFields, stringField } from '#shared/common';
import { backboneConfigFields } from '#shared/kafka';
import { modelConfigFields } from '#shared/model';

export const inferenceConfigSchema = {
  ...backboneConfigFields,
  ...modelConfigFields,
  ...processConfigFields,
  groupId: stringField('INFERENCE_GROUP_ID', 'Consumer group of the reviews consumer', {
    default: 'inference',
  }),
  maxBatchSize: intField('INFERENCE_BATCH_SIZE', 'Texts per forward pass', {
    default: 32,
    min: 1,
    max: 1024,
  }),
  partitionsConcurrently: intField(
    'PARTITIONS_CONSUMED_CONCURRENTLY',
    'Partitions processed in parallel',
    {
      // >1 overlaps one partition's scoring with another's produce and commit.
      default: 3,
      min: 1,
    },
  ),
  metricsPort: intField('METRICS_PORT', 'Port of /metrics, /health and /ready', {
    default: 9464,
    min: 0,
    max: 65535,
  }),
};

export function parseInferenceConfig(env: Env) {
  return parseConfig(inferenceConfigSchema, env);
}
