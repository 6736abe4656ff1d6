import {
  type Env,
  intField,
  listField,
  parseConfig,
  stringField,
  urlField,
  enumField,
} from '#shared/common';

export const inferenceConfigSchema = {
  kafkaBrokers: listField('KAFKA_BROKERS', 'Kafka bootstrap servers (comma-separated)'),
  schemaRegistryUrl: urlField('SCHEMA_REGISTRY_URL', 'Schema registry base URL'),
  modelDir: stringField('MODEL_DIR', 'Model folder served until a deployment says otherwise', {
    default: 'models/sentiment-bootstrap',
  }),
  modelName: stringField('MODEL_NAME', 'Model name whose deployments this service follows', {
    default: 'sentiment',
  }),
  groupId: stringField('INFERENCE_GROUP_ID', 'Consumer group of the reviews consumer', {
    default: 'inference',
  }),
  maxTextBytes: intField(
    'MAX_TEXT_BYTES',
    'Reviews longer than this (UTF-8 bytes) are dead-lettered',
    {
      default: 20_000,
      min: 1,
    },
  ),
  maxBatchSize: intField('INFERENCE_BATCH_SIZE', 'Texts per forward pass', {
    default: 32,
    min: 1,
    max: 1024,
  }),
  intraOpThreads: intField(
    'INTRA_OP_THREADS',
    'onnxruntime intra-op threads of the inference worker',
    {
      default: 1,
      min: 1,
      max: 64,
    },
  ),
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
  logLevel: enumField(
    'LOG_LEVEL',
    'Log level',
    ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const,
    {
      default: 'info',
    },
  ),
  shutdownGraceMs: intField('SHUTDOWN_GRACE_MS', 'Force exit after this long in shutdown', {
    default: 20_000,
    min: 1,
  }),
};

export function parseInferenceConfig(env: Env) {
  return parseConfig(inferenceConfigSchema, env);
}
