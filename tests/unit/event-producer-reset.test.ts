/**
 * EventProducer replaces a kafkajs idempotent producer that the broker no longer accepts
 * (kafkajs never recovers one by itself) and sends the refused chunk again; other errors
 * reach the caller unchanged.
 */
import type { Kafka, Producer, ProducerRecord } from 'kafkajs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { EventProducer, isProducerStateError } from '#platform/kafka';
import { EventCodec, type RegistryClient, loadCatalogue } from '#platform/serde';

const registry: RegistryClient = {
  register: async () => 7,
  getSchemaText: async () => {
    throw new Error('not used');
  },
};
const codec = new EventCodec(registry, loadCatalogue());

const protocolError = (type: string) => Object.assign(new Error(type), { type });
/** As kafkajs's retrier wraps a non-retriable protocol error. */
const nonRetriable = (type: string) =>
  Object.assign(new Error(type), { name: 'KafkaJSNonRetriableError', cause: protocolError(type) });

/** A Kafka whose producers fail their sends with the queued errors, in creation order. */
function fakeKafka(failures: (Error | undefined)[][]) {
  const sent: { producer: number; record: ProducerRecord }[] = [];
  const disconnected: number[] = [];
  let created = 0;
  const kafka = {
    producer: () => {
      const id = created++;
      const queue = failures[id] ?? [];
      return {
        connect: async () => undefined,
        disconnect: async () => {
          disconnected.push(id);
        },
        send: async (record: ProducerRecord) => {
          const failure = queue.shift();
          if (failure) throw failure;
          sent.push({ producer: id, record });
          return [];
        },
      } as unknown as Producer;
    },
  } as unknown as Kafka;
  return { kafka, sent, disconnected, created: () => created };
}

const message = { key: 'k', value: Buffer.from('v') };

describe('EventProducer after the broker refuses its sequence numbers', () => {
  it('replaces the kafkajs producer and sends the chunk again', async () => {
    const fake = fakeKafka([[nonRetriable('OUT_OF_ORDER_SEQUENCE_NUMBER')]]);
    const metrics = new Registry();
    const resets: unknown[] = [];
    const producer = new EventProducer(fake.kafka, codec, metrics, (e) => resets.push(e));
    await producer.connect();
    await producer.sendRaw('reviews', [message]);
    expect(fake.sent.map((s) => s.producer)).toEqual([1]);
    expect(fake.disconnected).toEqual([0]);
    expect(resets).toHaveLength(1);
    const counter = await metrics.getSingleMetricAsString('kafka_producer_resets_total');
    expect(counter).toContain('kafka_producer_resets_total 1');
    // Later sends go through the replacement.
    await producer.sendRaw('reviews', [message]);
    expect(fake.sent.map((s) => s.producer)).toEqual([1, 1]);
  });

  it('concurrent refused sends share one replacement', async () => {
    const fake = fakeKafka([
      [protocolError('UNKNOWN_PRODUCER_ID'), protocolError('UNKNOWN_PRODUCER_ID')],
    ]);
    const producer = new EventProducer(fake.kafka, codec, new Registry());
    await producer.connect();
    await Promise.all([
      producer.sendRaw('reviews', [message]),
      producer.sendRaw('reviews', [message]),
    ]);
    expect(fake.created()).toBe(2);
    expect(fake.sent.map((s) => s.producer)).toEqual([1, 1]);
  });

  it('leaves other errors to the caller', async () => {
    const fake = fakeKafka([[protocolError('NOT_LEADER_FOR_PARTITION')]]);
    const producer = new EventProducer(fake.kafka, codec, new Registry());
    await producer.connect();
    await expect(producer.sendRaw('reviews', [message])).rejects.toThrow(
      'NOT_LEADER_FOR_PARTITION',
    );
    expect(fake.created()).toBe(1);
  });

  it('recognises the errors also when wrapped', () => {
    expect(isProducerStateError(nonRetriable('INVALID_PRODUCER_EPOCH'))).toBe(true);
    expect(isProducerStateError(protocolError('OUT_OF_ORDER_SEQUENCE_NUMBER'))).toBe(true);
    expect(isProducerStateError(protocolError('REQUEST_TIMED_OUT'))).toBe(false);
    expect(isProducerStateError('OUT_OF_ORDER_SEQUENCE_NUMBER')).toBe(false);
  });
});
