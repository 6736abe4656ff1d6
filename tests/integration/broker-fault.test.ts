/**
 * Broker faults through real processes while a producer and a consumer group member run:
 * the leader of a `reviews` partition is SIGKILLed and restarted, then the new leader hangs
 * (SIGSTOP) for 12 s and resumes (SIGCONT). Nothing acknowledged may be lost; producing and
 * consuming must recover by themselves. The longest gap between acknowledgements is printed:
 * it is how long producers waited on a failover.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin } from 'kafkajs';
import type { ConsumerRunner } from '#platform/runner';
import {
  freezeNode,
  healCluster,
  killNode,
  leaderOf,
  startNode,
  thawNode,
} from '../support/kafka-cluster.ts';
import { type TestKafka, connectTestKafka, makeReview, waitUntil } from '../support/kafka.ts';
import { startRunner } from '../support/runner.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('broker faults: leader killed and restarted, then a leader hung and resumed', () => {
  let kafka: TestKafka;
  let admin: Admin;
  let runner: ConsumerRunner<'reviews'> | undefined;

  beforeAll(async () => {
    kafka = await connectTestKafka();
    admin = kafka.kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    await healCluster(admin, ['reviews', '__consumer_offsets']);
    await runner?.stop();
    await admin?.disconnect();
    await kafka?.close();
  });

  it(
    'producers and consumers recover and no acknowledged message is lost',
    { timeout: 300_000 },
    async () => {
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
      const faultLog: string[] = [];
      let failedSends = 0;
      const started = Date.now();
      const elapsed = () => Date.now() - started;
      let trafficDone = false;

      const faults = (async () => {
        await sleep(3_000);
        const killed = await leaderOf(admin, 'reviews', 0);
        killNode(killed);
        faultLog.push(`${elapsed()} ms: SIGKILL node ${killed} (leader of reviews/0)`);
        console.log(faultLog.at(-1), acknowledged.length, consumed.size);
        await sleep(6_000);
        startNode(killed);
        faultLog.push(`${elapsed()} ms: node ${killed} restarted`);
        console.log(faultLog.at(-1), acknowledged.length, consumed.size);
        await sleep(3_000);
        const frozen = await leaderOf(admin, 'reviews', 0);
        freezeNode(frozen);
        faultLog.push(`${elapsed()} ms: SIGSTOP node ${frozen} (leader of reviews/0)`);
        console.log(faultLog.at(-1), acknowledged.length, consumed.size);
        await sleep(12_000);
        thawNode(frozen);
        faultLog.push(`${elapsed()} ms: SIGCONT node ${frozen}`);
        console.log(faultLog.at(-1), acknowledged.length, consumed.size);
        await sleep(4_000);
        trafficDone = true;
      })();

      for (let i = 0; !trafficDone; i++) {
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
            await sleep(500);
          }
        }
        await sleep(100);
      }
      await faults;
      expect(ackTimes.some((t) => t < 3_000)).toBe(true);
      expect(ackTimes.at(-1)).toBeGreaterThan(elapsed() - 5_000);

      await waitUntil(
        () => acknowledged.every((id) => consumed.has(id)),
        120_000,
        'every acknowledged message',
      ).catch(async (error: unknown) => {
        // Say where the consumer stands, so a failure can be told from a slow recovery.
        const missing = acknowledged.filter((id) => !consumed.has(id));
        const committed = await admin.fetchOffsets({
          groupId: consumer.groupId,
          topics: ['reviews'],
        });
        const ends = await admin.fetchTopicOffsets('reviews');
        console.log(
          `${missing.length} acknowledged not consumed (first ${missing.slice(0, 3).join(', ')}); ` +
            `committed ${JSON.stringify(committed[0]?.partitions.map((p) => [p.partition, p.offset]))}; ` +
            `ends ${JSON.stringify(ends.map((p) => [p.partition, p.high]))}`,
        );
        throw error;
      });
      expect(acknowledged.filter((id) => !consumed.has(id))).toEqual([]);
      const after = makeReview(`${run}-after`);
      await kafka.producer.send('reviews', [{ key: after.reviewId, value: after }]);
      await waitUntil(() => consumed.has(after.reviewId), 60_000, 'a message produced after');

      const gaps = ackTimes.slice(1).map((t, index) => t - ackTimes[index]!);
      console.log(
        `broker faults: ${faultLog.join('; ')}. ${acknowledged.length} acknowledged, ` +
          `${failedSends} failed sends retried, longest gap between acknowledgements ` +
          `${Math.max(...gaps)} ms`,
      );
    },
  );
});
