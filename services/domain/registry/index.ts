/**
 * Domain part registry (on the platform, domain model and drift): model versions, the
 * promotion log, the artifact store and `models.deployments` (the serving plan: production and
 * a candidate in SHADOW or CANARY), as one API for the CLI, the console, the retrainer and the
 * promoter. The one writer of the registry's tables; it calibrates a version's drift
 * thresholds when it registers it. Also the live gates of a candidate's trial (live-gate.ts,
 * pure) and its assessment from the predictions table (live-trial.ts).
 */
export * from './config.ts';
export * from './model-registry.ts';
export * from './wiring.ts';
export * from './retrain-request.ts';
export * from './live-gate.ts';
export * from './live-trial.ts';
