/**
 * Platform layer 1 of 5 (imports nothing of the project): errors, config, logging, metrics,
 * ServiceOps (ops server, start steps, readiness, ordered shutdown), worker threads, seeded
 * random numbers and where the package's files are. No Kafka, no Avro, no ClickHouse.
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
export * from './prng.ts';
