/**
 * promoter: decides every candidate on `models.candidates` — scores it and production on the
 * same evaluation data, promotes it only when it is at least as good (gated redeploy), logs
 * every decision, publishes `models.deployments` on promotion. One partition, one consumer
 * group: a single active promoter per model. Wiring only.
 */
import { resolve } from 'node:path';
import { ServiceOps, createLogger, createMetricsRegistry, sleep } from '#shared/common';
import { createBackbone, withLocalStackDefaults } from '#shared/kafka';
import { GOLDEN_SET_PATH, evaluateInWorker, readLabelledTsv } from '#shared/model';
import { createModelRegistry } from '#shared/registry';
import { ConsumerRunner, createRunnerMetrics } from '#shared/runner';
import { REPO_ROOT } from '#shared/serde';
import { createClickHouse, migrate } from '#shared/store';
import { createCandidateHandler } from './candidate-handler.ts';
import { parsePromoterConfig } from './config.ts';

const config = parsePromoterConfig(withLocalStackDefaults(process.env, 'promoter'));
const logger = createLogger('promoter', config.logLevel);
const metrics = createMetricsRegistry('promoter');

const ops = new ServiceOps({ logger, graceMs: config.shutdownGraceMs });
await migrate(config, logger);
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
    golden: readLabelledTsv(resolve(REPO_ROOT, GOLDEN_SET_PATH)),
    // In a worker thread: the consumer keeps heartbeating while a model is scored.
    evaluate: evaluateInWorker,
    baseDir: REPO_ROOT,
    actor: 'promoter',
    logger,
    ...(config.testDelayAfterDecisionMs > 0
      ? { afterDecision: () => sleep(config.testDelayAfterDecisionMs) }
      : {}),
  }),
});

await ops.start({
  metrics,
  metricsPort: config.metricsPort,
  metricsHost: config.metricsHost,
  readiness: () => ({ consumer: runner.isRunning }),
  steps: [
    { name: 'stop consumer (finish the decision in progress)', run: () => runner.stop() },
    { name: 'flush producer', run: () => producer.disconnect() },
    { name: 'close clickhouse', run: () => clickhouse.close() },
  ],
});

await producer.connect();
await codec.registerAll();
await runner.start();
logger.info({ model: config.modelName, groupId: config.groupId }, 'promoter running');
