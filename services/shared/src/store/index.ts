/** Store layer: ClickHouse client, the SQL escaping helper, migrations, table rows. */
export * from './clickhouse.ts';
export * from './sql.ts';
export * from './migrate.ts';
export * from './predictions.ts';
export * from './registry.ts';
export * from './drift-store.ts';
export * from './drift-status.ts';
export * from './training-data.ts';
export * from './row-binary.ts';
export * from './row-binary-insert.ts';
export * from './prediction-row-binary.ts';
