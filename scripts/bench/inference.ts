/**
 * End-to-end inference benchmark on a local stack of its own: reviews/s through
 * Kafka -> inference service (separate process) -> `predictions`, as a ratio of the raw
 * model throughput at the same batch size measured in the same run.
 *   npm run bench:inference [-- --reviews 8000 --batch 32]
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createLogger, createMetricsRegistry } from '#shared/common';
import { EventProducer, createKafka } from '#shared/kafka';
import { SentimentEngine } from '#shared/model';
import { EventCodec, REPO_ROOT, kafkajsRegistryClient, loadCatalogue } from '#shared/serde';
import { progress, sst2Sentences } from './common.ts';
import { benchServiceEnv, benchStack, startService } from './stack.ts';

const { values } = parseArgs({
  options: {
    reviews: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '32' },
    model: { type: 'string', default: 'models/sentiment-bootstrap' },
  },
});
const total = Number(values.reviews);
const batchSize = Number(values.batch);
const texts = sst2Sentences('train').filter((s) => s.split(' ').length >= 8);

progress('raw model throughput at the same batch size (1 intra-op thread, as the service)');
const engine = await SentimentEngine.load(`${REPO_ROOT}${values.model}`, {
  maxBatchSize: batchSize,
});
let rawDone = 0;
const rawStart = performance.now();
for (let i = 0; performance.now() - rawStart < 5_000; i += batchSize) {
  await engine.score(Array.from({ length: batchSize }, (_, k) => texts[(i + k) % texts.length]!));
  rawDone += batchSize;
}
const rawRate = rawDone / ((performance.now() - rawStart) / 1000);
await engine.release();

progress('starting the bench stack and the inference service');
benchStack('up');
const env = benchServiceEnv({
  INFERENCE_BATCH_SIZE: String(batchSize),
  METRICS_PORT: '0',
  INFERENCE_GROUP_ID: `bench-${randomUUID()}`,
});
const service = startService('inference', env);
const logger = createLogger('bench', 'fatal');
const kafka = createKafka({ brokers: env.KAFKA_BROKERS!.split(','), clientId: 'bench' }, logger);
const codec = new EventCodec(kafkajsRegistryClient(env.SCHEMA_REGISTRY_URL!), loadCatalogue());
const producer = new EventProducer(kafka, codec, createMetricsRegistry('bench'));
await producer.connect();
const run = randomUUID().slice(0, 8);
const seen = new Set<string>();
let firstAt = 0;
let lastAt = 0;
const consumer = kafka.consumer({ groupId: `bench-count-${run}`, maxWaitTimeInMs: 50 });
await consumer.connect();
await consumer.subscribe({ topic: 'predictions', fromBeginning: true });
await consumer.run({
  eachBatch: async ({ batch }) => {
    for (const message of batch.messages) {
      const key = message.key?.toString() ?? '';
      if (!key.startsWith(run) || seen.has(key)) continue;
      seen.add(key);
      if (key !== `${run}-warmup`) lastAt = performance.now();
    }
  },
});
const review = (id: string, text: string) => ({
  key: id,
  value: {
    eventId: randomUUID(),
    eventTime: Date.now(),
    reviewId: id,
    source: 'bench',
    text,
    groundTruth: null,
    attributes: {},
  },
});
progress('waiting for the service to answer');
while (!seen.has(`${run}-warmup`)) {
  await producer.send('reviews', [review(`${run}-warmup`, 'warm up')]);
  await new Promise((resolve) => setTimeout(resolve, 500));
}

progress(`producing ${total} reviews`);
// Pre-load the topic, then measure the service draining it (its steady-state throughput).
for (let i = 0; i < total; i += 500) {
  await producer.send(
    'reviews',
    Array.from({ length: Math.min(500, total - i) }, (_, k) =>
      review(`${run}-${i + k}`, texts[(i + k) % texts.length]!),
    ),
  );
  if (firstAt === 0) firstAt = performance.now();
}
// Steady state: from the end of producing (the service is then saturated with a backlog)
// to the last prediction.
const backlogStart = performance.now();
const doneAtBacklogStart = seen.size - 1;
progress(`${doneAtBacklogStart}/${total} predictions when producing finished`);
let lastReport = 0;
while (seen.size < total + 1) {
  await new Promise((resolve) => setTimeout(resolve, 200));
  if (performance.now() - lastReport > 2_000) {
    progress(`${seen.size - 1}/${total} predictions`);
    lastReport = performance.now();
  }
}
const e2eRate = (total - doneAtBacklogStart) / ((lastAt - backlogStart) / 1000);
const overallRate = total / ((lastAt - firstAt) / 1000);
console.log(`\nraw model, batch ${batchSize}, 1 thread: ${rawRate.toFixed(0)} texts/s`);
console.log(
  `end to end (reviews -> inference -> predictions), steady state: ${e2eRate.toFixed(0)} reviews/s ` +
    `(${total - doneAtBacklogStart} reviews drained from a backlog; ${overallRate.toFixed(0)} reviews/s including the producing phase)`,
);
console.log(`ratio end-to-end / raw model: ${(e2eRate / rawRate).toFixed(2)} (target >= 0.8)`);
await consumer.disconnect();
await producer.disconnect();
service.kill('SIGTERM');
await new Promise((resolve) => service.once('exit', resolve));
benchStack('down');
