/**
 * The gateway's access controls, as one Fastify plugin registered before the routes:
 *
 * - Authentication: `Authorization: Bearer <key>` or `X-API-Key: <key>` (api-keys.ts). A key
 *   that is presented and refused is 401 even on routes that allow anonymous calls, so a
 *   mistyped key never silently becomes anonymous.
 * - Authorisation: a route names the scope it needs in its config (`{ scope: 'predict' }`);
 *   no key -> 401 API_KEY_REQUIRED, a key without the scope -> 403 SCOPE_MISSING. Anonymous
 *   callers hold `predict` only when `anonymousPredict` is on (the local stack; off by
 *   default). `/metrics` (`{ scope: 'metrics' }`) is open to loopback clients or with an
 *   `admin` key, unless `anonymousMetrics`.
 * - Rate limits (@fastify/rate-limit), per key (its `rateLimitPerMinute`, else the default)
 *   and per client address for anonymous calls: over the limit -> 429 with Retry-After.
 * - Security headers (@fastify/helmet) and CORS (@fastify/cors) closed unless origins are
 *   configured.
 */
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { type ApiKeyRing, type Principal, type Scope, hasScope } from './api-keys.ts';
import { errorBody, sendError } from './routes/errors.ts';

export interface SecurityOptions {
  readonly keys: ApiKeyRing;
  /** Anonymous callers may predict (local stack). Default off. */
  readonly anonymousPredict: boolean;
  /** /metrics open to every client (not only loopback and admin keys). Default off. */
  readonly anonymousMetrics: boolean;
  /** Requests per minute per key without a limit of its own. */
  readonly rateLimitPerMinute: number;
  /** Requests per minute per client address, for anonymous calls. */
  readonly anonymousRateLimitPerMinute: number;
  /** Origins allowed by CORS; empty: no cross-origin access. */
  readonly corsOrigins: readonly string[];
}

/** What a route asks of its caller (route `config.scope`). */
export type RouteScope = Scope | 'metrics';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyContextConfig {
    scope?: RouteScope;
  }
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

function deny(reply: FastifyReply, status: 401 | 403, code: string, message: string) {
  if (status === 401) reply.header('www-authenticate', 'Bearer realm="sentiment-gateway"');
  return sendError(reply, status, code, message);
}

function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string' && header.toLowerCase().startsWith('bearer ')) {
    return header.slice(7).trim();
  }
  const apiKey = request.headers['x-api-key'];
  return typeof apiKey === 'string' ? apiKey.trim() : undefined;
}

async function security(app: FastifyInstance, options: SecurityOptions): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
      },
    },
  });
  await app.register(cors, {
    origin: options.corsOrigins.length > 0 ? [...options.corsOrigins] : false,
    allowedHeaders: ['authorization', 'x-api-key', 'content-type'],
  });
  await app.register(rateLimit, {
    global: false,
    // After authentication (onRequest), so the bucket is the key, not only the address.
    hook: 'preHandler',
    keyGenerator: (request) => request.principal.id,
    max: (request) =>
      request.principal.anonymous
        ? options.anonymousRateLimitPerMinute
        : (request.principal.rateLimitPerMinute ?? options.rateLimitPerMinute),
    timeWindow: 60_000,
    errorResponseBuilder: (_request, context) =>
      errorBody(
        429,
        'RATE_LIMITED',
        `rate limit of ${context.max} requests per minute reached; retry in ${Math.ceil(context.ttl / 1000)} s`,
      ),
  });

  app.decorateRequest('principal', {
    getter() {
      return ANONYMOUS;
    },
  });
  app.addHook('onRequest', async (request, reply) => {
    const key = presentedKey(request);
    let principal: Principal;
    if (key !== undefined) {
      const result = options.keys.authenticate(key);
      if (typeof result === 'string') {
        return deny(reply, 401, 'API_KEY_INVALID', `API key refused (${result})`);
      }
      principal = result;
    } else {
      principal = {
        id: `anonymous:${request.ip}`,
        name: 'anonymous',
        scopes: new Set(options.anonymousPredict ? (['predict'] as const) : []),
        anonymous: true,
      };
    }
    Object.defineProperty(request, 'principal', { value: principal, enumerable: true });
    const scope = request.routeOptions.config.scope;
    if (scope === undefined) return;
    if (scope === 'metrics') {
      if (options.anonymousMetrics || LOOPBACK.has(request.ip) || hasScope(principal, 'admin')) {
        return;
      }
      return deny(
        reply,
        principal.anonymous ? 401 : 403,
        principal.anonymous ? 'API_KEY_REQUIRED' : 'SCOPE_MISSING',
        '/metrics needs an admin key off the host',
      );
    }
    if (hasScope(principal, scope)) return;
    if (principal.anonymous) {
      return deny(
        reply,
        401,
        'API_KEY_REQUIRED',
        `this route needs an API key with scope ${scope}`,
      );
    }
    return deny(reply, 403, 'SCOPE_MISSING', `API key ${principal.id} lacks scope ${scope}`);
  });
}

const ANONYMOUS: Principal = {
  id: 'anonymous',
  name: 'anonymous',
  scopes: new Set(),
  anonymous: true,
};

export const securityPlugin = fp(security, { name: 'gateway-security', fastify: '5.x' });

/** Route option: the per-key rate limit applies to this route. */
export const RATE_LIMITED = { rateLimit: {} } as const;
