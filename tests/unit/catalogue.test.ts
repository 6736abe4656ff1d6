import { execFileSync } from 'node:child_process';
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import {
  CatalogueError,
  deadLetterTopicOf,
  loadCatalogue,
  loadSchemaJson,
  validateCatalogue,
} from '#platform/serde';
import { REPO_ROOT } from '../support/stack.ts';

describe('topic catalogue', () => {
  const catalogue = loadCatalogue();

  it('names every topic of the design with a parseable value schema', () => {
    const names = catalogue.topics.map((topic) => topic.name);
    for (const topic of [
      'reviews',
      'predictions',
      'drift.events',
      'retrain.requests',
      'models.candidates',
      'models.deployments',
    ]) {
      expect(names).toContain(topic);
      expect(names).toContain(deadLetterTopicOf(topic));
    }
    for (const topic of catalogue.topics) {
      const type = avro.Type.forSchema(loadSchemaJson(topic.valueSchema) as avro.Schema);
      expect(type.typeName).toBe('record');
    }
  });

  it('keeps single-writer topics on one partition', () => {
    for (const name of ['drift.events', 'models.candidates', 'models.deployments']) {
      expect(catalogue.topics.find((topic) => topic.name === name)?.partitions).toBe(1);
    }
  });

  it('gives every event an event id and a timestamp', () => {
    for (const topic of catalogue.topics) {
      const schema = loadSchemaJson(topic.valueSchema) as { fields: { name: string }[] };
      const fields = schema.fields.map((field) => field.name);
      expect(fields).toContain('eventId');
      expect(fields).toContain('eventTime');
    }
  });

  it('rejects an invalid catalogue with every problem listed', () => {
    expect(() =>
      validateCatalogue({
        topics: [
          { name: 'a b', partitions: 0, replicationFactor: 1, retentionMs: 0, cleanupPolicy: 'x' },
          {
            name: 'orders',
            partitions: 1,
            replicationFactor: 1,
            minInsyncReplicas: 1,
            retentionMs: -1,
            cleanupPolicy: 'delete',
            key: 'id',
            valueSchema: 'order',
            description: 'orders',
          },
        ],
      }),
    ).toThrow(CatalogueError);
    const invalid = { topics: [{ name: 'orders', partitions: 1 }] };
    expect(() => validateCatalogue(invalid)).toThrow(
      /replicationFactor must be a positive integer/,
    );
    expect(() => validateCatalogue(invalid)).toThrow(/no dead-letter topic "dlq.orders"/);
    expect(() =>
      validateCatalogue({ topics: [{ name: 'orders', partitions: 1, compression: 'lz4' }] }),
    ).toThrow(/compression must be "gzip" or "none"/);
    expect(() =>
      validateCatalogue({
        topics: [{ name: 'orders', partitions: 1, replicationFactor: 1, minInsyncReplicas: 2 }],
      }),
    ).toThrow(/minInsyncReplicas must not exceed replicationFactor/);
  });

  it('requires two in-sync replicas of three for every topic', () => {
    for (const topic of catalogue.topics) {
      expect([topic.name, topic.replicationFactor, topic.minInsyncReplicas]).toEqual([
        topic.name,
        3,
        2,
      ]);
    }
  });

  it('sends predictions uncompressed and everything else gzip-compressed', () => {
    const compression = Object.fromEntries(
      catalogue.topics.map((topic) => [topic.name, topic.compression ?? 'gzip']),
    );
    expect(compression.predictions).toBe('none');
    expect(compression.reviews).toBe('gzip');
  });

  it('has generated TypeScript types that match the schemas', () => {
    const output = execFileSync(
      'node',
      ['--import', 'tsx', 'scripts/gen-event-types.ts', '--check'],
      {
        cwd: REPO_ROOT,
        encoding: 'utf8',
      },
    );
    expect(output).toMatch(/up to date/);
  });
});
