/** REST API of the schema registry dev server, driven with app.inject() over a temp-dir store. */
import avro from 'avsc';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ID,
  type Json,
  REGISTRY_JSON,
  TEXT,
  TEXT_AS_INT,
  type TestRegistry,
  V1,
  WITHOUT_TEXT,
  WITH_OPTIONAL,
  WITH_REQUIRED,
  call,
  newRegistry,
  record,
  register,
  registerId,
  removeTempDirs,
} from './helpers.ts';

let registry: TestRegistry;
beforeEach(() => {
  registry = newRegistry();
});
afterEach(async () => {
  await registry.app.close();
  removeTempDirs();
});

describe('POST /subjects/{subject}/versions', () => {
  it('registers a schema and answers {id} with the registry content type', async () => {
    const response = await register(registry.app, 'reviews-value', V1);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/vnd.schemaregistry.v1+json');
    expect(response.json()).toEqual({ id: 1 });
  });

  it('returns the existing id for a schema the subject already has, without a new version', async () => {
    const { app } = registry;
    expect(await registerId(app, 's', V1)).toBe(1);
    expect(await registerId(app, 's', WITH_OPTIONAL)).toBe(2);
    expect(await registerId(app, 's', V1)).toBe(1);
    expect((await call(app, 'GET', '/subjects/s/versions')).json()).toEqual([1, 2]);
  });

  it('treats whitespace, key order and namespace notation as the same schema', async () => {
    const { app } = registry;
    const id = await registerId(app, 's', V1);
    const respelled = {
      fields: [
        { type: { type: 'string' }, name: 'id' },
        { name: 'text', type: 'string' },
      ],
      name: 'test.events.Review',
      type: 'record',
    };
    const response = await call(app, 'POST', '/subjects/s/versions', {
      schema: JSON.stringify(respelled, null, 4),
    });
    expect(response.json()).toEqual({ id });
    expect((await call(app, 'GET', '/subjects/s/versions')).json()).toEqual([1]);
  });

  it('shares the global id of a schema registered under another subject', async () => {
    const { app } = registry;
    const id = await registerId(app, 'a-value', V1);
    expect(await registerId(app, 'b-value', WITH_OPTIONAL)).toBe(id + 1);
    expect(await registerId(app, 'b-value', V1)).toBe(id);
    expect((await call(app, 'GET', '/subjects/b-value/versions')).json()).toEqual([1, 2]);
    expect((await call(app, 'GET', '/subjects/b-value/versions/2')).json()).toMatchObject({ id });
  });

  it('gives schemas that differ in doc or logicalType their own ids', async () => {
    const { app } = registry;
    const plain = record([ID, { name: 'at', type: 'long' }]);
    const timestamp = record([
      ID,
      { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
    ]);
    const documented = record([ID, { name: 'at', type: 'long', doc: 'epoch millis' }]);
    const ids = [
      await registerId(app, 's', plain),
      await registerId(app, 's', timestamp),
      await registerId(app, 's', documented),
    ];
    expect(new Set(ids).size).toBe(3);
  });

  it('rejects an incompatible schema with 409 and Confluent’s message', async () => {
    const { app } = registry;
    await registerId(app, 'reviews-value', V1);
    const response = await register(app, 'reviews-value', WITH_REQUIRED);
    expect(response.statusCode).toBe(409);
    const body = response.json() as { error_code: number; message: string };
    expect(body.error_code).toBe(409);
    expect(body.message).toMatch(
      /^Schema being registered is incompatible with an earlier schema for subject "reviews-value", details: \[.*stars.*\]$/,
    );
    expect((await call(app, 'GET', '/subjects/reviews-value/versions')).json()).toEqual([1]);
  });

  it('checks against the subject’s level, which overrides the global one', async () => {
    const { app } = registry;
    await registerId(app, 's', V1);
    await call(app, 'PUT', '/config/s', { compatibility: 'NONE' });
    expect((await register(app, 's', TEXT_AS_INT)).statusCode).toBe(200);
    await call(app, 'PUT', '/config/s', { compatibility: 'FORWARD' });
    // FORWARD: readers of the latest version (TEXT_AS_INT) need `text`, which WITHOUT_TEXT drops.
    expect((await register(app, 's', WITHOUT_TEXT)).statusCode).toBe(409);
  });

  it.each([
    ['not JSON', '{"type": "record",'],
    ['an anonymous record', JSON.stringify({ type: 'record', fields: [] })],
    [
      'an unknown type',
      JSON.stringify({ type: 'record', name: 'R', fields: [{ name: 'a', type: 'Nope' }] }),
    ],
    [
      'a default of the wrong type',
      JSON.stringify({
        type: 'record',
        name: 'R',
        fields: [{ name: 'a', type: 'int', default: 'x' }],
      }),
    ],
  ])('answers 422 42201 for %s', async (_what, schema) => {
    const response = await call(registry.app, 'POST', '/subjects/s/versions', { schema });
    expect(response.statusCode).toBe(422);
    expect(response.json()).toMatchObject({ error_code: 42201 });
  });

  it('answers 422 42201 for a body without a schema string', async () => {
    const bodies: Json[] = [{}, { schema: 3 }, { schema: '' }, ['x'], null];
    for (const body of bodies) {
      const response = await call(registry.app, 'POST', '/subjects/s/versions', body);
      expect(response.statusCode).toBe(422);
      expect(response.json()).toMatchObject({ error_code: 42201 });
    }
  });

  it('accepts schemaType AVRO and empty references, refuses other types and references', async () => {
    const { app } = registry;
    const schema = JSON.stringify(V1);
    const ok = await call(app, 'POST', '/subjects/s/versions', {
      schema,
      schemaType: 'AVRO',
      references: [],
    });
    expect(ok.json()).toEqual({ id: 1 });
    for (const schemaType of ['PROTOBUF', 'JSON']) {
      const response = await call(app, 'POST', '/subjects/s/versions', { schema, schemaType });
      expect(response.statusCode).toBe(422);
      expect(response.json()).toEqual({
        error_code: 42201,
        message: expect.stringMatching(new RegExp(`${schemaType}.*AVRO only`)),
      });
    }
    const withReference = await call(app, 'POST', '/subjects/s/versions', {
      schema,
      references: [{ name: 'x.Y', subject: 'y', version: 1 }],
    });
    expect(withReference.json()).toMatchObject({ error_code: 42201 });
  });

  it.each([
    'application/json',
    'application/vnd.schemaregistry.v1+json',
    'application/vnd.schemaregistry+json',
    'application/vnd.schemaregistry.v1+json; charset=utf-8',
  ])('accepts a %s body', async (contentType) => {
    const response = await registry.app.inject({
      method: 'POST',
      url: '/subjects/s/versions',
      headers: { 'content-type': contentType },
      payload: JSON.stringify({ schema: JSON.stringify(V1) }),
    });
    expect(response.statusCode).toBe(200);
  });

  it('answers 415 for other media types and 400 for malformed JSON, as {error_code, message}', async () => {
    const { app } = registry;
    const payload = JSON.stringify({ schema: JSON.stringify(V1) });
    const text = await app.inject({
      method: 'POST',
      url: '/subjects/s/versions',
      headers: { 'content-type': 'text/plain' },
      payload,
    });
    expect(text.statusCode).toBe(415);
    expect(text.json()).toMatchObject({ error_code: 415, message: expect.any(String) });
    const malformed = await app.inject({
      method: 'POST',
      url: '/subjects/s/versions',
      headers: REGISTRY_JSON,
      payload: '{"schema": ',
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json()).toMatchObject({ error_code: 400 });
  });
});

describe('GET /schemas/ids/{id}', () => {
  it('returns the schema, without schemaType for AVRO, parsing to the registered type', async () => {
    const { app } = registry;
    const id = await registerId(app, 's', WITH_OPTIONAL);
    const response = await call(app, 'GET', `/schemas/ids/${id}`);
    expect(response.statusCode).toBe(200);
    const body = response.json() as { schema: string };
    expect(Object.keys(body)).toEqual(['schema']);
    const served = avro.Type.forSchema(JSON.parse(body.schema) as avro.Schema);
    expect(served.equals(avro.Type.forSchema(WITH_OPTIONAL as avro.Schema))).toBe(true);
    expect(JSON.parse(body.schema)).toEqual(WITH_OPTIONAL);
  });

  it.each(['99', 'abc', '-1'])('answers 404 40403 for id %s', async (id) => {
    await registerId(registry.app, 's', V1);
    const response = await call(registry.app, 'GET', `/schemas/ids/${id}`);
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ error_code: 40403, message: 'Schema not found' });
  });

  it('lists the subject versions that use an id, and serves the raw schema', async () => {
    const { app } = registry;
    const id = await registerId(app, 'a', V1);
    await registerId(app, 'b', V1);
    expect((await call(app, 'GET', `/schemas/ids/${id}/versions`)).json()).toEqual([
      { subject: 'a', version: 1 },
      { subject: 'b', version: 1 },
    ]);
    expect((await call(app, 'GET', `/schemas/ids/${id}/schema`)).json()).toEqual(V1);
    expect((await call(app, 'GET', '/schemas/ids/7/versions')).json()).toMatchObject({
      error_code: 40403,
    });
  });
});

describe('subjects and versions', () => {
  beforeEach(async () => {
    await registerId(registry.app, 'reviews-value', V1);
    await registerId(registry.app, 'reviews-value', WITH_OPTIONAL);
    await registerId(registry.app, 'alpha-value', V1);
  });

  it('lists subjects and their versions', async () => {
    const { app } = registry;
    expect((await call(app, 'GET', '/subjects')).json()).toEqual(['alpha-value', 'reviews-value']);
    expect((await call(app, 'GET', '/subjects/reviews-value/versions')).json()).toEqual([1, 2]);
  });

  it('answers 40401 for an unknown subject', async () => {
    for (const url of ['/subjects/nope/versions', '/subjects/nope/versions/1']) {
      const response = await call(registry.app, 'GET', url);
      expect(response.statusCode).toBe(404);
      expect(response.json()).toEqual({ error_code: 40401, message: "Subject 'nope' not found." });
    }
  });

  it('returns a version by number, latest or -1', async () => {
    const { app } = registry;
    const first = (await call(app, 'GET', '/subjects/reviews-value/versions/1')).json();
    expect(first).toEqual({
      subject: 'reviews-value',
      id: 1,
      version: 1,
      schema: JSON.stringify(V1),
    });
    for (const version of ['latest', '-1', '2']) {
      const response = await call(app, 'GET', `/subjects/reviews-value/versions/${version}`);
      expect(response.json()).toMatchObject({ subject: 'reviews-value', id: 2, version: 2 });
    }
    const raw = await call(app, 'GET', '/subjects/reviews-value/versions/latest/schema');
    expect(raw.headers['content-type']).toBe('application/vnd.schemaregistry.v1+json');
    expect(raw.json()).toEqual(WITH_OPTIONAL);
  });

  it('answers 40402 for a missing version and 42202 for an invalid one', async () => {
    const missing = await call(registry.app, 'GET', '/subjects/reviews-value/versions/3');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error_code: 40402 });
    for (const version of ['0', 'abc', '1.5', '2147483648', '-2']) {
      const response = await call(
        registry.app,
        'GET',
        `/subjects/reviews-value/versions/${version}`,
      );
      expect(response.statusCode).toBe(422);
      expect(response.json()).toMatchObject({ error_code: 42202 });
    }
  });

  it('looks a schema up under a subject', async () => {
    const { app } = registry;
    const found = await call(app, 'POST', '/subjects/reviews-value', {
      schema: JSON.stringify(WITH_OPTIONAL),
    });
    expect(found.json()).toEqual({
      subject: 'reviews-value',
      id: 2,
      version: 2,
      schema: JSON.stringify(WITH_OPTIONAL),
    });
    const unknownSchema = await call(app, 'POST', '/subjects/reviews-value', {
      schema: JSON.stringify(WITH_REQUIRED),
    });
    expect(unknownSchema.statusCode).toBe(404);
    expect(unknownSchema.json()).toEqual({ error_code: 40403, message: 'Schema not found' });
    const unknownSubject = await call(app, 'POST', '/subjects/nope', {
      schema: JSON.stringify(V1),
    });
    expect(unknownSubject.json()).toMatchObject({ error_code: 40401 });
    const invalid = await call(app, 'POST', '/subjects/reviews-value', { schema: '{' });
    expect(invalid.json()).toMatchObject({ error_code: 42201 });
  });

  it('soft-deletes a subject: hidden, version numbers not reused, ids kept', async () => {
    const { app } = registry;
    const deleted = await call(app, 'DELETE', '/subjects/reviews-value');
    expect(deleted.json()).toEqual([1, 2]);
    expect((await call(app, 'GET', '/subjects')).json()).toEqual(['alpha-value']);
    expect((await call(app, 'GET', '/subjects?deleted=true')).json()).toEqual([
      'alpha-value',
      'reviews-value',
    ]);
    expect((await call(app, 'GET', '/subjects/reviews-value/versions')).statusCode).toBe(404);
    expect((await call(app, 'GET', '/schemas/ids/2')).statusCode).toBe(200);
    // Deleted versions are not compared against: an incompatible schema is accepted now.
    expect(await registerId(app, 'reviews-value', TEXT_AS_INT)).toBe(3);
    expect((await call(app, 'GET', '/subjects/reviews-value/versions')).json()).toEqual([3]);
    expect((await call(app, 'DELETE', '/subjects/nope')).json()).toMatchObject({
      error_code: 40401,
    });
  });

  it('deletes permanently only after a soft delete, then numbers versions from 1 again', async () => {
    const { app } = registry;
    const early = await call(app, 'DELETE', '/subjects/reviews-value?permanent=true');
    expect(early.statusCode).toBe(404);
    expect(early.json()).toMatchObject({ error_code: 40405 });
    await call(app, 'DELETE', '/subjects/reviews-value');
    expect((await call(app, 'DELETE', '/subjects/reviews-value?permanent=true')).json()).toEqual([
      1, 2,
    ]);
    expect((await call(app, 'GET', '/subjects?deleted=true')).json()).toEqual(['alpha-value']);
    expect(await registerId(app, 'reviews-value', WITH_OPTIONAL)).toBe(2);
    expect((await call(app, 'GET', '/subjects/reviews-value/versions')).json()).toEqual([1]);
  });
});

describe('POST /compatibility/subjects/{subject}/versions/{version}', () => {
  beforeEach(async () => {
    await registerId(registry.app, 's', V1);
  });

  it('answers is_compatible against latest, with messages when verbose', async () => {
    const { app } = registry;
    const url = '/compatibility/subjects/s/versions/latest';
    const ok = await call(app, 'POST', url, { schema: JSON.stringify(WITH_OPTIONAL) });
    expect(ok.json()).toEqual({ is_compatible: true });
    const bad = await call(app, 'POST', url, { schema: JSON.stringify(WITH_REQUIRED) });
    expect(bad.json()).toEqual({ is_compatible: false });
    const verbose = await call(app, 'POST', `${url}?verbose=true`, {
      schema: JSON.stringify(WITH_REQUIRED),
    });
    expect(verbose.json()).toEqual({
      is_compatible: false,
      messages: [expect.stringMatching(/version 1.*stars/)],
    });
    const verboseOk = await call(app, 'POST', `${url}?verbose=true`, {
      schema: JSON.stringify(WITH_OPTIONAL),
    });
    expect(verboseOk.json()).toEqual({ is_compatible: true, messages: [] });
  });

  it('checks against one given version, and like register without a version', async () => {
    const { app } = registry;
    await registerId(app, 's', WITH_OPTIONAL);
    // `lang` without default: readable from v2 data (which has it), not from v1 data.
    const langRequired = record([ID, TEXT, { name: 'lang', type: ['null', 'string'] }]);
    const schema = JSON.stringify(langRequired);
    const check = async (url: string) => (await call(app, 'POST', url, { schema })).json();
    expect(await check('/compatibility/subjects/s/versions/2')).toEqual({ is_compatible: true });
    expect(await check('/compatibility/subjects/s/versions/1')).toEqual({ is_compatible: false });
    expect(await check('/compatibility/subjects/s/versions')).toEqual({ is_compatible: true });
    await call(app, 'PUT', '/config/s', { compatibility: 'BACKWARD_TRANSITIVE' });
    expect(await check('/compatibility/subjects/s/versions')).toEqual({ is_compatible: false });
    expect(await check('/compatibility/subjects/s/versions/latest')).toEqual({
      is_compatible: true,
    });
  });

  it('answers compatible for latest of a subject without versions', async () => {
    const response = await call(
      registry.app,
      'POST',
      '/compatibility/subjects/new/versions/latest',
      {
        schema: JSON.stringify(V1),
      },
    );
    expect(response.json()).toEqual({ is_compatible: true });
  });

  it('answers 40401 / 40402 / 42202 / 42201 like the other endpoints', async () => {
    const { app } = registry;
    const schema = JSON.stringify(V1);
    const cases: [string, string, number][] = [
      ['/compatibility/subjects/new/versions/1', schema, 40401],
      ['/compatibility/subjects/s/versions/5', schema, 40402],
      ['/compatibility/subjects/s/versions/zero', schema, 42202],
      ['/compatibility/subjects/s/versions/latest', '{', 42201],
    ];
    for (const [url, body, code] of cases) {
      expect((await call(app, 'POST', url, { schema: body })).json()).toMatchObject({
        error_code: code,
      });
    }
  });
});

describe('config', () => {
  it('reads and sets the global level (BACKWARD by default, any case accepted)', async () => {
    const { app } = registry;
    expect((await call(app, 'GET', '/config')).json()).toEqual({ compatibilityLevel: 'BACKWARD' });
    const set = await call(app, 'PUT', '/config', { compatibility: 'full_transitive' });
    expect(set.statusCode).toBe(200);
    expect(set.json()).toEqual({ compatibility: 'FULL_TRANSITIVE' });
    expect((await call(app, 'GET', '/config')).json()).toEqual({
      compatibilityLevel: 'FULL_TRANSITIVE',
    });
  });

  it('reads, sets and removes a subject level; 40408 when not set', async () => {
    const { app } = registry;
    const unset = await call(app, 'GET', '/config/s');
    expect(unset.statusCode).toBe(404);
    expect(unset.json()).toMatchObject({ error_code: 40408 });
    expect((await call(app, 'GET', '/config/s?defaultToGlobal=true')).json()).toEqual({
      compatibilityLevel: 'BACKWARD',
    });
    expect((await call(app, 'PUT', '/config/s', { compatibility: 'FORWARD' })).json()).toEqual({
      compatibility: 'FORWARD',
    });
    expect((await call(app, 'GET', '/config/s')).json()).toEqual({ compatibilityLevel: 'FORWARD' });
    expect((await call(app, 'GET', '/config')).json()).toEqual({ compatibilityLevel: 'BACKWARD' });
    expect((await call(app, 'DELETE', '/config/s')).json()).toEqual({
      compatibilityLevel: 'FORWARD',
    });
    expect((await call(app, 'GET', '/config/s')).statusCode).toBe(404);
  });

  it('answers 422 42203 for an invalid level', async () => {
    const { app } = registry;
    for (const [url, body] of [
      ['/config', { compatibility: 'SIDEWAYS' }],
      ['/config/s', { compatibility: 3 }],
      ['/config/s', { compatibilityLevel: 'FULL' }],
    ] as const) {
      const response = await call(app, 'PUT', url, body);
      expect(response.statusCode).toBe(422);
      expect(response.json()).toMatchObject({ error_code: 42203 });
    }
    expect((await call(app, 'GET', '/config')).json()).toEqual({ compatibilityLevel: 'BACKWARD' });
  });
});

describe('errors', () => {
  it('answers unknown routes with 404 {error_code: 404, message}', async () => {
    for (const [method, url] of [
      ['GET', '/nope'],
      ['POST', '/subjects/s/versions/1'],
      ['PATCH', '/config'],
    ] as const) {
      const response = await call(registry.app, method, url);
      expect(response.statusCode).toBe(404);
      expect(response.headers['content-type']).toBe('application/vnd.schemaregistry.v1+json');
      expect(response.json()).toEqual({ error_code: 404, message: expect.any(String) });
    }
  });

  it('answers 500 50001 when the store fails, and changes nothing', async () => {
    const { store } = registry;
    let failing = false;
    const flaky = newRegistry(registry.dir, {
      read: () => store.read(),
      update: (change) => {
        if (failing) throw new Error('disk full');
        return store.update(change);
      },
    });
    await registerId(flaky.app, 's', V1);
    failing = true;
    const response = await register(flaky.app, 's', WITH_OPTIONAL);
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({
      error_code: 50001,
      message: expect.stringContaining('disk full'),
    });
    expect((await call(flaky.app, 'GET', '/subjects/s/versions')).json()).toEqual([1]);
    await flaky.app.close();
  });

  it('keeps subject names as data, whatever they are', async () => {
    const { app } = registry;
    for (const subject of ['__proto__', 'constructor', 'a/b', 'ünï code']) {
      expect(await registerId(app, subject, V1)).toBe(1);
      const url = `/subjects/${encodeURIComponent(subject)}/versions`;
      expect((await call(app, 'GET', url)).json()).toEqual([1]);
    }
    expect((await call(app, 'GET', '/subjects')).json()).toHaveLength(4);
  });
});

describe('persistence through the API', () => {
  it('keeps ids, versions and configs when a new app opens the same data dir', async () => {
    const { app, dir } = registry;
    const first = await registerId(app, 'a', V1);
    const second = await registerId(app, 'a', WITH_OPTIONAL);
    await call(app, 'PUT', '/config/a', { compatibility: 'FULL' });
    await app.close();

    const reopened = newRegistry(dir);
    expect((await call(reopened.app, 'GET', `/schemas/ids/${second}`)).json()).toEqual({
      schema: JSON.stringify(WITH_OPTIONAL),
    });
    expect(await registerId(reopened.app, 'a', V1)).toBe(first);
    expect(await registerId(reopened.app, 'b', WITH_OPTIONAL)).toBe(second);
    expect((await call(reopened.app, 'GET', '/config/a')).json()).toEqual({
      compatibilityLevel: 'FULL',
    });
    expect(await registerId(reopened.app, 'c', WITHOUT_TEXT)).toBe(second + 1);
    await reopened.app.close();
  });
});
