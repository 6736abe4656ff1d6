/**
 * Platform layer 5 of 5 (on common, serde and kafka): ConsumerRunner, the one consumer
 * contract (batch-processor.ts): an offset is committed only after its effects are durable
 * (CommitLane), failures retry with backoff, then go to the dead-letter topic.
 */
export * from './batch-processor.ts';
export * from './commit-lane.ts';
export * from './consumer-runner.ts';
export * from './metrics.ts';
export * from './transient.ts';
export * from './transaction-buffer.ts';
