import { describe, expect, it } from 'vitest';
import { createLogger, createMetricsRegistry } from '#platform/common';
import type { OutgoingEvent } from '#platform/kafka';
import { PredictionPublisher } from '../../services/gateway/publisher.ts';

function event(id: number): OutgoingEvent<'predictions'> {
  return { key: `r-${id}`, value: { reviewId: `r-${id}` } as never };
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++)
    await new Promise((resolve) => setTimeout(resolve, 5));
  expect(condition()).toBe(true);
}

describe('PredictionPublisher (gateway -> predictions, off the response path)', () => {
  it('holds events while Kafka fails, reports it, counts overflow, and publishes all once Kafka is back', async () => {
    let kafkaUp = false;
    const sent: string[] = [];
    const metrics = createMetricsRegistry('publisher-test');
    const publisher = new PredictionPublisher({
      send: async (events) => {
        if (!kafkaUp) throw new Error('KafkaJSConnectionError: connect ECONNREFUSED');
        sent.push(...events.map((e) => e.key as string));
      },
      capacity: 5,
      batchSize: 2,
      logger: createLogger('test', 'silent'),
      metrics,
      backoff: { initialMs: 1, maxMs: 5, factor: 2 },
      stallMs: 20,
    });
    publisher.start();
    expect(publisher.enqueue([event(1), event(2), event(3)])).toBe(3);
    await until(() => !publisher.status().kafkaAvailable);
    expect(publisher.enqueue([event(4), event(5), event(6), event(7)])).toBe(2);
    expect(publisher.status()).toEqual({
      buffered: 5,
      capacity: 5,
      kafkaAvailable: false,
      dropped: 2,
    });
    const text = await metrics.metrics();
    expect(text).toMatch(/gateway_publish_buffer_events\{service="publisher-test"\} 5/);
    expect(text).toMatch(/gateway_predictions_dropped_total\{service="publisher-test"\} 2/);

    kafkaUp = true;
    await until(() => publisher.status().buffered === 0);
    expect(sent).toEqual(['r-1', 'r-2', 'r-3', 'r-4', 'r-5']);
    // Still available once the stall window has passed with nothing in flight.
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(publisher.status().kafkaAvailable).toBe(true);
    publisher.enqueue([event(8)]);
    await until(() => sent.includes('r-8'));
    await publisher.flushAndStop(1_000);
  });

  it('flushes what is buffered on shutdown', async () => {
    const sent: string[] = [];
    const publisher = new PredictionPublisher({
      send: async (events) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        sent.push(...events.map((e) => e.key as string));
      },
      capacity: 100,
      batchSize: 3,
      logger: createLogger('test', 'silent'),
      metrics: createMetricsRegistry('publisher-test-2'),
    });
    publisher.start();
    publisher.enqueue(Array.from({ length: 10 }, (_, i) => event(i)));
    await publisher.flushAndStop(2_000);
    expect(sent).toHaveLength(10);
  });
});
