import {
  type Env,
  boolField,
  intField,
  parseConfig,
  processConfigFields,
  stringField,
} from '#platform/common';
import { backboneConfigFields } from '#platform/kafka';
import { modelConfigFields } from '#domain/model';

export const gatewayConfigSchema = {
  ...backboneConfigFields,
  ...modelConfigFields,
  ...processConfigFields,
  host: stringField('GATEWAY_HOST', 'Listen address (docker-compose sets 0.0.0.0)', {
    default: '127.0.0.1',
  }),
  port: intField('GATEWAY_PORT', 'Listen port', { default: 8080, min: 0, max: 65535 }),
  maxTexts: intField('GATEWAY_MAX_TEXTS', 'Texts per request', {
    default: 64,
    min: 1,
    max: 10_000,
  }),
  maxBatchTexts: intField(
    'GATEWAY_MAX_BATCH_TEXTS',
    'Texts per micro-batch sent to the model worker',
    {
      default: 64,
      min: 1,
    },
  ),
  publishBufferCapacity: intField(
    'GATEWAY_PUBLISH_BUFFER',
    'Predictions held while Kafka is unavailable',
    {
      default: 100_000,
      min: 1,
    },
  ),
  apiKeysFile: stringField(
    'GATEWAY_API_KEYS_FILE',
    'API keys (JSON, sha256 of each key, scopes; re-read on change). Empty: no keys, so only anonymous calls allowed by the options below',
    { default: '' },
  ),
  anonymousPredict: boolField(
    'GATEWAY_ANONYMOUS_PREDICT',
    'Allow /v1/predict and /v1/model without a key (the local stack turns it on)',
    { default: false },
  ),
  anonymousMetrics: boolField(
    'GATEWAY_ANONYMOUS_METRICS',
    '/metrics for every client; otherwise loopback clients and admin keys only',
    { default: false },
  ),
  rateLimitPerMinute: intField(
    'GATEWAY_RATE_LIMIT_PER_MINUTE',
    'Requests per minute per API key without a limit of its own',
    { default: 6_000, min: 1 },
  ),
  anonymousRateLimitPerMinute: intField(
    'GATEWAY_ANONYMOUS_RATE_LIMIT_PER_MINUTE',
    'Requests per minute per client address without a key',
    { default: 600, min: 1 },
  ),
  corsOrigins: stringField(
    'GATEWAY_CORS_ORIGINS',
    'Comma-separated origins allowed by CORS; empty: none',
    { default: '' },
  ),
  maxReviewsInFlight: intField(
    'GATEWAY_MAX_REVIEWS_IN_FLIGHT',
    'Reviews waiting for the Kafka acknowledgement; beyond, /v1/reviews answers 503 with Retry-After',
    { default: 10_000, min: 1 },
  ),
  maxTextsInFlight: intField(
    'GATEWAY_MAX_TEXTS_IN_FLIGHT',
    'Texts waiting for or in the model; beyond, /v1/predict answers 503 with Retry-After (load shedding)',
    { default: 2_048, min: 1 },
  ),
  publishBatchSize: intField('GATEWAY_PUBLISH_BATCH', 'Predictions per Kafka send', {
    default: 500,
    min: 1,
  }),
};

export function parseGatewayConfig(env: Env) {
  return parseConfig(gatewayConfigSchema, env);
}
