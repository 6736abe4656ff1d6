/**
 * Platform layer 4 of 5 (on common and serde): connection and credentials, typed and
 * transactional producers, access control (ACLs from the catalogue), leader election, consumer
 * group offsets, local-stack address discovery.
 */
export * from './client.ts';
export * from './producer.ts';
export * from './local-stack.ts';
export * from './backbone.ts';
export * from './leader-election.ts';
export * from './topics.ts';
export * from './transactional-producer.ts';
export * from './group-offsets.ts';
export * from './access.ts';
export * from './topic-watcher.ts';
