/**
 * Stored predictions merge: the real inference and logger services score and store reviews,
 * then every review is delivered again twice: once by rewinding the inference group to
 * before the reviews (a consumer redelivery, as after a crash before the commit) and once by
 * the producer publishing the same review events again (a producer retry). Each delivery is
 * scored again, some seconds later, and stored again. The raw table `predictions` is a
 * ReplacingMergeTree: copies merge only if they agree in every sorting-key column (and the
 * partition), so after `OPTIMIZE TABLE ... FINAL` it must hold exactly one row per
 * prediction event.
 *
 * Background merges are stopped on the test's table until the copies are counted, so the
 * count proves that every redelivery was scored and stored (otherwise a merge could hide a
 * missing redelivery and the test would pass without testing anything).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitGroupOffsets, pinNewGroupAtEnd } from '#platform/kafka';
import type { Review } from '#platform/serde';
import { type ClickHouseClient, sql } from '#platform/store';
import { type TestKafka, connectTestKafka, makeReview, waitUntil } from '../support/kafka.ts';
import { COMPACT_MODEL_DIR } from '../support/model.ts';
import { type Child, startTsProcess, stopProcess } from '../support/processes.ts';
import { testStackProcessEnv } from '../support/stack.ts';
import { createTestDatabase } from '../support/clickhouse.ts';

const REVIEWS = 120;
const ADJECTIVES = ['gripping', 'dull', 'moving', 'tedious', 'charming', 'overlong', 'witty'];

type Row = Record<string, string | number | null>;

/** A DateTime as ClickHouse prints it (the servers run in UTC). */
function dateTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

describe('stored predictions merge: redelivered reviews leave one row per prediction', () => {
  const run = `merge_${randomUUID().slice(0, 8)}`;
  const database = `it_${run}`;
  const inferenceGroup = `inference-${run}`;
  const loggerGroup = `logger-${run}`;
  let kafka: TestKafka;
  let clickhouse: ClickHouseClient;
  let inference: Child | undefined;
  let logger: Child | undefined;

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
        // A model name of its own: no other test's deployment applies to this service.
        MODEL_NAME: `sentiment-${run}`,
        INFERENCE_GROUP_ID: inferenceGroup,
      }),
    );

  async function rows<T = Row>(query: string): Promise<T[]> {
    const result = await clickhouse.query({ query, format: 'JSONEachRow' });
    return result.json<T>();
  }
  /** Raw rows of this test's reviews (not the warm-up), whatever merges have done. */
  async function rawCount(): Promise<number> {
    const [row] = await rows<{ n: string }>(
      sql`SELECT count() AS n FROM predictions WHERE source = ${run} AND review_id != ${`${run}-warmup`}`,
    );
    return Number(row?.n ?? 0);
  }

  beforeAll(async () => {
    kafka = await connectTestKafka();
    clickhouse = await createTestDatabase(database);
    // No background merge until the copies are counted (see the module comment).
    await clickhouse.command({ query: 'SYSTEM STOP MERGES predictions' });
    // New groups read from the beginning: start them at the end of the test stack's topics,
    // which keep every earlier test's events.
    await pinNewGroupAtEnd(kafka.kafka, inferenceGroup, 'reviews');
    await pinNewGroupAtEnd(kafka.kafka, loggerGroup, 'predictions');
    logger = startTsProcess(
      'services/logger/main.ts',
      serviceEnv({ LOGGER_GROUP_ID: loggerGroup }),
    );
    inference = startInference();
    await waitUntil(
      async () => {
        const warmup = { ...makeReview(`${run}-warmup`, 'warm up'), source: run };
        await kafka.producer.send('reviews', [{ key: warmup.reviewId, value: warmup }]);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        const [row] = await rows<{ n: string }>(
          sql`SELECT count() AS n FROM predictions WHERE source = ${run}`,
        );
        return Number(row?.n ?? 0) > 0;
      },
      120_000,
      'inference and logger to store a warm-up prediction',
    );
  });

  afterAll(async () => {
    await stopProcess(inference, 'SIGKILL');
    await stopProcess(logger);
    await clickhouse?.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    await clickhouse?.close();
    await kafka?.close();
  });

  it(
    'holds exactly one raw row per event after OPTIMIZE FINAL, with the copies identical in the sorting key',
    { timeout: 300_000 },
    async () => {
      const admin = kafka.kafka.admin();
      await admin.connect();
      const before = await admin.fetchTopicOffsets('reviews').finally(() => admin.disconnect());

      const reviews: Review[] = Array.from({ length: REVIEWS }, (_, i) => ({
        ...makeReview(
          `${run}-${i}`,
          `review ${i}: a ${ADJECTIVES[i % ADJECTIVES.length]} film, ${i % 11} stars`,
        ),
        source: run,
        groundTruth: i % 2 === 0 ? 'POSITIVE' : null,
        // The review happened a while ago (as with a backlog): a stored time taken from the
        // review must be this one, not the time of scoring.
        eventTime: Date.now() - 3_600_000 + i,
      }));
      const send = () =>
        kafka.producer.send(
          'reviews',
          reviews.map((review) => ({ key: review.reviewId, value: review })),
        );
      await send();
      await waitUntil(async () => (await rawCount()) >= REVIEWS, 120_000, 'the first copies');

      // Consumer redelivery: inference stops (committing what it did), its group is rewound
      // to before the reviews, and it starts again. Its restart takes seconds, so the second
      // scoring falls in another second than the first (the DateTime columns hold seconds).
      await stopProcess(inference);
      await commitGroupOffsets(kafka.kafka, {
        groupId: inferenceGroup,
        topic: 'reviews',
        partitions: before.map(({ partition, offset }) => ({ partition, offset })),
      });
      inference = startInference();
      await waitUntil(async () => (await rawCount()) >= 2 * REVIEWS, 180_000, 'the redelivery');
      // Producer retry: the same review events published again, as new records.
      await send();
      await waitUntil(async () => (await rawCount()) >= 3 * REVIEWS, 120_000, 'the re-sent copies');

      const copies = await rows(
        sql`SELECT * FROM predictions WHERE source = ${run} AND review_id != ${`${run}-warmup`}
            ORDER BY event_id, ingest_time`,
      );

      await clickhouse.command({ query: 'SYSTEM START MERGES predictions' });
      await clickhouse.command({ query: 'OPTIMIZE TABLE predictions FINAL' });
      const [after] = await rows<{ n: string; events: string; reviews: string }>(
        sql`SELECT count() AS n, uniqExact(event_id) AS events, uniqExact(review_event_id) AS reviews
            FROM predictions WHERE source = ${run} AND review_id != ${`${run}-warmup`}`,
      );
      const byEvent = new Map<string, Row[]>();
      for (const row of copies) {
        const id = String(row.event_id);
        byEvent.set(id, [...(byEvent.get(id) ?? []), row]);
      }
      // The sorting key: (model_name, model_version, event_time, event_id).
      const keyOf = (row: Row) =>
        JSON.stringify([row.model_name, row.model_version, row.event_time, row.event_id]);
      const unmergeable = [...byEvent.values()].filter(
        (group) => new Set(group.map(keyOf)).size > 1,
      );
      expect(
        { rows: Number(after?.n), events: Number(after?.events), reviews: Number(after?.reviews) },
        `${unmergeable.length} events whose copies differ in the sorting key, e.g. event_time ` +
          JSON.stringify(unmergeable[0]?.map((row) => row.event_time)),
      ).toEqual({ rows: REVIEWS, events: REVIEWS, reviews: REVIEWS });

      // Every event was stored at least three times, each copy scored at its own time: the
      // time in the sorting key is the review's, the scoring time is kept beside it.
      const reviewTime = new Map(reviews.map((review) => [review.eventId, review.eventTime]));
      expect(byEvent.size).toBe(REVIEWS);
      for (const group of byEvent.values()) {
        // At least three: at least once may add a delivery of its own, which must merge too.
        expect(group.length).toBeGreaterThanOrEqual(3);
        const first = group[0]!;
        expect(Number(first.event_time_ms)).toBe(reviewTime.get(String(first.review_event_id)));
        expect(new Set(group.map((row) => row.event_time_ms)).size).toBe(1);
        // Scored in different seconds: with the scoring time in the key (a DateTime, seconds),
        // these copies could not merge, so the test tells the two designs apart.
        const scored = group.map((row) => Math.floor(Number(row.scored_at_ms) / 1000));
        expect(Math.max(...scored)).toBeGreaterThan(Math.min(...scored));
        for (const row of group) {
          expect(Number(row.scored_at_ms)).toBeGreaterThan(Number(row.event_time_ms));
          expect(row.scored_at).toBe(dateTime(Number(row.scored_at_ms)));
        }
      }
    },
  );
});
