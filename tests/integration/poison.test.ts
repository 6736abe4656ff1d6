import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DeadLetter, frame } from '#platform/serde';
import { type TestKafka, connectTestKafka, makeReview, waitUntil } from '../support/kafka.ts';
import { startRunner } from '../support/runner.ts';

describe('poison messages go to the dead-letter topic and the consumer goes on', () => {
  let kafka: TestKafka;
  const runners: { stop(): Promise<void> }[] = [];

  beforeAll(async () => {
    kafka = await connectTestKafka();
  });
  afterAll(async () => {
    for (const runner of runners) await runner.stop();
    await kafka?.close();
  });

  it('dead-letters undecodable, unknown-schema, schema-invalid and repeatedly failing messages', async () => {
    const run = randomUUID().slice(0, 8);
    const reviewSchemaId = await kafka.codec.schemaIdFor('reviews');
    const good = makeReview(`${run}-good`);
    const valid = (await kafka.codec.encode('reviews', makeReview(`${run}-x`))).bytes;
    const poison = {
      [`${run}-undecodable`]: Buffer.from('{"text": "plain JSON, not Avro"}'),
      [`${run}-unknown-schema`]: frame(987_654, Buffer.from([2, 4, 6])),
      [`${run}-schema-invalid`]: frame(reviewSchemaId, valid.subarray(5, 20)),
    };
    const explode = makeReview(`${run}-explode`, 'this one makes the handler throw');

    const handled: string[] = [];
    const consumer = startRunner(kafka, 'reviews', async (events) => {
      const mine = events.filter((e) => e.event.reviewId.startsWith(run));
      if (mine.some((e) => e.event.reviewId === explode.reviewId)) {
        throw new TypeError('simulated bug on this message');
      }
      handled.push(...mine.map((e) => e.event.reviewId));
    });
    runners.push(consumer.runner);
    const deadLetters = new Map<string, DeadLetter>();
    const dlq = startRunner(kafka, 'dlq.reviews', async (events) => {
      for (const { event } of events) {
        const key = event.key?.toString() ?? '';
        if (key.startsWith(run)) deadLetters.set(key, event);
      }
    });
    runners.push(dlq.runner);
    await Promise.all([consumer.started, dlq.started]);

    // All on one key's partition order does not matter: each message has its own key.
    await kafka.producer.sendRaw(
      'reviews',
      Object.entries(poison).map(([key, value]) => ({ key, value })),
    );
    await kafka.producer.send('reviews', [
      { key: explode.reviewId, value: explode },
      { key: good.reviewId, value: good },
    ]);

    await waitUntil(
      () => deadLetters.size === 4 && handled.includes(good.reviewId),
      60_000,
      'dead letters',
    );
    const expected: Record<string, RegExp> = {
      [`${run}-undecodable`]: /^MESSAGE_UNDECODABLE$/,
      [`${run}-unknown-schema`]: /^SCHEMA_ID_UNKNOWN$/,
      [`${run}-schema-invalid`]: /^SCHEMA_INVALID$/,
      [explode.reviewId]: /^RETRIES_EXHAUSTED:UNEXPECTED$/,
    };
    for (const [key, code] of Object.entries(expected)) {
      const letter = deadLetters.get(key);
      expect(letter?.errorCode, key).toMatch(code);
      expect(letter?.sourceTopic).toBe('reviews');
      expect(letter?.reason.length).toBeGreaterThan(5);
      if (key in poison) expect(letter?.value?.equals(poison[key]!), key).toBe(true);
    }
    expect(deadLetters.get(`${run}-unknown-schema`)?.reason).toMatch(/987654/);
    expect(deadLetters.get(explode.reviewId)?.attempts).toBe(3);
    expect(deadLetters.get(explode.reviewId)?.reason).toMatch(/simulated bug/);
    expect(handled).toContain(good.reviewId);
    expect(handled).not.toContain(explode.reviewId);
  });
});
