/**
 * The times a prediction carries: its eventTime (in the `predictions` table's sorting key) is
 * the review's own time, identical in every redelivery, so stored copies merge; the scoring
 * time travels apart as scoredAt and is stored outside the key.
 */
import { describe, expect, it } from 'vitest';
import { AppError } from '#platform/common';
import type { ModelInfo, ScoredBatch, ScoredText } from '#domain/model';
import type { ConsumedEvent, HandlerContext } from '#platform/runner';
import type { Prediction, Review } from '#platform/serde';
import { ShadowLane, checkReviewEventTime, toPrediction } from '#domain/scoring';
import { toPredictionRow } from '#platform/store';
import type { OutgoingEvent } from '#platform/kafka';
import { createReviewHandler } from '../../services/inference/review-handler.ts';

const MODEL: ModelInfo = {
  path: '/models/m',
  name: 'folder-name',
  version: '3',
  labels: ['NEGATIVE', 'POSITIVE'],
  maxLength: 128,
  hiddenSize: 2,
  onnxPath: '/models/m/onnx/model.onnx',
  embeddingOutput: 'last_hidden_state',
};

const SCORED: ScoredText = {
  labelIndex: 1,
  label: 'POSITIVE',
  probabilities: [0.25, 0.75],
  confidence: 0.75,
  embedding: Float32Array.from([0.5, -0.5]),
  truncated: false,
  tokens: 5,
};

const REVIEW_TIME = 1_763_800_000_123;

function review(patch: Partial<Review> = {}): Review {
  return {
    eventId: '6f1c1d3e-2b7a-4c1e-9a0b-2f7e8d9c0a1b',
    eventTime: REVIEW_TIME,
    reviewId: 'r-1',
    source: 'web',
    text: 'a gripping film',
    groundTruth: 'POSITIVE',
    attributes: {},
    ...patch,
  };
}

function consumed(event: Review, offset: number): ConsumedEvent<Review> {
  return {
    topic: 'reviews',
    partition: 0,
    offset: String(offset),
    key: null,
    value: null,
    headers: {},
    // The record timestamp differs between a producer's first send and its retry.
    timestamp: String(REVIEW_TIME + 1_000 * offset),
    schemaId: 1,
    event,
  };
}

/** Runs the inference handler over `events` at scoring time `now`; returns what it sent. */
async function handle(
  events: readonly ConsumedEvent<Review>[],
  now: number,
): Promise<{ sent: Prediction[]; rejected: string[] }> {
  const sent: Prediction[] = [];
  const handler = createReviewHandler({
    models: {
      scoreProduction: async (texts): Promise<ScoredBatch> => ({
        model: MODEL,
        results: texts.map(() => SCORED),
      }),
      canary: () => undefined,
      candidateHost: () => undefined,
    },
    shadow: {
      lane: new ShadowLane({ maxPendingTexts: 1 }),
      publish: async () => {
        throw new Error('no candidate in shadow');
      },
    },
    maxTextBytes: 1_000,
    modelName: 'sentiment',
    now: () => now,
  });
  const context: HandlerContext = {
    heartbeat: async () => undefined,
    signal: new AbortController().signal,
    output: {
      send: async (topic, outgoing) => {
        expect(topic).toBe('predictions');
        for (const event of outgoing as readonly OutgoingEvent<'predictions'>[]) {
          sent.push(event.value);
        }
      },
    },
  };
  const result = await handler(events, context);
  return {
    sent,
    rejected: (result?.rejected ?? []).map(({ error }) =>
      error instanceof AppError ? error.code : error.message,
    ),
  };
}

describe('prediction times', () => {
  it('a redelivered review gives a prediction identical in every sorting-key column', async () => {
    const first = await handle([consumed(review(), 7)], 1_763_800_005_000);
    // Scored again 40 s later, from a producer's second record of the same review event.
    const again = await handle([consumed(review(), 9)], 1_763_800_045_000);
    const [a] = first.sent;
    const [b] = again.sent;
    expect(a && b).toBeTruthy();
    for (const p of [a!, b!]) {
      expect(p.eventTime).toBe(REVIEW_TIME);
      expect(p.modelName).toBe('sentiment');
      expect(p.modelVersion).toBe('3');
    }
    expect(b!.eventId).toBe(a!.eventId);
    expect([a!.scoredAt, b!.scoredAt]).toEqual([1_763_800_005_000, 1_763_800_045_000]);

    const rowA = toPredictionRow(a!, { schemaId: 1, partition: 0, offset: '7' }, 1_763_800_006_000);
    const rowB = toPredictionRow(b!, { schemaId: 1, partition: 0, offset: '9' }, 1_763_800_046_000);
    const key = (row: typeof rowA) => [
      row.model_name,
      row.model_version,
      row.event_time,
      row.event_id,
    ];
    expect(key(rowB)).toEqual(key(rowA));
    expect([rowA.scored_at, rowA.scored_at_ms]).toEqual([1_763_800_005, 1_763_800_005_000]);
    expect([rowB.scored_at, rowB.scored_at_ms]).toEqual([1_763_800_045, 1_763_800_045_000]);
  });

  it('a synchronous prediction (no review event) is timed by its scoring', () => {
    const p = toPrediction(
      {
        reviewId: 'sync-1',
        reviewEventId: null,
        source: 'gateway',
        text: 'dull',
        groundTruth: null,
        origin: 'SYNC',
      },
      SCORED,
      { ...MODEL, name: 'sentiment' },
      1.5,
      1_763_800_009_876,
      () => 'fresh-id',
    );
    expect(p).toMatchObject({
      eventId: 'fresh-id',
      eventTime: 1_763_800_009_876,
      scoredAt: 1_763_800_009_876,
    });
  });

  it('stores the event time as the scoring time for producers older than scoredAt', () => {
    const p = toPrediction(
      {
        reviewId: 'r',
        reviewEventId: '6f1c1d3e-2b7a-4c1e-9a0b-2f7e8d9c0a1b',
        reviewEventTime: REVIEW_TIME,
        source: 'web',
        text: 't',
        groundTruth: null,
        origin: 'STREAM',
      },
      SCORED,
      MODEL,
      1,
      REVIEW_TIME + 2_000,
      () => 'unused',
    );
    expect([p.eventTime, p.scoredAt]).toEqual([REVIEW_TIME, REVIEW_TIME + 2_000]);
    // An event from an older producer: no scoredAt, its eventTime was the scoring time.
    const row = toPredictionRow(
      { ...p, scoredAt: null },
      { schemaId: 1, partition: 0, offset: '0' },
      0,
    );
    expect([row.scored_at, row.scored_at_ms]).toEqual([
      Math.floor(REVIEW_TIME / 1000),
      REVIEW_TIME,
    ]);
  });

  it('dead-letters a review whose eventTime no DateTime column can hold', async () => {
    for (const eventTime of [-1, 0xffff_ffff * 1000 + 1, 1.5]) {
      expect(checkReviewEventTime(eventTime)?.code).toBe('REVIEW_EVENT_TIME_INVALID');
    }
    for (const eventTime of [0, REVIEW_TIME, 0xffff_ffff * 1000]) {
      expect(checkReviewEventTime(eventTime)).toBeUndefined();
    }
    const { sent, rejected } = await handle(
      [consumed(review({ eventTime: -5 }), 1), consumed(review({ reviewId: 'r-2' }), 2)],
      REVIEW_TIME + 1_000,
    );
    expect(rejected).toEqual(['REVIEW_EVENT_TIME_INVALID']);
    expect(sent.map((p) => p.reviewId)).toEqual(['r-2']);
  });
});
