/** Gateway dependencies for app.inject tests. */
import { createMetricsRegistry } from '#shared/common';
import type { OutgoingEvent } from '#shared/kafka';
import type { ModelInfo, ScoredBatch } from '#shared/model';
import type { GatewayDeps } from '../../services/gateway/app.ts';

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
      limits: { maxTexts: 8, maxTextBytes: 1_000 },
      modelName: 'sentiment',
    },
  };
}
