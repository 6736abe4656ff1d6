/**
 * The OpenAPI document (`/docs/json`, `/docs/yaml`) and its UI (`/docs`), built from the
 * routes' own JSON schemas. Owns the document's info and the `apiKey` security scheme that
 * routes name with `security: apiKeySecurity()`.
 *
 * Shared through fastify-plugin: @fastify/swagger collects routes with an onRoute hook, which
 * sees the sibling route plugins only when it sits on the root instance; so it must be
 * registered before them. Routes with `schema.hide` (/metrics) stay out of the document.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * Route schema `security`: the route takes an API key (`Authorization: Bearer`). A new array
 * per route: one shared object would appear in /docs/yaml as a YAML anchor and aliases.
 */
export function apiKeySecurity(): { apiKey: string[] }[] {
  return [{ apiKey: [] }];
}

async function openApi(app: FastifyInstance): Promise<void> {
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
  // staticCSP: the UI's pages get the Content-Security-Policy @fastify/swagger-ui computes for them.
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
}

export const openApiPlugin = fp(openApi, { name: 'gateway-openapi', fastify: '5.x' });
