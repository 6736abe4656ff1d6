/**
 * retrainer: turns DRIFT events (drift.events) and retrain requests (retrain.requests) into
 * candidate versions on `models.candidates`. One candidate per drift episode or request;
 * offsets are committed only after the candidate is registered and announced, so a crash
 * mid-training retrains that trigger once after restart. Too few labels: a status event on
 * `retrain.status` and a retriable error (the consumer retries until labels arrive).
 * Wiring only.
 */
import { join, resolve } from 'node:path';
import { ServiceOps, runInWorker, siblingModule } from '#platform/common';
import { createBackbone } from '#platform/kafka';
import { evaluateInWorker, readLabelledTsv } from '#domain/model';
import { createModelRegistry } from '#domain/registry';
import { ConsumerRunner, createRunnerMetrics } from '#platform/runner';
import { clickhouseReachable, createClickHouse, migrate } from '#platform/store';
import { countLabelledPredictions, readLabelledPredictions } from './labelled-data.ts';
import { parseRetrainerConfig } from './config.ts';
import { type RetrainDeps, retrain } from './retrain.ts';
import type { TrainProgress, TrainTaskInput, TrainTaskResult } from './train-task.ts';
import { createSerialiser, createTriggerHandler } from './trigger-handler.ts';
import { type Trigger, triggerFromDriftEvent, triggerFromRequest } from './triggers.ts';

const config = parseRetrainerConfig(process.env);
const ops = ServiceOps.create('retrainer', config);
const { logger, metrics } = ops;
const clickhouse = createClickHouse(config);
const { kafka, codec, producer } = createBackbone(config, 'retrainer', logger, metrics);
const { registry, store } = createModelRegistry({
  clickhouse,
  producer,
  artifactRoot: config.artifactRoot,
  // Candidates are calibrated for the drift service's windows as they are registered.
  driftCalibration: { windowSize: config.windowSize, alpha: config.alpha },
  logger,
});
const golden = readLabelledTsv(resolve(config.goldenSetFile));
const workDir = resolve(config.workDir);

const deps = (heartbeat: () => Promise<void>): RetrainDeps => ({
  modelName: config.modelName,
  settings: {
    minLabels: config.minLabels,
    maxRows: config.maxRows,
    holdoutFraction: config.holdoutFraction,
  },
  registry,
  store,
  baseDir: process.cwd(),
  countLabelled: (version, sinceMs) =>
    countLabelledPredictions(clickhouse, {
      modelName: config.modelName,
      modelVersion: version,
      sinceMs,
    }),
  readLabelled: (version, sinceMs) =>
    readLabelledPredictions(clickhouse, {
      modelName: config.modelName,
      modelVersion: version,
      sinceMs,
      maxRows: config.maxRows,
    }),
  train: async (request, onProgress) => {
    const dim = request.recent[0]?.embedding.length ?? 0;
    const recentX = new Float32Array(request.recent.length * dim);
    request.recent.forEach((row, i) => recentX.set(row.embedding, i * dim));
    const input: TrainTaskInput = {
      parentFolder: request.parentFolder,
      labelledReferenceFolder: resolve(config.bootstrapModelDir),
      outputFolder: join(workDir, `${config.modelName}-v${request.version}`),
      recentX,
      recentY: Int32Array.from(request.recent, (row) => row.label),
      seed: request.seed,
      shuffleLabels: request.shuffleLabels,
      version: request.version,
      parentVersion: request.parentVersion,
      holdout: request.holdout,
      description: request.description,
      referenceRatio: config.referenceRatio,
      l2sp: config.l2sp,
      maxEpochs: config.maxEpochs,
      createdMs: Date.now(),
    };
    return runInWorker<TrainTaskInput, TrainTaskResult, TrainProgress>(
      siblingModule('./train-task.ts', import.meta.url),
      input,
      (progress) => onProgress(progress.fraction, progress.message),
    );
  },
  evaluate: evaluateInWorker,
  golden,
  publishCandidate: (candidate) =>
    producer.send('models.candidates', [{ key: candidate.modelVersion, value: candidate }]),
  publishStatus: (status) =>
    producer.send('retrain.status', [{ key: status.triggerId, value: status }]),
  heartbeat,
  now: Date.now,
  logger,
});

// One training at a time across both topics: versions are numbered in registration order.
const serialise = createSerialiser();
const handlerOf = <T extends { eventTime: number }>(toTrigger: (event: T) => Trigger | null) =>
  createTriggerHandler<T>({
    toTrigger,
    retrain: (trigger, context) => retrain(trigger, deps(context.heartbeat)),
    serialise,
    maxAgeMs: config.maxTriggerAgeMs,
    now: Date.now,
    logger,
  });

const common = {
  kafka,
  codec,
  producer,
  service: 'retrainer',
  logger,
  metrics: createRunnerMetrics(metrics),
  onFatal: ops.fail,
  // Waiting for labels is an outage-like retriable error: retried with backoff, not dead-lettered.
  backoff: { initialMs: 2_000, maxMs: 30_000, factor: 2 },
  // From the beginning: a member killed before its first commit leaves the group without
  // offsets, and starting at the latest offset would skip the trigger it was working on.
  // Triggers older than RETRAIN_MAX_TRIGGER_AGE_MS are skipped, and done ones are
  // recognised by their id, so a first start does not retrain history.
  fromBeginning: true,
};
// A group per topic (one group over two topics with different subscriptions confuses the
// assignment); each topic has one partition, so each group has one active member.
const driftEvents = new ConsumerRunner({
  ...common,
  groupId: `${config.groupId}-drift-events`,
  topic: 'drift.events',
  handler: handlerOf((event) =>
    triggerFromDriftEvent(event, { modelName: config.modelName, segments: config.segments }),
  ),
});
const requests = new ConsumerRunner({
  ...common,
  groupId: `${config.groupId}-requests`,
  topic: 'retrain.requests',
  handler: handlerOf((request) => triggerFromRequest(request, config.modelName, config.lookbackMs)),
});

await ops.start({
  readiness: {
    driftEvents: () => driftEvents.isRunning,
    requests: () => requests.isRunning,
    clickhouse: clickhouseReachable(config),
  },
  steps: [
    { name: 'stop drift events consumer', run: () => driftEvents.stop() },
    { name: 'stop retrain requests consumer', run: () => requests.stop() },
    { name: 'flush producer', run: () => producer.disconnect() },
    { name: 'close clickhouse', run: () => clickhouse.close() },
  ],
});

await ops.run(
  [
    { name: 'migrations', run: () => migrate(config, logger) },
    { name: 'connect producer', run: () => producer.connect() },
    { name: 'register schemas', run: () => codec.registerAll() },
    { name: 'start drift events consumer', run: () => driftEvents.start() },
    { name: 'start retrain requests consumer', run: () => requests.start() },
  ],
  { model: config.modelName, groupId: config.groupId },
);
