/**
 * Avro schemas: parsing, identity and compatibility, with Confluent's definitions.
 *
 *   BACKWARD  a reader using the new schema can read data written with the previous schema
 *   FORWARD   a reader using the previous schema can read data written with the new schema
 *   FULL      both
 *   *_TRANSITIVE  against every earlier (non-deleted) version instead of the latest only
 *
 * "Can read" is decided by avsc itself: `reader.createResolver(writer)` throws exactly when
 * Avro schema resolution fails (missing default, narrowing promotion, lost enum symbol or
 * union branch, different fixed size, ...), so the check is the one real readers perform.
 */
import avro from 'avsc';
import { invalidSchema } from './errors.ts';

export const COMPATIBILITY_LEVELS = [
  'NONE',
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
] as const;
export type CompatibilityLevel = (typeof COMPATIBILITY_LEVELS)[number];
export const DEFAULT_COMPATIBILITY: CompatibilityLevel = 'BACKWARD';

export function isCompatibilityLevel(value: unknown): value is CompatibilityLevel {
  return typeof value === 'string' && (COMPATIBILITY_LEVELS as readonly string[]).includes(value);
}

/** Confluent accepts levels in any case ("backward"); stored and returned upper-case. */
export function toCompatibilityLevel(value: unknown): CompatibilityLevel | undefined {
  if (typeof value !== 'string') return undefined;
  const upper = value.toUpperCase();
  return isCompatibilityLevel(upper) ? upper : undefined;
}

export interface ParsedSchema {
  readonly type: avro.Type;
  /** Equal for schemas that differ only in whitespace, key order or namespace notation. */
  readonly canonical: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A fresh object per parse: avsc keeps its registry of named types in the options. */
function parseOptions(): Partial<avro.ForSchemaOptions> {
  return {
    // Every union wrapped: all unions (even ambiguous ones like two records) parse, and old
    // and new schemas never mix wrapped and unwrapped representations in a resolver.
    wrapUnions: true,
    // Avro (and Confluent's Java parser) require named records, enums and fixeds.
    noAnonymousTypes: true,
    // No logicalTypes option: logical types are read as their underlying types.
  };
}

/** Parses an Avro schema as registered (a JSON string); throws 42201 when it is not valid Avro. */
export function parseAvroSchema(text: string): ParsedSchema {
  let json: Json;
  try {
    json = JSON.parse(text) as Json;
  } catch (error) {
    throw invalidSchema(`not valid JSON: ${(error as Error).message}`);
  }
  let type: avro.Type;
  try {
    type = avro.Type.forSchema(json as avro.Schema, parseOptions());
  } catch (error) {
    throw invalidSchema((error as Error).message);
  }
  return { type, canonical: stableStringify(normalize(json, '', new Set())) };
}

const PRIMITIVES = new Set([
  'null',
  'boolean',
  'int',
  'long',
  'float',
  'double',
  'bytes',
  'string',
]);
const NAMED = new Set(['record', 'error', 'enum', 'fixed']);

function isObject(value: Json | undefined): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Rewrites a (valid) schema so that equal types have equal JSON: named types carry their full
 * name and no `namespace`, references are fully qualified, `{"type":"int"}` becomes `"int"`.
 * Everything else (docs, defaults, aliases, logicalType, custom properties) is kept, as in
 * Confluent's canonical string: two schemas differing there are different schemas.
 */
function normalize(schema: Json, namespace: string, defined: Set<string>): Json {
  if (typeof schema === 'string') return resolveName(schema, namespace, defined);
  if (Array.isArray(schema)) return schema.map((branch) => normalize(branch, namespace, defined));
  if (!isObject(schema)) return schema;
  const { type } = schema;
  if (typeof type !== 'string')
    return { ...schema, type: normalize(type ?? null, namespace, defined) };
  if (NAMED.has(type)) {
    const { namespace: ownNamespace, ...rest } = schema;
    const fullName = qualify(String(schema.name), ownNamespace, namespace);
    defined.add(fullName);
    const inner = fullName.includes('.') ? fullName.slice(0, fullName.lastIndexOf('.')) : '';
    const result: { [key: string]: Json } = { ...rest, name: fullName };
    if (Array.isArray(schema.fields)) {
      result.fields = schema.fields.map((field) =>
        isObject(field) ? { ...field, type: normalize(field.type ?? null, inner, defined) } : field,
      );
    }
    return result;
  }
  if (type === 'array')
    return { ...schema, items: normalize(schema.items ?? null, namespace, defined) };
  if (type === 'map')
    return { ...schema, values: normalize(schema.values ?? null, namespace, defined) };
  const resolved = resolveName(type, namespace, defined);
  return Object.keys(schema).length === 1 ? resolved : { ...schema, type: resolved };
}

function qualify(name: string, ownNamespace: Json | undefined, enclosing: string): string {
  if (name.includes('.')) return name;
  const namespace = typeof ownNamespace === 'string' ? ownNamespace : enclosing;
  return namespace === '' ? name : `${namespace}.${name}`;
}

/** A reference resolves in the enclosing namespace first, then in the null namespace. */
function resolveName(name: string, namespace: string, defined: ReadonlySet<string>): string {
  if (PRIMITIVES.has(name) || name.includes('.')) return name;
  const inNamespace = namespace === '' ? name : `${namespace}.${name}`;
  return defined.has(inNamespace) || !defined.has(name) ? inNamespace : name;
}

function stableStringify(value: Json): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (!isObject(value)) return JSON.stringify(value);
  const entries = Object.keys(value)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${stableStringify(value[key] ?? null)}`);
  return `{${entries.join(',')}}`;
}

/** Why `reader` cannot read data written with `writer`; undefined when it can. */
export function readProblem(reader: avro.Type, writer: avro.Type): string | undefined {
  try {
    // ignoreNamespaces: Java Avro (Confluent) matches named types by unqualified name and
    // aliases. A fresh options object: avsc caches resolvers by type name in it.
    reader.createResolver(writer, { ignoreNamespaces: true });
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

export interface VersionedSchema {
  readonly version: number;
  readonly type: avro.Type;
}

/**
 * Problems that make `candidate` incompatible under `level` with `previous` (the subject's
 * live versions, oldest first); empty when compatible. Non-transitive levels look at the
 * latest of `previous` only.
 */
export function compatibilityProblems(
  level: CompatibilityLevel,
  candidate: avro.Type,
  previous: readonly VersionedSchema[],
): string[] {
  if (level === 'NONE') return [];
  const against = level.endsWith('_TRANSITIVE') ? previous : previous.slice(-1);
  const backward = level.startsWith('BACKWARD') || level.startsWith('FULL');
  const forward = level.startsWith('FORWARD') || level.startsWith('FULL');
  const problems: string[] = [];
  for (const old of against) {
    const cannotReadOld = backward ? readProblem(candidate, old.type) : undefined;
    if (cannotReadOld !== undefined) {
      problems.push(
        `new schema cannot read data written with version ${old.version}: ${cannotReadOld}`,
      );
    }
    const oldCannotRead = forward ? readProblem(old.type, candidate) : undefined;
    if (oldCannotRead !== undefined) {
      problems.push(
        `version ${old.version} cannot read data written with the new schema: ${oldCannotRead}`,
      );
    }
  }
  return problems;
}
