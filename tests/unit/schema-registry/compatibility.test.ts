/** Avro compatibility per level, schema identity and validation (avsc resolvers underneath). */
import { afterEach, describe, expect, it } from 'vitest';
import {
  COMPATIBILITY_LEVELS,
  type CompatibilityLevel,
  compatibilityProblems,
  parseAvroSchema,
  toCompatibilityLevel,
} from '../../../infra/schema-registry/compatibility.ts';
import { RegistryError } from '../../../infra/schema-registry/errors.ts';
import {
  ID,
  type Json,
  TEXT,
  TEXT_AS_INT,
  V1,
  WITHOUT_TEXT,
  WITH_OPTIONAL,
  WITH_REQUIRED,
  call,
  newRegistry,
  record,
  register,
  removeTempDirs,
} from './helpers.ts';

const parse = (schema: Json) => parseAvroSchema(JSON.stringify(schema));

/** Is `next` registrable after `history` (oldest first) under `level`? */
function compatible(level: CompatibilityLevel, history: Json[], next: Json): boolean {
  const previous = history.map((schema, index) => ({
    version: index + 1,
    type: parse(schema).type,
  }));
  return compatibilityProblems(level, parse(next).type, previous).length === 0;
}

const label = (symbols: string[], extra: { [key: string]: Json } = {}): Json =>
  record([ID, { name: 'label', type: { type: 'enum', name: 'Label', symbols, ...extra } }]);
const TWO_LABELS = label(['NEGATIVE', 'POSITIVE']);
const THREE_LABELS = label(['NEGATIVE', 'POSITIVE', 'NEUTRAL']);

// Expected answer of [BACKWARD, FORWARD, FULL] for one change from `from` to `to`.
const CHANGES: [string, Json, Json, [boolean, boolean, boolean]][] = [
  ['adding an optional field with a default', V1, WITH_OPTIONAL, [true, true, true]],
  ['adding a required field without default', V1, WITH_REQUIRED, [false, true, false]],
  ['removing a field', V1, WITHOUT_TEXT, [true, false, false]],
  ['removing a field that had a default', WITH_OPTIONAL, V1, [true, true, true]],
  ['changing a field from string to int', V1, TEXT_AS_INT, [false, false, false]],
  ['adding an enum symbol', TWO_LABELS, THREE_LABELS, [true, false, false]],
  ['removing an enum symbol', THREE_LABELS, TWO_LABELS, [false, true, false]],
  [
    'removing an enum symbol when the reader has an enum default',
    label(['NEGATIVE', 'POSITIVE', 'NEUTRAL', 'UNKNOWN'], { default: 'UNKNOWN' }),
    label(['NEGATIVE', 'POSITIVE', 'UNKNOWN'], { default: 'UNKNOWN' }),
    [true, true, true],
  ],
  [
    'widening int to long',
    record([ID, { name: 'n', type: 'int' }]),
    record([ID, { name: 'n', type: 'long' }]),
    [true, false, false],
  ],
  [
    'adding a union branch',
    record([ID, { name: 'v', type: ['null', 'string'] }]),
    record([ID, { name: 'v', type: ['null', 'string', 'int'] }]),
    [true, false, false],
  ],
  [
    'making a field nullable',
    record([ID, TEXT]),
    record([ID, { name: 'text', type: ['null', 'string'], default: null }]),
    [true, false, false],
  ],
  [
    'changing the namespace (names match unqualified, as in Java Avro)',
    V1,
    { ...(V1 as object), namespace: 'other.events' },
    [true, true, true],
  ],
  ['renaming the record', V1, { ...(V1 as object), name: 'Comment' }, [false, false, false]],
  [
    'renaming a field with an alias',
    V1,
    record([ID, { name: 'body', aliases: ['text'], type: 'string' }]),
    [true, false, false],
  ],
  [
    'reading a logical type as its underlying type',
    record([ID, { name: 'at', type: 'long' }]),
    record([ID, { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } }]),
    [true, true, true],
  ],
];

describe('compatibility of one change', () => {
  it.each(CHANGES)('%s', (_change, from, to, [backward, forward, full]) => {
    expect(compatible('BACKWARD', [from], to)).toBe(backward);
    expect(compatible('FORWARD', [from], to)).toBe(forward);
    expect(compatible('FULL', [from], to)).toBe(full);
    // With a single earlier version, transitive levels answer the same.
    expect(compatible('BACKWARD_TRANSITIVE', [from], to)).toBe(backward);
    expect(compatible('FORWARD_TRANSITIVE', [from], to)).toBe(forward);
    expect(compatible('FULL_TRANSITIVE', [from], to)).toBe(full);
    expect(compatible('NONE', [from], to)).toBe(true);
  });

  it('is compatible with an empty history at every level', () => {
    for (const level of COMPATIBILITY_LEVELS) expect(compatible(level, [], TEXT_AS_INT)).toBe(true);
  });

  it('says which version fails and why', () => {
    const problems = compatibilityProblems('FULL', parse(WITH_REQUIRED).type, [
      { version: 4, type: parse(V1).type },
    ]);
    expect(problems).toEqual([
      expect.stringMatching(/^new schema cannot read data written with version 4: .*stars/),
    ]);
  });
});

describe('transitive levels', () => {
  // v3 reads v2 data (which has `lang`) but not v1 data (no `lang`, and v3 has no default).
  const LANG_REQUIRED = record([ID, TEXT, { name: 'lang', type: ['null', 'string'] }]);
  const history = [V1, WITH_OPTIONAL];

  it('BACKWARD checks the latest version only, BACKWARD_TRANSITIVE every version', () => {
    expect(compatible('BACKWARD', history, LANG_REQUIRED)).toBe(true);
    expect(compatible('BACKWARD_TRANSITIVE', history, LANG_REQUIRED)).toBe(false);
  });

  it('FORWARD checks the latest version only, FORWARD_TRANSITIVE every version', () => {
    // Old readers: v1 needs `text` (no default), v2 has `text` with a default.
    const textDefault = record([ID, { name: 'text', type: 'string', default: '' }]);
    const textDropped = record([ID]);
    expect(compatible('FORWARD', [V1, textDefault], textDropped)).toBe(true);
    expect(compatible('FORWARD_TRANSITIVE', [V1, textDefault], textDropped)).toBe(false);
  });

  it('FULL checks both directions against the latest only, FULL_TRANSITIVE against all', () => {
    const withStars = (extra: { [key: string]: Json }) =>
      record([ID, TEXT, { name: 'stars', type: 'int', ...extra }]);
    // v1 has no stars; v2 has stars with a default; v3 drops the default: v3 and v2 read each
    // other's data, but v3 cannot read v1 data.
    expect(compatible('FULL', [V1, withStars({ default: 0 })], withStars({}))).toBe(true);
    expect(compatible('FULL_TRANSITIVE', [V1, withStars({ default: 0 })], withStars({}))).toBe(
      false,
    );
  });
});

describe('registration per level (through the API)', () => {
  afterEach(() => removeTempDirs());

  it.each([
    { level: 'BACKWARD', change: 'required field added', next: WITH_REQUIRED, status: 409 },
    { level: 'BACKWARD', change: 'field removed', next: WITHOUT_TEXT, status: 200 },
    { level: 'FORWARD', change: 'required field added', next: WITH_REQUIRED, status: 200 },
    { level: 'FORWARD', change: 'field removed', next: WITHOUT_TEXT, status: 409 },
    { level: 'FULL', change: 'optional field added', next: WITH_OPTIONAL, status: 200 },
    { level: 'FULL', change: 'field removed', next: WITHOUT_TEXT, status: 409 },
    { level: 'NONE', change: 'string to int', next: TEXT_AS_INT, status: 200 },
  ])('$level, $change: $status', async ({ level, next, status }) => {
    const { app } = newRegistry();
    await call(app, 'PUT', '/config', { compatibility: level });
    expect((await register(app, 's', V1)).statusCode).toBe(200);
    expect((await register(app, 's', next)).statusCode).toBe(status);
    await app.close();
  });
});

describe('parseAvroSchema', () => {
  it('gives equal canonical forms to spellings of the same schema only', () => {
    const canonical = (schema: Json) => parse(schema).canonical;
    expect(canonical('string')).toBe(canonical({ type: 'string' }));
    const nested = (namespace: string | undefined, reference: string): Json => ({
      type: 'record',
      name: 'Outer',
      ...(namespace === undefined ? {} : { namespace }),
      fields: [
        { name: 'a', type: { type: 'enum', name: 'E', symbols: ['X'] } },
        { name: 'b', type: reference },
      ],
    });
    const full = canonical({ ...(nested(undefined, 'ns.E') as object), name: 'ns.Outer' });
    expect(canonical(nested('ns', 'E'))).toBe(full);
    expect(canonical(nested('ns', 'ns.E'))).toBe(full);
    expect(canonical(nested('other', 'E'))).not.toBe(full);
    expect(canonical({ ...(V1 as object), doc: 'reviews' })).not.toBe(canonical(V1));
    expect(canonical({ ...(V1 as object), owner: 'team' })).not.toBe(canonical(V1));
  });

  it.each([
    ['not JSON', 'record Review {'],
    ['a bare type name', 'string'],
    ['an undefined type', '"Unknown"'],
    ['an anonymous record', '{"type":"record","fields":[]}'],
    [
      'a duplicate field',
      '{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"a","type":"int"}]}',
    ],
    ['an empty union', '[]'],
  ])('rejects %s with 42201', (_what, text) => {
    let thrown: unknown;
    try {
      parseAvroSchema(text);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(RegistryError);
    expect(thrown).toMatchObject({ status: 422, errorCode: 42201 });
  });
});

describe('toCompatibilityLevel', () => {
  it('accepts any case and rejects the rest', () => {
    expect(toCompatibilityLevel('backward_transitive')).toBe('BACKWARD_TRANSITIVE');
    expect(toCompatibilityLevel('Full')).toBe('FULL');
    expect(toCompatibilityLevel('BOTH')).toBeUndefined();
    expect(toCompatibilityLevel(undefined)).toBeUndefined();
  });
});
