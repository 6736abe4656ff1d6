/**
 * Runs one consumer group member on one topic with the contract of batch-processor.ts:
 * per-partition batches, heartbeats during long work, offsets committed explicitly only
 * after effects and dead letters are durable, poison to `dlq.<topic>`.
 *
 * One commit path. Every batch goes into its partition's CommitLane (commit-lane.ts), the
 * single owner of what the partition commits next: the lane commits the end of the longest
 * prefix of batches whose effects are durable, in fetch order, one commit at a time. A
 * batch counts as in flight until its commit has finished, and `eachBatch` returns once
 * fewer than `batchesInFlightPerPartition` batches of the partition are in flight: at the
 * default depth of 1 a batch is processed and committed before kafkajs fetches the
 * partition again. What a commit is depends on the delivery mode, not on the depth: an
 * offset commit (the batch payload's one-request commit), or, exactly once, a Kafka
 * transaction with the batches' outputs, dead letters and offset.
 *
 * Pipelining (`batchesInFlightPerPartition` > 1, for sinks whose effects may land out of
 * order, such as the logger's idempotent inserts): kafkajs fetches a partition's next batch
 * only after the handler of the previous one returned, so a handler that waits for a slow
 * write leaves the consumer idle. With pipelining up to that many batches of a partition are
 * processed at once; the contract holds unchanged (an offset is committed only once every
 * batch before it is durable); what changes is that batches of one partition may take
 * effect out of order, and up to that many batches are redelivered after a crash. Memory
 * stays bounded: a partition with a full lane fetches nothing more.
 *
 * A lane belongs to one membership: after every join kafkajs reads each partition from the
 * committed offset again, so the batches that follow go into a new lane (the old one still
 * commits its finished prefix, never past a batch that is not durable). A batch that failed
 * unexpectedly (or a failed transaction) closes its lane: the partition's batches are then
 * held (not resolved, so kafkajs reads nothing past them) until the member has rejoined,
 * which the runner does at once. A batch is resolved (kafkajs may fetch past it) only while
 * its lane is open.
 *
 * Exactly once inside Kafka (`transactions`: a TransactionalEventProducer, for
 * read-process-write consumers such as inference): the handler's derived events go to a
 * per-batch buffer (transaction-buffer.ts), and the lane commits the batch's outputs, dead
 * letters and consumed offset in one Kafka transaction, so read-committed consumers
 * downstream see each input's effects exactly once. The producer's InitProducerId runs in
 * `start`, before the group reads its offsets (it settles what a killed predecessor left
 * open). A failed transaction has an unknown outcome: the runner stops handling batches,
 * resets the producer (which settles that outcome) and rejoins the group, so it goes on from
 * the offsets the coordinator holds. The lane remembers the offset it committed (a new lane
 * of the partition starts from its predecessor's), and messages below it are skipped if the
 * group hands them out again (kafkajs 2.2 cannot ask for stable offsets, see README Limits).
 * Not combinable with pipelining (one transaction at a time per producer, and the handler
 * sees batches in order).
 *
 * Control records (commit and abort markers of transactional producers upstream, such as
 * inference writing `predictions`). kafkajs hides them (and aborted messages) from
 * `batch.messages`, but they occupy offsets: a partition whose last record is a commit
 * marker ends one past its last message. So the runner commits past the batch's last record
 * (`batch.lastOffset() + 1`, see `batchEndOffset`), not only past its last message, once all
 * of the batch's messages are handled; otherwise the committed offset stays one short of the
 * partition's end at rest (lag 1 forever). A fetch that holds only such records (a marker
 * that arrived after its transaction's data was fetched, or a whole aborted transaction)
 * never reaches `eachBatch` with autoCommit off: kafkajs resolves it and commits it only
 * through its own autoCommit, which this runner turns off. kafkajs does announce it, with a
 * START_BATCH_PROCESS event of batchSize 0 emitted in the partition's fetch order (the
 * partition's previous batch has returned from `eachBatch` by then); the runner pushes it
 * into the lane as a batch with nothing to do, so its end is committed in order, after every
 * batch before it is durable (exactly once: in a transaction holding only the offset).
 *
 * Stop order (see `stop`): stop fetching and wait for the in-flight batches (which commit
 * or are abandoned), then disconnect. The DLQ producer (and the transactional producer) are
 * owned by the caller, which flushes and closes them after the runner stopped.
 */
import { randomUUID } from 'node:crypto';
import type {
  Batch,
  Consumer,
  ConsumerStartBatchProcessEvent,
  EachBatchPayload,
  Kafka,
} from 'kafkajs';
import {
  type BackoffPolicy,
  ConfigError,
  DEFAULT_BACKOFF,
  type Logger,
  backoffDelay,
  describeError,
  sleep,
} from '#platform/common';
import {
  type DeadLetterTopic,
  type EventCodec,
  type TopicName,
  type TopicValues,
  deadLetterTopicOf,
} from '#platform/serde';
import {
  KAFKA_RETRY,
  pinNewGroupAtEnd,
  CONSUMER_METADATA_MAX_AGE_MS,
  type EventSink,
  type OutgoingEvent,
  type TransactionalEventProducer,
  encodeEvents,
} from '#platform/kafka';
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

/** What the runner uses of a TransactionalEventProducer (its whole transactional contract). */
export type RunnerTransactions = Pick<TransactionalEventProducer, 'init' | 'commit' | 'reset'>;

export interface ConsumerRunnerOptions<T extends TopicName> {
  readonly kafka: Kafka;
  readonly codec: EventCodec;
  /** Where dead letters go (at least once): the service's EventProducer, connected by the caller. */
  readonly producer: EventSink;
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
   * each batch in one transaction of this producer (a TransactionalEventProducer). Default:
   * at least once.
   */
  readonly transactions?: RunnerTransactions;
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

/** What the runner keeps with each batch until it is committed. */
interface BatchContext {
  readonly highWatermark: string;
  /** performance.now() when the batch was handed over. */
  readonly started: number;
  /** At least once: commits the partition's offset through the consumer that fetched it. */
  readonly commitOffset: (offset: string) => Promise<void>;
  /** Exactly once: the batch's outputs and dead letters (none for a control-only batch). */
  readonly buffer?: TransactionBuffer;
  /** First and last record of the fetch, for the logs. */
  readonly firstOffset: string | null;
  readonly lastOffset: string;
}

/** A partition's lane and the membership (join) whose batches it takes. */
interface PartitionLane {
  readonly lane: CommitLane<BatchContext>;
  readonly membership: number;
}

type BatchProcessPayload = ConsumerStartBatchProcessEvent['payload'];

export const DEFAULT_SESSION_TIMEOUT_MS = 6_000;
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 1_000;

/** Consecutive self-restarts after which the runner gives up and calls onFatal. */
const MAX_CONSECUTIVE_RESTARTS = 20;
const RESTART_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 30_000, factor: 2 };
/**
 * How long `eachBatch` waits before handing back a batch it holds unresolved (stopping, or a
 * broken lane awaiting the rejoin): kafkajs fetches the same batch again at once otherwise.
 */
const HOLD_MS = 200;

/**
 * The offset to commit once every message of `batch` was handled: past its last record, which
 * is past its last message when the fetch ended with records kafkajs filtered out (commit or
 * abort markers, aborted messages). `Batch.lastOffset()` is the last record at or after the
 * fetch offset, filtered or not, whenever the batch has messages; every record after the last
 * message is one of those filtered ones, so nothing unhandled is skipped.
 */
export function batchEndOffset(batch: Pick<Batch, 'lastOffset'>, afterLastMessage: string): string {
  const afterLastRecord = BigInt(batch.lastOffset()) + 1n;
  return afterLastRecord > BigInt(afterLastMessage) ? afterLastRecord.toString() : afterLastMessage;
}

export class ConsumerRunner<T extends TopicName> {
  private consumer: Consumer;
  private readonly abort = new AbortController();
  private running = false;
  private consecutiveRestarts = 0;
  private restarting: Promise<void> | undefined;
  /** The current consumer has joined a generation and not crashed or stopped since. */
  private member = false;
  private readonly depth: number;
  /** Counts the memberships (group joins, own restarts); lanes of an earlier one are retired. */
  private membership = 0;
  /** The current lane of each partition ("topic|partition"); closed ones wait for a rejoin. */
  private readonly lanes = new Map<string, PartitionLane>();
  /** Lanes of earlier memberships whose batches may still be running or committing. */
  private readonly retiredLanes = new Set<CommitLane<BatchContext>>();
  /** Exactly once only: a transaction failed; no batch is handled until the rejoin. */
  private transactionBroken = false;

  constructor(private readonly options: ConsumerRunnerOptions<T>) {
    const depth = options.batchesInFlightPerPartition ?? 1;
    if (!Number.isInteger(depth) || depth < 1) {
      throw new ConfigError([`batchesInFlightPerPartition must be an integer >= 1, got ${depth}`]);
    }
    if (options.transactions && depth > 1) {
      throw new ConfigError([
        'exactly-once consumption (transactions) cannot be pipelined (batchesInFlightPerPartition > 1)',
      ]);
    }
    this.depth = depth;
    this.consumer = this.createConsumer();
  }

  get groupId(): string {
    return this.options.groupId;
  }

  /**
   * Started, and its consumer is in a group generation: false before the first join, after a
   * crash until the rejoin, and after `stop` (a readiness part, never a constant).
   */
  get isRunning(): boolean {
    return this.running && this.member && this.restarting === undefined;
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
    // Batches commit through the consumer, so they finish before it stops (at depth 1 the
    // consumer's stop would wait for its batch anyway; pipelined ones have returned early).
    await this.drainLanes();
    await this.consumer.stop();
    await this.drainLanes();
    await this.consumer.disconnect();
  }

  private async drainLanes(): Promise<void> {
    const lanes = [...[...this.lanes.values()].map(({ lane }) => lane), ...this.retiredLanes];
    await Promise.all(lanes.map((lane) => lane.drain()));
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
      if (consumer === this.consumer) this.member = false;
      const { error, restart } = payload;
      options.logger.error({ err: describeError(error), restart }, 'consumer crashed');
      // kafkajs restarts itself after retriable errors only. Others that are still
      // recoverable (e.g. "the coordinator is not aware of this member" after an outage
      // evicted this member) would leave the service without a consumer: rejoin ourselves.
      if (!restart) this.beginRestart(error);
    });
    // After a join kafkajs reads every assigned partition from its committed offset again
    // (a new offset manager): what it hands out next starts new lanes.
    consumer.on(consumer.events.GROUP_JOIN, () => {
      if (consumer !== this.consumer) return;
      this.membership++;
      this.member = true;
    });
    consumer.on(consumer.events.STOP, () => {
      if (consumer === this.consumer) this.member = false;
    });
    consumer.on(consumer.events.START_BATCH_PROCESS, ({ payload }) => {
      if (consumer === this.consumer && payload.batchSize === 0) {
        this.onFilteredBatch(consumer, payload);
      }
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
        this.membership++;
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

  /** The one path of every fetched batch: process it, commit it through its lane. */
  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset } = payload;
    const { topic, partition } = batch;
    const lastMessage = batch.messages[batch.messages.length - 1];
    if (!lastMessage) return; // kafkajs hands over batches with messages only
    const lane =
      this.running && !this.transactionBroken ? this.laneOf(topic, partition) : undefined;
    if (!lane) {
      // Stopping, or the partition's lane broke: the batch is not resolved, so kafkajs reads
      // nothing past it; the rejoin (under way) reads from the committed offset.
      await sleep(HOLD_MS);
      return;
    }
    const skipBelow =
      this.options.transactions && lane.committed !== undefined
        ? BigInt(lane.committed)
        : undefined;
    if (skipBelow !== undefined && BigInt(lastMessage.offset) < skipBelow) {
      resolveOffset(lastMessage.offset); // committed by this member already
      return;
    }
    const buffer = this.options.transactions
      ? new TransactionBuffer(this.options.codec)
      : undefined;
    const started = performance.now();
    const outcome = this.processPayload(payload, buffer, skipBelow).then((settled): BatchOutcome =>
      settled.kind === 'done'
        ? { ...settled, commitOffset: batchEndOffset(batch, settled.commitOffset) }
        : settled,
    );
    lane.push(outcome, {
      highWatermark: batch.highWatermark,
      started,
      // One request: consumer.commitOffsets retries a dozen times (18 s against a
      // coordinator that moved) before it fails, and the rejoin that finds the new
      // coordinator would wait for that.
      commitOffset: (offset) =>
        payload.commitOffsetsIfNecessary({
          topics: [{ topic, partitions: [{ partition, offset }] }],
        }),
      buffer,
      firstOffset: batch.firstOffset(),
      lastOffset: batch.lastOffset(),
    });
    await lane.waitForRoom(this.depth);
    // Lets kafkajs fetch past the batch (and past trailing control records: kafkajs resolves
    // its lastOffset() when given the last message), unless its lane broke meanwhile.
    if (!lane.closed) resolveOffset(lastMessage.offset);
  }

  /**
   * A fetch of `partition` that held only records kafkajs filters out (control records,
   * aborted messages; see the module comment): committed in order like a batch with nothing
   * to do. `firstOffset` is null (whatever the type says) when the fetch returned only
   * records below the fetch offset: then nothing is known about the records it skipped.
   */
  private onFilteredBatch(consumer: Consumer, event: BatchProcessPayload): void {
    const { topic, partition, highWatermark, lastOffset } = event;
    const firstOffset: string | null = event.firstOffset;
    if (firstOffset === null || !this.running || this.transactionBroken) return;
    const lane = this.laneOf(topic, partition);
    if (!lane) return;
    const next = BigInt(lastOffset) + 1n;
    if (lane.committed !== undefined && next <= BigInt(lane.committed)) return;
    const done: BatchOutcome = {
      kind: 'done',
      commitOffset: next.toString(),
      processed: 0,
      deadLettered: 0,
    };
    lane.push(Promise.resolve(done), {
      highWatermark,
      started: performance.now(),
      commitOffset: (offset) => consumer.commitOffsets([{ topic, partition, offset }]),
      firstOffset,
      lastOffset,
    });
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

  /**
   * The partition's lane for a batch of the current membership: the open one, a new one
   * (first batch, or first since a rejoin), or undefined while the lane of this membership is
   * closed (a batch was abandoned or failed, or a transaction failed: the rejoin reopens it).
   */
  private laneOf(topic: string, partition: number): CommitLane<BatchContext> | undefined {
    const key = `${topic}|${partition}`;
    const current = this.lanes.get(key);
    if (current?.membership === this.membership) {
      return current.lane.closed ? undefined : current.lane;
    }
    if (current) {
      const retired = current.lane;
      this.retiredLanes.add(retired);
      void retired.drain().then(() => this.retiredLanes.delete(retired));
    }
    const lane = this.openLane(topic, partition, current?.lane.committed);
    this.lanes.set(key, { lane, membership: this.membership });
    return lane;
  }

  private openLane(
    topic: string,
    partition: number,
    committed: string | undefined,
  ): CommitLane<BatchContext> {
    const { transactions, groupId, codec } = this.options;
    const log = this.options.logger.child({ topic, partition });
    return new CommitLane<BatchContext>({
      committed,
      commitFailureCloses: transactions !== undefined,
      commit: async (offset, last, covered) => {
        if (!transactions) return last.commitOffset(offset);
        // One batch per transaction (not pipelined); merged should that ever change.
        const merged = new TransactionBuffer(codec);
        for (const { buffer } of covered) {
          for (const { topic: to, messages } of buffer?.contents() ?? []) merged.add(to, messages);
        }
        await transactions.commit({
          messages: merged.contents(),
          offsets: { consumerGroupId: groupId, topic, partition, offset },
        });
      },
      onCommitted: (outcome, context) => {
        if (transactions) {
          log.debug(
            {
              first: context.firstOffset,
              last: context.lastOffset,
              commitOffset: outcome.commitOffset,
              processed: outcome.processed,
              outputs: context.buffer?.size ?? 0,
            },
            'transaction committed',
          );
        }
        this.recordCommitted(topic, partition, context.highWatermark, outcome, context.started);
      },
      onCommitError: (error) => {
        if (transactions) {
          if (!this.running) return; // stopping: the batch is redelivered to the next member
          this.transactionBroken = true;
          log.error(
            { err: describeError(error) },
            'transaction failed; resetting the producer and rejoining from the committed offsets',
          );
          this.beginRestart(error);
          return;
        }
        if (isCoordinatorMovedError(error)) {
          this.onCoordinatorMoved(error);
          return;
        }
        log.warn(
          { err: describeError(error) },
          'offset commit failed (partition revoked?); a later commit covers the batch, or it is redelivered',
        );
      },
      // Abandoned batches are redelivered by themselves: that happens only while stopping or
      // when kafkajs restarts the member, which then reads from the committed offsets (this
      // runner never seeks). A failure is redelivered by rejoining.
      onBroken: (error) => {
        if (error === undefined) {
          log.info(
            'batch abandoned (stopping or consumer restarting); later ones wait for the rejoin',
          );
          return;
        }
        log.error({ err: describeError(error) }, 'batch failed unexpectedly; rejoining');
        this.beginRestart(error);
      },
    });
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
