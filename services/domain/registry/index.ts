/**
 * Domain part registry (on the platform, domain model and drift): model versions, the
 * promotion log, the artifact store and `models.deployments`, as one API for the CLI, the
 * retrainer and the promoter. The one writer of the registry's tables; it calibrates a version's drift
 * thresholds when it registers it.
 */
export * from './config.ts';
export * from './model-registry.ts';
export * from './wiring.ts';
export * from './retrain-request.ts';
