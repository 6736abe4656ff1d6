/**
 * Platform layer 2 of 5 (on common): the event contract (topic catalogue, Avro schemas,
 * generated event types, deployment signatures) and the Confluent-framed Avro codec.
 */
export * from './catalogue.ts';
export * from './codec.ts';
export * from './wire.ts';
export * from './events.generated.ts';
export * from './deployment-signature.ts';
export { renderEventTypes } from './codegen.ts';
