/**
 * drift: watches the production model's inputs through their [CLS] embeddings in ClickHouse
 * and publishes state changes and periodic status to `drift.events`; every evaluation is
 * stored in `drift_checks`. One writer per model name: instances elect a leader through a
 * Kafka consumer group, standbys stay idle. Production is what the registry's signed
 * deployments on `models.deployments` say (followed by every instance, as inference does);
 * thresholds are read from the registry, never calibrated or written here. Wiring only.
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { ServiceOps, createLogger, createMetricsRegistry } from '#shared/common';
import { loadDriftReference } from '#shared/drift';
import { LeaderElection, createBackbone, withLocalStackDefaults } from '#shared/kafka';
import { ConsumerRunner, createRunnerMetrics } from '#shared/runner';
import { countRefusedDeployments } from '#shared/scoring';
import { DeploymentVerifier, REPO_ROOT } from '#shared/serde';
import {
  RegistryStore,
  activeSources,
  countPredictions,
  createClickHouse,
  insertDriftChecks,
  latestChecks,
  migrate,
  readWindow,
} from '#shared/store';
import { deployedProduction } from './adapters.ts';
import { ProductionFollower } from './deployments.ts';
import { parseDriftConfig } from './config.ts';
import { DriftDetector } from './detector.ts';
import { createRoundReporter } from './round-report.ts';
import { DriftLoop } from './scheduler.ts';

const config = parseDriftConfig(withLocalStackDefaults(process.env, 'drift'));
const logger = createLogger('drift', config.logLevel);
const metrics = createMetricsRegistry('drift');
const report = createRoundReporter(metrics, logger);

const ops = new ServiceOps({ logger, graceMs: config.shutdownGraceMs });
await migrate(config, logger);
const clickhouse = createClickHouse(config);
const registry = new RegistryStore(clickhouse);
const { kafka, codec, producer } = createBackbone(config, `drift-${hostname()}`, logger, metrics);
const election = new LeaderElection({
  kafka,
  groupId: `drift-leader-${config.modelName}`,
  topic: 'drift.events',
  logger,
  sessionTimeoutMs: config.sessionTimeoutMs,
  onChange: report.leadership,
});
const follower = new ProductionFollower({
  modelName: config.modelName,
  verifier: DeploymentVerifier.fromFile(resolve(REPO_ROOT, config.deploymentTrustedKeysFile)),
  onRefused: countRefusedDeployments(metrics),
  logger,
});
// Every instance (standbys too) must know production: a group of its own, read from the
// start of the compacted topic, as inference and the gateway do.
const deployments = new ConsumerRunner({
  kafka,
  codec,
  producer,
  topic: 'models.deployments',
  groupId: `drift-deployments-${hostname()}-${process.pid}`,
  service: 'drift',
  logger,
  metrics: createRunnerMetrics(metrics),
  fromBeginning: true,
  onFatal: ops.fail,
  handler: follower.handler,
});
const window =
  config.windowKind === 'count'
    ? ({ kind: 'count', size: config.windowSize } as const)
    : ({ kind: 'time', durationMs: config.windowMs, maxRows: config.windowSize * 4 } as const);

const detector = new DriftDetector({
  modelName: config.modelName,
  settings: {
    windowSize: config.windowSize,
    alpha: config.alpha,
    minWindowRows: Math.min(config.minWindowRows, config.windowSize),
    driftAfter: config.driftAfter,
    recoverAfter: config.recoverAfter,
    inputStatistics: config.inputStatistics,
    segments: config.segments === 'on',
  },
  production: deployedProduction({
    current: () => follower.current(),
    registry,
    modelName: config.modelName,
    baseDir: REPO_ROOT,
  }),
  loadReference: loadDriftReference,
  readWindow: (version, source) =>
    readWindow(clickhouse, {
      modelName: config.modelName,
      modelVersion: version,
      window,
      ...(source === undefined ? {} : { source }),
    }),
  activeSources: (version) =>
    activeSources(
      clickhouse,
      config.modelName,
      version,
      config.segmentLookback,
      Math.min(config.minWindowRows, config.windowSize),
    ),
  restore: async (version) =>
    new Map(
      (await latestChecks(clickhouse, config.modelName, version)).map((check) => [
        check.segment,
        check,
      ]),
    ),
  // The leader is checked again right before each write: a member that lost leadership
  // during the round (a rebalance) writes nothing.
  writeChecks: async (rows) => {
    if (election.isLeader) await insertDriftChecks(clickhouse, rows);
  },
  publish: async (events) => {
    if (!election.isLeader || events.length === 0) return;
    await producer.send(
      'drift.events',
      events.map((event) => ({ key: event.modelVersion, value: event })),
    );
  },
  now: Date.now,
  logger,
});

const loop = new DriftLoop({
  settings: {
    everyPredictions: config.everyPredictions,
    intervalMs: config.intervalMs,
    pollMs: config.pollMs,
  },
  isLeader: () => election.isLeader,
  predictionCount: async () => {
    const version = follower.current()?.version ?? null;
    return {
      version,
      count: version === null ? 0 : await countPredictions(clickhouse, config.modelName, version),
    };
  },
  evaluate: async () => report.round(await detector.evaluate()),
  onStandby: () => detector.reset(),
  now: Date.now,
  logger,
});

await ops.start({
  metrics,
  metricsPort: config.metricsPort,
  metricsHost: config.metricsHost,
  readiness: () => ({ loop: true, kafka: true, deploymentsConsumer: deployments.isRunning }),
  steps: [
    { name: 'stop evaluating (finish the round in progress)', run: () => loop.stop() },
    { name: 'leave the leader group', run: () => election.stop() },
    { name: 'stop deployments consumer', run: () => deployments.stop() },
    { name: 'flush producer', run: () => producer.disconnect() },
    { name: 'close clickhouse', run: () => clickhouse.close() },
  ],
});

await producer.connect();
await codec.registerAll();
await deployments.start();
await election.start();
loop.start();
logger.info({ model: config.modelName, window, metricsPort: config.metricsPort }, 'drift running');
