/**
 * A transactional producer for read-process-write (exactly once inside Kafka): a consumer's
 * outputs, its dead letters and its consumed offsets are committed in one Kafka transaction,
 * so read-committed consumers downstream see each input's effects once or not at all.
 *
 * Contract:
 * - `init` runs InitProducerId for the transactional id before the consumer reads its
 *   committed offsets. That fences an earlier incarnation of this instance (a process killed
 *   and restarted under the same id) and makes the coordinator finish its open transaction
 *   first: committed ones have their offsets in place, open ones are aborted. Hence one
 *   transactional id per instance, stable across its restarts (and never shared by two live
 *   instances: they would fence each other).
 * - `commit` runs one transaction: send every message, add the offsets, commit. Transactions
 *   are serialised (kafkajs allows one open transaction per producer).
 * - A failed `commit` has an unknown outcome (EndTxn may have reached the coordinator). It
 *   throws `TransactionFailedError`, and the producer must be `reset` (a new InitProducerId,
 *   which settles that outcome) before the caller re-reads its committed offsets and goes on;
 *   the consumer runner does both by rejoining its group.
 */
import { type Kafka, Partitioners, type Producer, type CompressionTypes } from 'kafkajs';
import { Counter, Histogram, type Registry } from 'prom-client';
import { AppError, type Logger, describeError } from '#platform/common';
import type { EventCodec } from '#platform/serde';
import {
  MAX_REQUEST_BYTES,
  type RawOutgoing,
  chunkBySize,
  compressionByTopic,
  toKafkajsMessage,
} from './producer.ts';

export interface TransactionalProducerOptions {
  readonly kafka: Kafka;
  readonly codec: EventCodec;
  /** Unique per instance and stable across its restarts (see the contract above). */
  readonly transactionalId: string;
  /**
   * Longest a transaction may stay open before the coordinator aborts it. Also how long
   * read-committed consumers downstream can be held back by an instance that died inside a
   * transaction and is not restarted. Default 15,000 ms (a transaction here only spans the
   * sends and the commit of one batch, not its processing).
   */
  readonly transactionTimeoutMs?: number;
  readonly metrics: Registry;
  readonly logger: Logger;
}

export interface TransactionOffsets {
  readonly consumerGroupId: string;
  readonly topic: string;
  readonly partition: number;
  /** The next offset to consume (last processed + 1). */
  readonly offset: string;
}

export interface TransactionContents {
  readonly messages: readonly {
    readonly topic: string;
    readonly messages: readonly RawOutgoing[];
  }[];
  readonly offsets: TransactionOffsets;
}

/** A transaction did not commit, or its outcome is unknown; reset the producer, re-read offsets. */
export class TransactionFailedError extends AppError {
  constructor(transactionalId: string, cause: unknown) {
    super(
      'KAFKA_TRANSACTION_FAILED',
      `transaction of ${transactionalId} failed: ${describeError(cause)}`,
      { cause, retriable: true },
    );
  }
}

export class TransactionalEventProducer {
  private producer: Producer | undefined;
  /** Tail of the queue of transactions: one at a time. */
  private tail: Promise<unknown> = Promise.resolve();
  private readonly compression: ReadonlyMap<string, CompressionTypes>;
  private readonly outcomes: Counter<'outcome'>;
  private readonly seconds: Histogram;

  constructor(private readonly options: TransactionalProducerOptions) {
    this.compression = compressionByTopic(options.codec);
    this.outcomes = new Counter({
      name: 'kafka_transactions_total',
      help: 'Kafka transactions by outcome (committed, failed)',
      labelNames: ['outcome'],
      registers: [options.metrics],
    });
    this.seconds = new Histogram({
      name: 'kafka_transaction_seconds',
      help: 'Time from the first send of a transaction to its commit',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [options.metrics],
    });
  }

  get transactionalId(): string {
    return this.options.transactionalId;
  }

  /** Connects and runs InitProducerId now (fences an earlier incarnation; see above). */
  async init(): Promise<void> {
    if (this.producer) return;
    const producer = this.options.kafka.producer({
      transactionalId: this.options.transactionalId,
      transactionTimeout: this.options.transactionTimeoutMs ?? 15_000,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    // kafkajs initialises the producer id lazily in transaction(); an empty transaction
    // ends without an EndTxn request.
    const transaction = await producer.transaction();
    await transaction.abort();
    this.producer = producer;
  }

  /** Sends the messages and the offsets in one transaction and commits it. */
  commit(contents: TransactionContents): Promise<void> {
    const run = this.tail.then(() => this.runTransaction(contents));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Replaces the producer after a failure: the new InitProducerId settles the old outcome. */
  async reset(): Promise<void> {
    const old = this.producer;
    this.producer = undefined;
    await old?.disconnect().catch(() => undefined);
    await this.init();
  }

  async disconnect(): Promise<void> {
    await this.tail;
    const producer = this.producer;
    this.producer = undefined;
    await producer?.disconnect();
  }

  private async runTransaction(contents: TransactionContents): Promise<void> {
    const producer = this.producer;
    if (!producer) {
      throw new TransactionFailedError(
        this.options.transactionalId,
        new Error('the producer is not initialised (init or reset first)'),
      );
    }
    const started = performance.now();
    let transaction: Awaited<ReturnType<Producer['transaction']>> | undefined;
    try {
      transaction = await producer.transaction();
      // Requests of at most MAX_REQUEST_BYTES (producer.ts: kafkajs never splits a record
      // batch), each to one topic with its compression; all in the one transaction.
      for (const { topic, messages } of contents.messages) {
        for (const chunk of chunkBySize(messages, MAX_REQUEST_BYTES)) {
          await transaction.send({
            topic,
            acks: -1,
            compression: this.compressionOf(topic),
            messages: chunk.map(toKafkajsMessage),
          });
        }
      }
      const { consumerGroupId, topic, partition, offset } = contents.offsets;
      await transaction.sendOffsets({
        consumerGroupId,
        topics: [{ topic, partitions: [{ partition, offset }] }],
      });
      await transaction.commit();
      this.outcomes.inc({ outcome: 'committed' });
      this.seconds.observe((performance.now() - started) / 1000);
    } catch (error) {
      this.outcomes.inc({ outcome: 'failed' });
      // Best effort: the coordinator aborts it anyway on the next InitProducerId or timeout.
      if (transaction?.isActive()) await transaction.abort().catch(() => undefined);
      this.options.logger.warn(
        { err: describeError(error), transactionalId: this.options.transactionalId },
        'Kafka transaction failed; the producer must be reset',
      );
      throw new TransactionFailedError(this.options.transactionalId, error);
    }
  }

  private compressionOf(topic: string): CompressionTypes {
    const known = this.compression.get(topic);
    if (known === undefined) throw new Error(`topic ${topic} is not in the catalogue`);
    return known;
  }
}
