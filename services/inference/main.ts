/**
 * inference: consumes `reviews`, scores them with the serving model (in a worker thread),
 * produces `predictions`; follows `models.deployments` to hot-swap the model and to run a
 * candidate in SHADOW (its predictions to `predictions.shadow`) or CANARY (its share).
 * Wiring only: config, adapters, start, ordered shutdown.
 */
import { resolve } from 'node:path';
import { hostname } from 'node:os';
import { Counter, Histogram } from 'prom-client';
import { ServiceOps } from '#platform/common';
import { TransactionalEventProducer, createBackbone } from '#platform/kafka';
import { engineOptionsOf } from '#domain/model';
import { ConsumerRunner, createRunnerMetrics } from '#platform/runner';
import { DeploymentVerifier } from '#platform/serde';
import { parseInferenceConfig, transactionalIdOf } from './config.ts';
import {
  ServingModels,
  countRefusedDeployments,
  createDeploymentHandler,
  createShadowLane,
  followDeployments,
} from '#domain/scoring';
import { createReviewHandler } from './review-handler.ts';

const config = parseInferenceConfig(process.env);
const ops = ServiceOps.create('inference', config);
const { logger, metrics } = ops;
const runnerMetrics = createRunnerMetrics(metrics);
const scored = new Counter({
  name: 'inference_texts_scored_total',
  help: 'Texts scored, by model version',
  labelNames: ['model_version'],
  registers: [metrics],
});
const batchSeconds = new Histogram({
  name: 'inference_model_batch_seconds',
  help: 'Model time per consumed batch',
  registers: [metrics],
});

const { kafka, codec, producer } = createBackbone(
  config,
  `inference-${hostname()}`,
  logger,
  metrics,
);
const transactions =
  config.delivery === 'exactly-once'
    ? new TransactionalEventProducer({
        kafka,
        codec,
        transactionalId: transactionalIdOf(config),
        transactionTimeoutMs: config.transactionTimeoutMs,
        metrics,
        logger,
      })
    : undefined;
const models = await ServingModels.start(config.modelDir, {
  engine: { ...engineOptionsOf(config), maxBatchSize: config.maxBatchSize },
  logger,
});
logger.info({ model: models.model.name, version: models.model.version }, 'model loaded');
const shadowLane = createShadowLane(
  metrics,
  {
    maxPendingTexts: config.shadowMaxPendingTexts,
    maxProductionLoad: config.shadowMaxProductionLoad,
  },
  () => models.productionLoad.utilization(),
  logger,
);

const reviews = new ConsumerRunner({
  kafka,
  codec,
  producer,
  topic: 'reviews',
  groupId: config.groupId,
  service: 'inference',
  logger,
  metrics: runnerMetrics,
  partitionsConsumedConcurrently: config.partitionsConcurrently,
  maxBytesPerPartition: config.maxBytesPerPartition,
  ...(transactions ? { transactions } : {}),
  onFatal: ops.fail,
  handler: createReviewHandler({
    models,
    shadow: {
      lane: shadowLane,
      publish: (events) => producer.send('predictions.shadow', events),
    },
    maxTextBytes: config.maxTextBytes,
    modelName: config.modelName,
    onScored: (count, version, seconds) => {
      scored.inc({ model_version: version }, count);
      batchSeconds.observe(seconds);
    },
  }),
});
const deployments = followDeployments({
  kafka,
  codec,
  producer,
  service: 'inference',
  logger,
  metrics: runnerMetrics,
  onFatal: ops.fail,
  handler: createDeploymentHandler({
    modelName: config.modelName,
    target: () => models,
    baseDir: process.cwd(),
    verifier: DeploymentVerifier.fromFile(resolve(config.deploymentTrustedKeysFile)),
    onRefused: countRefusedDeployments(metrics),
    logger,
  }),
});

await ops.start({
  readiness: {
    model: () => models.isServing,
    reviewsConsumer: () => reviews.isRunning,
    deploymentsConsumer: () => deployments.isRunning,
  },
  steps: [
    { name: 'stop reviews consumer (drain in-flight batch)', run: () => reviews.stop() },
    { name: 'stop deployments consumer', run: () => deployments.stop() },
    { name: 'finish shadow work', run: () => shadowLane.drain() },
    { name: 'close transactional producer', run: () => transactions?.disconnect() },
    { name: 'flush producer', run: () => producer.disconnect() },
    { name: 'release models', run: () => models.close() },
  ],
});

await ops.run(
  [
    { name: 'connect producer', run: () => producer.connect() },
    { name: 'register schemas', run: () => codec.registerAll() },
    { name: 'follow deployments', run: () => deployments.start() },
    { name: 'start reviews consumer', run: () => reviews.start() },
  ],
  {
    model: models.model.version,
    metricsPort: config.metricsPort,
    metricsHost: config.metricsHost,
    delivery: config.delivery,
    ...(transactions ? { transactionalId: transactions.transactionalId } : {}),
  },
);
