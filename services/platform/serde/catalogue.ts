/**
 * The topic catalogue (topics/catalogue.json) and the Avro schemas (schemas/*.avsc) as
 * files. This module only reads and validates them; the generated types give the code a
 * typed view of the same data.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AppError, PACKAGE_ROOT } from '#platform/common';

/** Shipped with the code (the build copies both beside it; see common/paths.ts). */
export const CATALOGUE_PATH = `${PACKAGE_ROOT}topics/catalogue.json`;
export const SCHEMAS_DIR = `${PACKAGE_ROOT}schemas`;
export const GENERATED_TYPES_PATH = fileURLToPath(
  new URL('./events.generated.ts', import.meta.url),
);

export type CleanupPolicy = 'delete' | 'compact';

/** How producers compress a topic's record batches. */
export type TopicCompression = 'gzip' | 'none';

/** Compression of topics whose catalogue entry does not say. */
export const DEFAULT_COMPRESSION: TopicCompression = 'gzip';

export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  /**
   * Replicas that must hold a write before it is acknowledged (producers send acks=all):
   * with 3 replicas and 2 required, one broker can fail without losing or refusing a write.
   */
  readonly minInsyncReplicas: number;
  /** -1 keeps messages forever. */
  readonly retentionMs: number;
  readonly cleanupPolicy: CleanupPolicy;
  /**
   * Producer compression (default gzip). `none` where the payload does not compress: gzip
   * costs the producer about 20 us per prediction to save 14 % of its bytes ([CLS]
   * embeddings are incompressible floats), on the services that produce the most.
   */
  readonly compression?: TopicCompression;
  /** What the Kafka key holds (documentation). */
  readonly key: string;
  /** Schema file name in schemas/ without `.avsc`. */
  readonly valueSchema: string;
  readonly description: string;
}

/**
 * A Kafka principal (a SASL/SCRAM user) and what it may do; the ACLs are generated from these
 * (#platform/kafka kafkaAclsOf). Consumer groups and transactional ids are granted by prefix:
 * the principal's name.
 */
export interface PrincipalSpec {
  readonly name: string;
  readonly reads: readonly string[];
  readonly writes: readonly string[];
  /** Whether it may use transactional ids starting with its name (default false). */
  readonly transactional: boolean;
  /**
   * Topics outside the catalogue that the principal creates and uses alone (every operation),
   * as the Confluent Schema Registry's `_schemas`.
   */
  readonly ownedTopics: readonly string[];
  /**
   * Whether it may describe every topic and consumer group (offsets and committed offsets:
   * throughput, lag and dead-letter counts for the console), without reading any record.
   * Default false.
   */
  readonly observes: boolean;
  readonly description: string;
}

/** Principals the catalogue may not define: the super users of every cluster. */
export const RESERVED_PRINCIPALS: ReadonlySet<string> = new Set(['admin', 'cluster']);

export interface Catalogue {
  readonly topics: readonly TopicSpec[];
  readonly principals: readonly PrincipalSpec[];
}

export class CatalogueError extends AppError {
  constructor(message: string) {
    super('CATALOGUE_INVALID', message);
  }
}

/** Subject under which a topic's value schema is registered (Confluent TopicNameStrategy). */
export function valueSubject(topic: string): string {
  return `${topic}-value`;
}

/** Dead-letter topic of a topic, by the project's naming convention. */
export function deadLetterTopicOf(topic: string): string {
  return `dlq.${topic}`;
}

export function validateCatalogue(raw: unknown): Catalogue {
  const problems: string[] = [];
  if (
    typeof raw !== 'object' ||
    raw === null ||
    !Array.isArray((raw as { topics?: unknown }).topics)
  ) {
    throw new CatalogueError('catalogue must be an object with a "topics" array');
  }
  const topics = (raw as { topics: unknown[] }).topics;
  const names = new Set<string>();
  topics.forEach((entry, index) => {
    const at = `topics[${index}]`;
    if (typeof entry !== 'object' || entry === null) {
      problems.push(`${at} is not an object`);
      return;
    }
    const topic = entry as Record<string, unknown>;
    if (typeof topic.name !== 'string' || !/^[a-zA-Z0-9._-]{1,249}$/.test(topic.name)) {
      problems.push(`${at}.name must be a legal Kafka topic name`);
    } else if (names.has(topic.name)) {
      problems.push(`${at}.name "${topic.name}" is duplicated`);
    } else {
      names.add(topic.name);
    }
    for (const field of ['partitions', 'replicationFactor', 'minInsyncReplicas'] as const) {
      if (!Number.isInteger(topic[field]) || (topic[field] as number) < 1) {
        problems.push(`${at}.${field} must be a positive integer`);
      }
    }
    if (
      Number.isInteger(topic.minInsyncReplicas) &&
      Number.isInteger(topic.replicationFactor) &&
      (topic.minInsyncReplicas as number) > (topic.replicationFactor as number)
    ) {
      problems.push(`${at}.minInsyncReplicas must not exceed replicationFactor`);
    }
    if (
      !Number.isInteger(topic.retentionMs) ||
      ((topic.retentionMs as number) < 1 && topic.retentionMs !== -1)
    ) {
      problems.push(`${at}.retentionMs must be a positive integer or -1`);
    }
    if (topic.cleanupPolicy !== 'delete' && topic.cleanupPolicy !== 'compact') {
      problems.push(`${at}.cleanupPolicy must be "delete" or "compact"`);
    }
    if (
      topic.compression !== undefined &&
      topic.compression !== 'gzip' &&
      topic.compression !== 'none'
    ) {
      problems.push(`${at}.compression must be "gzip" or "none" (default gzip)`);
    }
    for (const field of ['key', 'valueSchema', 'description'] as const) {
      if (typeof topic[field] !== 'string' || topic[field] === '') {
        problems.push(`${at}.${field} must be a non-empty string`);
      }
    }
  });
  for (const name of names) {
    if (!name.startsWith('dlq.') && !names.has(deadLetterTopicOf(name))) {
      problems.push(`topic "${name}" has no dead-letter topic "${deadLetterTopicOf(name)}"`);
    }
  }
  const principals = validatePrincipals(
    (raw as { principals?: unknown }).principals,
    names,
    problems,
  );
  if (problems.length > 0)
    throw new CatalogueError(`invalid topic catalogue:\n  - ${problems.join('\n  - ')}`);
  return Object.freeze({
    topics: Object.freeze(topics as TopicSpec[]),
    principals: Object.freeze(principals),
  });
}

function validatePrincipals(
  raw: unknown,
  topicNames: ReadonlySet<string>,
  problems: string[],
): PrincipalSpec[] {
  if (raw === undefined) return [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push('principals must be an object keyed by principal name');
    return [];
  }
  const principals: PrincipalSpec[] = [];
  for (const [name, value] of Object.entries(raw)) {
    if (name === '$comment') continue;
    const at = `principals.${name}`;
    if (!/^[a-z][a-z0-9-]{0,63}$/.test(name)) {
      problems.push(`${at}: a principal name is lower case letters, digits and dashes`);
    }
    if (RESERVED_PRINCIPALS.has(name)) problems.push(`${at}: "${name}" is reserved`);
    if (typeof value !== 'object' || value === null) {
      problems.push(`${at} is not an object`);
      continue;
    }
    const entry = value as Record<string, unknown>;
    const topicList = (field: 'reads' | 'writes'): string[] => {
      const list = entry[field];
      if (!Array.isArray(list) || list.some((item) => typeof item !== 'string')) {
        problems.push(`${at}.${field} must be a list of topic names`);
        return [];
      }
      for (const topic of list as string[]) {
        if (!topicNames.has(topic)) problems.push(`${at}.${field}: no topic "${topic}"`);
      }
      return list as string[];
    };
    const reads = topicList('reads');
    const writes = topicList('writes');
    const owned = entry.ownedTopics ?? [];
    if (!Array.isArray(owned) || owned.some((item) => typeof item !== 'string')) {
      problems.push(`${at}.ownedTopics must be a list of topic names`);
    } else {
      for (const topic of owned as string[]) {
        if (topicNames.has(topic))
          problems.push(`${at}.ownedTopics: "${topic}" is a catalogue topic`);
      }
    }
    for (const flag of ['transactional', 'observes'] as const) {
      if (entry[flag] !== undefined && typeof entry[flag] !== 'boolean') {
        problems.push(`${at}.${flag} must be true or false`);
      }
    }
    if (typeof entry.description !== 'string' || entry.description === '') {
      problems.push(`${at}.description must be a non-empty string`);
    }
    principals.push(
      Object.freeze({
        name,
        reads: Object.freeze(reads),
        writes: Object.freeze(writes),
        transactional: entry.transactional === true,
        observes: entry.observes === true,
        ownedTopics: Object.freeze(Array.isArray(owned) ? (owned as string[]) : []),
        description: String(entry.description),
      }),
    );
  }
  return principals;
}

export function loadCatalogue(path: string = CATALOGUE_PATH): Catalogue {
  return validateCatalogue(JSON.parse(readFileSync(path, 'utf8')));
}

/** The parsed JSON of schemas/<name>.avsc. */
export function loadSchemaJson(name: string): AvroSchemaJson {
  return JSON.parse(readFileSync(`${SCHEMAS_DIR}/${name}.avsc`, 'utf8')) as AvroSchemaJson;
}

/** Avro schema JSON as found in .avsc files (the subset this project uses). */
export type AvroSchemaJson =
  | string
  | AvroSchemaJson[]
  | {
      type: string | AvroSchemaJson;
      name?: string;
      namespace?: string;
      doc?: string;
      logicalType?: string;
      symbols?: string[];
      items?: AvroSchemaJson;
      values?: AvroSchemaJson;
      fields?: { name: string; type: AvroSchemaJson; doc?: string; default?: unknown }[];
    };
