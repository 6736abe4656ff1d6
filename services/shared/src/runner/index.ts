/** Consumer runner layer: the consumer contract (batch-processor.ts) on kafkajs. */
export * from './batch-processor.ts';
export * from './commit-lane.ts';
export * from './consumer-runner.ts';
export * from './metrics.ts';
export * from './transient.ts';
export * from './transaction-buffer.ts';
