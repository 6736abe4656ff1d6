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
 */
import { CompressionTypes, type Kafka, Partitioners, type Producer } from 'kafkajs';
import { Counter, type Registry } from 'prom-client';
import {
  DEFAULT_COMPRESSION,
  type EventCodec,
  type TopicName,
  type TopicValues,
} from '#shared/serde';

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
  private readonly producer: Producer;
  private readonly produced: Counter<'topic'>;
  private readonly compressionByTopic: ReadonlyMap<string, CompressionTypes>;
  private connected = false;

  constructor(
    kafka: Kafka,
    private readonly codec: EventCodec,
    metrics: Registry,
  ) {
    // murmur2 partitioning, as Java clients do, so a key lands on the same partition
    // whichever client produced it.
    this.producer = kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent: true,
    });
    this.compressionByTopic = compressionByTopic(codec);
    this.produced =
      (metrics.getSingleMetric('kafka_messages_produced_total') as Counter<'topic'> | undefined) ??
      new Counter({
        name: 'kafka_messages_produced_total',
        help: 'Messages acknowledged by the broker, by topic',
        labelNames: ['topic'],
        registers: [metrics],
      });
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

  /** Sends already-encoded messages (dead letters keep the original bytes). */
  async sendRaw(topic: string, messages: readonly RawOutgoing[]): Promise<void> {
    if (messages.length === 0) return;
    await this.producer.send({
      topic,
      acks: -1,
      compression: this.compressionByTopic.get(topic) ?? CompressionTypes.GZIP,
      messages: messages.map((message) => ({
        key: message.key,
        value: message.value,
        ...(message.headers ? { headers: message.headers } : {}),
      })),
    });
    this.produced.inc({ topic }, messages.length);
  }

  async disconnect(): Promise<void> {
    if (!this.connected) return;
    this.connected = false;
    await this.producer.disconnect();
  }
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
