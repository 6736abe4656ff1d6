import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsumerRunner } from '#shared/runner';
import { brokerDown, brokerUp } from '../support/dev-broker-control.ts';
import { type TestKafka, connectTestKafka, makeReview, waitUntil } from '../support/kafka.ts';
import { startRunner } from '../support/runner.ts';
import { KAFKA_STATE_DIR } from '../support/stack.ts';

describe('broker fault: a broker down for 10 s mid-stream', () => {
  let kafka: TestKafka;
  let runner: ConsumerRunner<'reviews'> | undefined;
  let brokerIsDown = false;

  beforeAll(async () => {
    kafka = await connectTestKafka();
  });
  afterAll(async () => {
    if (brokerIsDown) await brokerUp(1, { stateDir: KAFKA_STATE_DIR });
    await runner?.stop();
    await kafka?.close();
  });

  it('producers and consumers recover and no acknowledged message is lost', async () => {
    const run = `fault-${randomUUID().slice(0, 8)}`;
    const consumed = new Set<string>();
    const consumer = startRunner(kafka, 'reviews', async (events) => {
      for (const { event } of events)
        if (event.reviewId.startsWith(run)) consumed.add(event.reviewId);
    });
    runner = consumer.runner;
    await consumer.started;

    const acknowledged: string[] = [];
    const ackTimes: number[] = [];
    let failedSends = 0;
    const started = Date.now();
    const elapsed = () => Date.now() - started;
    // ~20 s of traffic, 20 messages every 100 ms; broker 1 is down from 4 s to 14 s.
    const faults = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 4_000));
      await brokerDown(1, { stateDir: KAFKA_STATE_DIR });
      brokerIsDown = true;
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      await brokerUp(1, { stateDir: KAFKA_STATE_DIR });
      brokerIsDown = false;
    })();
    for (let i = 0; elapsed() < 20_000; i++) {
      const ids = Array.from({ length: 20 }, (_, j) => `${run}-${i}-${j}`);
      // A send that fails is retried with the same ids until the broker acknowledges it,
      // as a producer service would.
      for (;;) {
        try {
          await kafka.producer.send(
            'reviews',
            ids.map((id) => ({ key: id, value: makeReview(id) })),
          );
          acknowledged.push(...ids);
          ackTimes.push(elapsed());
          break;
        } catch {
          failedSends++;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await faults;
    // Traffic spanned the fault: acknowledged before the broker went down and after it came back.
    expect(ackTimes.some((t) => t < 4_000)).toBe(true);
    expect(ackTimes.some((t) => t > 14_000)).toBe(true);

    await waitUntil(
      () => acknowledged.every((id) => consumed.has(id)),
      90_000,
      'every acknowledged message',
    );
    expect(acknowledged.filter((id) => !consumed.has(id))).toEqual([]);
    // Producing works again after the broker is back.
    const after = makeReview(`${run}-after`);
    await kafka.producer.send('reviews', [{ key: after.reviewId, value: after }]);
    await waitUntil(
      () => consumed.has(after.reviewId),
      30_000,
      'a message produced after recovery',
    );
    console.log(
      `broker fault: ${acknowledged.length} acknowledged, ${failedSends} failed sends retried`,
    );
  });
});
