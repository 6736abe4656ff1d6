/**
 * What the retrainer reads: recent predictions of a model version that carry a ground-truth
 * label, with their text and [CLS] embedding, one row per event id (redeliveries collapse).
 * SQL valid on 18.16 and current servers.
 */
import { type ClickHouseClient, literal } from '#platform/store';

export interface LabelledPrediction {
  readonly eventId: string;
  readonly eventTimeMs: number;
  readonly text: string;
  /** 'POSITIVE' | 'NEGATIVE' (the ground truth the producer sent). */
  readonly groundTruth: string;
  readonly embedding: Float32Array;
}

export interface LabelledQuery {
  readonly modelName: string;
  readonly modelVersion: string;
  /** Only predictions from this event time on (ms). */
  readonly sinceMs: number;
  /** Newest rows first, at most this many. */
  readonly maxRows: number;
}

function where(query: Omit<LabelledQuery, 'maxRows'>): string {
  return `model_name = ${literal(query.modelName)} AND model_version = ${literal(query.modelVersion)}
    AND event_time >= toDateTime(${Math.floor(query.sinceMs / 1000)})
    AND event_time_ms >= ${Math.floor(query.sinceMs)}
    AND isNotNull(ground_truth)`;
}

export async function countLabelledPredictions(
  client: ClickHouseClient,
  query: Omit<LabelledQuery, 'maxRows'>,
): Promise<number> {
  const result = await client.query({
    query: `SELECT uniqExact(event_id) AS n FROM predictions WHERE ${where(query)}`,
    format: 'JSONEachRow',
  });
  const [row] = await result.json<{ n: string | number }>();
  return Number(row?.n ?? 0);
}

export async function readLabelledPredictions(
  client: ClickHouseClient,
  query: LabelledQuery,
): Promise<LabelledPrediction[]> {
  const result = await client.query({
    query: `SELECT event_id, event_time_ms, text, assumeNotNull(ground_truth) AS truth, embedding
            FROM predictions WHERE ${where(query)}
            ORDER BY event_time_ms DESC, event_id
            LIMIT 1 BY event_id
            LIMIT ${Math.max(1, Math.floor(query.maxRows))}`,
    format: 'JSONEachRow',
  });
  const rows = await result.json<{
    event_id: string;
    event_time_ms: string | number;
    text: string;
    truth: string;
    embedding: number[];
  }>();
  return rows.map((row) => ({
    eventId: row.event_id,
    eventTimeMs: Number(row.event_time_ms),
    text: row.text,
    groundTruth: row.truth,
    embedding: Float32Array.from(row.embedding),
  }));
}
