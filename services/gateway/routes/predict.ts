/**
 * POST /v1/predict {texts: string[], return_embedding?: boolean} -> one result per text.
 *
 * Owns synchronous scoring: the request's schema, the text rule (400), 503 MODEL_NOT_READY
 * while no model is loaded, load shedding past `maxTextsInFlight` (503 OVERLOADED), scoring
 * in the model worker, `gateway_texts_scored_total`, and handing every prediction to the
 * publisher (`predictions` topic) without waiting for Kafka.
 *
 * Which version answers: production, or, while a canary serves, the canary when the stable
 * hash of the request's first review id falls in its share (one request is answered by one
 * version, named in the answer). A candidate in SHADOW scores the same texts after the answer
 * is ready, in its own worker, bounded by the shadow lane (shed first), into
 * `predictions.shadow`; the response never waits for it.
 * Needs scope `predict` and counts against the caller's rate limit (security.ts).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, type Registry } from 'prom-client';
import type { OutgoingEvent } from '#platform/kafka';
import type { ModelInfo, ScoredBatch } from '#domain/model';
import { type ShadowLane, routesToCanary, toPrediction, toShadowPrediction } from '#domain/scoring';
import { RATE_LIMITED } from '../security.ts';
import { apiKeySecurity } from './docs.ts';
import { errorResponses, sendError } from './errors.ts';
import { InFlightLimit, shedLoad } from './load-shedding.ts';
import { type TextLimits, checkTexts } from './texts.ts';

interface Scorer {
  score(texts: readonly string[]): Promise<ScoredBatch>;
}

export interface PredictRoutesOptions {
  /** Scores texts with production (the model worker, through the micro-batcher). */
  readonly score: (texts: readonly string[]) => Promise<ScoredBatch>;
  /** The canary serving now and its share, or undefined (default: never a canary). */
  readonly canary?: () => (Scorer & { readonly trafficShare: number }) | undefined;
  /** Shadow work: the candidate in SHADOW now (or undefined), its lane, its topic. */
  readonly shadow?: {
    readonly scorer: () => Scorer | undefined;
    readonly lane: ShadowLane;
    readonly publish: (events: readonly OutgoingEvent<'predictions.shadow'>[]) => Promise<void>;
  };
  /** The serving model, or undefined while none is loaded. */
  readonly model: () => ModelInfo | undefined;
  /** Queues predictions for Kafka; never waits for it. */
  readonly publishPredictions: (events: readonly OutgoingEvent<'predictions'>[]) => number;
  /** Name the predictions carry: the model name this gateway serves. */
  readonly modelName: string;
  readonly limits: TextLimits;
  /** Texts waiting for or in the model; beyond, 503. Default unbounded. */
  readonly maxTextsInFlight?: number;
  /** Where `gateway_texts_scored_total` is registered. */
  readonly metrics: Registry;
  /** Event time of the predictions. */
  readonly now: () => number;
}

interface PredictBody {
  texts: string[];
  return_embedding?: boolean;
}

const resultSchema = {
  type: 'object',
  properties: {
    label: { type: 'string', enum: ['NEGATIVE', 'POSITIVE'] },
    probabilities: { type: 'object', additionalProperties: { type: 'number' } },
    confidence: { type: 'number' },
    truncated: { type: 'boolean' },
    embedding: { type: 'array', items: { type: 'number' } },
  },
} as const;

async function predictRoutesPlugin(app: FastifyInstance, options: PredictRoutesOptions) {
  const { limits, modelName } = options;
  const textsInFlight = new InFlightLimit(options.maxTextsInFlight);
  const textsScored = new Counter({
    name: 'gateway_texts_scored_total',
    help: 'Texts scored synchronously',
    registers: [options.metrics],
  });

  app.post<{ Body: PredictBody }>(
    '/v1/predict',
    {
      config: { scope: 'predict', ...RATE_LIMITED },
      schema: {
        summary: 'Score one or many texts',
        security: apiKeySecurity(),
        body: {
          type: 'object',
          required: ['texts'],
          additionalProperties: false,
          properties: {
            texts: {
              type: 'array',
              minItems: 1,
              maxItems: limits.maxTexts,
              items: { type: 'string' },
            },
            return_embedding: { type: 'boolean', default: false },
          },
        },
        response: {
          ...errorResponses(400, 401, 403, 413, 415, 429, 503),
          200: {
            type: 'object',
            properties: {
              model: {
                type: 'object',
                properties: { name: { type: 'string' }, version: { type: 'string' } },
              },
              latency_ms: { type: 'number' },
              results: { type: 'array', items: resultSchema },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const { texts, return_embedding: returnEmbedding = false } = request.body;
      checkTexts(texts, limits.maxTextBytes, 'texts');
      if (options.model() === undefined) {
        return sendError(reply, 503, 'MODEL_NOT_READY', 'no model loaded yet');
      }
      if (!textsInFlight.tryAcquire(texts.length)) {
        return shedLoad(
          reply,
          `${textsInFlight.inFlight} texts are waiting for the model; retry later`,
        );
      }
      const reviewIds = texts.map(() => `sync-${randomUUID()}`);
      const canary = options.canary?.();
      const answeredByCanary =
        canary !== undefined && routesToCanary(reviewIds[0]!, canary.trafficShare);
      const shadowScorer = answeredByCanary ? undefined : options.shadow?.scorer();
      const started = performance.now();
      let scoredBatch: ScoredBatch;
      try {
        scoredBatch = answeredByCanary ? await canary.score(texts) : await options.score(texts);
      } finally {
        textsInFlight.release(texts.length);
      }
      const { model, results } = scoredBatch;
      const latencyMs = performance.now() - started;
      textsScored.inc(texts.length);
      const timestamp = options.now();
      const served = results.map((scored, index) => {
        const reviewId = reviewIds[index]!;
        return {
          key: reviewId,
          value: toPrediction(
            {
              reviewId,
              reviewEventId: null,
              source: 'gateway',
              text: texts[index]!,
              groundTruth: null,
              origin: 'SYNC',
            },
            scored,
            { ...model, name: modelName },
            latencyMs / texts.length,
            timestamp,
            randomUUID,
          ),
        };
      });
      options.publishPredictions(served);
      if (shadowScorer && options.shadow) {
        const { lane, publish } = options.shadow;
        lane.offer(served.length, async () => {
          const shadowStarted = performance.now();
          const shadowBatch = await shadowScorer.score(texts);
          const shadowLatencyMs = (performance.now() - shadowStarted) / texts.length;
          const scoredAt = options.now();
          await publish(
            served.map((event, index) => ({
              key: event.key,
              value: toShadowPrediction(
                event.value,
                shadowBatch.results[index]!,
                shadowBatch.model,
                shadowLatencyMs,
                scoredAt,
                randomUUID,
              ),
            })),
          );
        });
      }
      return {
        model: { name: modelName, version: model.version },
        latency_ms: latencyMs,
        results: results.map((scored) => ({
          label: scored.label,
          probabilities: Object.fromEntries(
            model.labels.map((label, index) => [label, scored.probabilities[index] ?? 0]),
          ),
          confidence: scored.confidence,
          truncated: scored.truncated,
          ...(returnEmbedding ? { embedding: Array.from(scored.embedding) } : {}),
        })),
      };
    },
  );
}

/**
 * Encapsulated (its counter and in-flight bound are its own); it refuses to load without the
 * plugins its answers rely on: without gateway-security, `config.scope` would guard nothing.
 */
export const predictRoutes = fp(predictRoutesPlugin, {
  name: 'gateway-predict-routes',
  fastify: '5.x',
  encapsulate: true,
  dependencies: ['gateway-security', 'gateway-errors'],
});
