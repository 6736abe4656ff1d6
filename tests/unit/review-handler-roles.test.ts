/**
 * The inference handler with a candidate in a live role: a CANARY answers the reviews whose
 * review-id hash falls in its share (each review answered once, by one version, on
 * `predictions`); a SHADOW candidate scores what production answered, off the serving path,
 * into `predictions.shadow` only, bounded by the shadow lane.
 */
import { describe, expect, it } from 'vitest';
import type { ModelInfo, ScoredBatch, ScoredText } from '#domain/model';
import type { OutgoingEvent } from '#platform/kafka';
import type { ConsumedEvent, HandlerContext } from '#platform/runner';
import type { Prediction, Review } from '#platform/serde';
import { ShadowLane, routesToCanary } from '#domain/scoring';
import {
  type ReviewScorers,
  createReviewHandler,
} from '../../services/inference/review-handler.ts';

const REVIEW_TIME = 1_763_800_000_123;
const NOW = 1_763_800_005_000;

function model(version: string): ModelInfo {
  return {
    path: `/models/${version}`,
    name: 'folder-name',
    version,
    labels: ['NEGATIVE', 'POSITIVE'],
    maxLength: 128,
    hiddenSize: 2,
    onnxPath: `/models/${version}/onnx/model.onnx`,
    embeddingOutput: 'last_hidden_state',
  };
}

/** Production ('1') says POSITIVE, the candidate ('2') NEGATIVE: their answers differ. */
function scored(version: string): ScoredText {
  const positive = version === '1';
  return {
    labelIndex: positive ? 1 : 0,
    label: positive ? 'POSITIVE' : 'NEGATIVE',
    probabilities: positive ? [0.25, 0.75] : [0.875, 0.125],
    confidence: positive ? 0.75 : 0.875,
    embedding: Float32Array.from([0.5, -0.5]),
    truncated: false,
    tokens: 5,
  };
}

/** A scorer of `version` that records the texts it was given. */
function scorer(version: string) {
  const texts: string[] = [];
  return {
    texts,
    score: async (batch: readonly string[]): Promise<ScoredBatch> => {
      texts.push(...batch);
      return { model: model(version), results: batch.map(() => scored(version)) };
    },
  };
}

function consumed(reviewId: string, offset: number): ConsumedEvent<Review> {
  const event: Review = {
    eventId: `6f1c1d3e-2b7a-4c1e-9a0b-${String(offset).padStart(12, '0')}`,
    eventTime: REVIEW_TIME + offset,
    reviewId,
    source: 'web',
    text: `text of ${reviewId}`,
    groundTruth: null,
    attributes: {},
  };
  return {
    topic: 'reviews',
    partition: 0,
    offset: String(offset),
    key: null,
    value: null,
    headers: {},
    timestamp: String(REVIEW_TIME + offset),
    schemaId: 1,
    event,
  };
}

const reviews = (count: number) =>
  Array.from({ length: count }, (_, i) => consumed(`review-${i}`, i));

/** Runs the handler once; returns what went to `predictions` and to `predictions.shadow`. */
function harness(models: ReviewScorers, lane = new ShadowLane({ maxPendingTexts: 1_000 })) {
  const sent: Prediction[] = [];
  const shadowed: OutgoingEvent<'predictions.shadow'>[] = [];
  const topics = new Set<string>();
  const handler = createReviewHandler({
    models,
    shadow: {
      lane,
      publish: async (events) => {
        shadowed.push(...events);
      },
    },
    maxTextBytes: 1_000,
    modelName: 'sentiment',
    now: () => NOW,
  });
  const context: HandlerContext = {
    heartbeat: async () => undefined,
    signal: new AbortController().signal,
    output: {
      send: async (topic, outgoing) => {
        topics.add(topic);
        for (const event of outgoing as readonly OutgoingEvent<'predictions'>[]) {
          expect(event.key).toBe(event.value.reviewId);
          sent.push(event.value);
        }
      },
    },
  };
  return {
    sent,
    shadowed,
    topics,
    lane,
    run: (events: readonly ConsumedEvent<Review>[]) => handler(events, context),
  };
}

describe('review handler: canary', () => {
  it('splits reviews by routesToCanary; each group gets its version, each review once', async () => {
    const production = scorer('1');
    const canaryHost = scorer('2');
    let shadowAsked = false;
    const h = harness({
      scoreProduction: production.score,
      canary: () => ({ host: canaryHost, trafficShare: 0.3 }),
      candidateHost: () => {
        shadowAsked = true;
        return undefined;
      },
    });
    const batch = reviews(200);
    const result = await h.run(batch);
    expect(result?.rejected).toEqual([]);
    expect([...h.topics]).toEqual(['predictions']);

    const ids = batch.map((e) => e.event.reviewId);
    const toCanary = ids.filter((id) => routesToCanary(id, 0.3));
    // The split is real: both sides answer some reviews.
    expect(toCanary.length).toBeGreaterThan(30);
    expect(toCanary.length).toBeLessThan(100);
    expect(h.sent.map((p) => p.reviewId).sort()).toEqual([...ids].sort());
    const byVersion = (version: string) =>
      h.sent.filter((p) => p.modelVersion === version).map((p) => p.reviewId);
    expect(byVersion('2').sort()).toEqual([...toCanary].sort());
    expect(byVersion('1').sort()).toEqual(ids.filter((id) => !toCanary.includes(id)).sort());
    // Each version scored only its own reviews' texts.
    expect(canaryHost.texts.sort()).toEqual(toCanary.map((id) => `text of ${id}`).sort());
    expect(production.texts).toHaveLength(200 - toCanary.length);
    for (const p of h.sent) {
      expect(p).toMatchObject({ origin: 'STREAM', modelName: 'sentiment', shadowOf: null });
      expect(p.label).toBe(p.modelVersion === '2' ? 'NEGATIVE' : 'POSITIVE');
    }
    // A canary is not shadowed.
    expect(h.shadowed).toEqual([]);
    expect(h.lane.totals.offered).toBe(0);
    expect(shadowAsked).toBe(false);
  });

  it('one review lands on the same side on every delivery', async () => {
    const run = async () => {
      const h = harness({
        scoreProduction: scorer('1').score,
        canary: () => ({ host: scorer('2'), trafficShare: 0.5 }),
        candidateHost: () => undefined,
      });
      await h.run(reviews(50));
      return new Map(h.sent.map((p) => [p.reviewId, [p.modelVersion, p.eventId]]));
    };
    expect(await run()).toEqual(await run());
  });
});

describe('review handler: shadow', () => {
  it('every served prediction gets one shadow prediction on predictions.shadow only', async () => {
    const production = scorer('1');
    const candidate = scorer('2');
    const roles: string[] = [];
    const h = harness({
      scoreProduction: production.score,
      canary: () => undefined,
      candidateHost: (role) => {
        roles.push(role);
        return candidate;
      },
    });
    const batch = reviews(5);
    await h.run(batch);
    await h.lane.drain();
    expect(roles).toEqual(['SHADOW']);
    expect([...h.topics]).toEqual(['predictions']);
    // Served: production only, nothing of the candidate.
    expect(h.sent).toHaveLength(5);
    for (const p of h.sent) expect(p).toMatchObject({ modelVersion: '1', origin: 'STREAM' });
    expect(h.shadowed).toHaveLength(5);
    for (const served of h.sent) {
      const copies = h.shadowed.filter((s) => s.value.shadowOf === served.eventId);
      expect(copies, served.reviewId).toHaveLength(1);
      const { key, value } = copies[0]!;
      expect(key).toBe(served.reviewId);
      expect(value).toMatchObject({
        origin: 'SHADOW',
        shadowOf: served.eventId,
        reviewId: served.reviewId,
        reviewEventId: served.reviewEventId,
        text: served.text,
        modelName: 'sentiment',
        modelVersion: '2',
        label: 'NEGATIVE',
        eventTime: served.eventTime,
      });
      expect(value.eventId).not.toBe(served.eventId);
    }
    expect(new Set(h.shadowed.map((s) => s.value.eventId)).size).toBe(5);
    expect(candidate.texts.sort()).toEqual(batch.map((e) => e.event.text).sort());
    expect(h.lane.totals).toMatchObject({ offered: 5, scored: 5, shed: 0, failed: 0 });
  });

  it('the batch does not wait for shadow scoring, and a shadow failure fails nothing', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const h = harness({
      scoreProduction: scorer('1').score,
      canary: () => undefined,
      candidateHost: () => ({
        score: async () => {
          await held;
          throw new Error('candidate worker died');
        },
      }),
    });
    await expect(h.run(reviews(3))).resolves.toEqual({ rejected: [] });
    expect(h.sent).toHaveLength(3);
    expect(h.lane.pendingTexts).toBe(3);
    release();
    await h.lane.drain();
    expect(h.shadowed).toEqual([]);
    expect(h.lane.totals).toMatchObject({ offered: 3, failed: 3, scored: 0 });
  });

  it('a lane shedding for load sheds the shadow work: nothing scored or published, the texts counted', async () => {
    const candidate = scorer('2');
    const h = harness(
      {
        scoreProduction: scorer('1').score,
        canary: () => undefined,
        candidateHost: () => candidate,
      },
      new ShadowLane({ maxPendingTexts: 2, overloaded: () => true }),
    );
    await h.run(reviews(3));
    await h.lane.drain();
    expect(h.sent).toHaveLength(3);
    expect(candidate.texts).toEqual([]);
    expect(h.shadowed).toEqual([]);
    expect(h.lane.totals).toMatchObject({ offered: 3, shed: 3, scored: 0 });
  });
});
