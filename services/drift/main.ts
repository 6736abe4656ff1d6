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
import { ServiceOps } from '#platform/common';
import { loadDriftReference } from '#domain/drift';
import { LeaderElection, createBackbone, waitUntilCaughtUp } from '#platform/kafka';
import { createRunnerMetrics } from '#platform/runner';
import { countRefusedDeployments, followDeployments } from '#domain/scoring';
import { DeploymentVerifier } from '#platform/serde';
import { RegistryStore, clickhouseReachable, createClickHouse, migrate } from '#platform/store';
import {
  activeSources,
  countPredictions,
  insertDriftChecks,
  latestChecks,
  readWindow,
} from './drift-store.ts';
import { deployedProduction } from './adapters.ts';
import { ProductionFollower } from './deployments.ts';
import { parseDriftConfig } from './config.ts';
import { DriftDetector } from './detector.ts';
import { createRoundReporter } from './round-report.ts';
import { DriftLoop } from './scheduler.ts';

const config = parseDriftConfig(process.env);
const ops = ServiceOps.create('drift', config);
const { logger, metrics } = ops;
const report = createRoundReporter(metrics, logger);

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
  verifier: DeploymentVerifier.fromFile(resolve(config.deploymentTrustedKeysFile)),
  onRefused: countRefusedDeployments(metrics),
  logger,
});
// Every instance (standbys too) must know production, as inference and the gateway do.
const deployments = followDeployments({
  kafka,
  codec,
  producer,
  service: 'drift',
  logger,
  metrics: createRunnerMetrics(metrics),
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
    baseDir: process.cwd(),
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
  readiness: {
    // Leading or standing by: either way a member of the election.
    election: () => election.isMember,
    rounds: () => loop.isHealthy,
    deploymentsConsumer: () => deployments.isRunning,
    clickhouse: clickhouseReachable(config),
  },
  steps: [
    { name: 'stop evaluating (finish the round in progress)', run: () => loop.stop() },
    { name: 'leave the leader group', run: () => election.stop() },
    { name: 'stop deployments consumer', run: () => deployments.stop() },
    { name: 'flush producer', run: () => producer.disconnect() },
    { name: 'close clickhouse', run: () => clickhouse.close() },
  ],
});

await ops.run(
  [
    { name: 'migrations', run: () => migrate(config, logger) },
    { name: 'connect producer', run: () => producer.connect() },
    { name: 'register schemas', run: () => codec.registerAll() },
    { name: 'follow deployments', run: () => deployments.start() },
    {
      // The first round judges the current production version, not "none yet".
      name: 'learn production (deployments up to now)',
      run: async () => {
        const caughtUp = await waitUntilCaughtUp(kafka, deployments.groupId, 'models.deployments');
        if (!caughtUp) logger.warn('models.deployments not caught up in 30 s; going on');
      },
    },
    { name: 'join leader election', run: () => election.start() },
    { name: 'start evaluating', run: () => loop.start() },
  ],
  { model: config.modelName, window, metricsPort: config.metricsPort },
);
