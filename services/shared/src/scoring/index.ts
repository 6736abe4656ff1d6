/** Scoring layer (top of the shared library): model results -> prediction events. */
export * from './predictions.ts';
export * from './deployment-handler.ts';
export * from './text-rule.ts';
