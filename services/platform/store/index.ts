/**
 * Platform layer 3 of 5 (on common and serde): the ClickHouse client and its reachability
 * probe, SQL literals, migrations, RowBinary inserts, and the rows of the tables more than one
 * service reads or writes (predictions, model versions and the promotion log with the serving
 * plan, drift status, the live comparison of a candidate with production).
 * Tables one service owns are read and written in that service (drift/drift-store.ts,
 * retrainer/labelled-data.ts).
 */
export * from './clickhouse.ts';
export * from './sql.ts';
export * from './migrate.ts';
export * from './predictions.ts';
export * from './registry.ts';
export * from './drift-status.ts';
export * from './live-comparison.ts';
export * from './row-binary.ts';
export * from './row-binary-insert.ts';
export * from './prediction-row-binary.ts';
