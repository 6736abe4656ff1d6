/**
 * Scale out: two inference and two logger instances share the partitions of their groups.
 * Under a steady flow of reviews, one of each is SIGKILLed, and restarted 15 s later under the
 * same transactional id. Nothing may be lost (every review has exactly one committed
 * prediction and one row in the analysts' view). Printed: the rebalance pause (the longest
 * time a `predictions` partition received nothing around the kill) and how long the restarted
 * instance took to be a member with partitions again.
 */
import { randomUUID } from 'node:crypto';
import { AssignerProtocol, type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pinNewGroupAtEnd } from '#platform/kafka';
import type { Review } from '#platform/serde';
import { type ClickHouseClient, sql } from '#platform/store';
import { type TestKafka, connectTestKafka, makeReview, waitUntil } from '../support/kafka.ts';
import { COMPACT_MODEL_DIR } from '../support/model.ts';
import { type Child, startTsProcess, stopProcess } from '../support/processes.ts';
import { startRunner } from '../support/runner.ts';
import { testStackProcessEnv } from '../support/stack.ts';
import { createTestDatabase } from '../support/clickhouse.ts';

const TOTAL = 30_000;
const PER_TICK = 150; // every 250 ms: 600 reviews/s
const KILL_AT_MS = 15_000;
const RESTART_AFTER_MS = 15_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('scale out: two inference and two logger instances, one of each killed', () => {
  const run = `scale_${randomUUID().slice(0, 8)}`;
  const database = `it_${run}`;
  const inferenceGroup = `inference-${run}`;
  const loggerGroup = `logger-${run}`;
  let kafka: TestKafka;
  let admin: Admin;
  let clickhouse: ClickHouseClient;
  const children = new Map<string, Child>();
  const stops: { stop(): Promise<void> }[] = [];
  const predictions = new Map<string, number>();
  /** Arrival times (ms since epoch) of predictions, by partition. */
  const arrivals = new Map<number, number[]>();

  const env = (extra: Record<string, string>) =>
    testStackProcessEnv({
      CLICKHOUSE_DATABASE: database,
      METRICS_PORT: '0',
      LOG_LEVEL: 'info',
      MODEL_DIR: COMPACT_MODEL_DIR,
      ...extra,
    });
  const start = (name: string): Child => {
    const [service, instance] = name.split('-') as [string, string];
    const child = startTsProcess(
      `services/${service}/main.ts`,
      service === 'inference'
        ? env({
            INFERENCE_GROUP_ID: inferenceGroup,
            INFERENCE_TRANSACTIONAL_ID: `${inferenceGroup}-${instance}`,
          })
        : env({ LOGGER_GROUP_ID: loggerGroup }),
    );
    children.set(name, child);
    return child;
  };

  /** Members of a group that hold at least one partition. */
  async function membersWithPartitions(groupId: string): Promise<number> {
    const { groups } = await admin.describeGroups([groupId]);
    const group = groups[0];
    if (!group || group.state !== 'Stable') return 0;
    return group.members.filter((member) => {
      const assignment = AssignerProtocol.MemberAssignment.decode(member.memberAssignment);
      return Object.values(assignment?.assignment ?? {}).some((p) => p.length > 0);
    }).length;
  }

  beforeAll(async () => {
    kafka = await connectTestKafka();
    // The logger reads a new group from the beginning: start it at the end of the test
    // stack's `predictions`, which keeps every earlier test's rows.
    await pinNewGroupAtEnd(kafka.kafka, loggerGroup, 'predictions');
    admin = kafka.kafka.admin();
    await admin.connect();
    clickhouse = await createTestDatabase(database);
    const collector = startRunner(kafka, 'predictions', async (events) => {
      const now = Date.now();
      for (const { event, partition } of events) {
        if (event.source !== run || event.reviewEventId === null) continue;
        predictions.set(event.reviewEventId, (predictions.get(event.reviewEventId) ?? 0) + 1);
        const times = arrivals.get(partition) ?? [];
        times.push(now);
        arrivals.set(partition, times);
      }
    });
    stops.push(collector.runner);
    await collector.started;
    for (const name of ['logger-a', 'logger-b', 'inference-a', 'inference-b']) start(name);
    await waitUntil(
      async () => (await membersWithPartitions(inferenceGroup)) === 2,
      120_000,
      'two inference members with partitions',
    );
    await waitUntil(
      async () => (await membersWithPartitions(loggerGroup)) === 2,
      60_000,
      'two logger members with partitions',
    );
  });
  afterAll(async () => {
    for (const child of children.values()) await stopProcess(child, 'SIGKILL');
    for (const stop of stops) await stop.stop();
    await clickhouse?.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    await clickhouse?.close();
    await admin?.disconnect();
    await kafka?.close();
  });

  it(
    'loses nothing, duplicates nothing, and measures the pauses',
    { timeout: 600_000 },
    async () => {
      const sent: Review[] = [];
      const started = Date.now();
      let killedAt = 0;
      let restartedAt = 0;
      const faults = (async () => {
        await sleep(KILL_AT_MS);
        for (const name of ['inference-a', 'logger-a']) children.get(name)!.process.kill('SIGKILL');
        killedAt = Date.now();
        await Promise.all(['inference-a', 'logger-a'].map((name) => children.get(name)!.exited));
        await sleep(RESTART_AFTER_MS);
        restartedAt = Date.now();
        const restarted = start('inference-a');
        start('logger-a');
        await restarted.waitFor('"inference running"', 120_000);
        const inferenceStartedMs = Date.now() - restartedAt;
        await waitUntil(
          async () => (await membersWithPartitions(inferenceGroup)) === 2,
          120_000,
          'the restarted inference instance to hold partitions',
          50,
        );
        const inferenceRejoinedMs = Date.now() - restartedAt;
        await waitUntil(
          async () => (await membersWithPartitions(loggerGroup)) === 2,
          120_000,
          'the restarted logger instance to hold partitions',
        );
        return {
          inferenceStartedMs,
          inferenceRejoinedMs,
          loggerRejoinedMs: Date.now() - restartedAt,
        };
      })();

      for (let i = 0; i < TOTAL; i += PER_TICK) {
        const tick = Date.now();
        const batch = Array.from({ length: PER_TICK }, (_, k) => ({
          ...makeReview(`${run}-${i + k}`, `review ${i + k}: a quietly moving film`),
          source: run,
        }));
        await kafka.producer.send(
          'reviews',
          batch.map((value) => ({ key: value.reviewId, value })),
        );
        sent.push(...batch);
        await sleep(Math.max(0, 250 - (Date.now() - tick)));
      }
      const producedMs = Date.now() - started;
      const rejoin = await faults;
      await waitUntil(
        () => sent.every((review) => predictions.has(review.eventId)),
        240_000,
        'a committed prediction for every review',
      );
      await sleep(5_000);
      const counts = sent.map((review) => predictions.get(review.eventId) ?? 0);
      const missing = counts.filter((count) => count === 0).length;
      const duplicated = counts.filter((count) => count > 1).length;

      // The longest silence of any partition from the kill until 30 s later.
      const pauses = [...arrivals.values()].map((times) => {
        let longest = 0;
        let previous = killedAt;
        for (const time of times) {
          if (time < killedAt) continue;
          if (time > killedAt + 30_000) break;
          longest = Math.max(longest, time - previous);
          previous = time;
        }
        return longest;
      });
      console.log(
        `scale out: ${TOTAL} reviews at ${Math.round(TOTAL / (producedMs / 1000))}/s; ` +
          `inference-a and logger-a SIGKILLed at ${Math.round((killedAt - started) / 1000)} s; ` +
          `rebalance pause (longest silence of a predictions partition after the kill): ` +
          `${(Math.max(...pauses) / 1000).toFixed(1)} s; restarted ${RESTART_AFTER_MS / 1000} s ` +
          `later: inference process up (model loaded, consumer started) after ` +
          `${(rejoin.inferenceStartedMs / 1000).toFixed(1)} s on this loaded machine, a member ` +
          `with partitions ${((rejoin.inferenceRejoinedMs - rejoin.inferenceStartedMs) / 1000).toFixed(1)} s ` +
          `after that (group membership polled every 50 ms), ` +
          `logger after ${(rejoin.loggerRejoinedMs / 1000).toFixed(1)} s (process start included); ` +
          `committed predictions: ${missing} missing, ${duplicated} duplicated`,
      );
      expect({ missing, duplicated }).toEqual({ missing: 0, duplicated: 0 });

      const stored = async () => {
        const result = await clickhouse.query({
          query: sql`SELECT count() AS rows, uniqExact(review_event_id) AS reviews FROM predictions_dedup WHERE source = ${run}`,
          format: 'JSONEachRow',
        });
        const [row] = await result.json<{ rows: string; reviews: string }>();
        return { rows: Number(row?.rows ?? 0), reviews: Number(row?.reviews ?? 0) };
      };
      await waitUntil(async () => (await stored()).rows >= TOTAL, 180_000, 'rows in ClickHouse');
      await sleep(3_000);
      expect(await stored()).toEqual({ rows: TOTAL, reviews: TOTAL });
    },
  );
});
