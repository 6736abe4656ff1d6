/**
 * Logger benchmark: predictions/s from the `predictions` topic into ClickHouse through the
 * logger service (separate process, 128-float embeddings), against a raw bulk insert of the
 * same rows with clickhouse-client, measured in the same run, in alternating rounds.
 *   npm run bench:logger [-- --rows 100000 --rounds 3 --produce-batch 9000 --cpu-prof-dir DIR
 *                            --logger-env NAME=value --keep-stack]
 *
 * Each round starts both sides from empty tables (the bench stack's ClickHouse keeps its data
 * between runs) and the logger from an empty topic (the dev broker is restarted), so it reads
 * exactly this round's predictions. Raw: the rows the logger would write (same values, same
 * JSON the old logger sent), one `clickhouse-client` INSERT, timed from process start to exit.
 * Logger: predictions produced first, then the logger started and timed from its first row in
 * ClickHouse to its last (its start-up is not counted; the rows of that first insert are not
 * counted either).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger, createMetricsRegistry } from '#shared/common';
import { createBackbone } from '#shared/kafka';
import { type Prediction, REPO_ROOT } from '#shared/serde';
import { type ClickHouseClient, createClickHouse, migrate, toPredictionRow } from '#shared/store';
import { progress } from './common.ts';
import { BENCH_STACK_ENV, benchServiceEnv, benchStack, startService } from './stack.ts';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '3' },
    // Messages per producer request. The dev broker answers a fetch with one record batch
    // per partition (Kafka returns up to the consumer's 1 MiB per partition), so this sets the
    // logger's batch size: 9,000 = 1,500 per partition, about 1 MiB of predictions whose
    // embeddings do not compress (see the README).
    'produce-batch': { type: 'string', default: '9000' },
    // Writes a V8 CPU profile of each logger process into this folder.
    'cpu-prof-dir': { type: 'string' },
    // Extra environment of the logger, NAME=value (repeatable), e.g. to compare settings.
    'logger-env': { type: 'string', multiple: true, default: [] },
    'keep-stack': { type: 'boolean', default: false },
  },
});
const total = Number(values.rows);
const rounds = Number(values.rounds);
const produceBatch = Number(values['produce-batch']);
const profileDir = values['cpu-prof-dir'];
const loggerEnv = Object.fromEntries(
  values['logger-env'].map((entry) => {
    const at = entry.indexOf('=');
    if (at < 1) throw new Error(`--logger-env ${entry}: expected NAME=value`);
    return [entry.slice(0, at), entry.slice(at + 1)];
  }),
);

const settings = {
  clickhouseUrl: `http://127.0.0.1:${BENCH_STACK_ENV.CLICKHOUSE_HTTP_PORT}`,
  clickhouseUser: 'default',
  clickhousePassword: '',
};
const logger = createLogger('bench', 'fatal');

function makePredictions(run: string): Prediction[] {
  return Array.from({ length: total }, (_, i) => ({
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
}

async function freshDatabase(database: string): Promise<ClickHouseClient> {
  const admin = createClickHouse(settings, { database: false });
  await admin.command({ query: `DROP DATABASE IF EXISTS ${database}` });
  await admin.close();
  await migrate({ ...settings, clickhouseDatabase: database }, logger);
  return createClickHouse({ ...settings, clickhouseDatabase: database });
}

async function count(client: ClickHouseClient): Promise<number> {
  const result = await client.query({
    query: 'SELECT count() AS n FROM predictions',
    format: 'JSONEachRow',
  });
  return Number((await result.json<{ n: string }>())[0]?.n ?? 0);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function rawRound(predictions: readonly Prediction[], run: string): Promise<number> {
  const client = await freshDatabase('bench_raw');
  const file = join(tmpdir(), `bench-rows-${run}.jsonl`);
  writeFileSync(
    file,
    predictions
      .map((p, i) =>
        JSON.stringify(
          toPredictionRow(p, { schemaId: 1, partition: i % 6, offset: String(i) }, Date.now()),
        ),
      )
      .join('\n'),
  );
  const started = performance.now();
  const raw = spawnSync(
    'bash',
    [
      '-c',
      `clickhouse-client --port ${BENCH_STACK_ENV.CLICKHOUSE_TCP_PORT} --query "INSERT INTO bench_raw.predictions FORMAT JSONEachRow" < ${file}`,
    ],
    { stdio: 'inherit' },
  );
  const seconds = (performance.now() - started) / 1000;
  execFileSync('rm', ['-f', file]);
  if (raw.status !== 0) throw new Error('clickhouse-client insert failed');
  const stored = await count(client);
  await client.close();
  if (stored !== total) throw new Error(`raw insert stored ${stored} rows, not ${total}`);
  return total / seconds;
}

/** The dev broker keeps topics in memory only: a restart empties `predictions`. */
async function emptyTopics(): Promise<void> {
  const pidFile = join(BENCH_STACK_ENV.STACK_DIR, 'pids/dev-broker.pid');
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    try {
      process.kill(pid, 'SIGTERM');
      while (alive(pid)) await sleep(50);
    } catch {
      // not running
    }
  }
  benchStack('up');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function loggerRound(predictions: readonly Prediction[], run: string): Promise<number> {
  await emptyTopics();
  const client = await freshDatabase('bench_logger');
  const groupId = `bench-${run}`;
  const env = benchServiceEnv({
    CLICKHOUSE_URL: settings.clickhouseUrl,
    CLICKHOUSE_DATABASE: 'bench_logger',
    LOGGER_GROUP_ID: groupId,
    METRICS_PORT: '0',
    ...loggerEnv,
  });
  const { producer } = createBackbone(
    { kafkaBrokers: env.KAFKA_BROKERS!.split(','), schemaRegistryUrl: env.SCHEMA_REGISTRY_URL! },
    'bench',
    logger,
    createMetricsRegistry('bench'),
  );
  await producer.connect();
  for (let i = 0; i < total; i += produceBatch) {
    await producer.send(
      'predictions',
      predictions.slice(i, i + produceBatch).map((p) => ({ key: p.reviewId, value: p })),
    );
  }
  await producer.disconnect();

  const service = profileDir
    ? spawn(
        process.execPath,
        [
          '--cpu-prof',
          `--cpu-prof-dir=${profileDir}`,
          '--import',
          'tsx',
          'services/logger/main.ts',
        ],
        { cwd: REPO_ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] },
      )
    : startService('logger', env);
  const exited = new Promise((resolve) => service.once('exit', resolve));
  let first = 0;
  while ((first = await count(client)) === 0) await sleep(20);
  const firstAt = performance.now();
  let done = first;
  while (done < total) {
    await sleep(50);
    done = await count(client);
  }
  const rate = (total - first) / ((performance.now() - firstAt) / 1000);
  service.kill('SIGTERM');
  await exited;
  await client.close();
  if (done !== total) throw new Error(`logger stored ${done} rows, not ${total}`);
  return rate;
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

progress('starting the bench stack');
benchStack('up');
const raws: number[] = [];
const loggers: number[] = [];
for (let round = 1; round <= rounds; round++) {
  const run = randomUUID().slice(0, 8);
  const predictions = makePredictions(run);
  progress(`round ${round}/${rounds}: raw bulk insert of ${total} rows with clickhouse-client`);
  raws.push(await rawRound(predictions, run));
  progress(`round ${round}/${rounds}: ${total} predictions through the logger`);
  loggers.push(await loggerRound(predictions, run));
  progress(
    `round ${round}: raw ${raws.at(-1)!.toFixed(0)} rows/s, logger ${loggers.at(-1)!.toFixed(0)} predictions/s, ratio ${(loggers.at(-1)! / raws.at(-1)!).toFixed(2)}`,
  );
}
const rawRate = median(raws);
const loggerRate = median(loggers);
console.log(
  `\nraw bulk insert (clickhouse-client, JSONEachRow): ${rawRate.toFixed(0)} rows/s (median of ${rounds}: ${raws.map((r) => r.toFixed(0)).join(', ')})`,
);
console.log(
  `logger end to end (predictions topic -> ClickHouse): ${loggerRate.toFixed(0)} predictions/s (median of ${rounds}: ${loggers.map((r) => r.toFixed(0)).join(', ')})`,
);
console.log(
  `ratio logger / raw: ${(loggerRate / rawRate).toFixed(2)} (per round: ${loggers.map((l, i) => (l / raws[i]!).toFixed(2)).join(', ')}; targets: >= 20,000/s and >= 0.5)`,
);
if (!values['keep-stack']) benchStack('down');
