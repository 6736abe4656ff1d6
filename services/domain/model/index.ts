/**
 * Domain part model (on platform common only): model folders and the content-addressed
 * artifact store, the tokenizer + onnxruntime engine, inference worker threads, hot swap,
 * micro-batching and evaluation on labelled sets. Knows nothing of Kafka or ClickHouse.
 */
export * from './batching.ts';
export * from './folder.ts';
export * from './engine.ts';
export * from './tokenizer.ts';
export * from './int8-tables.ts';
export * from './model-worker.ts';
export * from './model-host.ts';
export * from './micro-batcher.ts';
export * from './prepare.ts';
export * from './config.ts';
export * from './artifact-store.ts';
export * from './evaluation.ts';
