/**
 * Runs one consumer group member on one topic with the contract of batch-processor.ts:
 * per-partition batches, heartbeats during long work, offsets committed explicitly only
 * after effects and dead letters are durable, poison to `dlq.<topic>`.
 *
 * Pipelining (`batchesInFlightPerPartition` > 1, for sinks whose effects may land out of
 * order, such as the logger's idempotent inserts): kafkajs fetches a partition's next batch
 * only after the handler of the previous one returned, so a handler that waits for a slow
 * write leaves the consumer idle. With pipelining the runner lets kafkajs fetch on while up
 * to that many batches of a partition are being processed, and commits their offsets in
 * order through a CommitLane (commit-lane.ts): the contract holds unchanged (an offset is
 * committed only once every batch before it is durable); what changes is that batches of
 * one partition may take effect out of order, and up to that many batches are redelivered
 * after a crash. Memory stays bounded: a partition with a full lane fetches nothing more.
 *
 * Exactly once inside Kafka (`transactions`: a TransactionalEventProducer, for
 * read-process-write consumers such as inference): the handler's derived events go to a
 * per-batch buffer (transaction-buffer.ts), and the batch's outputs, dead letters and
 * consumed offset are committed in one Kafka transaction, so read-committed consumers
 * downstream see each input's effects exactly once. The producer's InitProducerId runs in
 * `start`, before the group reads its offsets (it settles what a killed predecessor left
 * open). A failed transaction has an unknown outcome: the runner stops handling batches,
 * resets the producer (which settles that outcome) and rejoins the group, so it goes on from
 * the offsets the coordinator holds. Offsets this member has committed itself are remembered,
 * and messages below them are skipped if the group hands them out again. Not combinable with
 * pipelining (one transaction at a time per producer; commits are serialised).
 *
 * Stop order (see `stop`): stop fetching and wait for the in-flight batches (which commit
 * or are abandoned), then disconnect. The DLQ producer (and the transactional producer) are
 * owned by the caller, which flushes and closes them after the runner stopped.
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import {
  type BackoffPolicy,
  DEFAULT_BACKOFF,
  type Logger,
  backoffDelay,
  describeError,
  sleep,
} from '#shared/common';
import {
  type DeadLetterTopic,
  type EventCodec,
  type TopicName,
  type TopicValues,
  deadLetterTopicOf,
} from '#shared/serde';
import {
  KAFKA_RETRY,
  pinNewGroupAtEnd,
  CONSUMER_METADATA_MAX_AGE_MS,
  type EventProducer,
  type OutgoingEvent,
  type TransactionalEventProducer,
  encodeEvents,
} from '#shared/kafka';
import {
  type BatchHandler,
  type BatchOutcome,
  type DeadLetterRequest,
  type RawMessage,
  processBatch,
} from './batch-processor.ts';
import { TransactionBuffer } from './transaction-buffer.ts';
import { CommitLane, type DoneOutcome } from './commit-lane.ts';
import type { RunnerMetrics } from './metrics.ts';
import { isCoordinatorMovedError, isTransientError } from './transient.ts';

export interface ConsumerRunnerOptions<T extends TopicName> {
  readonly kafka: Kafka;
  readonly codec: EventCodec;
  /** Used for dead letters; connected by the caller. */
  readonly producer: EventProducer;
  readonly topic: T;
  readonly groupId: string;
  readonly service: string;
  readonly handler: BatchHandler<TopicValues[T]>;
  readonly logger: Logger;
  readonly metrics: RunnerMetrics;
  /** Attempts for non-transient failures before dead-lettering. Default 3. */
  readonly maxAttempts?: number;
  readonly backoff?: BackoffPolicy;
  readonly isTransient?: (error: unknown) => boolean;
  /** Where a new group starts. Default false (latest). */
  readonly fromBeginning?: boolean;
  /** Partitions processed in parallel by this member. Default 1. */
  readonly partitionsConsumedConcurrently?: number;
  /**
   * Batches of one partition processed at the same time (pipelining, see above). Default 1:
   * one batch at a time, effects in offset order. Only for handlers whose effects may be
   * applied out of order and twice (idempotent).
   */
  readonly batchesInFlightPerPartition?: number;
  /**
   * Exactly once inside Kafka (see the module comment): outputs, dead letters and offsets of
   * each batch in one transaction of this producer. Default: at least once.
   */
  readonly transactions?: TransactionalEventProducer;
  /** Upper bound of bytes fetched per partition per request. Default 1 MiB. */
  readonly maxBytesPerPartition?: number;
  /** Longest a fetch waits for data before returning empty. Default 100 ms (kafkajs: 5 s). */
  readonly maxWaitTimeMs?: number;
  /**
   * How long the group coordinator waits for a silent member before giving its partitions to
   * the others: a crashed member's partitions stand still this long, and a restarted one
   * waits for it too. Default 6,000 ms (the broker's minimum, group.min.session.timeout.ms).
   * Short is safe because the runner heartbeats while a batch is being processed.
   */
  readonly sessionTimeoutMs?: number;
  /** Default 1,000 ms. */
  readonly heartbeatIntervalMs?: number;
  /** How often the consumer refreshes cluster metadata; default CONSUMER_METADATA_MAX_AGE_MS. */
  readonly metadataMaxAgeMs?: number;
  /** Called when the consumer cannot be kept running (repeated crashes); the service should exit. */
  readonly onFatal?: (error: unknown) => void;
}

/** What the runner keeps with each pipelined batch until it is committed. */
interface BatchContext {
  readonly highWatermark: string;
  /** performance.now() when the batch was handed over. */
  readonly started: number;
}

export const DEFAULT_SESSION_TIMEOUT_MS = 6_000;
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 1_000;

/** Consecutive self-restarts after which the runner gives up and calls onFatal. */
const MAX_CONSECUTIVE_RESTARTS = 20;
const RESTART_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 30_000, factor: 2 };

export class ConsumerRunner<T extends TopicName> {
  private consumer: Consumer;
  private readonly abort = new AbortController();
  private running = false;
  private consecutiveRestarts = 0;
  private restarting: Promise<void> | undefined;
  /** Pipelining only: the open commit lane of each partition ("topic|partition"). */
  private readonly lanes = new Map<string, CommitLane<BatchContext>>();
  /** Pipelining only: lanes closed or left by a rejoin whose batches may still be running. */
  private readonly retiredLanes = new Set<CommitLane<BatchContext>>();
  /** Exactly once only: offsets this member committed, by "topic|partition". */
  private readonly committedByUs = new Map<string, bigint>();
  /** Exactly once only: a transaction failed; no batch is handled until the rejoin. */
  private transactionBroken = false;

  constructor(private readonly options: ConsumerRunnerOptions<T>) {
    if (options.transactions && (options.batchesInFlightPerPartition ?? 1) > 1) {
      throw new Error('exactly-once consumption cannot be pipelined (batchesInFlightPerPartition)');
    }
    this.consumer = this.createConsumer();
  }

  get isRunning(): boolean {
    return this.running;
  }

  async start(): Promise<void> {
    this.running = true;
    // Before the group reads its committed offsets: settles a predecessor's transaction.
    await this.options.transactions?.init();
    await this.pinStartingOffsets();
    await this.runConsumer();
    this.options.logger.info(
      { topic: this.options.topic, groupId: this.options.groupId },
      'consumer running',
    );
  }

  /** Stops fetching, waits for the in-flight batches (which commit or abort), disconnects. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.abort.abort();
    await this.restarting;
    // Pipelined batches commit through the consumer, so they finish before it stops; a
    // handler that returned early (waiting for room in its lane) is then let go as well.
    await this.drainLanes();
    await this.consumer.stop();
    await this.drainLanes();
    await this.consumer.disconnect();
  }

  private async drainLanes(): Promise<void> {
    await Promise.all([...this.lanes.values(), ...this.retiredLanes].map((lane) => lane.drain()));
  }

  /** Stops using `lane` for new batches; kept (for `stop`) until its batches have settled. */
  private retireLane(key: string, lane: CommitLane<BatchContext>): void {
    if (this.lanes.get(key) === lane) this.lanes.delete(key);
    this.retiredLanes.add(lane);
    void lane.drain().then(() => this.retiredLanes.delete(lane));
  }

  private createConsumer(): Consumer {
    const { options } = this;
    const consumer = options.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS,
      heartbeatInterval: options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1_048_576,
      // kafkajs waits up to 5 s for a fetch to fill; a short wait keeps latency low when a
      // partition has little traffic, at the cost of more (cheap) fetch requests.
      maxWaitTimeInMs: options.maxWaitTimeMs ?? 100,
      allowAutoTopicCreation: false,
      metadataMaxAge: options.metadataMaxAgeMs ?? CONSUMER_METADATA_MAX_AGE_MS,
      retry: { ...KAFKA_RETRY },
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      const { error, restart } = payload;
      options.logger.error({ err: describeError(error), restart }, 'consumer crashed');
      // kafkajs restarts itself after retriable errors only. Others that are still
      // recoverable (e.g. "the coordinator is not aware of this member" after an outage
      // evicted this member) would leave the service without a consumer: rejoin ourselves.
      if (!restart) this.beginRestart(error);
    });
    return consumer;
  }

  /**
   * A new group that starts at the end of the topic (not `fromBeginning`) starts at the end as
   * it was when the group was first started: the partitions without a committed offset get
   * one now, while the group has no members. Without it, a first member that dies before
   * committing a partition leaves it without an offset, and the next member starts at the end
   * as it is then: everything produced in between is skipped (seen in the exactly-once crash
   * test). Only an empty group can be given offsets; when members are active, they own it. A
   * group that reads from the beginning needs none of this (the beginning moves only with
   * retention).
   */
  private async pinStartingOffsets(): Promise<void> {
    const { kafka, groupId, topic, logger } = this.options;
    if (this.options.fromBeginning) return;
    try {
      const partitions = await pinNewGroupAtEnd(kafka, groupId, topic);
      if (partitions.length > 0) {
        logger.info({ topic, groupId, partitions }, 'starting offsets of a new group pinned');
      }
    } catch (error) {
      // Another member joined meanwhile (it pins nothing then), or the broker is busy: the
      // group falls back to kafkajs's own start position, as without pinning.
      logger.warn({ err: describeError(error), topic, groupId }, 'could not pin starting offsets');
    }
  }

  private async runConsumer(): Promise<void> {
    const { options } = this;
    await this.consumer.connect();
    await this.consumer.subscribe({
      topics: [options.topic],
      fromBeginning: options.fromBeginning ?? false,
    });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1,
      eachBatch: (payload) => this.onBatch(payload),
    });
  }

  /** Rejoins with a new consumer (unless stopping or already rejoining). */
  private beginRestart(error: unknown): void {
    if (!this.running || this.restarting) return;
    this.restarting = this.restartAfterCrash(error).finally(() => {
      this.restarting = undefined;
    });
  }

  private async restartAfterCrash(error: unknown): Promise<void> {
    while (this.running) {
      this.consecutiveRestarts++;
      if (this.consecutiveRestarts > MAX_CONSECUTIVE_RESTARTS) {
        this.options.onFatal?.(error);
        return;
      }
      await sleep(backoffDelay(this.consecutiveRestarts, RESTART_BACKOFF), this.abort.signal);
      if (!this.running) return;
      try {
        await this.consumer.disconnect().catch(() => undefined);
        // The new member reads from the committed offsets: its batches start new lanes (the
        // old ones still commit what becomes durable, never past what is not).
        for (const [key, lane] of [...this.lanes]) this.retireLane(key, lane);
        if (this.options.transactions && this.transactionBroken) {
          // Settles the failed transaction's outcome before the new member reads offsets.
          await this.options.transactions.reset();
          this.transactionBroken = false;
        }
        this.consumer = this.createConsumer();
        await this.runConsumer();
        this.options.logger.warn(
          { attempt: this.consecutiveRestarts },
          'consumer restarted after crash',
        );
        return;
      } catch (restartError) {
        this.options.logger.error({ err: describeError(restartError) }, 'consumer restart failed');
      }
    }
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    if (this.options.transactions) return this.onBatchInTransaction(payload);
    const { batch, resolveOffset } = payload;
    const depth = this.options.batchesInFlightPerPartition ?? 1;
    const lastMessage = batch.messages[batch.messages.length - 1];
    const started = performance.now();
    const outcome = this.processPayload(payload);
    if (depth <= 1) {
      const settled = await outcome;
      if (settled.kind === 'aborted') return;
      try {
        // The payload's commit is one request (consumer.commitOffsets retries a dozen times,
        // 18 s against a coordinator that moved, before it fails).
        await payload.commitOffsetsIfNecessary({
          topics: [
            {
              topic: batch.topic,
              partitions: [{ partition: batch.partition, offset: settled.commitOffset }],
            },
          ],
        });
      } catch (error) {
        if (!isCoordinatorMovedError(error)) throw error;
        this.onCoordinatorMoved(error);
        return; // not resolved: redelivered after the rejoin
      }
      if (lastMessage) resolveOffset(lastMessage.offset);
      this.recordCommitted(batch.topic, batch.partition, batch.highWatermark, settled, started);
      await payload.heartbeat();
      return;
    }
    // Pipelined: let kafkajs fetch the partition's next batch now; the lane commits this one
    // once it and every batch before it are durable.
    const lane = this.laneOf(batch.topic, batch.partition);
    lane.push(outcome, { highWatermark: batch.highWatermark, started });
    if (lastMessage) resolveOffset(lastMessage.offset);
    await lane.waitForRoom(depth);
  }

  /** Exactly once: handle, then commit outputs + dead letters + offset in one transaction. */
  private async onBatchInTransaction(payload: EachBatchPayload): Promise<void> {
    const transactions = this.options.transactions!;
    const { batch, resolveOffset } = payload;
    if (this.transactionBroken) {
      // Rejoining after a failed transaction: handle nothing from the old position.
      await sleep(200, this.abort.signal).catch(() => undefined);
      return;
    }
    const key = `${batch.topic}|${batch.partition}`;
    const committed = this.committedByUs.get(key);
    const lastMessage = batch.messages[batch.messages.length - 1];
    if (!lastMessage) return;
    if (committed !== undefined && BigInt(lastMessage.offset) < committed) {
      resolveOffset(lastMessage.offset); // already committed by this member
      return;
    }
    const started = performance.now();
    const buffer = new TransactionBuffer(this.options.codec);
    const settled = await this.processPayload(payload, buffer, committed);
    if (settled.kind === 'aborted') return;
    try {
      await transactions.commit({
        messages: buffer.contents(),
        offsets: {
          consumerGroupId: this.options.groupId,
          topic: batch.topic,
          partition: batch.partition,
          offset: settled.commitOffset,
        },
      });
    } catch (error) {
      if (!this.running) return; // stopping: the batch is redelivered
      this.transactionBroken = true;
      this.options.logger.error(
        { err: describeError(error), topic: batch.topic, partition: batch.partition },
        'transaction failed; resetting the producer and rejoining from the committed offsets',
      );
      this.beginRestart(error);
      return;
    }
    this.options.logger.debug(
      {
        topic: batch.topic,
        partition: batch.partition,
        first: batch.firstOffset(),
        last: lastMessage.offset,
        skipBelow: committed?.toString(),
        commitOffset: settled.commitOffset,
        processed: settled.processed,
        outputs: buffer.size,
      },
      'transaction committed',
    );
    this.committedByUs.set(key, BigInt(settled.commitOffset));
    resolveOffset(lastMessage.offset);
    this.recordCommitted(batch.topic, batch.partition, batch.highWatermark, settled, started);
    await payload.heartbeat();
  }

  /**
   * kafkajs keeps committing to the group coordinator it found when it joined, as long as it
   * can connect to that broker: after a broker restart that moved the coordinator, every
   * commit failed with NOT_COORDINATOR and kafkajs re-ran the batch a dozen times before it
   * rejoined (two minutes in the broker-fault test). A new member looks the coordinator up.
   */
  private onCoordinatorMoved(error: unknown): void {
    this.options.logger.warn(
      { err: describeError(error), topic: this.options.topic },
      'the group coordinator moved; rejoining to find it (uncommitted batches are redelivered)',
    );
    this.beginRestart(error);
  }

  private laneOf(topic: string, partition: number): CommitLane<BatchContext> {
    const key = `${topic}|${partition}`;
    const open = this.lanes.get(key);
    if (open && !open.closed) return open;
    if (open) this.retireLane(key, open);
    const consumer = this.consumer;
    const log = this.options.logger.child({ topic, partition });
    const lane = new CommitLane<BatchContext>({
      commit: (offset) => consumer.commitOffsets([{ topic, partition, offset }]),
      onCommitted: (outcome, { highWatermark, started }) =>
        this.recordCommitted(topic, partition, highWatermark, outcome, started),
      onCommitError: (error) => {
        if (isCoordinatorMovedError(error)) {
          this.onCoordinatorMoved(error);
          return;
        }
        log.warn(
          { err: describeError(error) },
          'offset commit failed (partition revoked?); the batches will be redelivered',
        );
      },
      // Abandoned batches are redelivered by themselves: that happens only while stopping or
      // when kafkajs restarts the member, which then reads from the committed offsets (this
      // runner never seeks). A failure is redelivered by rejoining.
      onBroken: (error) => {
        if (error === undefined) {
          log.info('pipelined batch abandoned (stopping or consumer restarting)');
          return;
        }
        log.error({ err: describeError(error) }, 'pipelined batch failed; rejoining');
        this.beginRestart(error);
      },
    });
    this.lanes.set(key, lane);
    return lane;
  }

  private recordCommitted(
    topic: string,
    partition: number,
    highWatermark: string,
    outcome: DoneOutcome,
    started: number,
  ): void {
    const { metrics } = this.options;
    metrics.processed.inc({ topic }, outcome.processed);
    this.consecutiveRestarts = 0;
    const lag = Number(BigInt(highWatermark) - BigInt(outcome.commitOffset));
    metrics.lag.set({ topic, partition: String(partition) }, Math.max(0, lag));
    metrics.batchSeconds.observe({ topic }, (performance.now() - started) / 1000);
  }

  /**
   * Decodes and handles one fetched batch (batch-processor.ts); commits nothing. With a
   * transaction buffer, derived events and dead letters go to it instead of the producer, and
   * messages below `skipBelow` (committed by this member already) are left out.
   */
  private async processPayload(
    payload: EachBatchPayload,
    buffer?: TransactionBuffer,
    skipBelow?: bigint,
  ): Promise<BatchOutcome> {
    const { batch, heartbeat, isRunning, isStale } = payload;
    const { options } = this;
    const { topic, partition } = batch;
    const log = options.logger.child({
      topic,
      partition,
      firstOffset: batch.firstOffset(),
      lastOffset: batch.lastOffset(),
    });
    options.metrics.consumed.inc({ topic }, batch.messages.length);

    const messages: RawMessage[] = batch.messages
      .filter((message) => skipBelow === undefined || BigInt(message.offset) >= skipBelow)
      .map((message) => ({
        partition,
        offset: message.offset,
        key: message.key ?? null,
        value: message.value ?? null,
        headers: normaliseHeaders(message.headers),
        timestamp: message.timestamp,
      }));

    // kafkajs heartbeats only between batches; a long batch (a big fetch scored on a busy
    // machine) would otherwise outlast the session and cost this member its partitions.
    const background = setInterval(
      () => void heartbeat().catch(() => undefined),
      options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS,
    );
    const outcome = await processBatch<TopicValues[T]>(messages, {
      topic,
      decode: async (message) => {
        const { schemaId, value } = await options.codec.decode(options.topic, message.value);
        return { schemaId, event: value };
      },
      handler: buffer ? buffer.wrap(options.handler) : options.handler,
      deadLetter: buffer
        ? (requests) => this.bufferDeadLetters(buffer, requests)
        : (requests) => this.sendDeadLetters(requests),
      output: options.producer,
      heartbeat,
      isRunning: () => this.running && isRunning() && !isStale(),
      sleep: (ms) => sleep(ms, this.abort.signal),
      signal: this.abort.signal,
      maxAttempts: options.maxAttempts ?? 3,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      isTransient: options.isTransient ?? isTransientError,
      onRetry: ({ error, attempt, transient }) => {
        options.metrics.failed.inc({ topic, transient: String(transient) });
        log.warn(
          { err: describeError(error), attempt, transient },
          'batch processing failed, retrying',
        );
      },
    }).finally(() => clearInterval(background));
    if (outcome.kind === 'aborted') {
      log.info('batch abandoned (stopping or partition revoked); it will be redelivered');
    }
    return outcome;
  }

  private async sendDeadLetters(requests: readonly DeadLetterRequest[]): Promise<void> {
    await this.options.producer.send(this.deadLetterTopic, this.deadLetterEvents(requests));
    this.recordDeadLetters(requests);
  }

  /** Exactly once: dead letters travel in the batch's transaction. */
  private async bufferDeadLetters(
    buffer: TransactionBuffer,
    requests: readonly DeadLetterRequest[],
  ): Promise<void> {
    const topic = this.deadLetterTopic;
    buffer.add(
      topic,
      await encodeEvents(this.options.codec, topic, this.deadLetterEvents(requests)),
    );
    this.recordDeadLetters(requests);
  }

  private get deadLetterTopic(): DeadLetterTopic {
    return deadLetterTopicOf(this.options.topic) as DeadLetterTopic;
  }

  private deadLetterEvents(
    requests: readonly DeadLetterRequest[],
  ): OutgoingEvent<DeadLetterTopic>[] {
    const { options } = this;
    return requests.map((request) => ({
      key: request.message.key,
      value: {
        eventId: randomUUID(),
        eventTime: Date.now(),
        sourceTopic: options.topic,
        sourcePartition: request.message.partition,
        sourceOffset: request.message.offset,
        key: request.message.key,
        value: request.message.value,
        headers: { ...request.message.headers },
        errorCode: request.errorCode,
        reason: request.reason,
        attempts: request.attempts,
        consumerGroup: options.groupId,
        service: options.service,
      },
    }));
  }

  private recordDeadLetters(requests: readonly DeadLetterRequest[]): void {
    const { options } = this;
    for (const request of requests) {
      options.metrics.deadLettered.inc({ topic: options.topic, code: request.errorCode });
      options.logger.warn(
        {
          topic: options.topic,
          partition: request.message.partition,
          offset: request.message.offset,
          code: request.errorCode,
          reason: request.reason,
        },
        'message dead-lettered',
      );
    }
  }
}

function normaliseHeaders(
  headers: Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined,
): Record<string, Buffer> {
  const result: Record<string, Buffer> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) result[name] = Buffer.isBuffer(first) ? first : Buffer.from(first);
  }
  return result;
}
