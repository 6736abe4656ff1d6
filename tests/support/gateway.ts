/** Gateway dependencies for app.inject tests. */
import { createMetricsRegistry } from '#platform/common';
import type { OutgoingEvent } from '#platform/kafka';
import type { ModelInfo, ScoredBatch } from '#domain/model';
import type { GatewayDeps } from '../../services/gateway/app.ts';
import {
  type ApiKeyRecord,
  ApiKeyRing,
  type Scope,
  createApiKey,
} from '../../services/gateway/api-keys.ts';
import type { SecurityOptions } from '../../services/gateway/security.ts';

/** One key per role the tests play. */
const made = {
  admin: createApiKey('test-admin', ['admin']),
  predict: createApiKey('test-predict', ['predict']),
  submit: createApiKey('test-submit', ['submit']),
  labeller: createApiKey('test-labeller', ['submit', 'label']),
};
export type TestRole = keyof typeof made;
export const TEST_KEY_RECORDS: readonly ApiKeyRecord[] = Object.values(made).map((k) => k.record);

/** Headers that present the key of `role`. */
export function authHeaders(role: TestRole = 'admin'): Record<string, string> {
  return { authorization: `Bearer ${made[role].key}` };
}

/** The gateway's security options with the test keys; anonymous prediction off. */
export function testSecurity(overrides: Partial<SecurityOptions> = {}): SecurityOptions {
  return {
    keys: ApiKeyRing.of(TEST_KEY_RECORDS),
    anonymousPredict: false,
    anonymousMetrics: false,
    rateLimitPerMinute: 10_000,
    anonymousRateLimitPerMinute: 10_000,
    corsOrigins: [],
    ...overrides,
  };
}

export type { Scope };

export interface GatewayHarness {
  readonly deps: GatewayDeps;
  readonly publishedPredictions: OutgoingEvent<'predictions'>[];
  readonly publishedReviews: OutgoingEvent<'reviews'>[];
  setModel(model: ModelInfo | undefined): void;
}

export function gatewayHarness(
  score: (texts: readonly string[]) => Promise<ScoredBatch>,
  model?: ModelInfo,
): GatewayHarness {
  let current = model;
  const publishedPredictions: OutgoingEvent<'predictions'>[] = [];
  const publishedReviews: OutgoingEvent<'reviews'>[] = [];
  return {
    publishedPredictions,
    publishedReviews,
    setModel: (next) => (current = next),
    deps: {
      score,
      model: () => current,
      publishPredictions: (events) => publishedPredictions.push(...events),
      publisherStatus: () => ({ buffered: 0, capacity: 10, kafkaAvailable: true, dropped: 0 }),
      publishReviews: async (events) => {
        publishedReviews.push(...events);
      },
      kafkaConnected: () => true,
      metrics: createMetricsRegistry('gateway-test'),
      limits: { maxTexts: 8, maxTextBytes: 1_000, maxReviewsInFlight: 1_000 },
      modelName: 'sentiment',
      security: testSecurity(),
    },
  };
}
