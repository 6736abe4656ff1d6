/**
 * Prediction events -> rows of the `predictions` table (pure).
 *
 * `event_time` is the prediction's eventTime: for stream predictions the review's own time,
 * the same in every redelivery, so all copies of one prediction agree in the table's sorting
 * key and partition and its ReplacingMergeTree merges them (#domain/scoring `toPrediction`).
 * `scored_at` is when this copy was scored: it differs between copies and is not in the key.
 */
import type { Prediction } from '#platform/serde';

export interface PredictionRow {
  event_id: string;
  review_id: string;
  review_event_id: string | null;
  origin: string;
  source: string;
  text: string;
  model_name: string;
  model_version: string;
  label: string;
  probabilities: number[];
  confidence: number;
  embedding: number[];
  latency_ms: number;
  truncated: number;
  ground_truth: string | null;
  event_time: number;
  event_time_ms: number;
  ingest_time: number;
  scored_at: number;
  scored_at_ms: number;
  /** SHADOW rows: event_id of production's prediction of the same review or request. */
  shadow_of: string | null;
  schema_id: number;
  kafka_partition: number;
  kafka_offset: string;
}

export function toPredictionRow(
  prediction: Prediction,
  origin: { schemaId: number; partition: number; offset: string },
  ingestTimeMs: number,
): PredictionRow {
  return {
    event_id: prediction.eventId,
    review_id: prediction.reviewId,
    review_event_id: prediction.reviewEventId,
    origin: prediction.origin,
    source: prediction.source,
    text: prediction.text,
    model_name: prediction.modelName,
    model_version: prediction.modelVersion,
    label: prediction.label,
    probabilities: prediction.probabilities,
    confidence: prediction.confidence,
    embedding: prediction.embedding,
    latency_ms: prediction.latencyMs,
    truncated: prediction.truncated ? 1 : 0,
    ground_truth: prediction.groundTruth,
    // DateTime columns take seconds (18.16 has no DateTime64); the ms column keeps precision.
    event_time: Math.floor(prediction.eventTime / 1000),
    event_time_ms: prediction.eventTime,
    ingest_time: Math.floor(ingestTimeMs / 1000),
    // Producers older than `scoredAt` set eventTime to the scoring time.
    scored_at: Math.floor((prediction.scoredAt ?? prediction.eventTime) / 1000),
    scored_at_ms: prediction.scoredAt ?? prediction.eventTime,
    shadow_of: prediction.shadowOf ?? null,
    schema_id: origin.schemaId,
    kafka_partition: origin.partition,
    kafka_offset: origin.offset,
  };
}
