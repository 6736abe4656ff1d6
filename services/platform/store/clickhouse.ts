/** ClickHouse client construction and error classification (18.16 and current servers). */
import { type ClickHouseClient, createClient } from '@clickhouse/client';
import {
  DependencyUnavailableError,
  describeError,
  enumField,
  stringField,
  urlField,
} from '#platform/common';

export type { ClickHouseClient };

export const clickhouseConfigFields = {
  clickhouseUrl: urlField('CLICKHOUSE_URL', 'ClickHouse HTTP endpoint', {
    default: 'http://127.0.0.1:8123',
  }),
  clickhouseUser: stringField('CLICKHOUSE_USER', 'ClickHouse user', { default: 'default' }),
  clickhousePassword: stringField('CLICKHOUSE_PASSWORD', 'ClickHouse password', {
    default: '',
    secret: true,
  }),
  clickhouseDatabase: stringField('CLICKHOUSE_DATABASE', 'Database of the project tables', {
    default: 'sentiment',
  }),
  clickhouseMigrations: enumField(
    'CLICKHOUSE_MIGRATIONS',
    'At start: apply (create the database, apply pending migrations: needs CREATE and ALTER) ' +
      'or verify (only check that all are applied: SELECT on schema_migrations, for ' +
      'least-privilege service users; docker-compose applies them in its init)',
    ['apply', 'verify'] as const,
    { default: 'apply' },
  ),
};

export type MigrationMode = 'apply' | 'verify';

export interface ClickHouseSettings {
  readonly clickhouseUrl: string;
  readonly clickhouseUser: string;
  readonly clickhousePassword: string;
  readonly clickhouseDatabase?: string;
  /** Default apply (migrate.ts). */
  readonly clickhouseMigrations?: MigrationMode;
}

export function createClickHouse(
  settings: ClickHouseSettings,
  options: { database?: boolean } = {},
): ClickHouseClient {
  return createClient({
    url: settings.clickhouseUrl,
    username: settings.clickhouseUser,
    password: settings.clickhousePassword,
    ...(options.database !== false && settings.clickhouseDatabase
      ? { database: settings.clickhouseDatabase }
      : {}),
    request_timeout: 30_000,
  });
}

const OUTAGE =
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|socket hang up|Timeout error|EHOSTUNREACH|other side closed/i;

/**
 * ClickHouse unreachable (connection refused, reset, timeout) -> DependencyUnavailableError,
 * which consumers retry without limit; anything else (a server error about the data or the
 * query) is returned as is.
 */
export function classifyClickHouseError(error: unknown): unknown {
  const text = `${describeError(error)} ${(error as { code?: unknown } | null)?.code ?? ''}`;
  if (OUTAGE.test(text))
    return new DependencyUnavailableError('clickhouse', describeError(error), { cause: error });
  return error;
}

/**
 * Readiness probe of ClickHouse: its `/ping` answers within `timeoutMs` (a fresh HTTP request
 * each time, so a dead keep-alive connection cannot hide an outage). Answers are reused for
 * `cacheMs`, so frequent `/ready` polling does not become ClickHouse load.
 */
export function clickhouseReachable(
  settings: Pick<ClickHouseSettings, 'clickhouseUrl'>,
  options: { timeoutMs?: number; cacheMs?: number } = {},
): () => Promise<boolean> {
  const timeoutMs = options.timeoutMs ?? 1_500;
  const cacheMs = options.cacheMs ?? 1_000;
  const url = new URL('/ping', settings.clickhouseUrl);
  let last: { at: number; ok: boolean } | undefined;
  return async () => {
    if (last && Date.now() - last.at < cacheMs) return last.ok;
    let ok: boolean;
    try {
      const response = await fetch(url, {
        signal: AbortSignal.timeout(timeoutMs),
        headers: { connection: 'close' },
      });
      ok = response.ok;
      await response.body?.cancel();
    } catch {
      ok = false;
    }
    last = { at: Date.now(), ok };
    return ok;
  };
}
