/**
 * Logger benchmark: predictions/s from the `predictions` topic into ClickHouse through the
 * logger service (separate process, 128-float embeddings), against a raw bulk insert of the
 * same rows with clickhouse-client measured in the same run.
 *   npm run bench:logger [-- --rows 100000]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger, createMetricsRegistry } from '#shared/common';
import { createBackbone } from '#shared/kafka';
import type { Prediction } from '#shared/serde';
import { createClickHouse, migrate, toPredictionRow } from '#shared/store';
import { progress } from './common.ts';
import { BENCH_STACK_ENV, benchServiceEnv, benchStack, startService } from './stack.ts';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '100000' } } });
const total = Number(values.rows);
const run = randomUUID().slice(0, 8);
const predictions: Prediction[] = Array.from({ length: total }, (_, i) => ({
  eventId: randomUUID(),
  eventTime: Date.now(),
  reviewId: `${run}-${i}`,
  reviewEventId: randomUUID(),
  origin: 'STREAM',
  source: 'bench',
  text: `a benchmark review number ${i}, about as long as an SST-2 sentence is on average`,
  modelName: 'sentiment',
  modelVersion: '1',
  label: i % 2 ? 'POSITIVE' : 'NEGATIVE',
  probabilities: [0.3, 0.7],
  confidence: 0.7,
  embedding: Array.from({ length: 128 }, (_, d) => Math.fround(Math.sin(i + d))),
  latencyMs: 1.2,
  truncated: false,
  groundTruth: null,
}));

progress('starting the bench stack');
benchStack('up');
const settings = {
  clickhouseUrl: `http://127.0.0.1:${BENCH_STACK_ENV.CLICKHOUSE_HTTP_PORT}`,
  clickhouseUser: 'default',
  clickhousePassword: '',
};
const logger = createLogger('bench', 'fatal');
await migrate({ ...settings, clickhouseDatabase: 'bench_raw' }, logger);
await migrate({ ...settings, clickhouseDatabase: 'bench_logger' }, logger);

progress(`raw bulk insert of ${total} rows with clickhouse-client`);
const file = join(tmpdir(), `bench-rows-${run}.jsonl`);
writeFileSync(
  file,
  predictions
    .map((p, i) =>
      JSON.stringify(
        toPredictionRow(p, { schemaId: 1, partition: 0, offset: String(i) }, Date.now()),
      ),
    )
    .join('\n'),
);
const rawStart = performance.now();
const raw = spawnSync(
  'bash',
  [
    '-c',
    `clickhouse-client --port ${BENCH_STACK_ENV.CLICKHOUSE_TCP_PORT} --query "INSERT INTO bench_raw.predictions FORMAT JSONEachRow" < ${file}`,
  ],
  { stdio: 'inherit' },
);
if (raw.status !== 0) throw new Error('clickhouse-client insert failed');
const rawRate = total / ((performance.now() - rawStart) / 1000);

progress(`producing ${total} predictions to Kafka (before the logger starts)`);
const env = benchServiceEnv({
  CLICKHOUSE_URL: settings.clickhouseUrl,
  CLICKHOUSE_DATABASE: 'bench_logger',
  LOGGER_GROUP_ID: `bench-${run}`,
  METRICS_PORT: '0',
});
const { producer } = createBackbone(
  { kafkaBrokers: env.KAFKA_BROKERS!.split(','), schemaRegistryUrl: env.SCHEMA_REGISTRY_URL! },
  'bench',
  logger,
  createMetricsRegistry('bench'),
);
await producer.connect();
for (let i = 0; i < total; i += 2_000) {
  await producer.send(
    'predictions',
    predictions.slice(i, i + 2_000).map((p) => ({ key: p.reviewId, value: p })),
  );
}
await producer.disconnect();

progress('starting the logger and timing the drain');
const client = createClickHouse({ ...settings, clickhouseDatabase: 'bench_logger' });
const count = async () => {
  const result = await client.query({
    query: 'SELECT count() AS n FROM predictions',
    format: 'JSONEachRow',
  });
  return Number((await result.json<{ n: string }>())[0]?.n ?? 0);
};
const service = startService('logger', env);
while ((await count()) === 0) await new Promise((resolve) => setTimeout(resolve, 50));
const first = performance.now();
const firstCount = await count();
let done = firstCount;
while (done < total) {
  await new Promise((resolve) => setTimeout(resolve, 100));
  done = await count();
}
const loggerRate = (total - firstCount) / ((performance.now() - first) / 1000);
console.log(`\nraw bulk insert (clickhouse-client, JSONEachRow): ${rawRate.toFixed(0)} rows/s`);
console.log(
  `logger end to end (predictions topic -> ClickHouse): ${loggerRate.toFixed(0)} predictions/s`,
);
console.log(
  `ratio logger / raw: ${(loggerRate / rawRate).toFixed(2)} (targets: >= 20,000/s and >= 0.5)`,
);
service.kill('SIGTERM');
await new Promise((resolve) => service.once('exit', resolve));
await client.close();
execFileSync('rm', ['-f', file]);
benchStack('down');
