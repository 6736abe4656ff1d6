/**
 * Current ClickHouse in process (the npm package `chdb`, ClickHouse 26.x), for the test that
 * runs the project's SQL on both the test stack's ClickHouse 18.16 and a current engine
 * (tests/integration/sql-current-clickhouse.test.ts).
 *
 * The store code takes a `@clickhouse/client` client. `chdbClient()` gives it one backed by a
 * chdb session instead, implementing only the calls the store makes (`query` in JSONEachRow,
 * `command`, `insert` in JSONEachRow): any other use throws, so the adapter can never make
 * the store's SQL look as if it ran when it did not.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'chdb';
import { createLogger } from '#platform/common';
import {
  type ClickHouseClient,
  type Migration,
  applyPending,
  identifier,
  loadMigrations,
} from '#platform/store';

export type JsonRow = Record<string, unknown>;

/** JSONEachRow text -> rows. */
function parseEachRow<T>(text: string): T[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}

interface QueryCall {
  readonly query: string;
  readonly format?: string;
  readonly query_params?: unknown;
  readonly clickhouse_settings?: unknown;
}

interface InsertCall {
  readonly table: string;
  readonly values: readonly unknown[];
  readonly format?: string;
  readonly columns?: unknown;
  readonly clickhouse_settings?: unknown;
}

/** A ClickHouse database in a chdb session of its own, in a temporary directory. */
export class ChdbDatabase {
  readonly database: string;
  private readonly dir: string;
  private readonly session: Session;

  constructor(database: string) {
    this.database = identifier(database);
    this.dir = mkdtempSync(join(tmpdir(), 'sql-current-clickhouse-'));
    this.session = new Session(this.dir);
  }

  /** The engine's version, e.g. 26.7.2.1. */
  version(): string {
    return this.session.query('SELECT version()', 'TabSeparated').trim();
  }

  /** Runs a statement whose output (if any) is not needed. */
  async execute(sql: string): Promise<void> {
    await this.session.queryAsync(sql, { format: 'TabSeparated' });
  }

  /** Runs a query and returns its answer in the JSON format (`meta`, `data`, ...). */
  async result<T>(sql: string): Promise<T> {
    const result = await this.session.queryAsync(sql, { format: 'JSON' });
    return JSON.parse(result.text()) as T;
  }

  /** Runs a query and returns its rows as JSONEachRow gives them. */
  async rows<T = JsonRow>(sql: string): Promise<T[]> {
    const result = await this.session.queryAsync(sql, { format: 'JSONEachRow' });
    return parseEachRow<T>(result.text());
  }

  /**
   * Applies the project's migrations the way `migrate()` does in `apply` mode: the database
   * created if missing, then `applyPending` (the same function) on a client bound to it.
   */
  async migrate(migrations: readonly Migration[] = loadMigrations()): Promise<string[]> {
    await this.execute(`CREATE DATABASE IF NOT EXISTS ${this.database}`);
    // The session's current database stands for the HTTP client's `database` binding: the
    // migrations and the store's queries name their tables unqualified.
    await this.execute(`USE ${this.database}`);
    return applyPending(
      this.client(),
      this.database,
      createLogger('sql-current-clickhouse', 'fatal'),
      migrations,
    );
  }

  /** A `ClickHouseClient` for the store code, bound to this database (see the module comment). */
  client(): ClickHouseClient {
    const refuseExtras = (call: QueryCall | InsertCall): void => {
      const extras = Object.entries(call).filter(
        ([key, value]) =>
          !['query', 'format', 'table', 'values'].includes(key) &&
          value !== undefined &&
          value !== null,
      );
      if (extras.length > 0)
        throw new Error(
          `chdb adapter: unsupported parameters ${extras.map(([key]) => key).join(', ')}`,
        );
    };
    const calls = {
      query: async (call: QueryCall) => {
        refuseExtras(call);
        if (call.format !== 'JSONEachRow')
          throw new Error(`chdb adapter: query format ${String(call.format)} not supported`);
        const rows = await this.rows(call.query);
        return {
          json: <T>(): Promise<T[]> => Promise.resolve(rows as T[]),
        };
      },
      command: async (call: QueryCall) => {
        refuseExtras(call);
        await this.execute(call.query);
        return { query_id: '' };
      },
      insert: async (call: InsertCall) => {
        refuseExtras(call);
        if (call.format !== 'JSONEachRow')
          throw new Error(`chdb adapter: insert format ${String(call.format)} not supported`);
        if (call.values.length === 0) return { executed: false, query_id: '' };
        // As @clickhouse/client sends JSONEachRow: one JSON.stringify per row.
        await this.session.insert({
          table: call.table,
          format: 'JSONEachRow',
          values: call.values.map((row) => JSON.stringify(row)).join('\n'),
        });
        return { executed: true, query_id: '' };
      },
      close: (): Promise<void> => Promise.resolve(),
    };
    const adapter = new Proxy(calls, {
      get(target, property) {
        if (typeof property === 'string' && Object.hasOwn(target, property))
          return target[property as keyof typeof target];
        // `then` is probed by `await`, symbols by inspection: answer "absent", not an error.
        if (typeof property === 'symbol' || property === 'then') return undefined;
        throw new Error(`chdb adapter: ClickHouseClient.${property} is not implemented`);
      },
    });
    // The store calls only the members above, with the parameters checked above.
    return adapter as unknown as ClickHouseClient;
  }

  /** Closes the session and removes its directory. */
  close(): void {
    this.session.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
