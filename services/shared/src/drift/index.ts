/**
 * Drift statistics (pure math; depends on common only): the model's drift reference,
 * class-conditional standardised cosine distance, class-mix (prediction drift), a
 * cross-validated domain-classifier AUC, bootstrap-calibrated thresholds and the
 * hysteresis state machine. See docs/drift.md.
 */
export * from './prng.ts';
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
