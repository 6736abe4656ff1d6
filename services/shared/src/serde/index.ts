/** Serde layer: the event contract (catalogue, schemas, generated types) and the Avro codec. */
export * from './catalogue.ts';
export * from './codec.ts';
export * from './wire.ts';
export * from './events.generated.ts';
export * from './deployment-signature.ts';
export { renderEventTypes } from './codegen.ts';
