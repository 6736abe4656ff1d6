/** Builds Prediction events from scored texts (pure). */
import { deterministicUuid } from '#shared/common';
import type { ModelInfo, ScoredText } from '#shared/model';
import type { Prediction, PredictionOrigin, Sentiment } from '#shared/serde';

export interface PredictionInput {
  readonly reviewId: string;
  readonly reviewEventId: string | null;
  readonly source: string;
  readonly text: string;
  readonly groundTruth: Sentiment | null;
  readonly origin: PredictionOrigin;
}

export function toPrediction(
  input: PredictionInput,
  scored: ScoredText,
  model: ModelInfo,
  latencyMs: number,
  now: number,
  /** Used when there is no review event to derive the id from (sync requests). */
  fallbackEventId: () => string,
): Prediction {
  return {
    // Same review event + same model version -> same prediction id, so a redelivered review
    // scored again is de-duplicated by the prediction store.
    eventId:
      input.reviewEventId === null
        ? fallbackEventId()
        : deterministicUuid(input.reviewEventId, model.name, model.version),
    eventTime: now,
    reviewId: input.reviewId,
    reviewEventId: input.reviewEventId,
    origin: input.origin,
    source: input.source,
    text: input.text,
    modelName: model.name,
    modelVersion: model.version,
    label: scored.label === 'POSITIVE' ? 'POSITIVE' : 'NEGATIVE',
    probabilities: scored.probabilities,
    confidence: scored.confidence,
    embedding: Array.from(scored.embedding),
    latencyMs,
    truncated: scored.truncated,
    groundTruth: input.groundTruth,
  };
}
