/**
 * End-to-end inference benchmark on a local stack of its own: reviews/s through
 * Kafka -> inference service (separate process) -> `predictions`, as a ratio of the raw
 * model throughput at the same batch size measured in the same run, for both delivery modes
 * of the service (INFERENCE_DELIVERY: exactly-once, the default, in Kafka transactions, and
 * at-least-once), in alternating rounds.
 *   npm run bench:inference [-- --reviews 20000 --batch 32 --rounds 2]
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createLogger, createMetricsRegistry } from '#platform/common';
import { createBackbone, localAdminBackboneConfig } from '#platform/kafka';
import { SentimentEngine } from '#domain/model';
import { REPO_ROOT } from '../lib/repo.ts';
import { progress, sst2Sentences } from './common.ts';
import { benchServiceEnv, benchStack, startService } from './stack.ts';

const { values } = parseArgs({
  options: {
    reviews: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '2' },
    model: { type: 'string', default: 'models/sentiment-minilm' },
    'keep-stack': { type: 'boolean', default: false },
  },
});
const total = Number(values.reviews);
const batchSize = Number(values.batch);
const rounds = Number(values.rounds);
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

progress('starting the bench stack');
benchStack('up');
const baseEnv = benchServiceEnv({ INFERENCE_BATCH_SIZE: String(batchSize), METRICS_PORT: '0' });
const logger = createLogger('bench', 'fatal');
const { kafka, producer } = createBackbone(
  localAdminBackboneConfig(baseEnv),
  'bench',
  logger,
  createMetricsRegistry('bench'),
);
await producer.connect();

type Delivery = 'at-least-once' | 'exactly-once';
interface RoundResult {
  readonly steady: number;
  readonly overall: number;
}

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

/** One round: a new service (and group) in `delivery` mode drains `total` reviews. */
async function round(delivery: Delivery, label: string): Promise<RoundResult> {
  const run = randomUUID().slice(0, 8);
  const service = startService('inference', {
    ...baseEnv,
    INFERENCE_DELIVERY: delivery,
    INFERENCE_GROUP_ID: `bench-${run}`,
  });
  const seen = new Set<string>();
  let firstAt = 0;
  let lastAt = 0;
  // Reads committed: what downstream consumers see (in exactly-once mode, a prediction is
  // visible once its transaction committed).
  const consumer = kafka.consumer({ groupId: `bench-count-${run}`, maxWaitTimeInMs: 50 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'predictions', fromBeginning: false });
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
  progress(`${label}: waiting for the service to answer`);
  while (!seen.has(`${run}-warmup`)) {
    await producer.send('reviews', [review(`${run}-warmup`, 'warm up')]);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  progress(`${label}: producing ${total} reviews`);
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
  // Steady state: from the end of producing (the service then has a backlog) to the last
  // prediction.
  const backlogStart = performance.now();
  const doneAtBacklogStart = seen.size - 1;
  progress(`${label}: ${doneAtBacklogStart}/${total} predictions when producing finished`);
  let lastReport = 0;
  while (seen.size < total + 1) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    if (performance.now() - lastReport > 2_000) {
      progress(`${label}: ${seen.size - 1}/${total} predictions`);
      lastReport = performance.now();
    }
  }
  await consumer.disconnect();
  service.kill('SIGTERM');
  await new Promise((resolve) => service.once('exit', resolve));
  return {
    steady: (total - doneAtBacklogStart) / ((lastAt - backlogStart) / 1000),
    overall: total / ((lastAt - firstAt) / 1000),
  };
}

const results: Record<Delivery, RoundResult[]> = { 'at-least-once': [], 'exactly-once': [] };
for (let r = 1; r <= rounds; r++) {
  // Alternate the order so that neither mode always runs on a warmer machine.
  const order: Delivery[] =
    r % 2 === 1 ? ['exactly-once', 'at-least-once'] : ['at-least-once', 'exactly-once'];
  for (const delivery of order) {
    const result = await round(delivery, `round ${r}/${rounds}, ${delivery}`);
    results[delivery].push(result);
    progress(
      `round ${r}/${rounds}, ${delivery}: ${result.steady.toFixed(0)} reviews/s steady state`,
    );
  }
}
await producer.disconnect();
if (!values['keep-stack']) benchStack('down');

const median = (list: readonly number[]) => {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};
const steadyOf = (delivery: Delivery) => median(results[delivery].map((r) => r.steady));
console.log(`\nraw model, batch ${batchSize}, 1 thread: ${rawRate.toFixed(0)} texts/s`);
for (const delivery of ['exactly-once', 'at-least-once'] as const) {
  const list = results[delivery];
  console.log(
    `end to end, ${delivery}: ${steadyOf(delivery).toFixed(0)} reviews/s steady state ` +
      `(rounds: ${list.map((r) => r.steady.toFixed(0)).join(', ')}; including the producing ` +
      `phase: ${list.map((r) => r.overall.toFixed(0)).join(', ')}); ratio to the raw model ` +
      `${(steadyOf(delivery) / rawRate).toFixed(2)} (target >= 0.8)`,
  );
}
console.log(
  `exactly-once / at-least-once: ${(steadyOf('exactly-once') / steadyOf('at-least-once')).toFixed(2)}`,
);
