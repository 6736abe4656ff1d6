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
 * Stop order (see `stop`): stop fetching and wait for the in-flight batches (which commit
 * or are abandoned), then disconnect. The DLQ producer is owned by the caller, which flushes
 * and closes it after the runner stopped.
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
import type { EventProducer } from '#shared/kafka';
import {
  type BatchHandler,
  type BatchOutcome,
  type DeadLetterRequest,
  type RawMessage,
  processBatch,
} from './batch-processor.ts';
import { CommitLane, type DoneOutcome } from './commit-lane.ts';
import type { RunnerMetrics } from './metrics.ts';
import { isTransientError } from './transient.ts';

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
  /** Upper bound of bytes fetched per partition per request. Default 1 MiB. */
  readonly maxBytesPerPartition?: number;
  /** Longest a fetch waits for data before returning empty. Default 100 ms (kafkajs: 5 s). */
  readonly maxWaitTimeMs?: number;
  readonly sessionTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
  /** Called when the consumer cannot be kept running (repeated crashes); the service should exit. */
  readonly onFatal?: (error: unknown) => void;
}

/** What the runner keeps with each pipelined batch until it is committed. */
interface BatchContext {
  readonly highWatermark: string;
  /** performance.now() when the batch was handed over. */
  readonly started: number;
}

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

  constructor(private readonly options: ConsumerRunnerOptions<T>) {
    this.consumer = this.createConsumer();
  }

  get isRunning(): boolean {
    return this.running;
  }

  async start(): Promise<void> {
    this.running = true;
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
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: options.heartbeatIntervalMs ?? 3_000,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1_048_576,
      // kafkajs waits up to 5 s for a fetch to fill; a short wait keeps latency low when a
      // partition has little traffic, at the cost of more (cheap) fetch requests.
      maxWaitTimeInMs: options.maxWaitTimeMs ?? 100,
      allowAutoTopicCreation: false,
      retry: { retries: 12, initialRetryTime: 300, maxRetryTime: 10_000 },
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
    const { batch, resolveOffset } = payload;
    const depth = this.options.batchesInFlightPerPartition ?? 1;
    const lastMessage = batch.messages[batch.messages.length - 1];
    const started = performance.now();
    const outcome = this.processPayload(payload);
    if (depth <= 1) {
      const settled = await outcome;
      if (settled.kind === 'aborted') return;
      if (lastMessage) resolveOffset(lastMessage.offset);
      await this.consumer.commitOffsets([
        { topic: batch.topic, partition: batch.partition, offset: settled.commitOffset },
      ]);
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
      onCommitError: (error) =>
        log.warn(
          { err: describeError(error) },
          'offset commit failed (partition revoked?); the batches will be redelivered',
        ),
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

  /** Decodes and handles one fetched batch (batch-processor.ts); commits nothing. */
  private async processPayload(payload: EachBatchPayload): Promise<BatchOutcome> {
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

    const messages: RawMessage[] = batch.messages.map((message) => ({
      partition,
      offset: message.offset,
      key: message.key ?? null,
      value: message.value ?? null,
      headers: normaliseHeaders(message.headers),
      timestamp: message.timestamp,
    }));

    const outcome = await processBatch<TopicValues[T]>(messages, {
      topic,
      decode: async (message) => {
        const { schemaId, value } = await options.codec.decode(options.topic, message.value);
        return { schemaId, event: value };
      },
      handler: options.handler,
      deadLetter: (requests) => this.sendDeadLetters(requests),
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
    });
    if (outcome.kind === 'aborted') {
      log.info('batch abandoned (stopping or partition revoked); it will be redelivered');
    }
    return outcome;
  }

  private async sendDeadLetters(requests: readonly DeadLetterRequest[]): Promise<void> {
    const { options } = this;
    const dlqTopic = deadLetterTopicOf(options.topic) as DeadLetterTopic;
    await options.producer.send(
      dlqTopic,
      requests.map((request) => ({
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
      })),
    );
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
