/**
 * A minimal HTTP endpoint for consumer services: Prometheus `/metrics`, liveness `/health`
 * and readiness `/ready` (200 when every check passes, else 503 with the failing checks).
 * The gateway serves the same paths from Fastify instead.
 */
import { type Server, createServer } from 'node:http';
import type { Registry } from 'prom-client';

export type ReadinessChecks = () => Record<string, boolean>;

export function startOpsServer(
  registry: Registry,
  readiness: ReadinessChecks,
  port: number,
  host = '127.0.0.1',
): Promise<Server> {
  const server = createServer((request, response) => {
    void (async () => {
      if (request.url === '/metrics') {
        response.writeHead(200, { 'content-type': registry.contentType });
        response.end(await registry.metrics());
      } else if (request.url === '/health') {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end('{"status":"ok"}');
      } else if (request.url === '/ready') {
        const checks = readiness();
        const ready = Object.values(checks).every(Boolean);
        response.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ ready, checks }));
      } else {
        response.writeHead(404, { 'content-type': 'application/json' });
        response.end('{"error":"not found"}');
      }
    })().catch((error: unknown) => {
      response.writeHead(500);
      response.end(String(error));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
