/**
 * `CLICKHOUSE_MIGRATIONS=verify`: a service that may not create or alter anything still starts
 * once the owner has applied the migrations, and refuses to start (MIGRATION_PENDING, retriable)
 * while they are missing. Shown with the read-only `analyst` account of the test stack, which
 * can run no DDL at all: verify needs nothing but SELECT on schema_migrations.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '#platform/common';
import { MigrationPendingError, createClickHouse, loadMigrations, migrate } from '#platform/store';
import { clickhouseUrl } from '../support/stack.ts';

const database = `verify_${randomUUID().slice(0, 8)}`;
const logger = createLogger('migrations-verify', 'fatal');
const owner = {
  clickhouseUrl: clickhouseUrl(),
  clickhouseUser: 'default',
  clickhousePassword: '',
  clickhouseDatabase: database,
};
const readOnlyService = {
  ...owner,
  clickhouseUser: 'analyst',
  clickhousePassword: process.env.CLICKHOUSE_ANALYST_PASSWORD ?? 'analyst',
  clickhouseMigrations: 'verify' as const,
};

describe('migrations in verify mode (least-privilege service users)', () => {
  afterAll(async () => {
    const client = createClickHouse(owner, { database: false });
    await client.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    await client.close();
  });

  it('refuses to start before the owner applied the migrations, starts after, with no DDL rights', async () => {
    const pending = migrate(readOnlyService, logger);
    await expect(pending).rejects.toBeInstanceOf(MigrationPendingError);
    await expect(pending).rejects.toMatchObject({ code: 'MIGRATION_PENDING', retriable: true });

    // The same read-only account cannot apply them itself.
    await expect(
      migrate({ ...readOnlyService, clickhouseMigrations: 'apply' }, logger),
    ).rejects.toThrow(/readonly|Cannot execute|Not enough privileges/i);

    const applied = await migrate(owner, logger);
    expect(applied).toHaveLength(loadMigrations().length);
    await expect(migrate(readOnlyService, logger)).resolves.toEqual([]);
  });

  it('names the missing migrations when only some are applied', async () => {
    const all = loadMigrations();
    const next = { ...all[all.length - 1]!, version: '9999', name: 'not_yet' };
    await expect(migrate(readOnlyService, logger, [...all, next])).rejects.toThrow(
      /1 migration\(s\) not applied \(9999_not_yet\)/,
    );
  });
});
