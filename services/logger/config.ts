import {
  type Env,
  intField,
  parseConfig,
  processConfigFields,
  stringField,
} from '#platform/common';
import { backboneConfigFields } from '#platform/kafka';
import { clickhouseConfigFields } from '#platform/store';

export const loggerConfigSchema = {
  ...backboneConfigFields,
  ...clickhouseConfigFields,
  ...processConfigFields,
  groupId: stringField('LOGGER_GROUP_ID', 'Consumer group of the logger', { default: 'logger' }),
  insertMaxRows: intField('LOGGER_INSERT_MAX_ROWS', 'Rows per ClickHouse insert at most', {
    default: 5_000,
    min: 1,
  }),
  embeddingMaxDimension: intField(
    'EMBEDDING_MAX_DIMENSION',
    'Most values per [CLS] embedding stored; each model version keeps the width of its model',
    { default: 4096, min: 1 },
  ),
  partitionsConcurrently: intField(
    'PARTITIONS_CONSUMED_CONCURRENTLY',
    'Partitions processed in parallel',
    {
      // Concurrent partitions share inserts, so more of them means larger inserts.
      default: 6,
      min: 1,
    },
  ),
  batchesInFlight: intField(
    'LOGGER_BATCHES_IN_FLIGHT',
    'Batches of one partition being inserted at the same time (offsets still committed in order)',
    {
      // Inserts are idempotent, so batches may land out of order: with one at a time the
      // consumer idles while each insert is on its way (kafkajs fetches a partition again
      // only after its handler returned). Memory: up to this many batches per partition.
      default: 4,
      min: 1,
    },
  ),
  metricsHost: stringField('METRICS_HOST', 'Listen address of /metrics, /health and /ready', {
    default: '127.0.0.1',
  }),
  metricsPort: intField('METRICS_PORT', 'Port of /metrics, /health and /ready', {
    default: 9465,
    min: 0,
    max: 65535,
  }),
};

export function parseLoggerConfig(env: Env) {
  return parseConfig(loggerConfigSchema, env);
}
