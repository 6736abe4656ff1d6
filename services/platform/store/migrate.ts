/**
 * Versioned migrations: `infra/clickhouse/migrations/NNNN_name.sql`, applied in order, once,
 * recorded in `schema_migrations` with a checksum (a changed applied file is an error: add a
 * new migration instead). Idempotent: running it again applies nothing.
 *
 * Two modes (`CLICKHOUSE_MIGRATIONS`): `apply` (default; the local stack and tests, where one
 * account does everything) creates and alters; `verify` only reads `schema_migrations` and
 * fails with MIGRATION_PENDING if a migration is missing, so a service can run as a user with
 * no DDL rights (docker-compose: the init applies them as the owner account, the services
 * verify with their least-privilege users).
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { AppError, type Logger, PACKAGE_ROOT, describeError } from '#platform/common';
import { type ClickHouseSettings, createClickHouse } from './clickhouse.ts';
import { identifier } from './sql.ts';

/** Shipped with the code (the build copies them beside it; see common/paths.ts). */
export const MIGRATIONS_DIR = join(PACKAGE_ROOT, 'infra/clickhouse/migrations');

export class MigrationError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('MIGRATION_FAILED', message, options);
  }
}

export interface Migration {
  readonly version: string;
  readonly name: string;
  readonly checksum: string;
  readonly statements: readonly string[];
}

/** Splits a migration file into statements (on `;` at line ends; `--` comments dropped). */
export function parseMigration(file: string, text: string): Migration {
  const match = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
  if (!match) throw new MigrationError(`migration file name ${file} must look like 0001_name.sql`);
  const statements = text
    .split('\n')
    .filter((line) => !line.trim().startsWith('--'))
    .join('\n')
    .split(/;\s*(?:\n|$)/)
    .map((statement) => statement.trim())
    .filter(Boolean);
  return {
    version: match[1]!,
    name: match[2]!,
    checksum: createHash('sha256').update(text).digest('hex'),
    statements,
  };
}

export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .sort()
    .map((file) => parseMigration(file, readFileSync(join(dir, file), 'utf8')));
}

/** Some migrations are not applied and this process may only verify (retriable: the owner's
 * account applies them, then a restart finds them). */
export class MigrationPendingError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('MIGRATION_PENDING', message, { ...options, retriable: true });
  }
}

/**
 * `apply`: creates the database if needed and applies pending migrations; returns what it
 * applied. `verify`: checks that every migration is applied unchanged; returns [].
 */
export async function migrate(
  settings: ClickHouseSettings & { readonly clickhouseDatabase: string },
  logger: Logger,
  migrations: readonly Migration[] = loadMigrations(),
): Promise<string[]> {
  const db = identifier(settings.clickhouseDatabase);
  if (settings.clickhouseMigrations === 'verify') {
    const client = createClickHouse(settings);
    try {
      await verifyApplied(client, db, migrations);
      return [];
    } finally {
      await client.close();
    }
  }
  const server = createClickHouse(settings, { database: false });
  try {
    await server.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}` });
  } finally {
    await server.close();
  }
  const admin = createClickHouse(settings);
  try {
    return await applyPending(admin, db, logger, migrations);
  } finally {
    await admin.close();
  }
}

async function appliedChecksums(
  client: ReturnType<typeof createClickHouse>,
  db: string,
): Promise<Map<string, string>> {
  const result = await client.query({
    query: `SELECT version, checksum FROM ${db}.schema_migrations`,
    format: 'JSONEachRow',
  });
  return new Map(
    (await result.json<{ version: string; checksum: string }>()).map((row) => [
      row.version,
      row.checksum,
    ]),
  );
}

/**
 * Earlier texts of released migrations that some servers applied, by version: their checksums
 * still count as "applied unchanged". Only for edits after which what the old text created is
 * still right on the server that applied it (SQL made valid on another ClickHouse version);
 * a change of schema or results is a new migration, never an entry here.
 */
export const EARLIER_CHECKSUMS: Readonly<Record<string, readonly string[]>> = {
  // 0004: model_timeline's joined subqueries gained aliases, which current ClickHouse
  // requires (ALIAS_REQUIRED); on 18.16 the view the old text created is the same view.
  '0004': ['91add43110edbbf587be9a1c5b436ee52aca278dd616be4a1dc2e054afd5c520'],
};

/** Whether `checksum` (recorded in schema_migrations) is this migration, applied unchanged. */
function appliedUnchanged(migration: Migration, checksum: string): boolean {
  return (
    checksum === migration.checksum ||
    (EARLIER_CHECKSUMS[migration.version] ?? []).includes(checksum)
  );
}

function changedAfterApplying(migration: Migration): MigrationError {
  return new MigrationError(
    `migration ${migration.version}_${migration.name} changed after it was applied; add a new migration instead`,
  );
}

async function verifyApplied(
  client: ReturnType<typeof createClickHouse>,
  db: string,
  migrations: readonly Migration[],
): Promise<void> {
  let applied: Map<string, string>;
  try {
    applied = await appliedChecksums(client, db);
  } catch (error) {
    throw new MigrationPendingError(
      `cannot read ${db}.schema_migrations (${describeError(error)}): migrations not applied ` +
        'yet, or this user may not read it; apply them as the database owner (CLICKHOUSE_MIGRATIONS=apply)',
      { cause: error },
    );
  }
  const pending: string[] = [];
  for (const migration of migrations) {
    const checksum = applied.get(migration.version);
    if (checksum === undefined) pending.push(`${migration.version}_${migration.name}`);
    else if (!appliedUnchanged(migration, checksum)) throw changedAfterApplying(migration);
  }
  if (pending.length > 0) {
    throw new MigrationPendingError(
      `${pending.length} migration(s) not applied (${pending.join(', ')}); apply them as the ` +
        'database owner (CLICKHOUSE_MIGRATIONS=apply)',
    );
  }
}

/**
 * `apply` mode's work on a client bound to `db` (which must exist): creates
 * `schema_migrations`, applies the pending migrations statement by statement, records them.
 * Exported so that the SQL test on current ClickHouse (tests/support/chdb.ts) applies the
 * migrations exactly this way to an in-process engine.
 */
export async function applyPending(
  admin: ReturnType<typeof createClickHouse>,
  db: string,
  logger: Logger,
  migrations: readonly Migration[],
): Promise<string[]> {
  await admin.command({
    query: `CREATE TABLE IF NOT EXISTS ${db}.schema_migrations
      (version String, name String, checksum String, applied_at DateTime)
      ENGINE = MergeTree() ORDER BY version`,
  });
  const applied = await appliedChecksums(admin, db);
  const done: string[] = [];
  for (const migration of migrations) {
    const previous = applied.get(migration.version);
    if (previous !== undefined) {
      if (!appliedUnchanged(migration, previous)) throw changedAfterApplying(migration);
      continue;
    }
    for (const statement of migration.statements) {
      // Statements name tables unqualified: the client is bound to the project database.
      await admin.command({ query: statement });
    }
    await admin.insert({
      table: `${db}.schema_migrations`,
      values: [
        {
          version: migration.version,
          name: migration.name,
          checksum: migration.checksum,
          applied_at: Math.floor(Date.now() / 1000),
        },
      ],
      format: 'JSONEachRow',
    });
    logger.info({ version: migration.version, name: migration.name }, 'migration applied');
    done.push(`${migration.version}_${migration.name}`);
  }
  return done;
}
