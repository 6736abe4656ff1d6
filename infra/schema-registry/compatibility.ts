/**
 * Avro schema compatibility with avsc resolvers, following Confluent's definitions:
 *   BACKWARD  the new schema can read data written with the previous schema
 *   FORWARD   the previous schema can read data written with the new schema
 *   FULL      both; *_TRANSITIVE: against every earlier version, not only the latest.
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

export function isCompatibilityLevel(value: unknown): value is CompatibilityLevel {
  return typeof value === 'string' && (COMPATIBILITY_LEVELS as readonly string[]).includes(value);
}

/** Parses an Avro schema string; logical types are read as their underlying types. */
export function parseAvro(schema: string): avro.Type {
  let json: unknown;
  try {
    json = JSON.parse(schema);
  } catch (error) {
    // A bare primitive name ("string") is valid Avro but not JSON.
    if (/^[A-Za-z_][A-Za-z0-9_.]*$/.test(schema.trim())) json = schema.trim();
    else throw invalidSchema(`not JSON: ${(error as Error).message}`);
  }
  try {
    return avro.Type.forSchema(json as avro.Schema, { wrapUnions: 'auto' });
  } catch (error) {
    throw invalidSchema((error as Error).message);
  }
}

/** Canonical text used to compare schemas for identity (same type -> same global id). */
export function canonicalText(type: avro.Type): string {
  return JSON.stringify(type.schema({ exportAttrs: true }));
}

function canRead(reader: avro.Type, writer: avro.Type): string | undefined {
  try {
    reader.createResolver(writer);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * Problems that make `candidate` incompatible with `previous` (oldest first) under `level`;
 * empty when compatible.
 */
export function compatibilityProblems(
  level: CompatibilityLevel,
  candidate: avro.Type,
  previous: readonly avro.Type[],
): string[] {
  if (level === 'NONE' || previous.length === 0) return [];
  const against = level.endsWith('_TRANSITIVE') ? previous : previous.slice(-1);
  const backward = level.startsWith('BACKWARD') || level.startsWith('FULL');
  const forward = level.startsWith('FORWARD') || level.startsWith('FULL');
  const problems: string[] = [];
  for (const old of against) {
    const index = previous.indexOf(old) + 1;
    if (backward) {
      const problem = canRead(candidate, old);
      if (problem) problems.push(`new schema cannot read data written with version ${index} (${problem})`);
    }
    if (forward) {
      const problem = canRead(old, candidate);
      if (problem) problems.push(`version ${index} cannot read data written with the new schema (${problem})`);
    }
  }
  return problems;
}
