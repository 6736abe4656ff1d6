/**
 * ConsumerRunner against a fake kafkajs consumer: its one commit path (every batch through
 * its partition's CommitLane), at depth 1 and pipelined, at least once and exactly once.
 *
 * The fake does what kafkajs does for the runner's settings (autoCommit off, no auto
 * resolve): it hands a batch to `eachBatch` and waits for it to return before it fetches the
 * partition again (the test calls `deliver` for each fetch), resolving `lastOffset()` when
 * the runner resolves the batch's last message; its `stop` waits for the `eachBatch` in
 * progress; a fetch that held only control records is announced with START_BATCH_PROCESS
 * (batchSize 0) and never reaches `eachBatch`. Every commit, whichever way it went, lands in
 * one ordered log with the handler's effects, the dead letters and the consumer's calls.
 */
import { EventEmitter } from 'node:events';
import type {
  Batch,
  Consumer,
  ConsumerEvents,
  ConsumerRunConfig,
  EachBatchPayload,
  GroupDescription,
  InstrumentationEvent,
  Kafka,
  KafkaMessage,
  Logger as KafkaLogger,
  Offsets,
  TopicPartitionOffsetAndMetadata,
  TopicPartitions,
} from 'kafkajs';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { DependencyUnavailableError, createLogger } from '#platform/common';
import {
  type EventSink,
  type OutgoingEvent,
  type TransactionContents,
  TransactionFailedError,
} from '#platform/kafka';
import {
  type BatchHandler,
  ConsumerRunner,
  type ConsumerRunnerOptions,
  type RunnerTransactions,
  batchEndOffset,
  createRunnerMetrics,
  isTransientError,
} from '#platform/runner';
import {
  EventCodec,
  type RegistryClient,
  type Review,
  type TopicName,
  loadCatalogue,
} from '#platform/serde';

const TOPIC = 'reviews';
const GROUP = 'unit-group';

const EVENTS: ConsumerEvents = {
  HEARTBEAT: 'consumer.heartbeat',
  COMMIT_OFFSETS: 'consumer.commit_offsets',
  GROUP_JOIN: 'consumer.group_join',
  FETCH_START: 'consumer.fetch_start',
  FETCH: 'consumer.fetch',
  START_BATCH_PROCESS: 'consumer.start_batch_process',
  END_BATCH_PROCESS: 'consumer.end_batch_process',
  CONNECT: 'consumer.connect',
  DISCONNECT: 'consumer.disconnect',
  STOP: 'consumer.stop',
  CRASH: 'consumer.crash',
  REBALANCING: 'consumer.rebalancing',
  RECEIVED_UNSUBSCRIBED_TOPICS: 'consumer.received_unsubscribed_topics',
  REQUEST: 'consumer.network.request',
  REQUEST_TIMEOUT: 'consumer.network.request_timeout',
  REQUEST_QUEUE_SIZE: 'consumer.network.request_queue_size',
};

/** Registers every schema as id 7 and hands its text back for decoding. */
function schemaRegistry(): RegistryClient {
  const texts = new Map<number, string>();
  return {
    register: async (_subject, schema) => {
      texts.set(7, schema);
      return 7;
    },
    getSchemaText: async (id) => {
      const text = texts.get(id);
      if (text === undefined) throw new Error(`schema id ${id} not registered`);
      return text;
    },
  };
}

const codec = new EventCodec(schemaRegistry(), loadCatalogue());

function review(offset: number, text: string): Review {
  return {
    eventId: `00000000-0000-4000-8000-${String(offset).padStart(12, '0')}`,
    eventTime: 1,
    reviewId: `r${offset}`,
    source: 'unit',
    text,
    groundTruth: null,
    attributes: {},
  };
}

/** One fetched record: a review (`ok`, `poison`...) or bytes that decode to nothing. */
async function message(offset: number, text = 'ok'): Promise<KafkaMessage> {
  const value =
    text === 'garbage'
      ? Buffer.from('not confluent-framed')
      : (await codec.encode(TOPIC, review(offset, text))).bytes;
  return {
    key: Buffer.from(`r${offset}`),
    value,
    timestamp: '0',
    attributes: 0,
    offset: String(offset),
    headers: {},
  };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((res) => (resolve = res));
  return { promise, resolve };
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 10));

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Whether a promise has settled (checked after a flush). */
function tracked<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  return { promise, settled: () => settled };
}

interface Commit {
  readonly via: 'payload' | 'consumer' | 'transaction';
  readonly partition: number;
  readonly offset: string;
}

interface FetchSpec {
  readonly partition?: number;
  /** Offsets (and contents) of the messages kafkajs hands over. */
  readonly messages: readonly (number | readonly [number, string])[];
  /** Offset of the fetch's last record when it is a filtered one (a control record). */
  readonly lastRecord?: number;
  readonly highWatermark?: number;
}

/** The parts of a kafkajs consumer the runner uses; the others throw. */
class FakeConsumer implements Consumer {
  readonly events = EVENTS;
  /** The offset kafkajs would fetch each partition from next, minus one (resolved). */
  readonly resolved = new Map<number, string>();
  private readonly emitter = new EventEmitter();
  /** Set by a test to hold the payload's commits until it resolves. */
  commitGate: Promise<void> | undefined;
  private eachBatch: ConsumerRunConfig['eachBatch'];
  private running = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly pausedPartitions = new Set<number>();

  constructor(
    private readonly log: string[],
    private readonly commits: Commit[],
  ) {}

  get isRunning(): boolean {
    return this.running;
  }

  async connect(): Promise<void> {
    this.log.push('connect');
  }

  async subscribe(): Promise<void> {
    this.log.push('subscribe');
  }

  async run(config?: ConsumerRunConfig): Promise<void> {
    expect(config?.autoCommit).toBe(false);
    expect(config?.eachBatchAutoResolve).toBe(false);
    this.eachBatch = config?.eachBatch;
    this.running = true;
    this.emit(EVENTS.GROUP_JOIN, { groupId: GROUP });
  }

  /** As kafkajs: no more batches; waits for the one being handled. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.inFlight);
    this.log.push('consumer.stop');
  }

  /** As kafkajs: stops first (logged as the disconnect only). */
  async disconnect(): Promise<void> {
    this.running = false;
    await Promise.all(this.inFlight);
    this.log.push('consumer.disconnect');
  }

  async commitOffsets(offsets: TopicPartitionOffsetAndMetadata[]): Promise<void> {
    for (const { partition, offset } of offsets) this.record('consumer', partition, offset);
  }

  seek(): void {
    throw new Error('ConsumerRunner never seeks');
  }

  describeGroup(): Promise<GroupDescription> {
    throw new Error('not used by ConsumerRunner');
  }

  pause(topics: { topic: string; partitions?: number[] }[]): void {
    for (const { partitions } of topics)
      for (const p of partitions ?? []) this.pausedPartitions.add(p);
  }

  paused(): TopicPartitions[] {
    return [{ topic: TOPIC, partitions: [...this.pausedPartitions] }];
  }

  resume(topics: { topic: string; partitions?: number[] }[]): void {
    for (const { partitions } of topics) {
      for (const p of partitions ?? []) this.pausedPartitions.delete(p);
    }
  }

  on(
    eventName: ConsumerEvents[keyof ConsumerEvents],
    listener: (event: InstrumentationEvent<never>) => void,
  ): () => void {
    this.emitter.on(eventName, listener);
    return () => this.emitter.off(eventName, listener);
  }

  logger(): KafkaLogger {
    throw new Error('not used by ConsumerRunner');
  }

  emit(eventName: ConsumerEvents[keyof ConsumerEvents], payload: object): void {
    const event = { id: 0, type: eventName, timestamp: Date.now(), payload };
    this.emitter.emit(eventName, event);
  }

  /**
   * One fetch handed to `eachBatch`; resolves when `eachBatch` returns (true), or at once
   * when the consumer has been stopped meanwhile (false: kafkajs hands out nothing then).
   */
  async deliver(spec: FetchSpec): Promise<boolean> {
    if (!this.eachBatch) throw new Error('the consumer is not running');
    const partition = spec.partition ?? 0;
    const messages = await Promise.all(
      spec.messages.map((m) => (typeof m === 'number' ? message(m) : message(m[0], m[1]))),
    );
    const { eachBatch } = this;
    if (!eachBatch || !this.running) return false;
    const last = messages[messages.length - 1];
    if (!last) throw new Error('kafkajs hands over batches with messages only');
    const lastRecord = String(spec.lastRecord ?? last.offset);
    const highWatermark = String(spec.highWatermark ?? BigInt(lastRecord) + 1n);
    const batch: Batch = {
      topic: TOPIC,
      partition,
      highWatermark,
      messages,
      isEmpty: () => false,
      firstOffset: () => messages[0]?.offset ?? null,
      lastOffset: () => lastRecord,
      offsetLag: () => String(BigInt(highWatermark) - 1n - BigInt(lastRecord)),
      offsetLagLow: () => String(BigInt(highWatermark) - 1n - BigInt(messages[0]?.offset ?? 0)),
    };
    const payload: EachBatchPayload = {
      batch,
      // kafkajs resolves past trailing control records when given the last message.
      resolveOffset: (offset) =>
        this.resolved.set(partition, offset === last.offset ? lastRecord : offset),
      heartbeat: async () => undefined,
      pause: () => {
        this.pause([{ topic: TOPIC, partitions: [partition] }]);
        return () => this.resume([{ topic: TOPIC, partitions: [partition] }]);
      },
      commitOffsetsIfNecessary: async (offsets?: Offsets) => {
        await this.commitGate;
        for (const { partitions } of offsets?.topics ?? []) {
          for (const { partition: p, offset } of partitions) this.record('payload', p, offset);
        }
      },
      uncommittedOffsets: () => ({ topics: [] }),
      isRunning: () => this.running,
      isStale: () => false,
    };
    const handling = eachBatch(payload);
    this.inFlight.add(handling);
    try {
      await handling;
    } finally {
      this.inFlight.delete(handling);
    }
    return true;
  }

  /** A fetch of control records only: kafkajs announces it and resolves it itself. */
  fetchControlOnly(first: number, last: number, partition = 0): void {
    this.emit(EVENTS.START_BATCH_PROCESS, {
      topic: TOPIC,
      partition,
      highWatermark: String(last + 1),
      offsetLag: '0',
      offsetLagLow: String(last - first),
      batchSize: 0,
      firstOffset: String(first),
      lastOffset: String(last),
    });
    this.resolved.set(partition, String(last));
  }

  private record(via: Commit['via'], partition: number, offset: string): void {
    this.commits.push({ via, partition, offset });
    this.log.push(`commit ${offset}`);
  }
}

/** A TransactionalEventProducer's transactional contract, recorded. */
class FakeTransactions implements RunnerTransactions {
  readonly transactions: TransactionContents[] = [];
  failNext = false;

  constructor(
    private readonly log: string[],
    private readonly commits: Commit[],
  ) {}

  async init(): Promise<void> {
    this.log.push('transactions.init');
  }

  async commit(contents: TransactionContents): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      this.log.push('transaction failed');
      throw new TransactionFailedError('unit', new Error('EndTxn timed out'));
    }
    this.transactions.push(contents);
    const { partition, offset } = contents.offsets;
    this.commits.push({ via: 'transaction', partition, offset });
    this.log.push(`commit ${offset}`);
  }

  async reset(): Promise<void> {
    this.log.push('transactions.reset');
  }
}

interface HarnessOptions {
  readonly handler: BatchHandler<Review>;
  /** The ordered log to write to (shared with the handler's own entries). */
  readonly log?: string[];
  readonly depth?: number;
  readonly transactions?: boolean;
  readonly isTransient?: (error: unknown) => boolean;
  /** Fails the first dead-letter sends with these errors. */
  readonly deadLetterFailures?: unknown[];
}

const runners: ConsumerRunner<'reviews'>[] = [];
afterEach(async () => {
  await Promise.all(runners.splice(0).map((runner) => runner.stop()));
});

/** A kafkajs client whose consumers are fakes; the runner needs nothing else of it here. */
function fakeKafka(log: string[], commits: Commit[]): { kafka: Kafka; consumers: FakeConsumer[] } {
  const consumers: FakeConsumer[] = [];
  const kafka: Kafka = {
    consumer: () => {
      const consumer = new FakeConsumer(log, commits);
      consumers.push(consumer);
      return consumer;
    },
    producer: () => {
      throw new Error('ConsumerRunner creates no producer');
    },
    admin: () => {
      throw new Error('not used with fromBeginning (no starting offsets to pin)');
    },
    logger: () => {
      throw new Error('not used by ConsumerRunner');
    },
  };
  return { kafka, consumers };
}

async function harness(options: HarnessOptions) {
  const log = options.log ?? [];
  const commits: Commit[] = [];
  const { kafka, consumers } = fakeKafka(log, commits);
  const deadLetters: unknown[] = [];
  const failures = [...(options.deadLetterFailures ?? [])];
  const producer: EventSink = {
    send: async <T extends TopicName>(topic: T, events: readonly OutgoingEvent<T>[]) => {
      const failure = failures.shift();
      if (failure !== undefined) throw failure;
      deadLetters.push(...events.map((event) => event.value));
      log.push(`send ${topic} ${events.length}`);
    },
  };
  const transactions = options.transactions ? new FakeTransactions(log, commits) : undefined;
  const registry = new Registry();
  const runnerOptions: ConsumerRunnerOptions<'reviews'> = {
    kafka,
    codec,
    producer,
    topic: TOPIC,
    groupId: GROUP,
    service: 'unit',
    handler: options.handler,
    logger: createLogger('unit', 'silent'),
    metrics: createRunnerMetrics(registry),
    fromBeginning: true,
    maxAttempts: 2,
    backoff: { initialMs: 1, maxMs: 2, factor: 1 },
    ...(options.isTransient ? { isTransient: options.isTransient } : {}),
    batchesInFlightPerPartition: options.depth ?? 1,
    ...(transactions ? { transactions } : {}),
  };
  const runner = new ConsumerRunner(runnerOptions);
  runners.push(runner);
  await runner.start();
  const consumer = consumers[0];
  if (!consumer) throw new Error('no consumer created');
  const lag = async (partition = 0) =>
    (await registry.getSingleMetric('kafka_consumer_lag')?.get())?.values.find(
      (v) => v.labels.partition === String(partition),
    )?.value;
  return { runner, consumer, consumers, log, commits, deadLetters, transactions, lag };
}

/** A handler whose batches wait for the test: `release(offset)` lets the batch starting there finish. */
function gatedHandler(log: string[]) {
  const gates = new Map<string, ReturnType<typeof deferred>>();
  const gate = (offset: string) => {
    let found = gates.get(offset);
    if (!found) gates.set(offset, (found = deferred()));
    return found;
  };
  const handler: BatchHandler<Review> = async (events) => {
    const first = events[0]?.offset ?? '?';
    await gate(first).promise;
    log.push(`durable ${events.map((e) => e.offset).join(',')}`);
  };
  return { handler, log, release: (offset: number) => gate(String(offset)).resolve() };
}

describe('ConsumerRunner: one commit path', () => {
  it('commits a batch only after its effects are durable, then lets kafkajs fetch past it', async () => {
    const gated = gatedHandler([]);
    const { consumer, commits, log } = await harness({ handler: gated.handler, log: gated.log });
    const fetch = tracked(consumer.deliver({ messages: [10, 11, 12] }));
    await flush();
    expect(commits).toEqual([]);
    expect(consumer.resolved.get(0)).toBeUndefined();
    expect(fetch.settled()).toBe(false); // depth 1: kafkajs does not fetch on meanwhile
    gated.release(10);
    await fetch.promise;
    expect(commits).toEqual([{ via: 'payload', partition: 0, offset: '13' }]);
    expect(log.slice(-2)).toEqual(['durable 10,11,12', 'commit 13']);
    expect(consumer.resolved.get(0)).toBe('12');
  });

  it('depth 1 is a lane of one: eachBatch returns only once the batch is committed', async () => {
    const { consumer, commits } = await harness({ handler: async () => undefined });
    const commitDone = deferred();
    consumer.commitGate = commitDone.promise;
    const fetch = tracked(consumer.deliver({ messages: [1] }));
    await flush();
    expect(fetch.settled()).toBe(false); // handled, but its commit is on its way
    expect(consumer.resolved.get(0)).toBeUndefined();
    commitDone.resolve();
    await fetch.promise;
    expect(commits.map((c) => c.offset)).toEqual(['2']);
    expect(consumer.resolved.get(0)).toBe('1');
  });

  it('pipelined (depth 3): batches finishing out of order are committed in fetch order', async () => {
    const gated = gatedHandler([]);
    const { consumer, commits } = await harness({ handler: gated.handler, depth: 3 });
    await consumer.deliver({ messages: [10, 11] }); // room left: kafkajs fetches on
    expect(consumer.resolved.get(0)).toBe('11');
    await consumer.deliver({ messages: [12, 13] });
    const third = tracked(consumer.deliver({ messages: [14, 15] }));
    await flush();
    expect(third.settled()).toBe(false); // three in flight: the partition fetches nothing more
    gated.release(14);
    gated.release(12);
    await flush();
    expect(commits).toEqual([]); // 10-11 is not durable yet: nothing past it is committed
    gated.release(10);
    await third.promise;
    await flush();
    expect(commits.map((c) => c.offset)).toEqual(['16']); // one commit for the finished prefix
    await consumer.deliver({ messages: [16, 17] });
    await consumer.deliver({ messages: [18, 19] });
    gated.release(16);
    await flush();
    gated.release(18);
    await flush();
    expect(commits.map((c) => c.offset)).toEqual(['16', '18', '20']);
  });

  it('retries a failing event, dead-letters it, and commits past it once the dead letter is durable', async () => {
    const calls: string[] = [];
    const handler: BatchHandler<Review> = async (events) => {
      calls.push(events.map((e) => e.offset).join(','));
      if (events.some((e) => e.event.text === 'poison')) throw new Error('cannot score');
    };
    const { consumer, commits, log, deadLetters } = await harness({
      handler,
      // The first dead-letter send meets a broker outage: retried, and the commit waits.
      deadLetterFailures: [new DependencyUnavailableError('kafka', 'leader not available')],
    });
    await consumer.deliver({ messages: [20, [21, 'poison'], 22] });
    // maxAttempts (2) for the batch, then one event at a time (the poison one twice).
    expect(calls).toEqual(['20,21,22', '20,21,22', '20', '21', '21', '22']);
    expect(deadLetters).toEqual([
      expect.objectContaining({
        sourceTopic: TOPIC,
        sourcePartition: 0,
        sourceOffset: '21',
        errorCode: expect.stringMatching(/^RETRIES_EXHAUSTED/) as unknown,
        attempts: 2,
        consumerGroup: GROUP,
      }),
    ]);
    expect(commits).toEqual([{ via: 'payload', partition: 0, offset: '23' }]);
    expect(log.indexOf('send dlq.reviews 1')).toBeLessThan(log.indexOf('commit 23'));
  });

  it('an undecodable message goes to the DLQ at once, and the partition moves on', async () => {
    const seen: string[] = [];
    const { consumer, commits, deadLetters } = await harness({
      handler: async (events) => {
        seen.push(...events.map((e) => e.offset));
      },
    });
    await consumer.deliver({ messages: [[30, 'garbage'], 31] });
    expect(seen).toEqual(['31']);
    expect(deadLetters).toEqual([
      expect.objectContaining({
        sourceOffset: '30',
        errorCode: 'MESSAGE_UNDECODABLE',
        attempts: 1,
      }),
    ]);
    expect(commits.map((c) => c.offset)).toEqual(['32']);
  });

  it.each([1, 2])(
    'stop (depth %i) waits for a running handler: it commits after its effects, before the consumer stops',
    async (depth) => {
      const gated = gatedHandler([]);
      const { runner, consumer, commits, log } = await harness({
        handler: gated.handler,
        log: gated.log,
        depth,
      });
      const fetch = consumer.deliver({ messages: [40, 41] });
      await flush();
      const stopping = tracked(runner.stop());
      await flush();
      expect(stopping.settled()).toBe(false);
      expect(commits).toEqual([]);
      expect(log).not.toContain('consumer.stop');
      gated.release(40);
      await stopping.promise;
      await fetch;
      expect(log.slice(-3)).toEqual(['commit 42', 'consumer.stop', 'consumer.disconnect']);
    },
  );

  it('a batch still being retried when stop is called is abandoned: nothing is committed', async () => {
    let attempts = 0;
    const { runner, consumer, commits, log } = await harness({
      handler: async () => {
        attempts++;
        throw new DependencyUnavailableError('clickhouse', 'connection refused');
      },
    });
    const fetch = consumer.deliver({ messages: [50, 51] });
    await until(() => attempts >= 3); // an outage: retried for as long as the consumer runs
    await runner.stop();
    await fetch;
    expect(commits).toEqual([]);
    expect(consumer.resolved.get(0)).toBeUndefined(); // redelivered to the next member
    expect(log.slice(-2)).toEqual(['consumer.stop', 'consumer.disconnect']);
  });

  it('an unexpected failure holds the partition until the member rejoins: nothing past it is committed', async () => {
    const bug = new Error('classifier bug');
    const seen: string[] = [];
    const { consumer, consumers, commits } = await harness({
      handler: async (events) => {
        seen.push(...events.map((e) => e.offset));
      },
      // Dead-lettering the undecodable message fails with an error whose classification
      // throws: the batch fails outright (not a retry, not a dead letter).
      deadLetterFailures: [bug],
      isTransient: (error) => {
        if (error === bug) throw new TypeError('cannot classify');
        return isTransientError(error);
      },
    });
    expect(await consumer.deliver({ messages: [[60, 'garbage'], 61] })).toBe(true);
    expect(consumer.resolved.get(0)).toBeUndefined(); // not resolved: kafkajs fetches it again
    // Until the rejoin (after a random backoff) stops this member, whatever it fetches is
    // held: not handled, not resolved.
    await consumer.deliver({ messages: [[60, 'garbage'], 61] });
    await consumer.deliver({ messages: [62] });
    expect(consumer.resolved.get(0)).toBeUndefined();
    expect(seen).toEqual(['61']);
    expect(commits).toEqual([]);
    // The runner rejoins with a new member, which reads from the committed offset.
    await until(() => consumers[1]?.isRunning === true);
    expect(await consumers[1]!.deliver({ messages: [[60, 'garbage'], 61, 62] })).toBe(true);
    expect(commits.map((c) => c.offset)).toEqual(['63']);
  });
});

describe('ConsumerRunner: isRunning is the consumer group membership, never a constant', () => {
  it('true once joined, false after a crash until a new join, false after stop', async () => {
    const { runner, consumer } = await harness({ handler: async () => undefined });
    expect(runner.isRunning).toBe(true); // the fake joins in run()
    consumer.emit(EVENTS.CRASH, { error: new Error('broker gone'), restart: true, groupId: GROUP });
    expect(runner.isRunning).toBe(false);
    consumer.emit(EVENTS.GROUP_JOIN, { groupId: GROUP });
    expect(runner.isRunning).toBe(true);
    await runner.stop();
    expect(runner.isRunning).toBe(false);
  });
});

describe('ConsumerRunner: control records of transactional producers upstream', () => {
  it('commits past control records that end a batch (no lag of 1 at rest)', async () => {
    const { consumer, commits, lag } = await harness({ handler: async () => undefined });
    await consumer.deliver({ messages: [70, 71], lastRecord: 72, highWatermark: 73 });
    expect(commits.map((c) => c.offset)).toEqual(['73']);
    expect(consumer.resolved.get(0)).toBe('72');
    expect(await lag()).toBe(0);
  });

  it('commits a fetch of control records only, in order, once the batches before it are durable', async () => {
    const gated = gatedHandler([]);
    const { consumer, commits, lag } = await harness({ handler: gated.handler, depth: 2 });
    await consumer.deliver({ messages: [80, 81] });
    consumer.fetchControlOnly(82, 82);
    await flush();
    expect(commits).toEqual([]); // 80-81 is not durable yet
    gated.release(80);
    await until(() => commits.length > 0);
    await flush();
    expect(commits.map((c) => c.offset)).toEqual(['83']);
    expect(await lag()).toBe(0);
  });

  it('depth 1: a control-only fetch after a committed batch moves the committed offset to the end', async () => {
    const { consumer, commits } = await harness({ handler: async () => undefined });
    await consumer.deliver({ messages: [90, 91] });
    consumer.fetchControlOnly(92, 93); // e.g. an aborted transaction's data and its marker
    await until(() => commits.length === 2);
    expect(commits).toEqual([
      { via: 'payload', partition: 0, offset: '92' },
      { via: 'consumer', partition: 0, offset: '94' },
    ]);
  });

  it('batchEndOffset never goes below the offset after the last message', () => {
    expect(batchEndOffset({ lastOffset: () => '9' }, '10')).toBe('10');
    expect(batchEndOffset({ lastOffset: () => '10' }, '10')).toBe('11');
  });
});

describe('ConsumerRunner: exactly once (transactions)', () => {
  const echoing: BatchHandler<Review> = async (events, { output }) => {
    const good = events.filter((e) => e.event.text !== 'poison');
    await output.send(
      'reviews',
      good.map((e) => ({ key: e.event.reviewId, value: { ...e.event, source: 'derived' } })),
    );
    return {
      rejected: events
        .filter((e) => e.event.text === 'poison')
        .map((event) => ({ event, error: new Error('bad content') })),
    };
  };

  it('commits outputs, dead letters and the offset in one transaction, never through the consumer', async () => {
    const { consumer, commits, log, transactions, deadLetters } = await harness({
      handler: echoing,
      transactions: true,
    });
    expect(log.indexOf('transactions.init')).toBeLessThan(log.indexOf('connect'));
    await consumer.deliver({ messages: [100, [101, 'poison'], 102], lastRecord: 103 });
    expect(commits).toEqual([{ via: 'transaction', partition: 0, offset: '104' }]);
    const [transaction] = transactions!.transactions;
    expect(transaction?.offsets).toEqual({
      consumerGroupId: GROUP,
      topic: TOPIC,
      partition: 0,
      offset: '104',
    });
    expect(
      transaction?.messages.map(({ topic, messages }) => [
        topic,
        messages.map((m) => String(m.key)),
      ]),
    ).toEqual([
      ['reviews', ['r100', 'r102']],
      ['dlq.reviews', ['r101']],
    ]);
    expect(deadLetters).toEqual([]); // in the transaction, not sent on their own
    expect(consumer.resolved.get(0)).toBe('103');
  });

  it('a control-only fetch is committed in a transaction that holds only the offset', async () => {
    const { consumer, transactions } = await harness({ handler: echoing, transactions: true });
    await consumer.deliver({ messages: [110] });
    consumer.fetchControlOnly(111, 111);
    await until(() => transactions!.transactions.length === 2);
    expect(transactions!.transactions[1]).toEqual({
      messages: [],
      offsets: { consumerGroupId: GROUP, topic: TOPIC, partition: 0, offset: '112' },
    });
  });

  it('after a failed transaction nothing more is committed until the producer is reset and the member rejoined; what it committed is not handled again', async () => {
    const seen: string[] = [];
    const { consumer, consumers, commits, log, transactions } = await harness({
      handler: async (events, context) => {
        seen.push(events.map((e) => e.offset).join(','));
        return echoing(events, context);
      },
      transactions: true,
    });
    await consumer.deliver({ messages: [120, 121] });
    transactions!.failNext = true;
    await consumer.deliver({ messages: [122, 123] });
    expect(consumer.resolved.get(0)).toBe('121'); // the failed batch is not resolved
    await consumer.deliver({ messages: [122, 123] }); // held: not handled again
    expect(seen).toEqual(['120,121', '122,123']);
    await until(() => consumers[1]?.isRunning === true);
    expect(log.indexOf('transactions.reset')).toBeLessThan(log.lastIndexOf('connect'));
    // The new member may be handed the offset from before this member's last commit.
    expect(await consumers[1]!.deliver({ messages: [120, 121, 122, 123] })).toBe(true);
    expect(seen).toEqual(['120,121', '122,123', '122,123']);
    expect(commits.map((c) => c.offset)).toEqual(['122', '124']);
    expect(commits.every((c) => c.via === 'transaction')).toBe(true);
  });

  it('refuses pipelining', () => {
    const { kafka } = fakeKafka([], []);
    const tx = new FakeTransactions([], []);
    expect(
      () =>
        new ConsumerRunner({
          kafka,
          codec,
          producer: { send: async () => undefined },
          topic: TOPIC,
          groupId: GROUP,
          service: 'unit',
          handler: async () => undefined,
          logger: createLogger('unit', 'silent'),
          metrics: createRunnerMetrics(new Registry()),
          transactions: tx,
          batchesInFlightPerPartition: 2,
        }),
    ).toThrow(/cannot be pipelined/);
  });
});
