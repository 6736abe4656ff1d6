import { type Env, intField, parseConfig, processConfigFields, stringField } from '#shared/common';
import { backboneConfigFields } from '#shared/kafka';
import { modelConfigFields } from '#shared/model';

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
  publishBatchSize: intField('GATEWAY_PUBLISH_BATCH', 'Predictions per Kafka send', {
    default: 500,
    min: 1,
  }),
};

export function parseGatewayConfig(env: Env) {
  return parseConfig(gatewayConfigSchema, env);
}
