/**
 * gateway: synchronous predictions over HTTP (Fastify), the async review path, and every
 * sync prediction published to `predictions` (a candidate in SHADOW's to `predictions.shadow`;
 * a canary answers its share). Wiring only.
 */
import { resolve } from 'node:path';
import { hostname } from 'node:os';
import { type Readiness, ServiceOps } from '#platform/common';
import { createBackbone } from '#platform/kafka';
import { MicroBatcher, engineOptionsOf } from '#domain/model';
import { createRunnerMetrics } from '#platform/runner';
import { DeploymentVerifier } from '#platform/serde';
import {
  ServingModels,
  countRefusedDeployments,
  createDeploymentHandler,
  createShadowLane,
  followDeployments,
} from '#domain/scoring';
import { ApiKeyRing } from './api-keys.ts';
import { buildApp } from './app.ts';
import { createConsole } from './console-api/console-sources.ts';
import { parseGatewayConfig } from './config.ts';
import { PredictionPublisher } from './publisher.ts';

const config = parseGatewayConfig(process.env);
// No ops server: Fastify serves /metrics, /health and /ready on the gateway's own port.
const ops = ServiceOps.create('gateway', config);
const { logger, metrics } = ops;
const { kafka, codec, producer } = createBackbone(config, `gateway-${hostname()}`, logger, metrics);
const publisher = new PredictionPublisher({
  send: (events) => producer.send('predictions', events),
  capacity: config.publishBufferCapacity,
  batchSize: config.publishBatchSize,
  logger,
  metrics,
});

// Undefined until the model has loaded (the server listens before that).
let models: ServingModels | undefined = undefined;
const batcher = new MicroBatcher(
  {
    score: (texts) => {
      if (!models) throw new Error('model not loaded');
      return models.scoreProduction(texts);
    },
  },
  config.maxBatchTexts,
);
const shadowLane = createShadowLane(
  metrics,
  {
    maxPendingTexts: config.shadowMaxPendingTexts,
    maxProductionLoad: config.shadowMaxProductionLoad,
  },
  () => models?.productionLoad.utilization() ?? 0,
  logger,
);
// The web console (off unless CONSOLE_ENABLED): its own Kafka principal and ClickHouse reads.
const webConsole = config.consoleEnabled
  ? createConsole({
      config,
      // The gateway's own /ready, answered in-process (no request over the network).
      gatewayReadiness: async () => (await app.inject({ url: '/ready' })).json<Readiness>(),
      logger,
      metrics,
    })
  : undefined;
const app = await buildApp({
  score: (texts) => batcher.score(texts),
  canary: () => {
    const canary = models?.canary();
    return (
      canary && { score: (texts) => canary.host.score(texts), trafficShare: canary.trafficShare }
    );
  },
  shadow: {
    scorer: () => models?.candidateHost('SHADOW'),
    lane: shadowLane,
    // Awaited inside the lane: a slow or absent Kafka keeps shadow work pending, so it sheds.
    publish: (events) => producer.send('predictions.shadow', events),
  },
  model: () => models?.model,
  publishPredictions: (events) => publisher.enqueue(events),
  publisherStatus: () => publisher.status(),
  publishReviews: (events) => producer.send('reviews', events),
  kafkaConnected: () => producer.isConnected,
  readiness: () => ops.readiness(),
  metrics,
  limits: {
    maxTexts: config.maxTexts,
    maxTextBytes: config.maxTextBytes,
    maxReviewsInFlight: config.maxReviewsInFlight,
    maxTextsInFlight: config.maxTextsInFlight,
  },
  security: {
    keys:
      config.apiKeysFile === ''
        ? ApiKeyRing.of([])
        : ApiKeyRing.fromFile(resolve(config.apiKeysFile), {
            onReloadError: (error) => logger.error({ err: error }, 'API key file not reloaded'),
          }),
    anonymousPredict: config.anonymousPredict,
    anonymousMetrics: config.anonymousMetrics,
    rateLimitPerMinute: config.rateLimitPerMinute,
    anonymousRateLimitPerMinute: config.anonymousRateLimitPerMinute,
    corsOrigins: config.corsOrigins
      .split(',')
      .map((origin) => origin.trim())
      .filter((origin) => origin !== ''),
  },
  modelName: config.modelName,
  logger,
  ...(webConsole ? { console: webConsole } : {}),
});

const deployments = followDeployments({
  kafka,
  codec,
  producer,
  service: 'gateway',
  logger,
  metrics: createRunnerMetrics(metrics),
  // A consumer that cannot be kept running is fatal: the gateway would serve a version the
  // registry no longer wants, without saying so.
  onFatal: ops.fail,
  handler: createDeploymentHandler({
    modelName: config.modelName,
    target: () => models!,
    baseDir: process.cwd(),
    verifier: DeploymentVerifier.fromFile(resolve(config.deploymentTrustedKeysFile)),
    onRefused: countRefusedDeployments(metrics),
    logger,
  }),
});

await ops.start({
  // Served by the app's /ready beside its own checks (model loaded, Kafka, publish buffer).
  readiness: {
    modelWorker: () => models?.isServing ?? false,
    deploymentsConsumer: () => deployments.isRunning,
  },
  steps: [
    { name: 'stop accepting requests (drain in-flight)', run: () => app.close() },
    { name: 'stop deployments consumer', run: () => deployments.stop() },
    { name: 'finish shadow work', run: () => shadowLane.drain() },
    {
      name: 'publish buffered predictions',
      run: () => publisher.flushAndStop(config.shutdownGraceMs / 2),
    },
    {
      name: 'stop console (drift watcher, Kafka and ClickHouse clients)',
      run: () => webConsole?.stop(),
    },
    { name: 'flush producer', run: () => producer.disconnect() },
    { name: 'release models', run: () => models?.close() },
  ],
});
// Listen first: /health answers and /ready says "not ready" while the model loads.
await ops.run(
  [
    { name: 'listen', run: () => app.listen({ host: config.host, port: config.port }) },
    {
      name: 'load model',
      run: async () => {
        models = await ServingModels.start(config.modelDir, {
          engine: engineOptionsOf(config),
          logger,
        });
        logger.info({ model: models.model.version }, 'model loaded');
      },
    },
    { name: 'start publisher', run: () => publisher.start() },
    { name: 'connect producer', run: () => producer.connect() },
    { name: 'follow deployments', run: () => deployments.start() },
    ...(webConsole ? [{ name: 'start console', run: () => webConsole.start() }] : []),
  ],
  { port: config.port },
);
