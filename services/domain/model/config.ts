import { boolField, intField, stringField } from '#platform/common';
import type { EngineOptions } from './engine.ts';

/** Config fields of every service that serves the model. */
export const modelConfigFields = {
  modelDir: stringField('MODEL_DIR', 'Model folder served until a deployment says otherwise', {
    default: 'models/sentiment-minilm',
  }),
  modelName: stringField(
    'MODEL_NAME',
    'Model name whose deployments the service follows and predictions carry',
    {
      default: 'sentiment',
    },
  ),
  deploymentTrustedKeysFile: stringField(
    'DEPLOYMENT_TRUSTED_KEYS_FILE',
    'Ed25519 public keys (PEM, one or more) whose deployments are loaded; re-read when it changes',
  ),
  maxTextBytes: intField('MAX_TEXT_BYTES', 'UTF-8 bytes per text (longer: dead letter or 400)', {
    default: 20_000,
    min: 1,
  }),
  maxBatchTokens: intField(
    'MAX_BATCH_TOKENS',
    'Padded tokens per forward pass (texts x longest text); long texts go in smaller batches',
    { default: 256, min: 128, max: 1_048_576 },
  ),
  intraOpThreads: intField('INTRA_OP_THREADS', 'onnxruntime intra-op threads of the model worker', {
    default: 1,
    min: 1,
    max: 64,
  }),
  int8LookupTables: boolField(
    'MODEL_INT8_LOOKUP_TABLES',
    "Keep an int8 model's embedding tables int8 in memory (same outputs, 35 MB less for the " +
      'production model); false: onnxruntime expands them to fp32 at load',
    { default: true },
  ),
};

/**
 * The engine options a service passes to ModelHost.start, from its parsed model config
 * (a service adds its own, such as INFERENCE_BATCH_SIZE's maxBatchSize).
 */
export function engineOptionsOf(config: {
  readonly intraOpThreads: number;
  readonly maxBatchTokens: number;
  readonly int8LookupTables: boolean;
}): EngineOptions {
  return {
    intraOpThreads: config.intraOpThreads,
    maxBatchTokens: config.maxBatchTokens,
    int8LookupTables: config.int8LookupTables,
  };
}
