/**
 * promoter: decides every candidate on `models.candidates` — scores it and production on the
 * same evaluation data (the offline gate); one that is at least as good enters SHADOW, and the
 * live trial loop promotes it (directly or through a CANARY) or blocks it on live evidence
 * from the predictions table (gated redeploy). Logs every decision; the registry publishes
 * `models.deployments`. One partition, one consumer group: a single active promoter per
 * model. Wiring only.
 */
import { resolve } from 'node:path';
import { ServiceOps, sleep } from '#platform/common';
import { createBackbone } from '#platform/kafka';
import { evaluateInWorker, readLabelledTsv } from '#domain/model';
import { createModelRegistry } from '#domain/registry';
import { ConsumerRunner, createRunnerMetrics } from '#platform/runner';
import {
  clickhouseReachable,
  createClickHouse,
  migrate,
  readServedLabelled,
  readShadowPairs,
} from '#platform/store';
import { createCandidateHandler } from './candidate-handler.ts';
import { parsePromoterConfig } from './config.ts';
import { LiveTrialLoop } from './live-trials.ts';

const config = parsePromoterConfig(process.env);
const ops = ServiceOps.create('promoter', config);
const { logger, metrics } = ops;
const clickhouse = createClickHouse(config);
const { kafka, codec, producer } = createBackbone(config, 'promoter', logger, metrics);
const { registry, store } = createModelRegistry({
  clickhouse,
  producer,
  artifactRoot: config.artifactRoot,
  signingKeyFile: config.deploymentSigningKeyFile,
  logger,
});

const runner = new ConsumerRunner({
  kafka,
  codec,
  producer,
  topic: 'models.candidates',
  groupId: config.groupId,
  service: 'promoter',
  logger,
  metrics: createRunnerMetrics(metrics),
  fromBeginning: true,
  onFatal: ops.fail,
  handler: createCandidateHandler({
    modelName: config.modelName,
    policy: { margin: config.margin, guardrail: config.guardrail, minF1: config.minF1 },
    registry,
    store,
    golden: readLabelledTsv(resolve(config.goldenSetFile)),
    // In a worker thread: the consumer keeps heartbeating while a model is scored.
    evaluate: evaluateInWorker,
    baseDir: process.cwd(),
    shadow: config.shadowEnabled,
    actor: 'promoter',
    logger,
    ...(config.testDelayAfterDecisionMs > 0
      ? { afterDecision: () => sleep(config.testDelayAfterDecisionMs) }
      : {}),
  }),
});

const liveTrials = new LiveTrialLoop(
  {
    modelName: config.modelName,
    registry,
    evidence: {
      shadowPairs: (query) => readShadowPairs(clickhouse, query),
      servedLabelled: (query) => readServedLabelled(clickhouse, query),
    },
    settings: config,
    actor: 'promoter',
    logger,
  },
  config.livePollMs,
);

await ops.start({
  readiness: { consumer: () => runner.isRunning, clickhouse: clickhouseReachable(config) },
  steps: [
    { name: 'stop live trials (finish the round in progress)', run: () => liveTrials.stop() },
    { name: 'stop consumer (finish the decision in progress)', run: () => runner.stop() },
    { name: 'flush producer', run: () => producer.disconnect() },
    { name: 'close clickhouse', run: () => clickhouse.close() },
  ],
});

await ops.run(
  [
    { name: 'migrations', run: () => migrate(config, logger) },
    { name: 'connect producer', run: () => producer.connect() },
    { name: 'register schemas', run: () => codec.registerAll() },
    { name: 'start consumer', run: () => runner.start() },
    { name: 'start live trials', run: () => liveTrials.start() },
  ],
  {
    model: config.modelName,
    groupId: config.groupId,
    shadow: config.shadowEnabled,
    canaryTrafficShare: config.canaryTrafficShare,
  },
);
