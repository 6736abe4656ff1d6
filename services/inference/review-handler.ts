/**
 * The inference consumer's batch handler: validate texts, score them in one call to the
 * serving model (length-bucketed batches inside the worker) and send one Prediction per
 * review to the runner's output: at least once, the producer (resolved = acknowledged, then
 * the runner commits); exactly once, the batch's transaction (committed with the offsets).
 *
 * A prediction carries its review's event time (the time in the `predictions` table's
 * sorting key, the same in every redelivery, so stored copies merge) and, apart, the scoring
 * time as `scoredAt` (#domain/scoring `toPrediction`).
 */
import { randomUUID } from 'node:crypto';
import type { ScoredBatch } from '#domain/model';
import type { BatchHandler, ConsumedEvent, Rejection } from '#platform/runner';
import type { Review } from '#platform/serde';
import { checkReview, checkReviewEventTime, toPrediction } from '#domain/scoring';

export interface ReviewHandlerDeps {
  readonly score: (texts: readonly string[]) => Promise<ScoredBatch>;
  readonly maxTextBytes: number;
  /** Name the predictions carry: the model name this service serves (its deployments' name). */
  readonly modelName: string;
  readonly now?: () => number;
  readonly onScored?: (count: number, modelVersion: string, seconds: number) => void;
}

export function createReviewHandler(deps: ReviewHandlerDeps): BatchHandler<Review> {
  const now = deps.now ?? Date.now;
  return async (events, context) => {
    const rejected: Rejection<Review>[] = [];
    const valid: ConsumedEvent<Review>[] = [];
    for (const event of events) {
      const problem =
        checkReview(event.event, deps.maxTextBytes) ?? checkReviewEventTime(event.event.eventTime);
      if (problem) rejected.push({ event, error: problem });
      else valid.push(event);
    }
    if (valid.length === 0) return { rejected };
    const started = performance.now();
    const { model, results } = await deps.score(valid.map((event) => event.event.text));
    const elapsedMs = performance.now() - started;
    // Batch latency shared per text: what a review waited for the model in this batch.
    const latencyMs = elapsedMs / valid.length;
    const scoredAt = now();
    await context.output.send(
      'predictions',
      valid.map((event, index) => ({
        key: event.event.reviewId,
        value: toPrediction(
          {
            reviewId: event.event.reviewId,
            reviewEventId: event.event.eventId,
            reviewEventTime: event.event.eventTime,
            source: event.event.source,
            text: event.event.text,
            groundTruth: event.event.groundTruth,
            origin: 'STREAM',
          },
          results[index]!,
          { ...model, name: deps.modelName },
          latencyMs,
          scoredAt,
          randomUUID,
        ),
      })),
    );
    deps.onScored?.(valid.length, model.version, elapsedMs / 1000);
    return { rejected };
  };
}
