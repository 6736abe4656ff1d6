/**
 * Operations endpoints, for orchestrators and Prometheus rather than clients:
 *   GET /health   liveness: the process answers (always 200 {status: "ok"}).
 *   GET /ready    readiness: 200 when a model is loaded, Kafka is connected and the
 *                 publisher can send, its buffer has room, and every other part the service
 *                 names (`parts`) is ready; 503 otherwise, with each check.
 *   GET /metrics  Prometheus text; loopback clients and admin keys (scope `metrics`,
 *                 security.ts); left out of the OpenAPI document.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Registry } from 'prom-client';
import type { ModelInfo } from '#domain/model';
import type { PublisherStatus } from '../publisher.ts';
import { errorSchema } from './errors.ts';

export interface OpsRoutesOptions {
  /** The serving model, or undefined while none is loaded. */
  readonly model: () => ModelInfo | undefined;
  readonly kafkaConnected: () => boolean;
  readonly publisherStatus: () => PublisherStatus;
  /** The service's other readiness parts, merged into the checks. */
  readonly parts?: () => Promise<{ readonly checks: Record<string, boolean> }>;
  /** What /metrics serves. */
  readonly metrics: Registry;
}

const readySchema = {
  type: 'object',
  properties: {
    ready: { type: 'boolean' },
    checks: { type: 'object', additionalProperties: { type: 'boolean' } },
    publisher: { type: 'object', additionalProperties: true },
    model: { type: ['string', 'null'] },
  },
} as const;

async function opsRoutesPlugin(app: FastifyInstance, options: OpsRoutesOptions) {
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

  app.get(
    '/ready',
    {
      schema: {
        summary: 'Readiness',
        response: { 200: readySchema, 400: errorSchema, 503: readySchema },
      },
    },
    async (_request, reply) => {
      const publisher = options.publisherStatus();
      const checks = {
        model: options.model() !== undefined,
        kafka: options.kafkaConnected() && publisher.kafkaAvailable,
        publishBuffer: publisher.buffered < publisher.capacity,
        ...(options.parts ? (await options.parts()).checks : {}),
      };
      const ready = Object.values(checks).every(Boolean);
      return reply
        .status(ready ? 200 : 503)
        .send({ ready, checks, publisher, model: options.model()?.version ?? null });
    },
  );

  app.get(
    '/metrics',
    { config: { scope: 'metrics' }, schema: { hide: true } },
    async (_request, reply) =>
      reply.type(options.metrics.contentType).send(await options.metrics.metrics()),
  );
}

/** Encapsulated; refuses to load without gateway-security, which guards /metrics. */
export const opsRoutes = fp(opsRoutesPlugin, {
  name: 'gateway-ops-routes',
  fastify: '5.x',
  encapsulate: true,
  dependencies: ['gateway-security', 'gateway-errors'],
});
