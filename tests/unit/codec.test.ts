import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import {
  RegistryUnavailableError,
  SchemaMismatchError,
  SchemaRegistrationError,
  SchemaValidationError,
  UnknownSchemaIdError,
} from '#platform/common';
import {
  EventCodec,
  type RegistryClient,
  type Review,
  frame,
  loadCatalogue,
  loadSchemaJson,
} from '#platform/serde';

/** In-memory registry: the codec's logic is tested here, the real registry in integration. */
class MemoryRegistry implements RegistryClient {
  readonly schemas = new Map<number, string>();
  readonly subjects = new Map<string, number>();
  available = true;
  registrations = 0;
  async register(subject: string, schema: string): Promise<number> {
    this.registrations++;
    if (!this.available)
      throw Object.assign(new Error('connect ECONNREFUSED'), { status: undefined });
    if (subject === 'refused-value')
      throw Object.assign(new Error('incompatible'), { status: 409 });
    const existing = [...this.schemas].find(([, text]) => text === schema);
    const id = existing?.[0] ?? this.schemas.size + 1;
    this.schemas.set(id, schema);
    this.subjects.set(subject, id);
    return id;
  }
  async getSchemaText(id: number): Promise<string> {
    if (!this.available) throw Object.assign(new Error('503'), { status: 503 });
    const text = this.schemas.get(id);
    if (text === undefined) throw Object.assign(new Error('Schema not found'), { status: 404 });
    return text;
  }
}

const review: Review = {
  eventId: '2b7e1c9e-7c55-4c2e-9a43-0d3f8c0c1a11',
  eventTime: 1_763_800_000_000,
  reviewId: 'r-1',
  source: 'imdb',
  text: 'A quietly moving film.',
  groundTruth: 'POSITIVE',
  attributes: { stars: '5' },
};

describe('EventCodec', () => {
  it('round-trips an event and registers under <topic>-value', async () => {
    const registry = new MemoryRegistry();
    const codec = new EventCodec(registry, loadCatalogue());
    const { schemaId, bytes } = await codec.encode('reviews', review);
    expect(registry.subjects.get('reviews-value')).toBe(schemaId);
    expect(bytes[0]).toBe(0);
    expect(bytes.readUInt32BE(1)).toBe(schemaId);
    expect(await codec.decode('reviews', bytes)).toEqual({ schemaId, value: review });
  });

  it('shares one registration between concurrent first encodes, and retries a failed one', async () => {
    const registry = new MemoryRegistry();
    const codec = new EventCodec(registry, loadCatalogue());
    registry.available = false;
    await expect(codec.encode('reviews', review)).rejects.toThrow(/ECONNREFUSED/);
    registry.available = true;
    registry.registrations = 0;
    const encoded = await Promise.all(
      Array.from({ length: 50 }, () => codec.encode('reviews', review)),
    );
    expect(registry.registrations).toBe(1);
    expect(new Set(encoded.map((e) => e.schemaId)).size).toBe(1);
  });

  it('registers the schema with its defaults (a BACKWARD registry needs them to evolve)', async () => {
    const registry = new MemoryRegistry();
    const codec = new EventCodec(registry, loadCatalogue());
    const id = await codec.schemaIdFor('retrain.requests');
    const registered = JSON.parse(registry.schemas.get(id)!) as {
      fields: { name: string; default?: unknown }[];
    };
    expect(registered.fields.find((f) => f.name === 'episodeId')).toHaveProperty('default', null);
    expect(registered.fields.find((f) => f.name === 'options')).toHaveProperty('default', {});
  });

  it('refuses to encode a value that does not match the schema, naming the fields', async () => {
    const codec = new EventCodec(new MemoryRegistry(), loadCatalogue());
    const bad = { ...review, text: 42, groundTruth: 'MAYBE' } as unknown as Review;
    await expect(codec.encode('reviews', bad)).rejects.toThrow(SchemaValidationError);
    await expect(codec.encode('reviews', bad)).rejects.toThrow(/text.*groundTruth/);
  });

  it('reads data written with an older compatible schema (resolution to the reader schema)', async () => {
    const registry = new MemoryRegistry();
    const codec = new EventCodec(registry, loadCatalogue());
    const current = loadSchemaJson('review') as { fields: { name: string }[] };
    const older = {
      ...current,
      fields: current.fields.filter((field) => !['groundTruth', 'attributes'].includes(field.name)),
    };
    const olderType = avro.Type.forSchema(older as avro.Schema);
    const olderId = await registry.register('reviews-value', JSON.stringify(olderType.schema()));
    const { groundTruth: _g, attributes: _a, ...olderValue } = review;
    const decoded = await codec.decode('reviews', frame(olderId, olderType.toBuffer(olderValue)));
    expect(decoded.value).toEqual({ ...olderValue, groundTruth: null, attributes: {} });
  });

  it('classifies decode failures: unknown id, bad body, wrong record type, registry down', async () => {
    const registry = new MemoryRegistry();
    const codec = new EventCodec(registry, loadCatalogue());
    const { schemaId, bytes } = await codec.encode('reviews', review);
    await expect(codec.decode('reviews', frame(9_999, Buffer.from([1])))).rejects.toThrow(
      UnknownSchemaIdError,
    );
    await expect(codec.decode('reviews', frame(schemaId, bytes.subarray(5, 12)))).rejects.toThrow(
      SchemaValidationError,
    );
    const { bytes: deployment } = await codec.encode('models.deployments', {
      eventId: review.eventId,
      eventTime: review.eventTime,
      modelName: 'sentiment',
      modelVersion: '2',
      previousVersion: '1',
      action: 'PROMOTE',
      artifactUri: 'file:///x',
      artifactSha256: 'ab',
      actor: 'promoter',
      reason: 'better',
      candidate: null,
      signature: null,
    });
    await expect(codec.decode('reviews', deployment)).rejects.toThrow(SchemaMismatchError);
    const fresh = new EventCodec(registry, loadCatalogue());
    registry.available = false;
    const outage = fresh.decode('reviews', bytes);
    await expect(outage).rejects.toThrow(RegistryUnavailableError);
    await expect(outage).rejects.toMatchObject({ retriable: true });
    registry.available = true;
    await expect(fresh.decode('reviews', bytes)).resolves.toMatchObject({ value: review });
  });

  it('reports a refused registration as non-retriable', async () => {
    const codec = new EventCodec(new MemoryRegistry(), {
      topics: [{ ...loadCatalogue().topics[0]!, name: 'refused' }],
      principals: [],
    });
    await expect(codec.schemaIdFor('refused')).rejects.toThrow(SchemaRegistrationError);
  });
});
