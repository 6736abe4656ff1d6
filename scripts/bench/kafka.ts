/**
 * Kafka client benchmark: the project's producer and consumers (kafkajs) against Kafka's own
 * performance tools (Java, `org.apache.kafka.tools.ProducerPerformance` and
 * `ConsumerPerformance` from the same jars as the brokers), on the bench stack's 3-node
 * cluster, with the same record count and size, the same topic shape (6 partitions,
 * replication 3, min.insync.replicas 2), acks=all, idempotence and no compression on both
 * sides, measured in the same run.
 *   npm run bench:kafka [-- --records 200000 --runs 3 --batch 1000 --in-flight 4 --keep-stack]
 *
 * Each run:
 *   producers: real-sized predictions (schemas/prediction.avsc: SST-2 text, 128-float
 *     embedding; about 700 bytes encoded), keyed by reviewId (murmur2, as Java clients do):
 *     - EventProducer.send to `predictions` (Avro encoding through the codec + send),
 *     - EventProducer.sendRaw of the same events encoded beforehand (send only), to
 *       `predictions` as well: sendRaw gzips any topic outside the catalogue;
 *     both `--batch` messages per send call, `--in-flight` calls at a time;
 *     - ProducerPerformance, the same count, --record-size = the mean encoded value size,
 *       keyed (--key-distribution range over the record count) to a fresh topic, twice:
 *       with the producer's defaults (batch.size 16 KiB: about 22 of these records per
 *       partition batch) and with batch.size near the per-partition share of one of our send
 *       calls (what our producer puts in one record batch), so the ratio is not only batching.
 *   consumers: the N records back from the start, each with a fresh group:
 *     - ConsumerRunner (#platform/runner) as the logger runs it (6 partitions concurrently,
 *       4 batches in flight, offsets committed), decoding every event, no-op handler,
 *     - a bare kafkajs consumer (eachBatch, no decoding, no commits),
 *     - ConsumerPerformance on the Java producer's topic.
 * Figures are records/s and MiB/s as Kafka's tools count them: the producer side counts value
 * bytes (ProducerPerformance: record size), the consumer side key + value bytes. Our
 * consumers are timed from the moment the group was joined to the last record, which is what
 * ConsumerPerformance's fetch.* columns measure (its overall nMsg.sec includes the join).
 * Our producers' latency is per send call (its --batch messages, encoding included), Java's
 * per record. `predictions` is emptied before each phase (records deleted up to the high
 * watermark), so each consumer reads exactly this run's N records.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { Admin } from 'kafkajs';
import { createLogger, createMetricsRegistry } from '#platform/common';
import {
  type OutgoingEvent,
  type RawOutgoing,
  createBackbone,
  encodeEvents,
  localAdminBackboneConfig,
} from '#platform/kafka';
import { ConsumerRunner, createRunnerMetrics } from '#platform/runner';
import { type Prediction } from '#platform/serde';
import { REPO_ROOT } from '../lib/repo.ts';
import { progress, sst2Sentences, table } from './common.ts';
import { benchServiceEnv, benchStack } from './stack.ts';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '3' },
    // Messages per EventProducer send call, and calls in flight at a time.
    batch: { type: 'string', default: '1000' },
    'in-flight': { type: 'string', default: '4' },
    'keep-stack': { type: 'boolean', default: false },
  },
});
const positive = (name: string, value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  return n;
};
const total = positive('records', values.records);
const runs = positive('runs', values.runs);
const batchSize = positive('batch', values.batch);
const inFlight = positive('in-flight', values['in-flight']);

const TOPIC = 'predictions';
/** Distinct sentences the events cycle through (with fresh ids), as bench:logger does. */
const DISTINCT = 5_000;
const EMBEDDING_DIMENSION = 128;
const MIB = 1024 * 1024;
/** Longest a consumer phase may take before the bench gives up. */
const CONSUME_TIMEOUT_MS = 600_000;

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const median = (xs: readonly number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

/** Prints `label: done/total` every 5 s while a phase runs; returns the stop function. */
function ticker(label: string, done: () => number): () => void {
  const timer = setInterval(() => progress(`  ${label}: ${done()}/${total}`), 5_000);
  return () => clearInterval(timer);
}

// ---------------------------------------------------------------------------------------
// Data: predictions as inference publishes them (text, probabilities, [CLS] embedding).

/** Standard normal (Box-Muller): embeddings that do not repeat from row to row. */
function gaussian(): number {
  return Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
}

function makeEvents(run: string): OutgoingEvent<typeof TOPIC>[] {
  const texts = sst2Sentences('train').slice(0, DISTINCT);
  const pool = texts.map((text) => {
    const positiveP = Math.fround(Math.random());
    const label = positiveP >= 0.5 ? ('POSITIVE' as const) : ('NEGATIVE' as const);
    return {
      text,
      label,
      probabilities: [Math.fround(1 - positiveP), positiveP],
      confidence: Math.max(positiveP, Math.fround(1 - positiveP)),
      embedding: Array.from({ length: EMBEDDING_DIMENSION }, () => Math.fround(gaussian() * 0.4)),
    };
  });
  return Array.from({ length: total }, (_, i): OutgoingEvent<typeof TOPIC> => {
    const scored = pool[i % pool.length]!;
    const reviewId = `${run}-${i}`;
    const value: Prediction = {
      eventId: randomUUID(),
      eventTime: Date.now(),
      reviewId,
      reviewEventId: randomUUID(),
      origin: 'STREAM',
      source: 'bench',
      text: scored.text,
      modelName: 'sentiment',
      modelVersion: '1',
      label: scored.label,
      probabilities: scored.probabilities,
      confidence: scored.confidence,
      embedding: scored.embedding,
      latencyMs: 0.3,
      truncated: false,
      scoredAt: Date.now(),
      groundTruth: null,
      shadowOf: null,
    };
    return { key: reviewId, value };
  });
}

// ---------------------------------------------------------------------------------------
// Topics.

async function recordsIn(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(BigInt(p.high) - BigInt(p.low)), 0);
}

/** Deletes every record of `topic` (up to the high watermark): a fresh group reads none. */
async function emptyTopic(admin: Admin, topic: string): Promise<void> {
  const offsets = await admin.fetchTopicOffsets(topic);
  const partitions = offsets
    .filter((p) => p.high !== p.low)
    .map((p) => ({ partition: p.partition, offset: p.high }));
  if (partitions.length > 0) await admin.deleteTopicRecords({ topic, partitions });
}

async function expectRecords(admin: Admin, topic: string, what: string): Promise<void> {
  const found = await recordsIn(admin, topic);
  if (found !== total) throw new Error(`${what}: ${topic} holds ${found} records, not ${total}`);
}

// ---------------------------------------------------------------------------------------
// Kafka's own tools.

function kafkaClasspath(): string {
  const version = execFileSync('bash', ['infra/kafka/run.sh', 'version'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  }).trim();
  const cache = resolve(REPO_ROOT, process.env.KAFKA_CACHE ?? '.cache');
  return `${cache}/kafka-${version}/libs/*`;
}

/** Runs a Kafka tool class; its stdout lines go to `onLine`; resolves with all of them. */
function runKafkaTool(
  classpath: string,
  mainClass: string,
  args: readonly string[],
  onLine: (line: string) => void,
): Promise<string[]> {
  // 512 MiB of heap, as kafka-producer-perf-test.sh and kafka-consumer-perf-test.sh give it.
  const child = spawn('java', ['-Xmx512m', '-cp', classpath, mainClass, ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const errors: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    onLine(line);
  });
  createInterface({ input: child.stderr }).on('line', (line) => errors.push(line));
  return new Promise((done, fail) => {
    child.once('error', fail);
    child.once('close', (code) => {
      if (code === 0) done(lines);
      else {
        const tail = [...lines, ...errors].slice(-20).join('\n');
        fail(new Error(`${mainClass} exited with ${code}:\n${tail}`));
      }
    });
  });
}

interface ProducerFigures {
  readonly recordsPerSec: number;
  readonly mibPerSec: number;
  readonly avgLatencyMs: number;
  readonly maxLatencyMs: number;
}

// e.g. "200000 records sent, 41254.1 records/sec (27.46 MB/sec), 912.20 ms avg latency,
// 1587.00 ms max latency, 901 ms 50th, 1402 ms 95th, 1500 ms 99th, 1580 ms 99.9th."
const PRODUCER_SUMMARY =
  /^(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, .*50th/;

async function producerPerformance(
  classpath: string,
  brokers: string,
  topic: string,
  recordSize: number,
  extraProps: readonly string[],
): Promise<ProducerFigures> {
  const lines = await runKafkaTool(
    classpath,
    'org.apache.kafka.tools.ProducerPerformance',
    [
      ...['--topic', topic, '--num-records', String(total), '--record-size', String(recordSize)],
      ...['--throughput', '-1', '--reporting-interval', '5000'],
      ...['--key-distribution', 'range', '--record-key-range', String(total)],
      '--command-property',
      `bootstrap.servers=${brokers}`,
      'acks=all',
      'enable.idempotence=true',
      'compression.type=none',
      ...javaSecurityProps,
      ...extraProps,
    ],
    (line) => progress(`  ProducerPerformance: ${line}`),
  );
  for (const line of lines) {
    const match = PRODUCER_SUMMARY.exec(line);
    if (!match) continue;
    if (Number(match[1]) !== total) throw new Error(`ProducerPerformance: ${line}`);
    return {
      recordsPerSec: Number(match[2]),
      mibPerSec: Number(match[3]),
      avgLatencyMs: Number(match[4]),
      maxLatencyMs: Number(match[5]),
    };
  }
  throw new Error(`no summary line from ProducerPerformance:\n${lines.join('\n')}`);
}

interface ConsumerFigures {
  /** From the group join to the last record (ConsumerPerformance: fetch.*). */
  readonly recordsPerSec: number;
  readonly mibPerSec: number;
  /** Including the group join (ConsumerPerformance's nMsg.sec); ours: from connect. */
  readonly overallRecordsPerSec: number;
}

async function consumerPerformance(
  classpath: string,
  brokers: string,
  topic: string,
): Promise<ConsumerFigures> {
  const lines = await runKafkaTool(
    classpath,
    'org.apache.kafka.tools.ConsumerPerformance',
    [
      ...['--bootstrap-server', brokers, '--topic', topic, '--num-records', String(total)],
      ...['--group', `bench-kafka-perf-${randomUUID()}`, '--timeout', '60000'],
      ...javaSecurityProps.flatMap((prop) => ['--command-property', prop]),
    ],
    () => undefined,
  );
  // A header line of column names, then one line of values.
  const headerAt = lines.findIndex((line) => line.includes('fetch.nMsg.sec'));
  const header = lines[headerAt]?.split(',').map((s) => s.trim());
  const row = lines[headerAt + 1]?.split(',').map((s) => s.trim());
  if (!header || !row || header.length !== row.length) {
    throw new Error(`no summary from ConsumerPerformance:\n${lines.join('\n')}`);
  }
  const column = (name: string): number => {
    const value = Number(row[header.indexOf(name)]);
    if (!Number.isFinite(value)) throw new Error(`ConsumerPerformance: no ${name} in ${row}`);
    return value;
  };
  if (column('data.consumed.in.nMsg') !== total) {
    throw new Error(`ConsumerPerformance read ${column('data.consumed.in.nMsg')} records`);
  }
  progress(`  ConsumerPerformance: ${header.map((h, i) => `${h}=${row[i]}`).join(', ')}`);
  return {
    recordsPerSec: column('fetch.nMsg.sec'),
    mibPerSec: column('fetch.MB.sec'),
    overallRecordsPerSec: column('nMsg.sec'),
  };
}

// ---------------------------------------------------------------------------------------
// The bench.

progress('starting the bench stack');
try {
  benchStack('up');
} catch (error) {
  // On a loaded 2-core machine a node can miss its registration deadline; a second start
  // starts only the nodes that are not running.
  progress(`the bench stack did not start (${String(error)}); trying once more`);
  benchStack('up');
}
const env = benchServiceEnv({});
const brokers = env.KAFKA_BROKERS!;
const classpath = kafkaClasspath();
const logger = createLogger('bench-kafka', 'warn', 'stderr');
const adminConfig = localAdminBackboneConfig(env);
/**
 * The Java tools log in as the bench stack's admin, as the kafkajs side does: the same SASL
 * handshake cost on both sides of the comparison.
 */
const javaSecurityProps = [
  'security.protocol=SASL_PLAINTEXT',
  'sasl.mechanism=SCRAM-SHA-512',
  `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${adminConfig.kafkaUsername}" password="${readFileSync(adminConfig.kafkaPasswordFile, 'utf8').trim()}";`,
];
const { kafka, codec, producer } = createBackbone(
  adminConfig,
  'bench-kafka',
  logger,
  createMetricsRegistry('bench-kafka'),
);
const admin = kafka.admin();
const spec = codec.catalogue.topics.find((t) => t.name === TOPIC);
if (!spec) throw new Error(`${TOPIC} is not in the catalogue`);

interface RunFigures {
  readonly typed: ProducerFigures;
  readonly raw: ProducerFigures;
  readonly javaProducer: ProducerFigures;
  readonly javaTuned: ProducerFigures;
  readonly runner: ConsumerFigures;
  readonly bare: ConsumerFigures;
  readonly javaConsumer: ConsumerFigures;
}

/** Sends `items` in calls of `batchSize`, `inFlight` at a time; per-call latencies kept. */
async function timedSends<T>(
  label: string,
  items: readonly T[],
  send: (batch: readonly T[]) => Promise<void>,
  valueBytes: number,
): Promise<ProducerFigures> {
  let next = 0;
  let acked = 0;
  const latencies: number[] = [];
  const stop = ticker(label, () => acked);
  const started = performance.now();
  const worker = async () => {
    while (next < items.length) {
      const batch = items.slice(next, next + batchSize);
      next += batch.length;
      const sentAt = performance.now();
      await send(batch);
      latencies.push(performance.now() - sentAt);
      acked += batch.length;
    }
  };
  try {
    await Promise.all(Array.from({ length: inFlight }, worker));
  } finally {
    stop();
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    recordsPerSec: items.length / seconds,
    mibPerSec: valueBytes / MIB / seconds,
    avgLatencyMs: latencies.reduce((a, b) => a + b, 0) / latencies.length,
    maxLatencyMs: Math.max(...latencies),
  };
}

/** Resolves when `count()` reaches the record count; rejects after CONSUME_TIMEOUT_MS. */
async function untilAllConsumed(label: string, count: () => number): Promise<void> {
  const stop = ticker(label, count);
  const deadline = performance.now() + CONSUME_TIMEOUT_MS;
  try {
    while (count() < total) {
      if (performance.now() > deadline) {
        throw new Error(`${label}: ${count()}/${total} records after ${CONSUME_TIMEOUT_MS} ms`);
      }
      await sleep(5);
    }
  } finally {
    stop();
  }
}

/** The project's consumer: ConsumerRunner as the logger runs it, with a no-op handler. */
async function runnerConsume(recordBytes: number): Promise<ConsumerFigures> {
  let seen = 0;
  let lastAt = 0;
  const runner = new ConsumerRunner({
    kafka,
    codec,
    producer,
    topic: TOPIC,
    groupId: `bench-kafka-runner-${randomUUID()}`,
    service: 'bench-kafka',
    logger,
    metrics: createRunnerMetrics(createMetricsRegistry('bench-kafka')),
    fromBeginning: true,
    partitionsConsumedConcurrently: 6,
    batchesInFlightPerPartition: 4,
    handler: async (events) => {
      seen += events.length;
      if (seen >= total) lastAt = performance.now();
    },
  });
  const connectAt = performance.now();
  await runner.start(); // resolves once the group is joined and synced
  const joinedAt = performance.now();
  try {
    await untilAllConsumed('ConsumerRunner', () => seen);
  } finally {
    await runner.stop();
  }
  if (seen !== total) throw new Error(`ConsumerRunner saw ${seen} records, not ${total}`);
  const seconds = (lastAt - joinedAt) / 1000;
  return {
    recordsPerSec: total / seconds,
    mibPerSec: recordBytes / MIB / seconds,
    overallRecordsPerSec: total / ((lastAt - connectAt) / 1000),
  };
}

/** A bare kafkajs consumer: eachBatch, counting records and bytes, no decoding or commits. */
async function bareConsume(): Promise<ConsumerFigures> {
  let seen = 0;
  let bytes = 0;
  let lastAt = 0;
  const consumer = kafka.consumer({
    groupId: `bench-kafka-bare-${randomUUID()}`,
    maxBytesPerPartition: 1_048_576,
    maxWaitTimeInMs: 100,
    allowAutoTopicCreation: false,
  });
  const connectAt = performance.now();
  await consumer.connect();
  await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: 6,
    eachBatch: async ({ batch }) => {
      for (const message of batch.messages) {
        bytes += (message.key?.length ?? 0) + (message.value?.length ?? 0);
      }
      seen += batch.messages.length;
      if (seen >= total) lastAt = performance.now();
    },
  });
  const joinedAt = performance.now();
  try {
    await untilAllConsumed('kafkajs consumer', () => seen);
  } finally {
    await consumer.disconnect();
  }
  if (seen !== total) throw new Error(`the kafkajs consumer saw ${seen} records, not ${total}`);
  const seconds = (lastAt - joinedAt) / 1000;
  return {
    recordsPerSec: total / seconds,
    mibPerSec: bytes / MIB / seconds,
    overallRecordsPerSec: total / ((lastAt - connectAt) / 1000),
  };
}

const keepStack = values['keep-stack'];
try {
  await admin.connect();
  await producer.connect();
  const run = randomUUID().slice(0, 8);
  progress(`building and encoding ${total} predictions`);
  const events = makeEvents(run);
  // The codec registers the schema on its first encode, and concurrent first encodes each
  // ask the registry (thousands of requests at once exhaust file descriptors): one first.
  await codec.encode(TOPIC, events[0]!.value);
  const encoded: RawOutgoing[] = [];
  for (let i = 0; i < total; i += batchSize) {
    encoded.push(...(await encodeEvents(codec, TOPIC, events.slice(i, i + batchSize))));
  }
  const valueBytes = encoded.reduce((sum, m) => sum + (m.value?.length ?? 0), 0);
  const keyBytes = encoded.reduce((sum, m) => sum + Buffer.byteLength(m.key ?? ''), 0);
  const recordSize = Math.round(valueBytes / total);
  progress(
    `encoded: ${recordSize} bytes per value on average, ${(keyBytes / total).toFixed(1)} per key; ` +
      `ProducerPerformance gets --record-size ${recordSize}`,
  );
  // Metadata, producer id and schema id before anything is timed.
  await producer.send(TOPIC, events.slice(0, 1));

  // ProducerPerformance twice: with the producer's defaults (batch.size 16 KiB, 22 of these
  // records per partition batch) and with batch.size near the partition share of one of our
  // send calls (the batch our producer puts on the wire), next power of two.
  const javaBatchBytes =
    2 ** Math.ceil(Math.log2((batchSize / spec.partitions) * ((valueBytes + keyBytes) / total)));
  const createBenchTopic = (topic: string) =>
    admin.createTopics({
      topics: [
        {
          topic,
          numPartitions: spec.partitions,
          replicationFactor: spec.replicationFactor,
          configEntries: [{ name: 'min.insync.replicas', value: String(spec.minInsyncReplicas) }],
        },
      ],
      waitForLeaders: true,
    });

  const results: RunFigures[] = [];
  for (let r = 1; r <= runs; r++) {
    const tag = `run ${r}/${runs}`;
    progress(`${tag}: EventProducer.send (encode + send) of ${total} predictions to ${TOPIC}`);
    await emptyTopic(admin, TOPIC);
    const typed = await timedSends(
      'EventProducer.send',
      events,
      (batch) => producer.send(TOPIC, batch),
      valueBytes,
    );
    await expectRecords(admin, TOPIC, 'EventProducer.send');
    progress(`  ${typed.recordsPerSec.toFixed(0)} records/s`);

    progress(`${tag}: EventProducer.sendRaw (pre-encoded) of ${total} predictions to ${TOPIC}`);
    await emptyTopic(admin, TOPIC);
    const raw = await timedSends(
      'EventProducer.sendRaw',
      encoded,
      (batch) => producer.sendRaw(TOPIC, batch),
      valueBytes,
    );
    await expectRecords(admin, TOPIC, 'EventProducer.sendRaw');
    progress(`  ${raw.recordsPerSec.toFixed(0)} records/s`);

    const id = randomUUID().slice(0, 8);
    const javaTopic = `bench-kafka-java-${id}`;
    const tunedTopic = `bench-kafka-java-tuned-${id}`;
    await createBenchTopic(javaTopic);
    await createBenchTopic(tunedTopic);
    try {
      progress(`${tag}: ProducerPerformance of ${total} x ${recordSize} bytes to ${javaTopic}`);
      const javaProducer = await producerPerformance(classpath, brokers, javaTopic, recordSize, []);
      await expectRecords(admin, javaTopic, 'ProducerPerformance');
      progress(`${tag}: ProducerPerformance, batch.size=${javaBatchBytes}, to ${tunedTopic}`);
      const javaTuned = await producerPerformance(classpath, brokers, tunedTopic, recordSize, [
        `batch.size=${javaBatchBytes}`,
      ]);
      await expectRecords(admin, tunedTopic, 'ProducerPerformance (batch.size)');

      progress(`${tag}: ConsumerRunner (decode, no-op handler) reading ${TOPIC}`);
      const runner = await runnerConsume(valueBytes + keyBytes);
      progress(`  ${runner.recordsPerSec.toFixed(0)} records/s`);
      progress(`${tag}: bare kafkajs consumer reading ${TOPIC}`);
      const bare = await bareConsume();
      progress(`  ${bare.recordsPerSec.toFixed(0)} records/s`);
      progress(`${tag}: ConsumerPerformance reading ${javaTopic}`);
      const javaConsumer = await consumerPerformance(classpath, brokers, javaTopic);
      results.push({ typed, raw, javaProducer, javaTuned, runner, bare, javaConsumer });
      progress(
        `${tag}: producer ${typed.recordsPerSec.toFixed(0)} (send) / ${raw.recordsPerSec.toFixed(0)} (sendRaw) ` +
          `vs ProducerPerformance ${javaProducer.recordsPerSec.toFixed(0)} / ${javaTuned.recordsPerSec.toFixed(0)} (batch.size) records/s; ` +
          `consumer ${runner.recordsPerSec.toFixed(0)} (runner) / ${bare.recordsPerSec.toFixed(0)} (bare) ` +
          `vs ConsumerPerformance ${javaConsumer.recordsPerSec.toFixed(0)} records/s`,
      );
    } finally {
      await admin.deleteTopics({ topics: [javaTopic, tunedTopic] });
    }
  }
  await emptyTopic(admin, TOPIC);

  const med = (pick: (r: RunFigures) => number) => median(results.map(pick));
  const perRun = (pick: (r: RunFigures) => number) =>
    results.map((r) => pick(r).toFixed(0)).join(', ');

  console.log(
    `\nKafka clients, ${total} predictions (${recordSize} bytes per value, ${(keyBytes / total).toFixed(0)} per key), ` +
      `topics of ${spec.partitions} partitions, replication ${spec.replicationFactor}, ` +
      `min.insync.replicas ${spec.minInsyncReplicas}; acks=all, idempotent, uncompressed; ` +
      `medians of ${runs} run(s).`,
  );
  console.log(
    `\nProducers (ours: ${batchSize} messages per send call, ${inFlight} calls in flight, ` +
      `latency per call; Java: keyed records, latency per record):\n`,
  );
  const tunedColumn = `/ PP batch.size=${javaBatchBytes}`;
  const producerRow = (name: string, pick: (r: RunFigures) => ProducerFigures) => ({
    producer: name,
    'records/s': Math.round(med((r) => pick(r).recordsPerSec)),
    'MiB/s': med((r) => pick(r).mibPerSec),
    'avg latency ms': med((r) => pick(r).avgLatencyMs),
    'max latency ms': med((r) => pick(r).maxLatencyMs),
    'per run (records/s)': perRun((r) => pick(r).recordsPerSec),
    '/ ProducerPerformance': med((r) => pick(r).recordsPerSec / r.javaProducer.recordsPerSec),
    [tunedColumn]: med((r) => pick(r).recordsPerSec / r.javaTuned.recordsPerSec),
  });
  console.log(
    table([
      producerRow('EventProducer.send (encode + send)', (r) => r.typed),
      producerRow('EventProducer.sendRaw (pre-encoded)', (r) => r.raw),
      producerRow('ProducerPerformance (Java, defaults)', (r) => r.javaProducer),
      producerRow(`ProducerPerformance (Java, batch.size=${javaBatchBytes})`, (r) => r.javaTuned),
    ]),
  );
  console.log(
    '\nConsumers (from the group join to the last record; "overall" includes connecting and joining):\n',
  );
  const consumerRow = (name: string, pick: (r: RunFigures) => ConsumerFigures) => ({
    consumer: name,
    'records/s': Math.round(med((r) => pick(r).recordsPerSec)),
    'MiB/s': med((r) => pick(r).mibPerSec),
    'overall records/s': Math.round(med((r) => pick(r).overallRecordsPerSec)),
    'per run (records/s)': perRun((r) => pick(r).recordsPerSec),
    '/ ConsumerPerformance': med((r) => pick(r).recordsPerSec / r.javaConsumer.recordsPerSec),
  });
  console.log(
    table([
      consumerRow('ConsumerRunner (decode, no-op handler, commits)', (r) => r.runner),
      consumerRow('kafkajs eachBatch (no decoding, no commits)', (r) => r.bare),
      consumerRow('ConsumerPerformance (Java, fetch.*)', (r) => r.javaConsumer),
    ]),
  );
  const ratios = {
    send: med((r) => r.typed.recordsPerSec / r.javaProducer.recordsPerSec),
    sendRaw: med((r) => r.raw.recordsPerSec / r.javaProducer.recordsPerSec),
    sendTuned: med((r) => r.typed.recordsPerSec / r.javaTuned.recordsPerSec),
    sendRawTuned: med((r) => r.raw.recordsPerSec / r.javaTuned.recordsPerSec),
    runner: med((r) => r.runner.recordsPerSec / r.javaConsumer.recordsPerSec),
    bare: med((r) => r.bare.recordsPerSec / r.javaConsumer.recordsPerSec),
  };
  console.log(
    `\nratio our producer / ProducerPerformance: ${ratios.send.toFixed(2)} (send), ` +
      `${ratios.sendRaw.toFixed(2)} (sendRaw); against batch.size=${javaBatchBytes}: ` +
      `${ratios.sendTuned.toFixed(2)} (send), ${ratios.sendRawTuned.toFixed(2)} (sendRaw)`,
  );
  console.log(
    `ratio our consumer / ConsumerPerformance: ${ratios.runner.toFixed(2)} (ConsumerRunner), ` +
      `${ratios.bare.toFixed(2)} (bare kafkajs)`,
  );
} finally {
  await producer.disconnect().catch(() => undefined);
  await admin.disconnect().catch(() => undefined);
  if (!keepStack) {
    progress('stopping the bench stack');
    benchStack('down');
  }
}
