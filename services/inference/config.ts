import { hostname } from 'node:os';
import {
  type Env,
  enumField,
  intField,
  parseConfig,
  processConfigFields,
  stringField,
} from '#platform/common';
import { backboneConfigFields } from '#platform/kafka';
import { modelConfigFields } from '#domain/model';
import { shadowConfigFields } from '#domain/scoring';

export const inferenceConfigSchema = {
  ...backboneConfigFields,
  ...modelConfigFields,
  ...processConfigFields,
  ...shadowConfigFields,
  groupId: stringField('INFERENCE_GROUP_ID', 'Consumer group of the reviews consumer', {
    default: 'inference',
  }),
  delivery: enumField(
    'INFERENCE_DELIVERY',
    'exactly-once: predictions, dead letters and consumed offsets in one Kafka transaction ' +
      '(downstream reads committed); at-least-once: produce, then commit offsets',
    ['exactly-once', 'at-least-once'] as const,
    { default: 'exactly-once' },
  ),
  transactionalId: stringField(
    'INFERENCE_TRANSACTIONAL_ID',
    'Transactional id (exactly-once): unique per instance, stable across its restarts; ' +
      'empty: <group id>-<hostname> (set it when several instances share a host)',
    { default: '' },
  ),
  transactionTimeoutMs: intField(
    'INFERENCE_TRANSACTION_TIMEOUT_MS',
    'Longest a transaction stays open; bounds how long an instance that died mid-transaction ' +
      'holds back read-committed consumers',
    { default: 15_000, min: 1_000, max: 900_000 },
  ),
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
  maxBytesPerPartition: intField(
    'INFERENCE_MAX_BYTES_PER_PARTITION',
    'Bytes fetched per partition and request: the size of a batch. Small enough that a ' +
      'batch is scored in about a second, which bounds how long a rebalance waits for it',
    { default: 65_536, min: 1_024 },
  ),
  metricsHost: stringField('METRICS_HOST', 'Listen address of /metrics, /health and /ready', {
    default: '127.0.0.1',
  }),
  metricsPort: intField('METRICS_PORT', 'Port of /metrics, /health and /ready', {
    default: 9464,
    min: 0,
    max: 65535,
  }),
};

export function parseInferenceConfig(env: Env) {
  return parseConfig(inferenceConfigSchema, env);
}

/** The configured transactional id, or `<group id>-<hostname>` (one instance per host). */
export function transactionalIdOf(config: {
  readonly transactionalId: string;
  readonly groupId: string;
}): string {
  return config.transactionalId || `${config.groupId}-${hostname()}`;
}
