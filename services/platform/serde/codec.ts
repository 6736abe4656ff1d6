/**
 * Avro encoding and decoding of the catalogue's events through a Confluent-compatible schema
 * registry. Value schemas are registered under `<topic>-value` (TopicNameStrategy, so Java
 * and Python Confluent clients interoperate; the kafkajs registry client would otherwise
 * default to a record-name subject).
 *
 * Decoding classifies every failure with a stable code, so the consumer runner can tell
 * poison (dead-letter it) from an outage (retry it):
 *   MESSAGE_UNDECODABLE   not Confluent-framed                      -> DLQ
 *   SCHEMA_ID_UNKNOWN     registry answers 404 for the schema id    -> DLQ
 *   SCHEMA_INVALID        Avro body does not decode / fails checks  -> DLQ
 *   SCHEMA_MISMATCH       writer schema not readable as topic type  -> DLQ
 *   REGISTRY_UNAVAILABLE  registry unreachable or 5xx              -> retry
 * Data written with an older compatible schema is resolved to the current (reader) schema.
 */
import avro from 'avsc';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import {
  RegistryUnavailableError,
  SchemaMismatchError,
  SchemaRegistrationError,
  SchemaValidationError,
  UnknownSchemaIdError,
  describeError,
} from '#platform/common';
import { type Catalogue, loadSchemaJson, valueSubject } from './catalogue.ts';
import type { TopicName, TopicValues } from './events.generated.ts';
import { frame, parseFrame } from './wire.ts';

export interface EncodedValue {
  readonly schemaId: number;
  readonly bytes: Buffer;
}

export interface DecodedValue<T> {
  readonly schemaId: number;
  readonly value: T;
}

/** What the codec needs from a registry client; the kafkajs client satisfies it. */
export interface RegistryClient {
  register(subject: string, schema: string): Promise<number>;
  /** Resolves to the schema JSON string; rejects with an error carrying `status` on HTTP errors. */
  getSchemaText(id: number): Promise<string>;
}

export function kafkajsRegistryClient(url: string): RegistryClient {
  // The library's own retry covers short blips; longer outages surface as
  // RegistryUnavailableError and the consumer runner retries with its backoff.
  const registry = new SchemaRegistry({ host: url, retry: { retries: 2, maxRetryTimeInSecs: 2 } });
  return {
    async register(subject, schema) {
      const { id } = await registry.register({ type: SchemaType.AVRO, schema }, { subject });
      return id;
    },
    async getSchemaText(id) {
      const schema = await registry.getSchema(id);
      return JSON.stringify((schema as unknown as { schema(): unknown }).schema());
    },
  };
}

interface TopicBinding {
  readonly subject: string;
  readonly readerType: avro.Type;
  /**
   * The registration in flight or done: concurrent first encodes of a topic share one
   * request (a first batch of 20,000 events once opened one connection each: EMFILE).
   */
  schemaId?: Promise<number>;
}

export class EventCodec {
  private readonly bindings = new Map<string, TopicBinding>();
  private readonly writerTypes = new Map<number, Promise<avro.Type>>();
  /** Per topic and schema id; `undefined` when the writer schema is the reader schema. */
  private readonly resolvers = new Map<string, avro.Resolver | undefined>();

  constructor(
    private readonly registry: RegistryClient,
    /** The topics this codec serves (their value schemas, and what producers need). */
    readonly catalogue: Catalogue,
  ) {
    for (const topic of catalogue.topics) {
      this.bindings.set(topic.name, {
        subject: valueSubject(topic.name),
        readerType: avro.Type.forSchema(loadSchemaJson(topic.valueSchema) as avro.Schema),
      });
    }
  }

  /** Registers (or looks up) every topic's value schema; call once at start-up. */
  async registerAll(): Promise<Map<string, number>> {
    const ids = new Map<string, number>();
    for (const topic of this.bindings.keys()) ids.set(topic, await this.schemaIdFor(topic));
    return ids;
  }

  async schemaIdFor(topic: string): Promise<number> {
    const binding = this.binding(topic);
    if (binding.schemaId === undefined) {
      // exportAttrs: with the fields' defaults (and docs). Without them the registered
      // schema has no defaults, and the registry's BACKWARD check refuses every new field.
      const registration = this.registry
        .register(binding.subject, JSON.stringify(binding.readerType.schema({ exportAttrs: true })))
        .catch((error: unknown) => {
          binding.schemaId = undefined; // a failed registration is tried again next time
          throw registryError(error, `registering ${binding.subject}`);
        });
      binding.schemaId = registration;
    }
    return binding.schemaId;
  }

  /** Validates the value against the topic's schema, then encodes it in wire format. */
  async encode<T extends TopicName>(topic: T, value: TopicValues[T]): Promise<EncodedValue> {
    const binding = this.binding(topic);
    const invalidPaths: string[] = [];
    const valid = binding.readerType.isValid(value, {
      errorHook: (path) => invalidPaths.push(path.join('.') || '(root)'),
    });
    if (!valid) {
      throw new SchemaValidationError(
        `value for ${topic} does not match its schema at: ${invalidPaths.join(', ')}`,
        invalidPaths,
      );
    }
    const schemaId = await this.schemaIdFor(topic);
    return { schemaId, bytes: frame(schemaId, binding.readerType.toBuffer(value)) };
  }

  /** Decodes wire-format bytes read from `topic`; see the module comment for the errors. */
  async decode<T extends TopicName>(
    topic: T,
    bytes: Buffer | null,
  ): Promise<DecodedValue<TopicValues[T]>> {
    const binding = this.binding(topic);
    const { schemaId, body } = parseFrame(bytes);
    const writerType = await this.writerType(schemaId);
    const resolver = this.resolver(schemaId, binding, writerType);
    let value: unknown;
    try {
      value = binding.readerType.fromBuffer(body, resolver, false);
    } catch (error) {
      throw new SchemaValidationError(
        `Avro body does not decode with schema id ${schemaId}: ${describeError(error)}`,
        [],
        { cause: error },
      );
    }
    return { schemaId, value: value as TopicValues[T] };
  }

  private binding(topic: string): TopicBinding {
    const binding = this.bindings.get(topic);
    if (binding === undefined)
      throw new SchemaMismatchError(`topic "${topic}" is not in the catalogue`);
    return binding;
  }

  private writerType(schemaId: number): Promise<avro.Type> {
    let pending = this.writerTypes.get(schemaId);
    if (pending === undefined) {
      pending = this.registry.getSchemaText(schemaId).then(
        (text) => avro.Type.forSchema(JSON.parse(text) as avro.Schema),
        (error: unknown) => {
          throw registryError(error, `fetching schema id ${schemaId}`, schemaId);
        },
      );
      // Failures are not cached: an outage must not poison the id for good.
      pending.catch(() => this.writerTypes.delete(schemaId));
      this.writerTypes.set(schemaId, pending);
    }
    return pending;
  }

  /**
   * The resolver from the writer's schema to the topic's, or `undefined` when both have the
   * same canonical form (the same binary layout): avsc then reads with the reader type's own
   * compiled decoder, which is faster than going through a resolver.
   */
  private resolver(
    schemaId: number,
    binding: TopicBinding,
    writerType: avro.Type,
  ): avro.Resolver | undefined {
    const key = `${binding.subject}:${schemaId}`;
    if (this.resolvers.has(key)) return this.resolvers.get(key);
    let resolver: avro.Resolver | undefined;
    if (!writerType.equals(binding.readerType)) {
      try {
        resolver = binding.readerType.createResolver(writerType);
      } catch (error) {
        throw new SchemaMismatchError(
          `schema id ${schemaId} cannot be read as ${binding.subject}: ${describeError(error)}`,
          { cause: error },
        );
      }
    }
    this.resolvers.set(key, resolver);
    return resolver;
  }
}

function registryError(error: unknown, doing: string, schemaId?: number): Error {
  const status = (error as { status?: unknown } | null)?.status;
  if (schemaId !== undefined && status === 404)
    return new UnknownSchemaIdError(schemaId, { cause: error });
  if (status === 409 || status === 422) {
    return new SchemaRegistrationError(
      `schema registry refused ${doing}: ${describeError(error)}`,
      {
        cause: error,
      },
    );
  }
  return new RegistryUnavailableError(
    `schema registry failed while ${doing}: ${describeError(error)}`,
    {
      cause: error,
    },
  );
}
