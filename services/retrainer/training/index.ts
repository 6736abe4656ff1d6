/**
 * The retrainer's head training (on platform common, domain model and drift only): read and replace the classification
 * head of an ONNX export, train a new head on frozen [CLS] embeddings (L2-SP, Adam, early
 * stopping), mix recent labelled traffic with reference rows, and write a candidate model
 * folder with its own drift reference. See docs/retraining.md.
 */
export * from './onnx-head.ts';
export * from './head-trainer.ts';
export * from './training-data.ts';
export * from './candidate.ts';
