/**
 * Exactly once inside Kafka for inference (read-process-write in Kafka transactions): the
 * inference process is SIGKILLed three times while 50,000 reviews flow, and restarted under
 * the same transactional id each time. A read-committed consumer must count exactly one
 * prediction event per review, and the analysts' view (through the logger) exactly one row.
 */
import { randomUUID } from 'node:crypto';
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

const TOTAL = 50_000;
const CHUNK = 1_000;
const ADJECTIVES = ['gripping', 'dull', 'moving', 'tedious', 'charming', 'overlong', 'witty'];

describe('inference exactly once: SIGKILLed three times while 50,000 reviews flow', () => {
  const run = `eos_${randomUUID().slice(0, 8)}`;
  const database = `it_${run}`;
  let kafka: TestKafka;
  let clickhouse: ClickHouseClient;
  let inference: Child | undefined;
  let logger: Child | undefined;
  const stops: { stop(): Promise<void> }[] = [];
  /** Committed prediction events per review event id (read committed). */
  const predictions = new Map<string, number>();
  const serviceEnv = (extra: Record<string, string>) =>
    testStackProcessEnv({
      CLICKHOUSE_DATABASE: database,
      METRICS_PORT: '0',
      LOG_LEVEL: 'warn',
      ...extra,
    });
  const startInference = () =>
    startTsProcess(
      'services/inference/main.ts',
      serviceEnv({
        MODEL_DIR: COMPACT_MODEL_DIR,
        INFERENCE_GROUP_ID: `inference-${run}`,
        INFERENCE_DELIVERY: 'exactly-once',
        INFERENCE_TRANSACTIONAL_ID: `inference-${run}`,
      }),
    );

  beforeAll(async () => {
    kafka = await connectTestKafka();
    // The logger reads a new group from the beginning: start it at the end of the test
    // stack's `predictions`, which keeps every earlier test's rows.
    await pinNewGroupAtEnd(kafka.kafka, `logger-${run}`, 'predictions');
    clickhouse = await createTestDatabase(database);
    const collector = startRunner(kafka, 'predictions', async (events) => {
      for (const { event } of events) {
        if (event.source !== run || event.reviewEventId === null) continue;
        predictions.set(event.reviewEventId, (predictions.get(event.reviewEventId) ?? 0) + 1);
      }
    });
    stops.push(collector.runner);
    await collector.started;
    logger = startTsProcess(
      'services/logger/main.ts',
      serviceEnv({ LOGGER_GROUP_ID: `logger-${run}` }),
    );
    inference = startInference();
    // A new group starts at the latest offsets once it has joined: poke it until it answers.
    await waitUntil(
      async () => {
        const warmup = { ...makeReview(`${run}-warmup`, 'warm up'), source: run };
        await kafka.producer.send('reviews', [{ key: warmup.reviewId, value: warmup }]);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        return predictions.has(warmup.eventId);
      },
      120_000,
      'inference to answer',
    );
  });
  afterAll(async () => {
    await stopProcess(inference, 'SIGKILL');
    await stopProcess(logger);
    for (const stop of stops) await stop.stop();
    await clickhouse?.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    await clickhouse?.close();
    await kafka?.close();
  });

  it(
    'one committed prediction per review, one row per review in the analysts view',
    {
      timeout: 600_000,
    },
    async () => {
      const warmups = predictions.size;
      const sent: Review[] = [];
      const chunks = TOTAL / CHUNK;
      const killAt = new Set([0.2, 0.5, 0.8].map((f) => Math.floor(f * chunks)));
      const kills: string[] = [];
      const started = Date.now();
      for (let chunk = 0; chunk < chunks; chunk++) {
        const batch = Array.from({ length: CHUNK }, (_, k) => {
          const i = chunk * CHUNK + k;
          const review = makeReview(
            `${run}-${i}`,
            `review ${i}: a ${ADJECTIVES[i % ADJECTIVES.length]} film, ${i % 13} stars`,
          );
          return { ...review, source: run };
        });
        await kafka.producer.send(
          'reviews',
          batch.map((review) => ({ key: review.reviewId, value: review })),
        );
        sent.push(...batch);
        // Keep a steady flow: at most 10,000 reviews ahead of the predictions.
        while (sent.length - (predictions.size - warmups) > 10_000) {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        if (killAt.has(chunk)) {
          // Somewhere inside a batch or a transaction.
          await new Promise((resolve) => setTimeout(resolve, 200 + Math.random() * 1_500));
          inference!.process.kill('SIGKILL');
          await inference!.exited;
          kills.push(`${Math.round((Date.now() - started) / 1000)} s`);
          inference = startInference();
        }
      }
      await waitUntil(
        () => sent.every((review) => predictions.has(review.eventId)),
        300_000,
        'a committed prediction for every review',
      ).catch((error: unknown) => {
        const missing = sent.filter((review) => !predictions.has(review.eventId)).length;
        console.error(
          `${missing} reviews without a committed prediction; inference's last output:\n` +
            (inference?.output().slice(-6_000) ?? ''),
        );
        throw error;
      });
      // Late duplicates, if any, would arrive within a few seconds.
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      const counts = sent.map((review) => predictions.get(review.eventId) ?? 0);
      const duplicated = counts.filter((count) => count > 1).length;
      const missing = counts.filter((count) => count === 0).length;
      console.log(
        `inference exactly once: ${TOTAL} reviews, kills at ${kills.join(', ')}, ` +
          `${Math.round((Date.now() - started) / 1000)} s; committed predictions: ` +
          `${missing} missing, ${duplicated} duplicated`,
      );
      expect({ missing, duplicated }).toEqual({ missing: 0, duplicated: 0 });

      const reviewIds = async () => {
        const result = await clickhouse.query({
          query: sql`SELECT count() AS rows, uniqExact(review_event_id) AS reviews FROM predictions_dedup WHERE source = ${run} AND review_id != ${`${run}-warmup`}`,
          format: 'JSONEachRow',
        });
        const [row] = await result.json<{ rows: string; reviews: string }>();
        return { rows: Number(row?.rows ?? 0), reviews: Number(row?.reviews ?? 0) };
      };
      await waitUntil(async () => (await reviewIds()).rows >= TOTAL, 180_000, 'rows in ClickHouse');
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(await reviewIds()).toEqual({ rows: TOTAL, reviews: TOTAL });
    },
  );
});
