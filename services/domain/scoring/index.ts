/**
 * Domain part scoring (on the platform and domain model): model results -> prediction events,
 * the text rule every scorer applies, following signed `models.deployments` (inference,
 * gateway and drift learn the serving plan the same way), and what a serving process runs for
 * it: production and a candidate in SHADOW or CANARY (serving-models.ts: canary routing by a
 * stable hash of the review id, shadow work bounded and shed first).
 */
export * from './predictions.ts';
export * from './deployment-handler.ts';
export * from './text-rule.ts';
export * from './serving-models.ts';
