/**
 * GET /v1/model: the serving model (name, version, labels, max_length, hidden_size), or 503
 * MODEL_NOT_READY while none is loaded. Needs scope `predict`; not rate limited.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { ModelInfo } from '#domain/model';
import { apiKeySecurity } from './docs.ts';
import { errorResponses, sendError } from './errors.ts';

export interface ModelRoutesOptions {
  /** The serving model, or undefined while none is loaded. */
  readonly model: () => ModelInfo | undefined;
}

async function modelRoutesPlugin(app: FastifyInstance, options: ModelRoutesOptions) {
  app.get(
    '/v1/model',
    {
      config: { scope: 'predict' },
      schema: {
        summary: 'The serving model',
        security: apiKeySecurity(),
        response: {
          ...errorResponses(400, 401, 403, 429, 503),
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
      const model = options.model();
      if (!model) return sendError(reply, 503, 'MODEL_NOT_READY', 'no model loaded yet');
      return {
        name: model.name,
        version: model.version,
        labels: model.labels,
        max_length: model.maxLength,
        hidden_size: model.hiddenSize,
      };
    },
  );
}

/** Encapsulated; refuses to load without gateway-security, which enforces its scope. */
export const modelRoutes = fp(modelRoutesPlugin, {
  name: 'gateway-model-routes',
  fastify: '5.x',
  encapsulate: true,
  dependencies: ['gateway-security', 'gateway-errors'],
});
