import { type Env, intField, parseConfig, processConfigFields, stringField } from '#shared/common';
import { backboneConfigFields } from '#shared/kafka';
import { clickhouseConfigFields } from '#shared/store';

export const loggerConfigSchema = {
  ...backboneConfigFields,
  ...clickhouseConfigFields,
  ...processConfigFields,
  groupId: stringField('LOGGER_GROUP_ID', 'Consumer group of the logger', { default: 'logger' }),
  insertMaxRows: intField('LOGGER_INSERT_MAX_ROWS', 'Rows per ClickHouse insert at most', {
    default: 5_000,
    min: 1,
  }),
  embeddingDimension: intField(
    'EMBEDDING_DIMENSION',
    'Values per [CLS] embedding the table stores',
    {
      default: 128,
      min: 1,
    },
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
  metricsPort: intField('METRICS_PORT', 'Port of /metrics, /health and /ready', {
    default: 9465,
    min: 0,
    max: 65535,
  }),
};

export function parseLoggerConfig(env: Env) {
  return parseConfig(loggerConfigSchema, env);
}
