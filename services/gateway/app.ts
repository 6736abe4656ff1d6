/**
 * The gateway's HTTP API, built without listening (`buildApp(deps)`; tests use `inject`).
 *   POST /v1/predict   {texts: string[], return_embedding?: boolean} -> one result per text
 *   POST /v1/reviews   {reviews: [{text, source?, review_id?, ground_truth?}]} -> 202 {ids}
 *   GET  /v1/model, /health (liveness), /ready (model loaded and Kafka connected),
 *        /metrics (Prometheus), /docs (OpenAPI)
 *   /console/ and /v1/console/* when the console is configured (routes/console*.ts)
 *
 * This module owns the server options (body limit, schema validation, logging, the raw 400
 * for malformed HTTP) and the composition; each concern is a plugin of its own:
 *   routes/request-metrics.ts  request counters, durations, debug log line  (shared, fp)
 *   routes/errors.ts           the error shape and the error handler          (shared, fp)
 *   routes/docs.ts             the OpenAPI document and /docs                 (shared, fp)
 *   security.ts                API keys, scopes, rate limits, helmet, CORS    (shared, fp)
 *   routes/predict.ts, reviews.ts, model.ts, ops.ts: the routes              (encapsulated)
 * The shared plugins come first, in the order the routes have always seen them: a route takes
 * the error handler, and is seen by the OpenAPI and rate-limit onRoute hooks, only if they are
 * in place when it is registered. The route plugins' order is the OpenAPI document's order.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '#platform/common';
import type { OutgoingEvent } from '#platform/kafka';
import type { ModelInfo, ScoredBatch } from '#domain/model';
import type { PublisherStatus } from './publisher.ts';
import { openApiPlugin } from './routes/docs.ts';
import { consoleAssetsRoutes } from './routes/console.ts';
import { type ConsoleSources, consoleApiRoutes } from './routes/console-api.ts';
import { clientErrorHandler, errorHandlerPlugin } from './routes/errors.ts';
import { modelRoutes } from './routes/model.ts';
import { opsRoutes } from './routes/ops.ts';
import { type PredictRoutesOptions, predictRoutes } from './routes/predict.ts';
import { requestMetricsPlugin } from './routes/request-metrics.ts';
import { reviewsRoutes } from './routes/reviews.ts';
import type { TextLimits } from './routes/texts.ts';
import { type SecurityOptions, securityPlugin } from './security.ts';

export interface GatewayLimits extends TextLimits {
  /** Reviews accepted but not yet acknowledged by Kafka; beyond: 503 with Retry-After. */
  readonly maxReviewsInFlight: number;
  /**
   * Texts waiting for or in the model; beyond, /v1/predict sheds load with 503 and
   * Retry-After instead of queueing without bound (memory and latency). Default unbounded.
   */
  readonly maxTextsInFlight?: number;
}

export interface GatewayDeps {
  /** Scores texts with production. */
  readonly score: (texts: readonly string[]) => Promise<ScoredBatch>;
  /** The canary serving now and its share (routes/predict.ts); absent: never a canary. */
  readonly canary?: PredictRoutesOptions['canary'];
  /** Shadow scoring by the candidate in SHADOW (routes/predict.ts); absent: no shadow. */
  readonly shadow?: PredictRoutesOptions['shadow'];
  /** The serving model, or undefined while none is loaded. */
  readonly model: () => ModelInfo | undefined;
  readonly publishPredictions: (events: readonly OutgoingEvent<'predictions'>[]) => number;
  readonly publisherStatus: () => PublisherStatus;
  /** Awaits the broker's acknowledgement (the async path promises durability). */
  readonly publishReviews: (events: readonly OutgoingEvent<'reviews'>[]) => Promise<void>;
  readonly kafkaConnected: () => boolean;
  /**
   * The service's other readiness parts (main.ts: ServiceOps probes such as the model
   * worker and the deployments consumer), merged into /ready's checks; none by default.
   */
  readonly readiness?: () => Promise<{ readonly checks: Record<string, boolean> }>;
  readonly metrics: Registry;
  readonly limits: GatewayLimits;
  readonly security: SecurityOptions;
  /** Name the predictions carry: the model name this gateway serves. */
  readonly modelName: string;
  readonly logger?: Logger;
  readonly now?: () => number;
  /** The web console (its API and assets); absent: no console routes. */
  readonly console?: {
    readonly sources: ConsoleSources;
    /** Folder of the built console (index.html, assets/). */
    readonly assetsDir: string;
  };
}

export async function buildApp(deps: GatewayDeps): Promise<FastifyInstance> {
  const { limits, metrics } = deps;
  const now = deps.now ?? Date.now;
  const app: FastifyInstance = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger as FastifyBaseLogger } : {}),
    // Room for maxTexts texts of maxTextBytes each, JSON-escaped; larger bodies get 413.
    bodyLimit: limits.maxTexts * limits.maxTextBytes * 2 + 64 * 1024,
    // No type coercion: a number where a string belongs is a 400, not silently "42".
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: true } },
    // Two info lines per request filled disks; requests are logged at debug level instead.
    logController: new LogController({ disableRequestLogging: true }),
    clientErrorHandler,
  });

  await app.register(requestMetricsPlugin, { metrics });
  await app.register(errorHandlerPlugin);
  await app.register(openApiPlugin);
  await app.register(securityPlugin, deps.security);

  await app.register(predictRoutes, {
    score: deps.score,
    ...(deps.canary ? { canary: deps.canary } : {}),
    ...(deps.shadow ? { shadow: deps.shadow } : {}),
    model: deps.model,
    publishPredictions: deps.publishPredictions,
    modelName: deps.modelName,
    limits,
    maxTextsInFlight: limits.maxTextsInFlight,
    metrics,
    now,
  });
  await app.register(reviewsRoutes, {
    publishReviews: deps.publishReviews,
    limits,
    maxReviewsInFlight: limits.maxReviewsInFlight,
    now,
  });
  await app.register(modelRoutes, { model: deps.model });
  await app.register(opsRoutes, {
    model: deps.model,
    kafkaConnected: deps.kafkaConnected,
    publisherStatus: deps.publisherStatus,
    ...(deps.readiness ? { parts: deps.readiness } : {}),
    metrics,
  });
  if (deps.console) {
    await app.register(consoleApiRoutes, deps.console.sources);
    await app.register(consoleAssetsRoutes, { assetsDir: deps.console.assetsDir });
  }
  return app;
}
