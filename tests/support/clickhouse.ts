/** A database of its own on the test stack's ClickHouse, with the project's migrations. */
import { createLogger } from '#platform/common';
import { type ClickHouseClient, createClickHouse, migrate } from '#platform/store';
import { clickhouseUrl } from './stack.ts';

/** Migrates `database` (created if missing) and returns a client bound to it. */
export async function createTestDatabase(database: string): Promise<ClickHouseClient> {
  const settings = {
    clickhouseUrl: clickhouseUrl(),
    clickhouseUser: 'default',
    clickhousePassword: '',
    clickhouseDatabase: database,
  };
  await migrate(settings, createLogger('test', 'fatal'));
  return createClickHouse(settings);
}
