/**
 * Builds Prediction events from scored texts (pure).
 *
 * A prediction of a review event is a function of that event and the model version: its
 * `eventId` is derived from them, and so is its `eventTime`, which is the review's own
 * `eventTime`. Kafka delivers at least once, so one review may be scored several times
 * (a consumer redelivery, a producer retry); every copy must agree in the columns of the
 * `predictions` table's sorting key (model name, version, event time, event id) and its
 * partition (month of the event time), or the ReplacingMergeTree never merges them. The
 * review's time is the one time that is the same in every copy: the scoring time differs per
 * delivery, and the Kafka record timestamp differs when a producer publishes the same event
 * again. It is also what analysts group by (when reviews came in, not when a backlog was
 * scored). The scoring time travels beside it as `scoredAt`, outside the key.
 */
import { InvalidMessageError, deterministicUuid } from '#platform/common';
import type { ModelInfo, ScoredText } from '#domain/model';
import type { Prediction, PredictionOrigin, Sentiment } from '#platform/serde';

interface CommonInput {
  readonly reviewId: string;
  readonly source: string;
  readonly text: string;
  readonly groundTruth: Sentiment | null;
  readonly origin: PredictionOrigin;
}

/** A review event from Kafka: its id and time make the prediction's id and time. */
export interface ReviewEventInput extends CommonInput {
  readonly reviewEventId: string;
  readonly reviewEventTime: number;
}

/** A synchronous request: no review event; the prediction's time is the scoring time. */
export interface RequestInput extends CommonInput {
  readonly reviewEventId: null;
  readonly reviewEventTime?: undefined;
}

export type PredictionInput = ReviewEventInput | RequestInput;

/**
 * Latest event time a prediction can be stored with: `event_time` is a ClickHouse DateTime
 * (seconds in a UInt32, so 1970-01-01 to 2106-02-07 UTC).
 */
const MAX_STORED_TIME_MS = 0xffff_ffff * 1000;

/**
 * A review whose eventTime cannot be a prediction's stored time (REVIEW_EVENT_TIME_INVALID):
 * not an integer number of ms, or outside what the `event_time` column holds. Inference
 * dead-letters it, as the logger would refuse its prediction anyway.
 */
export function checkReviewEventTime(eventTime: number): InvalidMessageError | undefined {
  if (Number.isSafeInteger(eventTime) && eventTime >= 0 && eventTime <= MAX_STORED_TIME_MS) {
    return undefined;
  }
  return new InvalidMessageError(
    'REVIEW_EVENT_TIME_INVALID',
    `eventTime ${eventTime} is not a time from 1970 to 2106 in ms since the epoch`,
  );
}

export function toPrediction(
  input: PredictionInput,
  scored: ScoredText,
  model: ModelInfo,
  latencyMs: number,
  /** When the text was scored (ms): `scoredAt`, and the event time of a synchronous request. */
  now: number,
  /** Used when there is no review event to derive the id from (sync requests). */
  fallbackEventId: () => string,
): Prediction {
  const fromReview = input.reviewEventId !== null;
  return {
    // Same review event + same model version -> same prediction id and time, so a redelivered
    // review scored again is de-duplicated by the views and merged by the table (see above).
    eventId: fromReview
      ? deterministicUuid(input.reviewEventId, model.name, model.version)
      : fallbackEventId(),
    eventTime: fromReview ? input.reviewEventTime : now,
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
    scoredAt: now,
    shadowOf: null,
  };
}

/**
 * A candidate's shadow prediction of what production answered with `served`: the same review,
 * text, label and times, origin SHADOW, `shadowOf` = the served prediction's id (the key the
 * live comparison joins on). Its own id is derived from the review event, the candidate's
 * version and SHADOW (random for a sync request): redelivered shadow copies merge, and it never
 * collides with a served prediction, production's or the candidate's own once it serves (same
 * version and review time, so an id without SHADOW would make the two one row).
 */
export function toShadowPrediction(
  served: Prediction,
  scored: ScoredText,
  candidate: ModelInfo,
  latencyMs: number,
  now: number,
  fallbackEventId: () => string,
): Prediction {
  return {
    ...toPrediction(
      {
        reviewId: served.reviewId,
        source: served.source,
        text: served.text,
        groundTruth: served.groundTruth,
        origin: 'SHADOW',
        ...(served.reviewEventId === null
          ? { reviewEventId: null }
          : { reviewEventId: served.reviewEventId, reviewEventTime: served.eventTime }),
      },
      scored,
      { ...candidate, name: served.modelName },
      latencyMs,
      now,
      fallbackEventId,
    ),
    eventId:
      served.reviewEventId === null
        ? fallbackEventId()
        : deterministicUuid(served.reviewEventId, served.modelName, candidate.version, 'SHADOW'),
    // A sync prediction's time is production's scoring time: the pair shares it.
    eventTime: served.eventTime,
    shadowOf: served.eventId,
  };
}
