/**
 * Registry layer (top of the shared library): model versions, the promotion log, the
 * artifact store and `models.deployments`, as one API for the CLI and the promoter.
 */
export * from './config.ts';
export * from './model-registry.ts';
export * from './wiring.ts';
