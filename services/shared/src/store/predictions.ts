/** Prediction events -> rows of the `predictions` table (pure). */
import type { Prediction } from '#shared/serde';

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
    schema_id: origin.schemaId,
    kafka_partition: origin.partition,
    kafka_offset: origin.offset,
  };
}
