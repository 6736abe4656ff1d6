/**
 * Model runtime layer (depends on common only): model folders, the tokenizer + onnxruntime
 * engine, inference worker threads, hot swap and micro-batching.
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
