/**
 * The Kafka access rule (#platform/kafka kafkaAclsOf) and the catalogue's principals: who may
 * write deployments, that every consumer can dead-letter, that mistakes in the catalogue are
 * reported. Against the real brokers: tests/integration/kafka-access.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { aclKey, kafkaAclsOf } from '#platform/kafka';
import { CatalogueError, loadCatalogue, validateCatalogue } from '#platform/serde';
import { REPO_ROOT } from '../support/stack.ts';

const catalogue = loadCatalogue();
const acls = kafkaAclsOf(catalogue);
const keys = new Set(acls.map(aclKey));
const principal = (name: string) => {
  const found = catalogue.principals.find((entry) => entry.name === name);
  if (!found) throw new Error(`no principal ${name}`);
  return found;
};

describe('Kafka ACLs from the catalogue', () => {
  it('has one principal per service, the ops CLI and the schema registry', () => {
    expect(catalogue.principals.map((entry) => entry.name).sort()).toEqual(
      [
        'console',
        'drift',
        'gateway',
        'inference',
        'logger',
        'mlops',
        'promoter',
        'retrainer',
        'schema-registry',
      ].sort(),
    );
  });

  it('lets only the signing-key holders (promoter, ops CLI, console admin) write models.deployments', () => {
    const writers = acls
      .filter((acl) => acl.resource === 'TOPIC' && acl.name === 'models.deployments')
      .filter((acl) => acl.operation === 'WRITE')
      .map((acl) => acl.principal)
      .sort();
    expect(writers).toEqual(['console', 'mlops', 'promoter']);
  });

  it('grants each principal reads, writes, its own group prefix and nothing else', () => {
    expect(keys.has('logger READ TOPIC:LITERAL:predictions')).toBe(true);
    expect(keys.has('logger WRITE TOPIC:LITERAL:dlq.predictions')).toBe(true);
    expect(keys.has('logger READ GROUP:PREFIXED:logger')).toBe(true);
    expect(keys.has('logger READ TOPIC:LITERAL:reviews')).toBe(false);
    expect(keys.has('logger WRITE TOPIC:LITERAL:predictions')).toBe(false);
    // Transactions (read-process-write) only where the service uses them.
    expect(acls.filter((acl) => acl.resource === 'TRANSACTIONAL_ID')).toEqual([
      {
        principal: 'inference',
        resource: 'TRANSACTIONAL_ID',
        name: 'inference',
        pattern: 'PREFIXED',
        operation: 'WRITE',
      },
    ]);
    const perPrincipal = (name: string) =>
      principal(name).reads.length +
      principal(name).writes.length +
      principal(name).ownedTopics.length +
      1 +
      (principal(name).observes ? 2 : 0);
    for (const entry of catalogue.principals) {
      expect(acls.filter((acl) => acl.principal === entry.name)).toHaveLength(
        perPrincipal(entry.name) + (entry.transactional ? 1 : 0),
      );
    }
  });

  it('lets only the console describe every topic and group, and read nothing more for it', () => {
    const observers = acls.filter((acl) => acl.operation === 'DESCRIBE');
    expect(observers.map(aclKey).sort()).toEqual([
      'console DESCRIBE GROUP:LITERAL:*',
      'console DESCRIBE TOPIC:LITERAL:*',
    ]);
    expect(keys.has('console READ TOPIC:LITERAL:predictions')).toBe(false);
    expect(keys.has('console READ TOPIC:LITERAL:reviews')).toBe(false);
  });

  it('lets every consumer of a topic through the consumer runner dead-letter it', () => {
    // drift reads drift.events only to elect a leader, mlops and the console only to watch:
    // no dead letters.
    const watchers = new Set(['drift', 'mlops', 'console']);
    const runnerConsumers = catalogue.principals.filter((entry) => !watchers.has(entry.name));
    for (const entry of runnerConsumers) {
      for (const topic of entry.reads) {
        expect(entry.writes, `${entry.name} reads ${topic}`).toContain(`dlq.${topic}`);
      }
    }
  });

  it("matches docs/security.md's table of principals", () => {
    const doc = readFileSync(join(REPO_ROOT, 'docs/security.md'), 'utf8').split(
      '### Kafka: one principal per service',
    )[1]!;
    const topicsIn = (cell: string) => [...cell.matchAll(/`([a-z_.-]+)`/g)].map((m) => m[1]!);
    for (const entry of catalogue.principals) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${entry.name}\``));
      expect(row, entry.name).toBeDefined();
      const [, , writes = '', reads = ''] = row!.split('|');
      expect(topicsIn(writes).sort(), `${entry.name} writes`).toEqual(
        [...entry.writes, ...entry.ownedTopics].sort(),
      );
      expect(topicsIn(reads).sort(), `${entry.name} reads`).toEqual(
        [...entry.reads, ...entry.ownedTopics].sort(),
      );
    }
  });

  it('reports every mistake in the principals at once', () => {
    const raw = JSON.parse(JSON.stringify({ topics: catalogue.topics })) as Record<string, unknown>;
    raw.principals = {
      admin: { reads: [], writes: [], description: 'a super user' },
      Bad_Name: { reads: ['no.such.topic'], writes: 'reviews', description: '' },
    };
    let error: unknown;
    try {
      validateCatalogue(raw);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CatalogueError);
    const message = (error as Error).message;
    expect(message).toContain('principals.admin: "admin" is reserved');
    expect(message).toContain('principals.Bad_Name: a principal name is lower case');
    expect(message).toContain('principals.Bad_Name.reads: no topic "no.such.topic"');
    expect(message).toContain('principals.Bad_Name.writes must be a list of topic names');
    expect(message).toContain('principals.Bad_Name.description must be a non-empty string');
  });
});
