/** Shared set-up of the schema registry unit tests: an app over a file store in a temp dir. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildRegistryApp } from '../../../infra/schema-registry/app.ts';
import { type RegistryStore, createFileStore } from '../../../infra/schema-registry/store.ts';

export const REGISTRY_JSON = { 'content-type': 'application/vnd.schemaregistry.v1+json' };

export interface TestRegistry {
  readonly app: FastifyInstance;
  readonly store: RegistryStore;
  readonly dir: string;
}

const dirs: string[] = [];

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'schema-registry-unit-'));
  dirs.push(dir);
  return dir;
}

/** Call from afterEach: removes every temp dir handed out so far. */
export function removeTempDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function newRegistry(dir = tempDir(), store = createFileStore(dir)): TestRegistry {
  return { app: buildRegistryApp({ store }), store, dir };
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function call(
  app: FastifyInstance,
  method: NonNullable<InjectOptions['method']>,
  url: string,
  body?: Json,
): Promise<LightMyRequestResponse> {
  return app.inject({
    method,
    url,
    ...(body === undefined ? {} : { headers: REGISTRY_JSON, payload: JSON.stringify(body) }),
  });
}

/** `schema` is an Avro schema as JSON; it is sent as a string, as clients do. */
export function register(
  app: FastifyInstance,
  subject: string,
  schema: Json,
): Promise<LightMyRequestResponse> {
  return call(app, 'POST', `/subjects/${encodeURIComponent(subject)}/versions`, {
    schema: JSON.stringify(schema),
  });
}

export async function registerId(app: FastifyInstance, subject: string, schema: Json) {
  const response = await register(app, subject, schema);
  if (response.statusCode !== 200) throw new Error(`register failed: ${response.body}`);
  return (response.json() as { id: number }).id;
}

export function record(fields: Json[], extra: { [key: string]: Json } = {}): Json {
  return { type: 'record', name: 'Review', namespace: 'test.events', fields, ...extra };
}

export const ID = { name: 'id', type: 'string' };
export const TEXT = { name: 'text', type: 'string' };
export const V1 = record([ID, TEXT]);
/** V1 plus an optional field with a default: BACKWARD and FORWARD compatible with V1. */
export const WITH_OPTIONAL = record([
  ID,
  TEXT,
  { name: 'lang', type: ['null', 'string'], default: null },
]);
/** V1 plus a required field without default: not BACKWARD compatible with V1. */
export const WITH_REQUIRED = record([ID, TEXT, { name: 'stars', type: 'int' }]);
/** V1 without `text`: BACKWARD compatible, not FORWARD (V1 readers need `text`). */
export const WITHOUT_TEXT = record([ID]);
/** V1 with `text` as int: compatible in no direction. */
export const TEXT_AS_INT = record([ID, { name: 'text', type: 'int' }]);
