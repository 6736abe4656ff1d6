/**
 * Replay: a large number of reviews (default 1,000,000) through Kafka -> inference ->
 * `predictions` -> logger -> ClickHouse on the bench stack, with progress, the throughput of
 * each stage and the resident memory (RSS) of each service sampled along the way, to show
 * that it stays flat (no growth with the number of events processed).
 *   npm run bench:replay [-- --reviews 1000000 --sample-s 10 --keep-stack]
 *
 * Reviews are SST-2 training sentences, cycled, with fresh ids. They are produced as fast as
 * the producer goes (Kafka keeps them all; the services drain the backlog). Inference
 * progress is its group's committed offsets on `reviews`; logger progress is the rows in
 * ClickHouse. Both services run with their shipped settings (inference exactly once).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Admin } from 'kafkajs';
import { createLogger, createMetricsRegistry } from '#platform/common';
import { createBackbone, localAdminBackboneConfig } from '#platform/kafka';
import type { Review } from '#platform/serde';
import { createClickHouse, migrate } from '#platform/store';
import { progress, sst2Sentences, table } from './common.ts';
import { BENCH_STACK_ENV, benchServiceEnv, benchStack, startService } from './stack.ts';

const { values } = parseArgs({
  options: {
    reviews: { type: 'string', default: '1000000' },
    'sample-s': { type: 'string', default: '10' },
    'keep-stack': { type: 'boolean', default: false },
  },
});
const total = Number(values.reviews);
const sampleMs = Number(values['sample-s']) * 1000;
const run = randomUUID().slice(0, 8);
const database = 'bench_replay';
const inferenceGroup = `replay-inference-${run}`;

function rssMb(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    return kb / 1024;
  } catch {
    return NaN;
  }
}

async function committedOn(admin: Admin, groupId: string, topic: string): Promise<bigint> {
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return (offsets?.partitions ?? []).reduce(
    (sum, { offset }) => sum + (Number(offset) >= 0 ? BigInt(offset) : 0n),
    0n,
  );
}

async function endOffsets(admin: Admin, topic: string): Promise<Map<number, bigint>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map(({ partition, high }) => [partition, BigInt(high)]));
}

progress('starting the bench stack');
benchStack('up');
const settings = {
  clickhouseUrl: `http://127.0.0.1:${BENCH_STACK_ENV.CLICKHOUSE_HTTP_PORT}`,
  clickhouseUser: 'default',
  clickhousePassword: '',
};
const quiet = createLogger('bench', 'fatal');
const admin = createClickHouse(settings, { database: false });
await admin.command({ query: `DROP DATABASE IF EXISTS ${database}` });
await admin.close();
await migrate({ ...settings, clickhouseDatabase: database }, quiet);
const clickhouse = createClickHouse({ ...settings, clickhouseDatabase: database });

const env = benchServiceEnv({
  CLICKHOUSE_URL: settings.clickhouseUrl,
  CLICKHOUSE_DATABASE: database,
  METRICS_PORT: '0',
});
const { kafka, producer } = createBackbone(
  localAdminBackboneConfig(env),
  'bench-replay',
  quiet,
  createMetricsRegistry('bench'),
);
const kafkaAdmin = kafka.admin();
await kafkaAdmin.connect();
await producer.connect();

// Both groups start at the current ends of their topics: they process this replay only.
const reviewsStart = await endOffsets(kafkaAdmin, 'reviews');
await kafkaAdmin.setOffsets({
  groupId: inferenceGroup,
  topic: 'reviews',
  partitions: [...reviewsStart].map(([partition, offset]) => ({
    partition,
    offset: String(offset),
  })),
});
const loggerGroup = `replay-logger-${run}`;
await kafkaAdmin.setOffsets({
  groupId: loggerGroup,
  topic: 'predictions',
  partitions: [...(await endOffsets(kafkaAdmin, 'predictions'))].map(([partition, offset]) => ({
    partition,
    offset: String(offset),
  })),
});
const startOffset = [...reviewsStart.values()].reduce((a, b) => a + b, 0n);

progress('starting inference and logger');
const inference = startService('inference', {
  ...env,
  INFERENCE_GROUP_ID: inferenceGroup,
  INFERENCE_TRANSACTIONAL_ID: inferenceGroup,
});
const loggerService = startService('logger', { ...env, LOGGER_GROUP_ID: loggerGroup });

const texts = sst2Sentences('train');
let produced = 0;
const producing = (async () => {
  const chunk = 2_000;
  for (let i = 0; i < total; i += chunk) {
    const reviews: Review[] = Array.from({ length: Math.min(chunk, total - i) }, (_, k) => ({
      eventId: randomUUID(),
      eventTime: Date.now(),
      reviewId: `${run}-${i + k}`,
      source: 'replay',
      text: texts[(i + k) % texts.length]!,
      groundTruth: null,
      attributes: {},
    }));
    await producer.send(
      'reviews',
      reviews.map((review) => ({ key: review.reviewId, value: review })),
    );
    produced += reviews.length;
  }
})();

async function stored(): Promise<number> {
  const result = await clickhouse.query({
    query: 'SELECT count() AS n FROM predictions',
    format: 'JSONEachRow',
  });
  return Number((await result.json<{ n: string }>())[0]?.n ?? 0);
}

interface Sample {
  readonly seconds: number;
  readonly produced: number;
  readonly scored: number;
  readonly stored: number;
  readonly inferenceRssMb: number;
  readonly loggerRssMb: number;
}
const samples: Sample[] = [];
const started = performance.now();
let producedAt = 0;
for (;;) {
  await new Promise((resolve) => setTimeout(resolve, sampleMs));
  const scored = Number((await committedOn(kafkaAdmin, inferenceGroup, 'reviews')) - startOffset);
  const sample: Sample = {
    seconds: (performance.now() - started) / 1000,
    produced,
    scored: Math.max(0, scored),
    stored: await stored(),
    inferenceRssMb: rssMb(inference.pid),
    loggerRssMb: rssMb(loggerService.pid),
  };
  samples.push(sample);
  if (producedAt === 0 && produced >= total) producedAt = sample.seconds;
  const previous = samples.at(-2);
  const rate = (key: 'scored' | 'stored') =>
    previous ? (sample[key] - previous[key]) / (sample.seconds - previous.seconds) : NaN;
  progress(
    `${sample.seconds.toFixed(0)} s: produced ${sample.produced}, scored ${sample.scored} ` +
      `(${rate('scored').toFixed(0)}/s), stored ${sample.stored} (${rate('stored').toFixed(0)}/s); ` +
      `RSS inference ${sample.inferenceRssMb.toFixed(0)} MB, logger ${sample.loggerRssMb.toFixed(0)} MB`,
  );
  if (inference.exitCode !== null || loggerService.exitCode !== null) {
    throw new Error('a service exited during the replay');
  }
  if (sample.stored >= total) break;
}
await producing;
const end = samples.at(-1)!;

const at = (fraction: number) =>
  samples[Math.min(samples.length - 1, Math.floor(fraction * samples.length))]!;
console.log(`\nreplay of ${total} reviews (inference exactly once, logger pipelined):`);
console.log(
  `  produced in ${producedAt.toFixed(0)} s; all stored in ClickHouse after ${end.seconds.toFixed(0)} s: ` +
    `${(total / end.seconds).toFixed(0)} reviews/s end to end`,
);
console.log(
  table(
    [0.1, 0.25, 0.5, 0.75, 1].map((fraction) => {
      const sample = at(fraction);
      return {
        't (s)': Math.round(sample.seconds),
        scored: sample.scored,
        stored: sample.stored,
        'inference RSS (MB)': Math.round(sample.inferenceRssMb),
        'logger RSS (MB)': Math.round(sample.loggerRssMb),
      };
    }),
  ),
);
const series = (key: 'inferenceRssMb' | 'loggerRssMb') => {
  const list = samples.slice(Math.floor(samples.length / 10)).map((sample) => sample[key]);
  return `${Math.min(...list).toFixed(0)}-${Math.max(...list).toFixed(0)} MB`;
};
console.log(
  `  RSS after the first tenth of the run: inference ${series('inferenceRssMb')}, logger ${series('loggerRssMb')}`,
);

inference.kill('SIGTERM');
loggerService.kill('SIGTERM');
await Promise.all(
  [inference, loggerService].map(
    (child) =>
      new Promise((resolve) =>
        child.exitCode !== null ? resolve(0) : child.once('exit', resolve),
      ),
  ),
);
await producer.disconnect();
await kafkaAdmin.disconnect();
await clickhouse.close();
if (!values['keep-stack']) benchStack('down');
