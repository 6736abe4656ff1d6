import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pinNewGroupAtEnd } from '#platform/kafka';
import type { Prediction } from '#platform/serde';
import { type ClickHouseClient, inList, sql } from '#platform/store';
import { type TestKafka, connectTestKafka, waitUntil } from '../support/kafka.ts';
import { type Child, startTsProcess, stopProcess } from '../support/processes.ts';
import { testStackProcessEnv } from '../support/stack.ts';
import { createTestDatabase } from '../support/clickhouse.ts';

const TOTAL = 50_000;

function prediction(run: string, i: number): Prediction {
  return {
    eventId: randomUUID(),
    eventTime: 1_763_800_000_000 + i,
    reviewId: `${run}-${i}`,
    reviewEventId: randomUUID(),
    origin: 'STREAM',
    source: run,
    text: `review ${i} with "quotes", 'apostrophes', \\backslashes\\ and ünïcödé`,
    modelName: 'sentiment',
    modelVersion: '1',
    label: i % 3 === 0 ? 'NEGATIVE' : 'POSITIVE',
    probabilities: [Math.fround(0.25), Math.fround(0.75)],
    confidence: Math.fround(0.75),
    embedding: Array.from({ length: 128 }, (_, k) => Math.fround(Math.sin(i + k))),
    latencyMs: 1.5,
    truncated: i % 7 === 0,
    groundTruth: i % 2 === 0 ? 'POSITIVE' : null,
    scoredAt: 1_763_800_000_000 + i + 250,
    shadowOf: null,
  };
}

describe('logger: crashes do not lose or duplicate predictions', () => {
  let kafka: TestKafka;
  let clickhouse: ClickHouseClient;
  const run = `crash_${randomUUID().slice(0, 8)}`;
  const database = `it_${run}`;
  let logger: Child | undefined;

  const start = () =>
    startTsProcess(
      'services/logger/main.ts',
      testStackProcessEnv({
        CLICKHOUSE_DATABASE: database,
        LOGGER_GROUP_ID: `logger-${run}`,
        METRICS_PORT: '0',
        LOG_LEVEL: 'warn',
      }),
    );

  beforeAll(async () => {
    kafka = await connectTestKafka();
    // The logger reads a new group from the beginning: start it at the end of the test
    // stack's `predictions`, which keeps every earlier test's rows.
    await pinNewGroupAtEnd(kafka.kafka, `logger-${run}`, 'predictions');
    clickhouse = await createTestDatabase(database);
  });
  afterAll(async () => {
    await stopProcess(logger, 'SIGKILL');
    await clickhouse?.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    await clickhouse?.close();
    await kafka?.close();
  });

  async function count(): Promise<{ rows: number; ids: number }> {
    const result = await clickhouse.query({
      query: sql`SELECT count() AS rows, uniqExact(event_id) AS ids FROM predictions_dedup WHERE source = ${run}`,
      format: 'JSONEachRow',
    });
    const [row] = await result.json<{ rows: string; ids: string }>();
    return { rows: Number(row?.rows ?? 0), ids: Number(row?.ids ?? 0) };
  }

  it(
    'holds exactly one row per event after three SIGKILLs mid-stream, all fields intact',
    { timeout: 420_000 },
    async () => {
      const sent: Prediction[] = [];
      logger = start();
      const killAt = new Set(
        [0.2, 0.5, 0.8].map((f) => Math.floor(f * (TOTAL / 1_000) + Math.random() * 5)),
      );
      for (let chunk = 0; chunk < TOTAL / 1_000; chunk++) {
        const batch = Array.from({ length: 1_000 }, (_, k) => prediction(run, chunk * 1_000 + k));
        await kafka.producer.send(
          'predictions',
          batch.map((p) => ({ key: p.reviewId, value: p })),
        );
        sent.push(...batch);
        if (killAt.has(chunk)) {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 1_500));
          logger.process.kill('SIGKILL');
          await logger.exited;
          logger = start();
        }
      }
      await waitUntil(
        async () => (await count()).rows >= TOTAL,
        240_000,
        'all predictions in ClickHouse',
      );
      // Give redeliveries after the last restart a moment to land, then check exactness.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(await count()).toEqual({ rows: TOTAL, ids: TOTAL });

      const sample = sent.filter((_, i) => i % 997 === 0);
      const result = await clickhouse.query({
        query: `SELECT * FROM predictions_dedup WHERE event_id IN ${inList(sample.map((p) => p.eventId))}`,
        format: 'JSONEachRow',
      });
      const rows = new Map(
        (await result.json<Record<string, unknown>>()).map((row) => [row.event_id as string, row]),
      );
      expect(rows.size).toBe(sample.length);
      for (const p of sample) {
        const row = rows.get(p.eventId)!;
        expect(row).toMatchObject({
          review_id: p.reviewId,
          review_event_id: p.reviewEventId,
          text: p.text,
          label: p.label,
          model_version: p.modelVersion,
          truncated: p.truncated ? 1 : 0,
          ground_truth: p.groundTruth,
          event_time_ms: String(p.eventTime),
        });
        // ClickHouse prints Float32 in shortest form; as float32 the values are identical.
        expect((row.embedding as number[]).map(Math.fround)).toEqual(p.embedding);
        expect((row.probabilities as number[]).map(Math.fround)).toEqual(p.probabilities);
      }
    },
  );
});
