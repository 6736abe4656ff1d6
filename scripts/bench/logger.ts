/**
 * Logger benchmark: predictions/s from the `predictions` topic into ClickHouse through the
 * logger service (separate process, real predictions with 128-float embeddings), against a
 * raw bulk insert of the same rows with clickhouse-client, measured in the same run, in
 * alternating rounds.
 *   npm run bench:logger [-- --rows 100000 --rounds 5 --produce-batch 6000 --cpu-prof-dir DIR
 *                            --logger-env NAME=value --logger-log FILE --keep-stack]
 *
 * Each round starts every side from an empty table (the bench stack's ClickHouse keeps its
 * data between runs), and the logger from a new group whose offsets are set to the end of
 * `predictions` before the round's predictions are produced, so it reads exactly those.
 *   raw: the rows the logger would write, one `clickhouse-client` INSERT per format, timed by
 *        the client (`--time`: the query, not the client's start-up): JSONEachRow (the
 *        baseline of the target) and RowBinary (the logger's own format, the stricter one).
 *   logger: predictions produced first, then the logger started and timed from its first row
 *        in ClickHouse to its last (its start-up and the rows of its first insert not counted).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger, createMetricsRegistry } from '#platform/common';
import type { Kafka } from 'kafkajs';
import { createBackbone, localAdminBackboneConfig } from '#platform/kafka';
import { SentimentEngine } from '#domain/model';
import { type Prediction } from '#platform/serde';
import { REPO_ROOT } from '../lib/repo.ts';
import {
  type ClickHouseClient,
  PREDICTION_COLUMNS,
  RowBinaryWriter,
  createClickHouse,
  migrate,
  toPredictionRow,
  writePredictionRow,
} from '#platform/store';
import { progress, sst2Sentences } from './common.ts';
import { BENCH_STACK_ENV, benchServiceEnv, benchStack, startService } from './stack.ts';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '5' },
    // Messages per producer request (1,000 per partition, 0.7 MB of real predictions). Kafka
    // answers a fetch with up to the consumer's 1 MiB per partition whatever the batching.
    'produce-batch': { type: 'string', default: '6000' },
    // Writes a V8 CPU profile of each logger process into this folder.
    'cpu-prof-dir': { type: 'string' },
    // Extra environment of the logger, NAME=value (repeatable), e.g. to compare settings.
    'logger-env': { type: 'string', multiple: true, default: [] },
    // Appends the logger processes' logs to this file (they are discarded otherwise).
    'logger-log': { type: 'string' },
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
/** Distinct scored sentences the bench cycles through (about 2.5 MB of embeddings). */
const DISTINCT_PREDICTIONS = 5_000;

/** A prediction as inference publishes it, without the ids each event gets anew. */
type ScoredSentence = Omit<Prediction, 'eventId' | 'reviewId' | 'reviewEventId'>;

/**
 * Real predictions: SST-2 training sentences scored by the bootstrap model (text, label,
 * probabilities and [CLS] embedding as inference would publish them), cycled to `total`
 * events with fresh ids. Synthetic embeddings would flatter both sides: values such as
 * sin(i + d) repeat from row to row, so gzip (Kafka) and LZ4 (ClickHouse) shrink them to a
 * tenth, where real embeddings barely compress.
 */
async function scoredSentences(): Promise<ScoredSentence[]> {
  const texts = sst2Sentences('train').slice(0, DISTINCT_PREDICTIONS);
  const engine = await SentimentEngine.load(resolve(REPO_ROOT, 'models/sentiment-compact'));
  const scored: ScoredSentence[] = [];
  try {
    for (let start = 0; start < texts.length; start += 256) {
      const chunk = texts.slice(start, start + 256);
      const started = performance.now();
      const results = await engine.score(chunk);
      const latencyMs = (performance.now() - started) / chunk.length;
      results.forEach((result, i) =>
        scored.push({
          eventTime: 0,
          origin: 'STREAM',
          source: 'bench',
          text: chunk[i]!,
          modelName: 'sentiment',
          modelVersion: '1',
          label: result.labelIndex === 1 ? 'POSITIVE' : 'NEGATIVE',
          probabilities: result.probabilities,
          confidence: result.confidence,
          embedding: Array.from(result.embedding),
          latencyMs,
          truncated: result.truncated,
          groundTruth: null,
          scoredAt: 0,
          shadowOf: null,
        }),
      );
    }
  } finally {
    await engine.release();
  }
  return scored;
}

function makePredictions(run: string, scored: readonly ScoredSentence[]): Prediction[] {
  return Array.from({ length: total }, (_, i) => ({
    ...scored[i % scored.length]!,
    eventId: randomUUID(),
    eventTime: Date.now(),
    reviewId: `${run}-${i}`,
    reviewEventId: randomUUID(),
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

type RawFormat = 'JSONEachRow' | 'RowBinary';

/** The rows the logger would write, in `format`, inserted by clickhouse-client: rows/s. */
async function rawRound(
  predictions: readonly Prediction[],
  run: string,
  format: RawFormat,
): Promise<number> {
  const client = await freshDatabase('bench_raw');
  const file = join(tmpdir(), `bench-rows-${run}.${format}`);
  const rows = predictions.map((p, i) =>
    toPredictionRow(p, { schemaId: 1, partition: i % 6, offset: String(i) }, Date.now()),
  );
  if (format === 'JSONEachRow') {
    writeFileSync(file, rows.map((row) => JSON.stringify(row)).join('\n'));
  } else {
    const writer = new RowBinaryWriter(rows.length * 800);
    for (const row of rows) writePredictionRow(writer, row);
    writeFileSync(file, writer.toBuffer());
  }
  const columns = format === 'RowBinary' ? ` (${PREDICTION_COLUMNS.join(', ')})` : '';
  const raw = spawnSync(
    'bash',
    [
      '-c',
      `clickhouse-client --port ${BENCH_STACK_ENV.CLICKHOUSE_TCP_PORT} --time --query "INSERT INTO bench_raw.predictions${columns} FORMAT ${format}" < ${file}`,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'inherit', 'pipe'] },
  );
  execFileSync('rm', ['-f', file]);
  if (raw.status !== 0) throw new Error(`clickhouse-client insert failed: ${raw.stderr}`);
  // --time prints the query's elapsed seconds as the last line of stderr.
  const seconds = Number(raw.stderr.trim().split('\n').at(-1));
  if (!(seconds > 0)) throw new Error(`no query time from clickhouse-client: ${raw.stderr}`);
  const stored = await count(client);
  await client.close();
  if (stored !== total) throw new Error(`raw insert stored ${stored} rows, not ${total}`);
  return total / seconds;
}

/**
 * Starts `groupId` at the current end of `predictions`: the logger then reads exactly what is
 * produced after this call (the topic keeps every earlier round's predictions).
 */
async function startGroupAtEnd(kafka: Kafka, groupId: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets('predictions');
    await admin.setOffsets({
      groupId,
      topic: 'predictions',
      partitions: ends.map(({ partition, high }) => ({ partition, offset: high })),
    });
  } finally {
    await admin.disconnect();
  }
}

async function loggerRound(predictions: readonly Prediction[], run: string): Promise<number> {
  const client = await freshDatabase('bench_logger');
  const groupId = `bench-${run}`;
  const env = benchServiceEnv({
    CLICKHOUSE_URL: settings.clickhouseUrl,
    CLICKHOUSE_DATABASE: 'bench_logger',
    LOGGER_GROUP_ID: groupId,
    METRICS_PORT: '0',
    ...loggerEnv,
  });
  const { kafka, producer } = createBackbone(
    localAdminBackboneConfig(env),
    'bench',
    logger,
    createMetricsRegistry('bench'),
  );
  await producer.connect();
  await startGroupAtEnd(kafka, groupId);
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
    : startService('logger', env, values['logger-log']);
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

progress(`scoring ${DISTINCT_PREDICTIONS} SST-2 sentences with the bootstrap model`);
const scored = await scoredSentences();
progress('starting the bench stack');
benchStack('up');
const raws: Record<RawFormat, number[]> = { JSONEachRow: [], RowBinary: [] };
const loggers: number[] = [];
for (let round = 1; round <= rounds; round++) {
  const run = randomUUID().slice(0, 8);
  const predictions = makePredictions(run, scored);
  for (const format of ['JSONEachRow', 'RowBinary'] as const) {
    progress(`round ${round}/${rounds}: raw ${format} insert of ${total} rows (clickhouse-client)`);
    raws[format].push(await rawRound(predictions, run, format));
  }
  progress(`round ${round}/${rounds}: ${total} predictions through the logger`);
  loggers.push(await loggerRound(predictions, run));
  progress(
    `round ${round}: raw JSONEachRow ${raws.JSONEachRow.at(-1)!.toFixed(0)} rows/s, raw RowBinary ${raws.RowBinary.at(-1)!.toFixed(0)} rows/s, logger ${loggers.at(-1)!.toFixed(0)} predictions/s, ratio ${(loggers.at(-1)! / raws.JSONEachRow.at(-1)!).toFixed(2)}`,
  );
}
const list = (values: readonly number[]) => values.map((v) => v.toFixed(0)).join(', ');
const loggerRate = median(loggers);
console.log(`\nmedians of ${rounds} rounds, ${total} real predictions each:`);
for (const format of ['JSONEachRow', 'RowBinary'] as const) {
  console.log(
    `raw bulk insert (clickhouse-client, ${format}): ${median(raws[format]).toFixed(0)} rows/s (${list(raws[format])})`,
  );
}
console.log(
  `logger end to end (predictions topic -> ClickHouse): ${loggerRate.toFixed(0)} predictions/s (${list(loggers)})`,
);
for (const format of ['JSONEachRow', 'RowBinary'] as const) {
  const perRound = loggers.map((l, i) => l / raws[format][i]!);
  console.log(
    `ratio logger / raw ${format}: ${median(perRound).toFixed(2)} (per round: ${perRound.map((r) => r.toFixed(2)).join(', ')})${format === 'JSONEachRow' ? '; targets: >= 20,000/s and >= 0.5' : ''}`,
  );
}
if (!values['keep-stack']) benchStack('down');
