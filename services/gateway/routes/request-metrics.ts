/**
 * Per-request observability for every route: `gateway_requests_total{route,status}`,
 * `gateway_request_duration_seconds{route}` and one debug log line per request (who asked,
 * what the answer was: `request.principal`, which the security plugin sets). Requests that
 * match no route count as route "unknown", so clients cannot add label values.
 *
 * Shared through fastify-plugin: its onResponse hook must run for the routes of the sibling
 * plugins registered after it, which an encapsulated hook would not.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Histogram, type Registry } from 'prom-client';

export interface RequestMetricsOptions {
  /** Where the request metrics are registered (the one /metrics serves). */
  readonly metrics: Registry;
}

async function requestMetrics(app: FastifyInstance, options: RequestMetricsOptions) {
  const requests = new Counter({
    name: 'gateway_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['route', 'status'],
    registers: [options.metrics],
  });
  const duration = new Histogram({
    name: 'gateway_request_duration_seconds',
    help: 'Request duration by route',
    labelNames: ['route'],
    buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [options.metrics],
  });
  app.addHook('onResponse', async (request, reply) => {
    // The route's pattern, not the URL: bounded label values.
    const route = request.routeOptions.url ?? 'unknown';
    requests.inc({ route, status: String(reply.statusCode) });
    duration.observe({ route }, reply.elapsedTime / 1000);
    // Two info lines per request filled disks; requests are logged at debug level instead.
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
}

export const requestMetricsPlugin = fp(requestMetrics, {
  name: 'gateway-request-metrics',
  fastify: '5.x',
});
