/**
 * Bulk inserts in RowBinary over ClickHouse's HTTP interface (`@clickhouse/client` inserts
 * JSON or text formats only): `POST /?database=..&query=INSERT INTO t (cols) FORMAT RowBinary`
 * with the rows as the body, on kept-alive connections. Works on 18.16 and current servers.
 *
 * Failures, classified for the consumer runner:
 *   connection refused/reset, timeout, 502/503/504  -> DependencyUnavailableError (retriable)
 *   server overloaded (too many parts, memory, too many queries, timeout exceeded)
 *                                                    -> ClickHouseInsertError, retriable
 *   anything else the server refuses (the data, the query)
 *                                                    -> ClickHouseInsertError, not retriable
 */
import { Agent, request } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { AppError, DependencyUnavailableError, describeError } from '#platform/common';
import type { ClickHouseSettings } from './clickhouse.ts';
import { identifier } from './sql.ts';

/** ClickHouse answered an insert with an error. `serverCode` is its numeric error code. */
export class ClickHouseInsertError extends AppError {
  readonly status: number;
  readonly serverCode: number | undefined;

  constructor(status: number, body: string) {
    const serverCode = parseServerCode(body);
    super(
      'CLICKHOUSE_INSERT_REFUSED',
      `ClickHouse refused the insert (HTTP ${status}): ${body.trim().slice(0, 1_000)}`,
      { retriable: serverCode !== undefined && OVERLOAD_CODES.has(serverCode) },
    );
    this.status = status;
    this.serverCode = serverCode;
  }
}

/** Server error codes that mean "not now" rather than "not this data". */
const OVERLOAD_CODES = new Set([
  159, // TIMEOUT_EXCEEDED
  202, // TOO_MANY_SIMULTANEOUS_QUERIES
  241, // MEMORY_LIMIT_EXCEEDED
  252, // TOO_MANY_PARTS
]);

export function parseServerCode(body: string): number | undefined {
  const match = /^Code: (\d+)/.exec(body.trimStart());
  return match ? Number(match[1]) : undefined;
}

export interface RowBinaryInserter {
  /** Inserts the rows in `chunks` (RowBinary, whole rows each) as one INSERT. */
  insert(table: string, columns: readonly string[], chunks: readonly Buffer[]): Promise<void>;
  close(): Promise<void>;
}

export function createRowBinaryInserter(
  settings: ClickHouseSettings,
  options: { timeoutMs?: number } = {},
): RowBinaryInserter {
  const url = new URL(settings.clickhouseUrl);
  const https = url.protocol === 'https:';
  const agent = https
    ? new HttpsAgent({ keepAlive: true, maxSockets: 4 })
    : new Agent({ keepAlive: true, maxSockets: 4 });
  const send = https ? httpsRequest : request;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const authorization = `Basic ${Buffer.from(
    `${settings.clickhouseUser}:${settings.clickhousePassword}`,
  ).toString('base64')}`;

  const attempt = (path: string, chunks: readonly Buffer[], length: number) =>
    new Promise<void>((resolve, reject) => {
      const req = send(
        url,
        {
          agent,
          method: 'POST',
          path,
          headers: {
            authorization,
            'content-type': 'application/octet-stream',
            'content-length': String(length),
          },
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (part: Buffer) => parts.push(part));
          res.on('error', reject);
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) return resolve();
            const body = Buffer.concat(parts).toString('utf8');
            if (status === 502 || status === 503 || status === 504) {
              return reject(
                new DependencyUnavailableError(
                  'clickhouse',
                  `HTTP ${status}: ${body.slice(0, 200)}`,
                ),
              );
            }
            reject(new ClickHouseInsertError(status, body));
          });
        },
      );
      req.setTimeout(timeoutMs, () =>
        req.destroy(new RequestTimeoutError(`no answer within ${timeoutMs} ms`)),
      );
      req.on('error', (error) => reject(Object.assign(error, { reusedSocket: req.reusedSocket })));
      for (const chunk of chunks) req.write(chunk);
      req.end();
    });

  return {
    async insert(table, columns, chunks) {
      const query = `INSERT INTO ${identifier(table)} (${columns.map(identifier).join(', ')}) FORMAT RowBinary`;
      const params = new URLSearchParams({ query });
      if (settings.clickhouseDatabase) params.set('database', settings.clickhouseDatabase);
      const path = `${url.pathname.replace(/\/$/, '')}/?${params.toString()}`;
      const length = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
      try {
        await attempt(path, chunks, length);
      } catch (error) {
        // A kept-alive connection the server closed meanwhile: one immediate retry on a new
        // one (nothing was inserted, the server never read the request).
        if (isStaleSocket(error)) {
          try {
            await attempt(path, chunks, length);
          } catch (retryError) {
            throw classify(retryError);
          }
          return;
        }
        throw classify(error);
      }
    },
    async close() {
      agent.destroy();
    },
  };
}

class RequestTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
}

function isStaleSocket(error: unknown): boolean {
  const { code, reusedSocket } = (error ?? {}) as { code?: unknown; reusedSocket?: unknown };
  return reusedSocket === true && (code === 'ECONNRESET' || code === 'EPIPE');
}

function classify(error: unknown): unknown {
  if (error instanceof AppError) return error;
  return new DependencyUnavailableError('clickhouse', describeError(error), { cause: error });
}
