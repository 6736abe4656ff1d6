/**
 * The inference consumer's batch handler: validate texts, score them with the version the
 * serving plan gives each review, and send one Prediction per review to the runner's output:
 * at least once, the producer (resolved = acknowledged, then the runner commits); exactly
 * once, the batch's transaction (committed with the offsets).
 *
 * Which version answers (#domain/scoring ServingModels): production, or the canary for the
 * reviews whose stable review-id hash falls in its share; both groups are scored at once in
 * their own workers. A candidate in SHADOW scores the batch's texts too, after production
 * answered and without holding the batch: its predictions go to `predictions.shadow` through
 * the plain producer (outside any transaction: shadow evidence is a sample, lost work is not
 * retried), and work past the shadow lane's bound is shed and counted.
 *
 * A prediction carries its review's event time (the time in the `predictions` table's
 * sorting key, the same in every redelivery, so stored copies merge) and, apart, the scoring
 * time as `scoredAt` (#domain/scoring `toPrediction`).
 */
import { randomUUID } from 'node:crypto';
import type { ModelInfo, ScoredBatch } from '#domain/model';
import type { OutgoingEvent } from '#platform/kafka';
import type { BatchHandler, ConsumedEvent, Rejection } from '#platform/runner';
import type { Prediction, Review } from '#platform/serde';
import {
  type ShadowLane,
  checkReview,
  checkReviewEventTime,
  routesToCanary,
  toPrediction,
  toShadowPrediction,
} from '#domain/scoring';

/** What the handler scores with (ServingModels). */
export interface ReviewScorers {
  scoreProduction(texts: readonly string[]): Promise<ScoredBatch>;
  canary(): { readonly host: Scorer; readonly trafficShare: number } | undefined;
  candidateHost(role: 'SHADOW'): Scorer | undefined;
}

interface Scorer {
  score(texts: readonly string[]): Promise<ScoredBatch>;
}

export interface ReviewHandlerDeps {
  readonly models: ReviewScorers;
  /** Shadow work: the lane that bounds it and where its predictions go. */
  readonly shadow: {
    readonly lane: ShadowLane;
    readonly publish: (events: readonly OutgoingEvent<'predictions.shadow'>[]) => Promise<void>;
  };
  readonly maxTextBytes: number;
  /** Name the predictions carry: the model name this service serves (its deployments' name). */
  readonly modelName: string;
  readonly now?: () => number;
  readonly onScored?: (count: number, modelVersion: string, seconds: number) => void;
}

/** One group of a batch and the version that answers it. */
interface Answered {
  readonly events: readonly ConsumedEvent<Review>[];
  readonly batch: ScoredBatch;
  readonly seconds: number;
}

async function answer(
  scorer: Scorer,
  events: readonly ConsumedEvent<Review>[],
): Promise<Answered | undefined> {
  if (events.length === 0) return undefined;
  const started = performance.now();
  const batch = await scorer.score(events.map((event) => event.event.text));
  return { events, batch, seconds: (performance.now() - started) / 1000 };
}

function predictionsOf(
  answered: Answered,
  modelName: string,
  scoredAt: number,
): OutgoingEvent<'predictions'>[] {
  const { model, results } = answered.batch;
  // Batch latency shared per text: what a review waited for the model in this batch.
  const latencyMs = (answered.seconds * 1000) / answered.events.length;
  return answered.events.map((event, index) => ({
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
      { ...model, name: modelName },
      latencyMs,
      scoredAt,
      randomUUID,
    ),
  }));
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

    // Routed once, from one read of the plan: a change mid-batch applies to the next batch.
    const canary = deps.models.canary();
    const shadowHost = canary ? undefined : deps.models.candidateHost('SHADOW');
    const toCanary = canary
      ? valid.filter((event) => routesToCanary(event.event.reviewId, canary.trafficShare))
      : [];
    const canaried = new Set(toCanary);
    const toProduction = canary ? valid.filter((event) => !canaried.has(event)) : valid;
    const [served, canaryAnswered] = await Promise.all([
      answer({ score: (texts) => deps.models.scoreProduction(texts) }, toProduction),
      canary ? answer(canary.host, toCanary) : undefined,
    ]);
    const scoredAt = now();
    const outgoing = [
      ...(served ? predictionsOf(served, deps.modelName, scoredAt) : []),
      ...(canaryAnswered ? predictionsOf(canaryAnswered, deps.modelName, scoredAt) : []),
    ];
    await context.output.send('predictions', outgoing);
    for (const group of [served, canaryAnswered]) {
      if (group) deps.onScored?.(group.events.length, group.batch.model.version, group.seconds);
    }
    if (shadowHost && served) {
      const answeredPredictions = outgoing.map((event) => event.value);
      deps.shadow.lane.offer(answeredPredictions.length, () =>
        shadowScore(shadowHost, answeredPredictions, deps, now),
      );
    }
    return { rejected };
  };
}

/** The candidate scores what production answered; its predictions go to the shadow topic. */
async function shadowScore(
  host: Scorer,
  served: readonly Prediction[],
  deps: ReviewHandlerDeps,
  now: () => number,
): Promise<void> {
  const started = performance.now();
  const { model, results } = await host.score(served.map((prediction) => prediction.text));
  const latencyMs = (performance.now() - started) / served.length;
  const scoredAt = now();
  const candidate: ModelInfo = model;
  await deps.shadow.publish(
    served.map((prediction, index) => ({
      key: prediction.reviewId,
      value: toShadowPrediction(
        prediction,
        results[index]!,
        candidate,
        latencyMs,
        scoredAt,
        randomUUID,
      ),
    })),
  );
}
