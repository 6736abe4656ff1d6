/**
 * logger: consumes `predictions` and `predictions.shadow` (a candidate's shadow answers, one
 * consumer group of its own) and stores both in ClickHouse in batches; offsets are
 * committed only after the insert succeeded; while ClickHouse is unreachable it retries with
 * backoff and consumes nothing more. Wiring only.
 */
import { hostname } from 'node:os';
import { Counter, Gauge } from 'prom-client';
import { ServiceOps } from '#platform/common';
import { createBackbone } from '#platform/kafka';
import { ConsumerRunner, createRunnerMetrics, isTransientError } from '#platform/runner';
import { clickhouseReachable, createRowBinaryInserter, migrate } from '#platform/store';
import { parseLoggerConfig } from './config.ts';
import { EmbeddingWidths, createPredictionHandler } from './prediction-handler.ts';
import { createPredictionStore } from './prediction-store.ts';

const config = parseLoggerConfig(process.env);
const ops = ServiceOps.create('logger', config);
const { logger, metrics } = ops;
const stored = new Counter({
  name: 'logger_rows_inserted_total',
  help: 'Rows inserted into ClickHouse',
  registers: [metrics],
});
const clickhouseUp = new Gauge({
  name: 'logger_clickhouse_available',
  help: '1 when the last insert succeeded, 0 while inserts fail',
  registers: [metrics],
});
clickhouseUp.set(1);

const { kafka, codec, producer } = createBackbone(config, `logger-${hostname()}`, logger, metrics);
const inserter = createRowBinaryInserter(config);
const store = createPredictionStore({
  inserter,
  maxRows: config.insertMaxRows,
  isTransient: isTransientError,
  onAvailability: (available) => clickhouseUp.set(available ? 1 : 0),
});

const embeddingWidths = new EmbeddingWidths(config.embeddingMaxDimension);
const runnerMetrics = createRunnerMetrics(metrics);
const consume = (topic: 'predictions' | 'predictions.shadow', groupId: string) =>
  new ConsumerRunner({
    kafka,
    codec,
    producer,
    topic,
    groupId,
    service: 'logger',
    logger,
    metrics: runnerMetrics,
    fromBeginning: true,
    partitionsConsumedConcurrently: config.partitionsConcurrently,
    batchesInFlightPerPartition: config.batchesInFlight,
    onFatal: ops.fail,
    handler: createPredictionHandler({
      store: (chunk, rows) => store.store(chunk, rows),
      embeddingWidths,
      topic,
      onStored: (rows) => stored.inc(rows),
    }),
  });
const runner = consume('predictions', config.groupId);
// A group of its own: shadow traffic never holds back the served predictions' offsets.
const shadowRunner = consume('predictions.shadow', `${config.groupId}-shadow`);

const reachable = clickhouseReachable(config);
await ops.start({
  readiness: {
    consumer: () => runner.isRunning,
    shadowConsumer: () => shadowRunner.isRunning,
    // Answering, and the last insert did not fail (a user without INSERT pings fine).
    clickhouse: async () => store.available && (await reachable()),
  },
  steps: [
    {
      name: 'stop consumers (drain in-flight batches)',
      run: async () => {
        await Promise.all([runner.stop(), shadowRunner.stop()]);
      },
    },
    { name: 'flush inserts', run: () => store.flush() },
    { name: 'flush producer', run: () => producer.disconnect() },
    { name: 'close clickhouse', run: () => inserter.close() },
  ],
});

await ops.run(
  [
    { name: 'migrations', run: () => migrate(config, logger) },
    { name: 'connect producer', run: () => producer.connect() },
    { name: 'start consumer', run: () => runner.start() },
    { name: 'start shadow consumer', run: () => shadowRunner.start() },
  ],
  { groupId: config.groupId, metricsPort: config.metricsPort },
);
