/**
 * The gateway's HTTP API, built without listening (`buildApp(deps)`; tests use `inject`).
 *   POST /v1/predict   {texts: string[], return_embedding?: boolean} -> one result per text
 *   POST /v1/reviews   {reviews: [{text, source?, review_id?, ground_truth?}]} -> 202 {ids}
 *   GET  /v1/model, /health (liveness), /ready (model loaded and Kafka connected),
 *        /metrics (Prometheus), /docs (OpenAPI)
 * Access (security.ts): API keys with scopes (predict: /v1/predict and /v1/model; submit:
 * /v1/reviews; label: reviews with ground_truth; admin: all), per-key rate limits (429 with
 * Retry-After), helmet headers, CORS closed unless configured.
 * Every invalid request gets 4xx with a reason: texts follow the rule inference applies
 * (#shared/scoring checkText), so what is accepted here can be scored there. Scoring runs in
 * the model worker thread.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from 'fastify';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Logger } from '#shared/common';
import type { OutgoingEvent } from '#shared/kafka';
import type { ModelInfo, ScoredBatch } from '#shared/model';
import type { Sentiment } from '#shared/serde';
import { checkText, toPrediction } from '#shared/scoring';
import { hasScope } from './api-keys.ts';
import type { PublisherStatus } from './publisher.ts';
import { RATE_LIMITED, type SecurityOptions, securityPlugin } from './security.ts';

export interface GatewayLimits {
  /** Texts per /v1/predict request (and reviews per /v1/reviews request). */
  readonly maxTexts: number;
  /** UTF-8 bytes per text. */
  readonly maxTextBytes: number;
  /** Reviews accepted but not yet acknowledged by Kafka; beyond: 503 with Retry-After. */
  readonly maxReviewsInFlight: number;
  /**
   * Texts waiting for or in the model; beyond, /v1/predict sheds load with 503 and
   * Retry-After instead of queueing without bound (memory and latency). Default unbounded.
   */
  readonly maxTextsInFlight?: number;
}

export interface GatewayDeps {
  readonly score: (texts: readonly string[]) => Promise<ScoredBatch>;
  /** The serving model, or undefined while none is loaded. */
  readonly model: () => ModelInfo | undefined;
  readonly publishPredictions: (events: readonly OutgoingEvent<'predictions'>[]) => number;
  readonly publisherStatus: () => PublisherStatus;
  /** Awaits the broker's acknowledgement (the async path promises durability). */
  readonly publishReviews: (events: readonly OutgoingEvent<'reviews'>[]) => Promise<void>;
  readonly kafkaConnected: () => boolean;
  readonly metrics: Registry;
  readonly limits: GatewayLimits;
  readonly security: SecurityOptions;
  /** Name the predictions carry: the model name this gateway serves. */
  readonly modelName: string;
  readonly logger?: Logger;
  readonly now?: () => number;
}

interface PredictBody {
  texts: string[];
  return_embedding?: boolean;
}

interface ReviewsBody {
  reviews: { text: string; source?: string; review_id?: string; ground_truth?: Sentiment }[];
}

function badRequest(message: string, code = 'BAD_REQUEST'): FastifyError {
  return Object.assign(new Error(message), { statusCode: 400, code }) as FastifyError;
}

function checkTexts(texts: readonly string[], limits: GatewayLimits, path: string): void {
  texts.forEach((text, index) => {
    const problem = checkText(text, limits.maxTextBytes);
    if (problem) throw badRequest(`${path}[${index}]: ${problem.message}`, problem.code);
  });
}

export async function buildApp(deps: GatewayDeps): Promise<FastifyInstance> {
  const { limits } = deps;
  const now = deps.now ?? Date.now;
  const app: FastifyInstance = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger as FastifyBaseLogger } : {}),
    // Room for maxTexts texts of maxTextBytes each, JSON-escaped; larger bodies get 413.
    bodyLimit: limits.maxTexts * limits.maxTextBytes * 2 + 64 * 1024,
    // No type coercion: a number where a string belongs is a 400, not silently "42".
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: true } },
    // Two info lines per request filled disks; requests are logged at debug level instead.
    logController: new LogController({ disableRequestLogging: true }),
    // A request Node's HTTP parser refuses (bad header, bad framing) gets the same JSON error
    // body as every other 400, not Fastify's bare "Client Error".
    clientErrorHandler: (error, socket) => {
      if (!socket.writable) return socket.destroy(error);
      const body = JSON.stringify({
        statusCode: 400,
        error: 'Bad Request',
        code: 'BAD_REQUEST',
        message: 'malformed HTTP request',
      });
      socket.end(
        'HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\n' +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    },
  });

  const requests = new Counter({
    name: 'gateway_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['route', 'status'],
    registers: [deps.metrics],
  });
  const textsScored = new Counter({
    name: 'gateway_texts_scored_total',
    help: 'Texts scored synchronously',
    registers: [deps.metrics],
  });
  const duration = new Histogram({
    name: 'gateway_request_duration_seconds',
    help: 'Request duration by route',
    labelNames: ['route'],
    buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [deps.metrics],
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unknown';
    requests.inc({ route, status: String(reply.statusCode) });
    duration.observe({ route }, reply.elapsedTime / 1000);
    request.log.debug(
      {
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        ms: reply.elapsedTime,
        principal: request.principal.id,
      },
      'request',
    );
  });

  app.setErrorHandler((error: FastifyError, _request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 500) deps.logger?.error({ err: error }, 'request failed');
    return reply.status(status).send({
      statusCode: status,
      error: STATUS_CODES[status] ?? 'Error',
      code: error.code ?? 'ERROR',
      message: error.validation ? `invalid request: ${error.message}` : error.message,
    });
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Sentiment gateway',
        version: '1.0.0',
        description: 'Synchronous sentiment predictions',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'smk_<id>_<secret>' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  await app.register(securityPlugin, deps.security);
  let reviewsInFlight = 0;
  let textsInFlight = 0;
  const overloaded = (reply: FastifyReply, message: string) =>
    reply.status(503).header('retry-after', '1').send({
      statusCode: 503,
      error: 'Service Unavailable',
      code: 'OVERLOADED',
      message,
    });

  // Every answer a client can get is in the OpenAPI document (the fuzzer checks each one).
  const errorSchema = {
    type: 'object',
    required: ['statusCode', 'code', 'message'],
    properties: {
      statusCode: { type: 'integer' },
      error: { type: 'string' },
      code: { type: 'string' },
      message: { type: 'string' },
    },
  } as const;
  const errors = (...statuses: number[]) =>
    Object.fromEntries(statuses.map((status) => [status, errorSchema]));

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

  app.post<{ Body: PredictBody }>(
    '/v1/predict',
    {
      config: { scope: 'predict', ...RATE_LIMITED },
      schema: {
        summary: 'Score one or many texts',
        security: [{ apiKey: [] }],
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
          ...errors(400, 401, 403, 413, 415, 429, 503),
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
      checkTexts(texts, limits, 'texts');
      if (deps.model() === undefined) {
        return reply.status(503).send({
          statusCode: 503,
          error: 'Service Unavailable',
          code: 'MODEL_NOT_READY',
          message: 'no model loaded yet',
        });
      }
      if (textsInFlight + texts.length > (limits.maxTextsInFlight ?? Infinity)) {
        return overloaded(reply, `${textsInFlight} texts are waiting for the model; retry later`);
      }
      const started = performance.now();
      textsInFlight += texts.length;
      let scoredBatch: ScoredBatch;
      try {
        scoredBatch = await deps.score(texts);
      } finally {
        textsInFlight -= texts.length;
      }
      const { model, results } = scoredBatch;
      const latencyMs = performance.now() - started;
      textsScored.inc(texts.length);
      const timestamp = now();
      deps.publishPredictions(
        results.map((scored, index) => {
          const reviewId = `sync-${randomUUID()}`;
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
              { ...model, name: deps.modelName },
              latencyMs / texts.length,
              timestamp,
              randomUUID,
            ),
          };
        }),
      );
      return {
        model: { name: deps.modelName, version: model.version },
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

  app.post<{ Body: ReviewsBody }>(
    '/v1/reviews',
    {
      config: { scope: 'submit', ...RATE_LIMITED },
      schema: {
        summary: 'Publish reviews for asynchronous scoring (answers once Kafka acknowledged them)',
        description: 'Reviews with ground_truth need a key with the label scope.',
        security: [{ apiKey: [] }],
        response: {
          ...errors(400, 401, 403, 413, 415, 429, 503),
          202: {
            type: 'object',
            properties: {
              review_ids: { type: 'array', items: { type: 'string' } },
              event_ids: { type: 'array', items: { type: 'string' } },
            },
          },
        },
        body: {
          type: 'object',
          required: ['reviews'],
          additionalProperties: false,
          properties: {
            reviews: {
              type: 'array',
              minItems: 1,
              maxItems: limits.maxTexts,
              items: {
                type: 'object',
                required: ['text'],
                additionalProperties: false,
                properties: {
                  text: { type: 'string' },
                  source: { type: 'string', minLength: 1, maxLength: 200 },
                  review_id: { type: 'string', minLength: 1, maxLength: 200 },
                  ground_truth: { type: 'string', enum: ['NEGATIVE', 'POSITIVE'] },
                },
              },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const { reviews } = request.body;
      if (
        reviews.some((review) => review.ground_truth !== undefined) &&
        !hasScope(request.principal, 'label')
      ) {
        return reply.status(403).send({
          statusCode: 403,
          error: 'Forbidden',
          code: 'SCOPE_MISSING',
          message: 'reviews with ground_truth need an API key with scope label',
        });
      }
      checkTexts(
        reviews.map((review) => review.text),
        limits,
        'reviews[].text',
      );
      if (reviewsInFlight + reviews.length > limits.maxReviewsInFlight) {
        return reply
          .status(503)
          .header('retry-after', '1')
          .send({
            statusCode: 503,
            error: 'Service Unavailable',
            code: 'OVERLOADED',
            message: `${reviewsInFlight} reviews are waiting for Kafka; retry later`,
          });
      }
      const events = reviews.map((review) => {
        const reviewId = review.review_id ?? randomUUID();
        return {
          key: reviewId,
          value: {
            eventId: randomUUID(),
            eventTime: now(),
            reviewId,
            source: review.source ?? 'gateway',
            text: review.text,
            groundTruth: review.ground_truth ?? null,
            attributes: {},
          },
        };
      });
      reviewsInFlight += events.length;
      try {
        await deps.publishReviews(events);
      } catch (error) {
        deps.logger?.error({ err: error }, 'publishing reviews failed');
        return reply.status(503).header('retry-after', '5').send({
          statusCode: 503,
          error: 'Service Unavailable',
          code: 'KAFKA_UNAVAILABLE',
          message: 'reviews could not be published; retry later',
        });
      } finally {
        reviewsInFlight -= events.length;
      }
      return reply.status(202).send({
        review_ids: events.map((e) => e.value.reviewId),
        event_ids: events.map((e) => e.value.eventId),
      });
    },
  );

  app.get(
    '/v1/model',
    {
      config: { scope: 'predict' },
      schema: {
        summary: 'The serving model',
        security: [{ apiKey: [] }],
        response: {
          400: errorSchema,
          401: errorSchema,
          403: errorSchema,
          429: errorSchema,
          503: errorSchema,
          200: {
            type: 'object',
            properties: {
              name: { type: 'string' },
              version: { type: 'string' },
              labels: { type: 'array', items: { type: 'string' } },
              max_length: { type: 'integer' },
              hidden_size: { type: 'integer' },
            },
          },
        },
      },
    },
    async (_request, reply) => {
      const model = deps.model();
      if (!model)
        return reply.status(503).send({
          statusCode: 503,
          error: 'Service Unavailable',
          code: 'MODEL_NOT_READY',
          message: 'no model loaded yet',
        });
      return {
        name: model.name,
        version: model.version,
        labels: model.labels,
        max_length: model.maxLength,
        hidden_size: model.hiddenSize,
      };
    },
  );

  app.get(
    '/health',
    {
      schema: {
        summary: 'Liveness',
        response: {
          200: { type: 'object', properties: { status: { type: 'string' } } },
          400: errorSchema,
        },
      },
    },
    async () => ({ status: 'ok' }),
  );

  const readySchema = {
    type: 'object',
    properties: {
      ready: { type: 'boolean' },
      checks: { type: 'object', additionalProperties: { type: 'boolean' } },
      publisher: { type: 'object', additionalProperties: true },
      model: { type: ['string', 'null'] },
    },
  } as const;
  app.get(
    '/ready',
    {
      schema: {
        summary: 'Readiness',
        response: { 200: readySchema, 400: errorSchema, 503: readySchema },
      },
    },
    async (_request, reply) => {
      const publisher = deps.publisherStatus();
      const checks = {
        model: deps.model() !== undefined,
        kafka: deps.kafkaConnected() && publisher.kafkaAvailable,
        publishBuffer: publisher.buffered < publisher.capacity,
      };
      const ready = Object.values(checks).every(Boolean);
      return reply
        .status(ready ? 200 : 503)
        .send({ ready, checks, publisher, model: deps.model()?.version ?? null });
    },
  );

  app.get(
    '/metrics',
    { config: { scope: 'metrics' }, schema: { hide: true } },
    async (_request, reply) =>
      reply.type(deps.metrics.contentType).send(await deps.metrics.metrics()),
  );

  return app;
}
