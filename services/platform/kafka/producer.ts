/**
 * Typed event producer: values are validated and Avro-encoded through the codec, keyed,
 * sent in batches compressed as the topic's catalogue entry says (gzip unless `none`) and
 * acked by all in-sync replicas (acks=all; the catalogue's min.insync.replicas is 2). A
 * resolved `send` means the broker acknowledged every message (durable), which is what
 * consumers wait for before committing their own offsets.
 *
 * The producer is idempotent: the broker drops a batch that a retry sends twice. kafkajs
 * rolls the sequence numbers of a failed request back, so a caller that resends the same
 * batch after `send` rejected (the consumer runner, the gateway's publisher) is
 * de-duplicated as well, as long as this producer instance lives.
 *
 * kafkajs does not recover an idempotent producer whose sequence numbers the partition
 * leader no longer accepts (OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID after a leader
 * failover: the Java client bumps the epoch, KIP-360): every later send to that partition
 * fails the same way, for ever. Measured in the broker-fault test: after a hung leader
 * resumed, a producer was refused 1,052 times in 4 minutes. EventProducer then replaces the
 * kafkajs producer (a new producer id, sequences from 0) and sends the chunk again; a batch
 * the old producer had written may then be written twice (at least once, never lost).
 */
import { CompressionTypes, type Kafka, Partitioners, type Producer } from 'kafkajs';
import { Counter, type Registry } from 'prom-client';
import {
  DEFAULT_COMPRESSION,
  type EventCodec,
  type TopicName,
  type TopicValues,
} from '#platform/serde';
import { hasKafkaErrorType } from './client.ts';

export interface OutgoingEvent<T extends TopicName> {
  readonly key: string | Buffer | null;
  readonly value: TopicValues[T];
  readonly headers?: Record<string, string | Buffer>;
}

export interface RawOutgoing {
  readonly key: Buffer | string | null;
  readonly value: Buffer | null;
  readonly headers?: Record<string, string | Buffer>;
}

export class EventProducer {
  private producer: Producer;
  /** The replacement being connected after a producer-state error (one at a time). */
  private replacing: Promise<void> | undefined;
  private readonly producerResets: Counter;
  private readonly produced: Counter<'topic'>;
  private readonly compressionByTopic: ReadonlyMap<string, CompressionTypes>;
  private connected = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly codec: EventCodec,
    metrics: Registry,
    private readonly onReset: (error: unknown) => void = () => {},
  ) {
    this.producer = this.newProducer();
    this.compressionByTopic = compressionByTopic(codec);
    this.produced =
      (metrics.getSingleMetric('kafka_messages_produced_total') as Counter<'topic'> | undefined) ??
      new Counter({
        name: 'kafka_messages_produced_total',
        help: 'Messages acknowledged by the broker, by topic',
        labelNames: ['topic'],
        registers: [metrics],
      });
    this.producerResets =
      (metrics.getSingleMetric('kafka_producer_resets_total') as Counter | undefined) ??
      new Counter({
        name: 'kafka_producer_resets_total',
        help: 'Idempotent producers replaced after the broker refused their sequence numbers',
        registers: [metrics],
      });
  }

  private newProducer(): Producer {
    // murmur2 partitioning, as Java clients do, so a key lands on the same partition
    // whichever client produced it.
    return this.kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent: true,
    });
  }

  /** Connected (and not yet disconnected): the gateway's readiness part for Kafka. */
  get isConnected(): boolean {
    return this.connected;
  }

  async connect(): Promise<void> {
    if (this.connected) return;
    await this.producer.connect();
    this.connected = true;
  }

  /** Encodes and sends events to one topic; resolves once all are acknowledged. */
  async send<T extends TopicName>(topic: T, events: readonly OutgoingEvent<T>[]): Promise<void> {
    if (events.length === 0) return;
    await this.sendRaw(topic, await encodeEvents(this.codec, topic, events));
  }

  /**
   * Sends already-encoded messages (dead letters keep the original bytes), in requests of at
   * most MAX_REQUEST_BYTES (see there); resolves once every request was acknowledged.
   */
  async sendRaw(topic: string, messages: readonly RawOutgoing[]): Promise<void> {
    for (const chunk of chunkBySize(messages, MAX_REQUEST_BYTES)) {
      const request = {
        topic,
        acks: -1,
        compression: this.compressionByTopic.get(topic) ?? CompressionTypes.GZIP,
        messages: chunk.map(toKafkajsMessage),
      };
      const producer = this.producer;
      try {
        await producer.send(request);
      } catch (error) {
        if (!isProducerStateError(error) || !this.connected) throw error;
        await this.replace(producer, error);
        await this.producer.send(request);
      }
      this.produced.inc({ topic }, chunk.length);
    }
  }

  /** Replaces `failed` unless a concurrent send already did. */
  private async replace(failed: Producer, error: unknown): Promise<void> {
    if (this.replacing) return this.replacing;
    if (this.producer !== failed) return;
    this.replacing = (async () => {
      this.onReset(error);
      this.producerResets.inc();
      const next = this.newProducer();
      await next.connect();
      this.producer = next;
      // The old producer may still have sends in flight that will fail the same way.
      failed.disconnect().catch(() => {});
    })().finally(() => {
      this.replacing = undefined;
    });
    return this.replacing;
  }

  async disconnect(): Promise<void> {
    if (!this.connected) return;
    this.connected = false;
    await this.producer.disconnect();
  }
}

/** kafkajs's names of the errors after which an idempotent producer can never send again. */
const PRODUCER_STATE_ERRORS = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_EPOCH',
]);

/** The broker refused this producer's id, epoch or sequence numbers (see EventProducer). */
export function isProducerStateError(error: unknown): boolean {
  return hasKafkaErrorType(error, PRODUCER_STATE_ERRORS);
}

/** Encodes typed events into the messages `sendRaw` takes (validated against the schema). */
export async function encodeEvents<T extends TopicName>(
  codec: EventCodec,
  topic: T,
  events: readonly OutgoingEvent<T>[],
): Promise<RawOutgoing[]> {
  return Promise.all(
    events.map(async (event) => ({
      key: event.key,
      value: (await codec.encode(topic, event.value)).bytes,
      ...(event.headers ? { headers: event.headers } : {}),
    })),
  );
}

/** Producer compression per topic, from the catalogue (gzip unless `none`). */
export function compressionByTopic(codec: EventCodec): ReadonlyMap<string, CompressionTypes> {
  return new Map(
    codec.catalogue.topics.map((topic) => [
      topic.name,
      (topic.compression ?? DEFAULT_COMPRESSION) === 'none'
        ? CompressionTypes.None
        : CompressionTypes.GZIP,
    ]),
  );
}

/** Where a consumer's handler sends the events it derives (a producer or a transaction). */
export interface EventSink {
  send<T extends TopicName>(topic: T, events: readonly OutgoingEvent<T>[]): Promise<void>;
}

/**
 * Bytes of messages per produce request. kafkajs writes all of a request's messages for one
 * partition as one record batch and never splits it, while the broker refuses a batch over
 * `max.message.bytes` (1 MiB by default) with MESSAGE_TOO_LARGE. Inference writes a fetched
 * batch's predictions (thousands, 700 bytes each, all to one partition) at once, so requests
 * are cut well below that limit.
 */
export const MAX_REQUEST_BYTES = 512 * 1024;

/** Splits messages, in order, into runs of at most `maxBytes` (a larger message goes alone). */
export function chunkBySize<M extends RawOutgoing>(
  messages: readonly M[],
  maxBytes: number,
): M[][] {
  const chunks: M[][] = [];
  let current: M[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = messageBytes(message);
    if (current.length > 0 && bytes + size > maxBytes) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(message);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

function messageBytes(message: RawOutgoing): number {
  const length = (value: string | Buffer | null) =>
    value === null ? 0 : typeof value === 'string' ? Buffer.byteLength(value) : value.length;
  let bytes = length(message.key) + length(message.value) + 16; // + record overhead
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    bytes += Buffer.byteLength(name) + length(value);
  }
  return bytes;
}

export function toKafkajsMessage(message: RawOutgoing): {
  key: Buffer | string | null;
  value: Buffer | null;
  headers?: Record<string, string | Buffer>;
} {
  return {
    key: message.key,
    value: message.value,
    ...(message.headers ? { headers: message.headers } : {}),
  };
}
