/**
 * A new group starts where the topic ended when the group was first started, even when its
 * first member dies before committing anything: the runner pins the starting offsets of a
 * new group (consumer-runner.ts, pinStartingOffsets). Without that, the next member starts at
 * the end of the topic as it is then, and what was produced in between is never consumed.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetricsRegistry } from '#platform/common';
import { ConsumerRunner, createRunnerMetrics } from '#platform/runner';
import type { Review } from '#platform/serde';
import { type TestKafka, connectTestKafka, makeReview, waitUntil } from '../support/kafka.ts';

describe('a new group whose first member dies before its first commit', () => {
  let kafka: TestKafka;
  const runners: ConsumerRunner<'reviews'>[] = [];

  beforeAll(async () => {
    kafka = await connectTestKafka();
  });
  afterAll(async () => {
    for (const runner of runners) await runner.stop();
    await kafka?.close();
  });

  function member(
    groupId: string,
    onEvent: (review: Review, signal: AbortSignal) => Promise<void>,
  ) {
    const runner = new ConsumerRunner({
      kafka: kafka.kafka,
      codec: kafka.codec,
      producer: kafka.producer,
      topic: 'reviews',
      groupId,
      service: 'integration-test',
      logger: kafka.logger,
      metrics: createRunnerMetrics(createMetricsRegistry('new-group')),
      handler: async (events, { signal }) => {
        for (const { event } of events) await onEvent(event, signal);
      },
    });
    runners.push(runner);
    return runner;
  }

  it('the next member reads what was produced after the group first started', async () => {
    const run = `pin-${randomUUID().slice(0, 8)}`;
    const groupId = `new-group-${run}`;
    // The first member never finishes a batch of this run: it is stopped mid-batch, so it
    // commits nothing (as if it had been killed).
    let blocked = 0;
    const first = member(groupId, async (review, signal) => {
      if (!review.reviewId.startsWith(run)) return;
      blocked++;
      await new Promise((_, reject) =>
        signal.addEventListener('abort', () => reject(new Error('stopped'))),
      );
    });
    await first.start();
    const ids = Array.from({ length: 60 }, (_, i) => `${run}-${i}`);
    await kafka.producer.send(
      'reviews',
      ids.map((id) => ({ key: id, value: makeReview(id) })),
    );
    await waitUntil(() => blocked > 0, 60_000, 'the first member to hold a batch');
    await first.stop();
    // More traffic after the first member is gone: the end of the topic moves on.
    const later = Array.from({ length: 6 }, (_, i) => `${run}-later-${i}`);
    await kafka.producer.send(
      'reviews',
      later.map((id) => ({ key: id, value: makeReview(id) })),
    );

    const seen = new Set<string>();
    const second = member(groupId, async (review) => {
      if (review.reviewId.startsWith(run)) seen.add(review.reviewId);
    });
    await second.start();
    await waitUntil(
      () => [...ids, ...later].every((id) => seen.has(id)),
      60_000,
      'every review of the run in the second member',
    );
    expect(seen.size).toBe(ids.length + later.length);
  });
});
