/**
 * Lowest layer of the shared library: errors, config, logging, metrics, the ops server,
 * ordered shutdown, worker threads and where the package's files are. No Kafka, no Avro,
 * no ClickHouse.
 */
export * from './errors.ts';
export * from './config.ts';
export * from './backoff.ts';
export * from './logger.ts';
export * from './shutdown.ts';
export * from './metrics.ts';
export * from './ids.ts';
export * from './http.ts';
export * from './service-ops.ts';
export * from './run-in-worker.ts';
export * from './paths.ts';
