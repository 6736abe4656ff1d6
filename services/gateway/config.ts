import {
  type Env,
  enumField,
  intField,
  listField,
  parseConfig,
  stringField,
  urlField,
} from '#shared/common';

export const gatewayConfigSchema = {
  kafkaBrokers: listField('KAFKA_BROKERS', 'Kafka bootstrap servers (comma-separated)'),
  schemaRegistryUrl: urlField('SCHEMA_REGISTRY_URL', 'Schema registry base URL'),
  host: stringField('GATEWAY_HOST', 'Listen address', { default: '0.0.0.0' }),
  port: intField('GATEWAY_PORT', 'Listen port', { default: 8080, min: 0, max: 65535 }),
  modelDir: stringField('MODEL_DIR', 'Model folder served until a deployment says otherwise', {
    default: 'models/sentiment-bootstrap',
  }),
  modelName: stringField('MODEL_NAME', 'Model name whose deployments the gateway follows', {
    default: 'sentiment',
  }),
  maxTexts: intField('GATEWAY_MAX_TEXTS', 'Texts per request', {
    default: 64,
    min: 1,
    max: 10_000,
  }),
  maxTextBytes: intField('MAX_TEXT_BYTES', 'UTF-8 bytes per text', { default: 20_000, min: 1 }),
  maxBatchTexts: intField(
    'GATEWAY_MAX_BATCH_TEXTS',
    'Texts per micro-batch sent to the model worker',
    {
      default: 64,
      min: 1,
    },
  ),
  intraOpThreads: intField('INTRA_OP_THREADS', 'onnxruntime intra-op threads of the model worker', {
    default: 1,
    min: 1,
    max: 64,
  }),
  publishBufferCapacity: intField(
    'GATEWAY_PUBLISH_BUFFER',
    'Predictions held while Kafka is unavailable',
    {
      default: 100_000,
      min: 1,
    },
  ),
  publishBatchSize: intField('GATEWAY_PUBLISH_BATCH', 'Predictions per Kafka send', {
    default: 500,
    min: 1,
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

export function parseGatewayConfig(env: Env) {
  return parseConfig(gatewayConfigSchema, env);
}
