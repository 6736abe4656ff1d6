/**
 * Runs one consumer group member on one topic with the contract of batch-processor.ts:
 * per-partition batches, heartbeats during long work, offsets committed explicitly only
 * after effects and dead letters are durable, poison to `dlq.<topic>`.
 *
 * Stop order (see `stop`): stop fetching and wait for the in-flight batch (kafkajs
 * `consumer.stop`), then disconnect. The DLQ producer is owned by the caller, which flushes
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
  type DeadLetterRequest,
  type RawMessage,
  processBatch,
} from './batch-processor.ts';
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
  /** Upper bound of bytes fetched per partition per request. Default 1 MiB. */
  readonly maxBytesPerPartition?: number;
  /** Longest a fetch waits for data before returning empty. Default 100 ms (kafkajs: 5 s). */
  readonly maxWaitTimeMs?: number;
  readonly sessionTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
  /** Called when the consumer cannot be kept running (repeated crashes); the service should exit. */
  readonly onFatal?: (error: unknown) => void;
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

  /** Stops fetching, waits for the in-flight batch (which commits or aborts), disconnects. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.abort.abort();
    await this.restarting;
    await this.consumer.stop();
    await this.consumer.disconnect();
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
      if (!restart && this.running) this.restarting = this.restartAfterCrash(error);
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
    const { batch, heartbeat, isRunning, isStale, resolveOffset } = payload;
    const { options } = this;
    const { topic, partition } = batch;
    const started = performance.now();
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
      return;
    }
    const lastMessage = batch.messages[batch.messages.length - 1];
    if (lastMessage) resolveOffset(lastMessage.offset);
    await this.consumer.commitOffsets([{ topic, partition, offset: outcome.commitOffset }]);
    options.metrics.processed.inc({ topic }, outcome.processed);
    this.consecutiveRestarts = 0;
    const lag = Number(BigInt(batch.highWatermark) - BigInt(outcome.commitOffset));
    options.metrics.lag.set({ topic, partition: String(partition) }, Math.max(0, lag));
    options.metrics.batchSeconds.observe({ topic }, (performance.now() - started) / 1000);
    await heartbeat();
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
