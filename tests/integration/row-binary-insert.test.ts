import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DependencyUnavailableError, createLogger } from '#platform/common';
import type { Prediction } from '#platform/serde';
import {
  ClickHouseInsertError,
  type ClickHouseClient,
  PREDICTION_COLUMNS,
  type RowBinaryInserter,
  RowBinaryWriter,
  createClickHouse,
  createRowBinaryInserter,
  migrate,
  toPredictionRow,
  writePredictionRow,
} from '#platform/store';
import { clickhouseUrl } from '../support/stack.ts';

function prediction(i: number, patch: Partial<Prediction> = {}): Prediction {
  return {
    eventId: randomUUID(),
    eventTime: 1_763_800_000_123 + i,
    reviewId: `rb-${i}`,
    reviewEventId: i % 2 ? randomUUID() : null,
    origin: i % 2 ? 'STREAM' : 'SYNC',
    source: 'row-binary',
    text: `review ${i} "quotes" 'apostrophes' \\backslash\\ tab\t newline\n ünïcödé 😀`,
    modelName: 'sentiment',
    modelVersion: '1',
    label: i % 3 ? 'POSITIVE' : 'NEGATIVE',
    probabilities: [Math.fround(0.25), Math.fround(0.75)],
    confidence: Math.fround(0.75),
    embedding: Array.from({ length: 128 }, (_, k) => Math.fround(Math.sin(i * 128 + k) * 1e3)),
    latencyMs: 1.5 + i,
    truncated: i % 4 === 0,
    groundTruth: i % 5 ? null : 'POSITIVE',
    scoredAt: 1_763_800_001_456 + i,
    shadowOf: null,
    ...patch,
  };
}

describe('RowBinary inserts into the real ClickHouse', () => {
  const database = `it_rowbinary_${randomUUID().slice(0, 8)}`;
  const settings = {
    clickhouseUrl: clickhouseUrl(),
    clickhouseUser: 'default',
    clickhousePassword: '',
    clickhouseDatabase: database,
  };
  let client: ClickHouseClient;
  let inserter: RowBinaryInserter;

  beforeAll(async () => {
    await migrate(settings, createLogger('test', 'fatal'));
    client = createClickHouse(settings);
    inserter = createRowBinaryInserter(settings);
  });
  afterAll(async () => {
    await inserter?.close();
    await client?.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    await client?.close();
  });

  it('stores every column exactly as the JSON rows describe them', async () => {
    const predictions = Array.from({ length: 50 }, (_, i) => prediction(i));
    predictions.push(prediction(50, { text: 'x'.repeat(20_000), embedding: [] }));
    const rows = predictions.map((p, i) =>
      toPredictionRow(
        p,
        {
          schemaId: 7,
          partition: i % 6,
          offset: i ? String(1_000_000 + i) : '18446744073709551615',
        },
        1_763_800_005_000,
      ),
    );
    // Two chunks, one insert: as the logger sends gathered partition batches.
    const first = new RowBinaryWriter(64);
    const second = new RowBinaryWriter(64);
    rows.forEach((row, i) => writePredictionRow(i < 20 ? first : second, row));
    await inserter.insert('predictions', PREDICTION_COLUMNS, [first.toBuffer(), second.toBuffer()]);

    const result = await client.query({
      query: 'SELECT * FROM predictions ORDER BY review_id',
      format: 'JSONEachRow',
    });
    const stored = new Map(
      (await result.json<Record<string, unknown>>()).map((row) => [row.event_id as string, row]),
    );
    expect(stored.size).toBe(rows.length);
    for (const row of rows) {
      const back = stored.get(row.event_id)!;
      expect(back).toMatchObject({
        review_id: row.review_id,
        review_event_id: row.review_event_id,
        origin: row.origin,
        text: row.text,
        label: row.label,
        latency_ms: row.latency_ms,
        truncated: row.truncated,
        ground_truth: row.ground_truth,
        event_time_ms: String(row.event_time_ms),
        schema_id: 7,
        kafka_partition: row.kafka_partition,
        kafka_offset: row.kafka_offset,
      });
      expect(new Date(`${back.event_time as string}Z`).getTime()).toBe(row.event_time * 1000);
      expect(new Date(`${back.ingest_time as string}Z`).getTime()).toBe(row.ingest_time * 1000);
      expect((back.embedding as number[]).map(Math.fround)).toEqual(row.embedding);
      expect((back.probabilities as number[]).map(Math.fround)).toEqual(row.probabilities);
      expect(Math.fround(back.confidence as number)).toBe(row.confidence);
    }
  });

  it('reports a body the server refuses as a non-retriable ClickHouseInsertError', async () => {
    const error = await inserter
      .insert('predictions', PREDICTION_COLUMNS, [Buffer.from([1, 2, 3])])
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ClickHouseInsertError);
    expect(error).toMatchObject({ code: 'CLICKHOUSE_INSERT_REFUSED', retriable: false });
  });

  it('reports an unreachable server as DependencyUnavailableError (retriable)', async () => {
    const nowhere = createRowBinaryInserter({ ...settings, clickhouseUrl: 'http://127.0.0.1:1' });
    const error = await nowhere
      .insert('predictions', PREDICTION_COLUMNS, [Buffer.alloc(0)])
      .catch((caught: unknown) => caught);
    await nowhere.close();
    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect(error).toMatchObject({ retriable: true });
  });
});
