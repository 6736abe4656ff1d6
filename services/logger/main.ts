/**
 * logger: consumes `predictions` and stores them in ClickHouse in batches; offsets are
 * committed only after the insert succeeded; while ClickHouse is unreachable it retries with
 * backoff and consumes nothing more. Wiring only.
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
import { createBackbone, withLocalStackDefaults } from '#shared/kafka';
import { ConsumerRunner, createRunnerMetrics, isTransientError } from '#shared/runner';
import { createRowBinaryInserter, migrate } from '#shared/store';
import { parseLoggerConfig } from './config.ts';
import { createPredictionHandler } from './prediction-handler.ts';
import { createPredictionStore } from './prediction-store.ts';

const config = parseLoggerConfig(withLocalStackDefaults(process.env));
const logger = createLogger('logger', config.logLevel);
const metrics = createMetricsRegistry('logger');
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
await migrate(config, logger);
const inserter = createRowBinaryInserter(config);
const store = createPredictionStore({
  inserter,
  maxRows: config.insertMaxRows,
  isTransient: isTransientError,
  onAvailability: (available) => clickhouseUp.set(available ? 1 : 0),
});

let fatal: (error: unknown) => void = () => undefined;
const runner = new ConsumerRunner({
  kafka,
  codec,
  producer,
  topic: 'predictions',
  groupId: config.groupId,
  service: 'logger',
  logger,
  metrics: createRunnerMetrics(metrics),
  fromBeginning: true,
  partitionsConsumedConcurrently: config.partitionsConcurrently,
  onFatal: (error) => fatal(error),
  handler: createPredictionHandler({
    store: (chunk, rows) => store.store(chunk, rows),
    embeddingDimension: config.embeddingDimension,
    onStored: (rows) => stored.inc(rows),
  }),
});

const ops = await startOpsServer(
  metrics,
  () => ({ consumer: runner.isRunning, clickhouse: store.available }),
  config.metricsPort,
);
const shutdown = createShutdown({
  logger,
  graceMs: config.shutdownGraceMs,
  steps: [
    { name: 'stop consumer (drain in-flight batches)', run: () => runner.stop() },
    { name: 'flush inserts', run: () => store.flush() },
    { name: 'flush producer', run: () => producer.disconnect() },
    { name: 'close clickhouse', run: () => inserter.close() },
    { name: 'close ops server', run: () => closeServer(ops) },
  ],
});
fatal = (error) => {
  logger.fatal({ err: error }, 'consumer cannot continue');
  void shutdown('fatal consumer error');
};
installSignalHandlers(shutdown);

await producer.connect();
await runner.start();
logger.info({ groupId: config.groupId, metricsPort: config.metricsPort }, 'logger running');
