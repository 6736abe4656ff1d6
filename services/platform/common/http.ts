/**
 * A minimal HTTP endpoint for consumer services: Prometheus `/metrics`, liveness `/health`
 * and readiness `/ready` (200 when every check passes, else 503 with each check's result).
 * The gateway serves the same paths from Fastify instead, with the same readiness.
 */
import { type Server, createServer } from 'node:http';
import type { Registry } from 'prom-client';

/**
 * One part a service needs, asked whether it works now: a consumer running, ClickHouse
 * answering, the model loaded, leader election joined. Never a constant. A probe that
 * throws, or does not answer within READINESS_PROBE_TIMEOUT_MS, counts as not ready.
 */
export type ReadinessProbe = () => boolean | Promise<boolean>;
export type ReadinessChecks = Readonly<Record<string, ReadinessProbe>>;

export interface Readiness {
  readonly ready: boolean;
  readonly checks: Record<string, boolean>;
}

export const READINESS_PROBE_TIMEOUT_MS = 2_000;

/** Runs every probe at once, each bounded by the timeout. */
export async function evaluateReadiness(
  checks: ReadinessChecks,
  timeoutMs = READINESS_PROBE_TIMEOUT_MS,
): Promise<Readiness> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, probe]) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      try {
        return [name, await Promise.race([Promise.resolve(probe()), late])] as const;
      } catch {
        return [name, false] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const results = Object.fromEntries(entries);
  return { ready: entries.every(([, ok]) => ok), checks: results };
}

export function startOpsServer(
  registry: Registry,
  readiness: () => Promise<Readiness>,
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
        const result = await readiness();
        response.writeHead(result.ready ? 200 : 503, { 'content-type': 'application/json' });
        response.end(JSON.stringify(result));
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
