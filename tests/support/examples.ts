/** One realistic example of every event type, keyed by the topic that carries it. */
import { randomUUID } from 'node:crypto';
import type { DriftEvent, TopicName, TopicValues } from '#platform/serde';

const base = () => ({ eventId: randomUUID(), eventTime: Date.now() });

export function exampleEvents(): { [T in TopicName]?: TopicValues[T] } {
  return {
    reviews: {
      ...base(),
      reviewId: `r-${randomUUID()}`,
      source: 'imdb',
      text: 'Überraschend gut — a film with heart. 🎬',
      groundTruth: 'POSITIVE',
      attributes: { stars: '9' },
    },
    predictions: {
      ...base(),
      reviewId: `r-${randomUUID()}`,
      reviewEventId: randomUUID(),
      origin: 'STREAM',
      source: 'imdb',
      text: 'dull and overlong',
      modelName: 'sentiment',
      modelVersion: '1',
      label: 'NEGATIVE',
      probabilities: [0.875, 0.125],
      confidence: 0.875,
      embedding: Array.from({ length: 128 }, (_, i) => Math.fround(Math.sin(i) / 3)),
      latencyMs: 1.25,
      truncated: false,
      groundTruth: 'NEGATIVE',
      scoredAt: Date.now(),
      shadowOf: null,
    },
    'drift.events': {
      ...base(),
      modelName: 'sentiment',
      modelVersion: '1',
      segment: '*',
      kind: 'STATE_CHANGE',
      state: 'DRIFT',
      previousState: 'OK',
      predictionDriftState: 'OK',
      statistics: [
        { name: 'class_conditional_cosine', value: 0.031, threshold: 0.012, exceeded: true },
      ],
      windowStart: Date.now() - 60_000,
      windowEnd: Date.now(),
      windowSize: 500,
      classMix: { NEGATIVE: 0.5, POSITIVE: 0.5 },
      episodeId: randomUUID(),
      reason: 'input drift over threshold for 2 consecutive windows',
    },
    'retrain.requests': {
      ...base(),
      requestId: randomUUID(),
      modelName: 'sentiment',
      trigger: 'MANUAL',
      reason: 'new labelled data',
      requestedBy: 'ops@example.com',
      episodeId: null,
      options: { seed: '7' },
    },
    'retrain.status': {
      ...base(),
      modelName: 'sentiment',
      triggerId: randomUUID(),
      trigger: 'DRIFT',
      state: 'WAITING_FOR_LABELS',
      labelled: 120,
      required: 500,
      progress: null,
      candidateVersion: null,
      message: '120 labelled predictions since the drift began; 500 needed',
    },
    'models.candidates': {
      ...base(),
      modelName: 'sentiment',
      modelVersion: '2',
      parentVersion: '1',
      artifactUri: 'file:///var/artifacts/ab12',
      artifactSha256: 'ab'.repeat(32),
      metrics: { f1: 0.84, accuracy: 0.85 },
      requestId: randomUUID(),
      episodeId: null,
    },
    'models.deployments': {
      ...base(),
      modelName: 'sentiment',
      modelVersion: '2',
      previousVersion: '1',
      action: 'PROMOTE',
      artifactUri: 'file:///var/artifacts/ab12',
      artifactSha256: 'ab'.repeat(32),
      actor: 'promoter',
      reason: 'candidate F1 0.84 >= production F1 0.82',
      candidate: null,
      signature: null,
    },
    'dlq.reviews': {
      ...base(),
      sourceTopic: 'reviews',
      sourcePartition: 3,
      sourceOffset: '9007199254740993',
      key: Buffer.from('r-1'),
      value: Buffer.from([0xde, 0xad, 0xbe, 0xef]),
      headers: { 'x-trace': Buffer.from('abc') },
      errorCode: 'MESSAGE_UNDECODABLE',
      reason: 'message starts with byte 0xde',
      attempts: 1,
      consumerGroup: 'inference',
      service: 'inference',
    },
  };
}

/** A drift event: the example above with `overrides` (tests of drift consumers and views). */
export function makeDriftEvent(overrides: Partial<DriftEvent> = {}): DriftEvent {
  return { ...exampleEvents()['drift.events']!, ...overrides };
}
