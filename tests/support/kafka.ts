/** Kafka helpers for integration tests: real clients against the test stack. */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { createLogger, createMetricsRegistry, type Logger } from '#platform/common';
import { type EventProducer, createBackbone } from '#platform/kafka';
import type { EventCodec, Review } from '#platform/serde';
import { testAdminBackboneConfig } from './stack.ts';

export interface TestKafka {
  readonly kafka: Kafka;
  readonly codec: EventCodec;
  readonly producer: EventProducer;
  readonly logger: Logger;
  close(): Promise<void>;
}

export async function connectTestKafka(
  clientId = `test-${randomUUID().slice(0, 8)}`,
): Promise<TestKafka> {
  const logger = createLogger(clientId, process.env.TEST_LOG_LEVEL ?? 'fatal');
  const { kafka, codec, producer } = createBackbone(
    testAdminBackboneConfig(),
    clientId,
    logger,
    createMetricsRegistry(clientId),
  );
  await producer.connect();
  return { kafka, codec, producer, logger, close: () => producer.disconnect() };
}

export function makeReview(reviewId: string, text = `review ${reviewId}`): Review {
  return {
    eventId: randomUUID(),
    eventTime: Date.now(),
    reviewId,
    source: 'test',
    text,
    groundTruth: null,
    attributes: {},
  };
}

/** Polls `condition` every `pollMs` until it holds or `timeoutMs` passes (then throws with `what`). */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  pollMs = 100,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
