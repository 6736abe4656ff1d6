/**
 * drift: watches the production model's inputs through their [CLS] embeddings in ClickHouse
 * and publishes state changes and periodic status to `drift.events`; every evaluation is
 * stored in `drift_checks`. One writer per model name: instances elect a leader through a
 * Kafka consumer group, standbys stay idle. Wiring only.
 */
import { hostname } from 'node:os';
import { Counter, Gauge } from 'prom-client';
import {
  closeServer,
  createLogger,
  createMetricsRegistry,
  createShutdown,
  installSignalHandlers,
  startOpsServer,
} from '#shared/common';
import { calibrateInWorker, loadDriftReference } from '#shared/drift';
import { LeaderElection, createBackbone, withLocalStackDefaults } from '#shared/kafka';
import { REPO_ROOT } from '#shared/serde';
import {
  RegistryStore,
  activeSources,
  countPredictions,
  createClickHouse,
  insertDriftChecks,
  latestChecks,
  migrate,
  productionVersion,
  readWindow,
} from '#shared/store';
import { registryCalibrationSaver, registryProduction } from './adapters.ts';
import { parseDriftConfig } from './config.ts';
import { DriftDetector, GLOBAL_SEGMENT } from './detector.ts';
import { DriftLoop } from './scheduler.ts';

const config = parseDriftConfig(withLocalStackDefaults(process.env));
const logger = createLogger('drift', config.logLevel);
const metrics = createMetricsRegistry('drift');
const rounds = new Counter({
  name: 'drift_rounds_total',
  help: 'Evaluation rounds run by this instance',
  registers: [metrics],
});
const leaderGauge = new Gauge({
  name: 'drift_leader',
  help: '1 while this instance is the single writer for its model',
  registers: [metrics],
});
const statisticGauge = new Gauge({
  name: 'drift_statistic',
  help: 'Latest value of each drift statistic (and its threshold) per segment',
  labelNames: ['segment', 'statistic', 'kind'],
  registers: [metrics],
});

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
  onChange: (leader) => leaderGauge.set(leader ? 1 : 0),
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
  production: registryProduction(registry, config.modelName, REPO_ROOT),
  loadReference: loadDriftReference,
  calibrate: (folder, windowSize, withClassifier) =>
    calibrateInWorker(folder, {
      windowSize,
      alpha: config.alpha,
      ...(withClassifier ? {} : { classifierResamples: 0 }),
      onProgress: (stage, done, total) => logger.info({ stage, done, total }, 'calibrating'),
    }),
  saveCalibration: registryCalibrationSaver(registry, config.modelName),
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
    const version = productionVersion(await registry.decisions(config.modelName));
    return {
      version,
      count: version === null ? 0 : await countPredictions(clickhouse, config.modelName, version),
    };
  },
  evaluate: async () => {
    const result = await detector.evaluate();
    rounds.inc();
    for (const segment of result.segments) {
      const evaluation = segment.evaluation;
      if (!evaluation) continue;
      statisticGauge.set(
        { segment: segment.segment, statistic: 'class_mix', kind: 'value' },
        evaluation.classMix,
      );
      if (evaluation.cosine !== null)
        statisticGauge.set(
          { segment: segment.segment, statistic: 'cosine', kind: 'value' },
          evaluation.cosine,
        );
      if (evaluation.domainAuc !== null)
        statisticGauge.set(
          { segment: segment.segment, statistic: 'domain_auc', kind: 'value' },
          evaluation.domainAuc,
        );
    }
    const global = result.segments.find((segment) => segment.segment === GLOBAL_SEGMENT);
    logger.info(
      {
        version: result.version,
        state: global?.inputState,
        predictionState: global?.predictionState,
        rows: global?.rows,
        segments: result.segments.length,
        events: result.events.length,
      },
      'drift round',
    );
  },
  onStandby: () => detector.reset(),
  now: Date.now,
  logger,
});

const ops = await startOpsServer(metrics, () => ({ loop: true, kafka: true }), config.metricsPort);
const shutdown = createShutdown({
  logger,
  graceMs: config.shutdownGraceMs,
  steps: [
    { name: 'stop evaluating (finish the round in progress)', run: () => loop.stop() },
    { name: 'leave the leader group', run: () => election.stop() },
    { name: 'flush producer', run: () => producer.disconnect() },
    { name: 'close clickhouse', run: () => clickhouse.close() },
    { name: 'close ops server', run: () => closeServer(ops) },
  ],
});
installSignalHandlers(shutdown);

await producer.connect();
await codec.registerAll();
await election.start();
loop.start();
logger.info({ model: config.modelName, window, metricsPort: config.metricsPort }, 'drift running');
