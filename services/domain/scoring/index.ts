/**
 * Domain part scoring (on the platform and domain model): model results -> prediction events,
 * the text rule every scorer applies, and following signed `models.deployments` (inference,
 * gateway and drift learn production the same way).
 */
export * from './predictions.ts';
export * from './deployment-handler.ts';
export * from './text-rule.ts';
