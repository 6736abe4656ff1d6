/**
 * Domain part drift (on platform common only): the model's drift reference (built, written to
 * and read from a model folder), class-conditional standardised cosine distance, class-mix
 * (prediction drift), a cross-validated domain-classifier AUC, bootstrap-calibrated thresholds
 * (in a worker thread: calibrate-in-worker.ts) and the hysteresis state machine. The statistics
 * themselves are pure functions of arrays; only reference.ts and calibrate-in-worker.ts touch
 * files and threads. Used by the drift service and by the registry (calibration at
 * registration). See docs/drift.md.
 */
export * from './matrix.ts';
export * from './reference.ts';
export * from './statistics.ts';
export * from './logistic-regression.ts';
export * from './domain-classifier.ts';
export * from './calibration.ts';
export * from './evaluate.ts';
export * from './hysteresis.ts';
export * from './calibrate-in-worker.ts';
export * from './config.ts';
