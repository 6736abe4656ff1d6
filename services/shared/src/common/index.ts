/** Lowest layer of the shared library: no Kafka, no Avro, no I/O besides logging. */
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
