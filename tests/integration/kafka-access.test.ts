/**
 * Kafka access control on the real brokers of the test stack (SASL/SCRAM + ACLs from
 * topics/catalogue.json, docs/security.md "Kafka"): anonymous and wrong-password clients are
 * refused; a principal cannot write a topic it does not own (the model swap through
 * `models.deployments` from any service but the promoter and the ops CLI), read one it does
 * not read, or use another service's consumer group; an ACL added by hand is revoked by the
 * next reconciliation.
 */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import kafkajs, { type Admin, type Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '#platform/common';
import {
  type KafkaAcl,
  aclKey,
  createKafka,
  kafkaAclsOf,
  localKafkaPasswordFile,
  reconcileAcls,
} from '#platform/kafka';
import { loadCatalogue } from '#platform/serde';
import { waitUntil } from '../support/kafka.ts';
import { TEST_STACK_ENV, kafkaBrokers, testKafkaSettings } from '../support/stack.ts';

const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

const logger = createLogger('kafka-access-test', 'fatal');

/**
 * A client that fails at once rather than retrying a refusal for 30 s. `onProtocolError`
 * hears the protocol errors kafkajs only logs (it replaces a refused FindCoordinator with
 * "coordinator not found", dropping the broker's reason).
 */
function clientAs(
  principal: string,
  password?: string,
  onProtocolError?: (type: string) => void,
): Kafka {
  return new kafkajs.Kafka({
    clientId: `access-test-${principal}`,
    brokers: kafkaBrokers(),
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
    retry: { retries: 1, initialRetryTime: 200 },
    logLevel: onProtocolError ? kafkajs.logLevel.DEBUG : kafkajs.logLevel.NOTHING,
    logCreator: () => (entry) => {
      const type = (entry.log.error as { type?: unknown } | undefined)?.type;
      if (typeof type === 'string') onProtocolError?.(type);
    },
    sasl: {
      mechanism: 'scram-sha-512',
      username: principal,
      password:
        password ??
        readFileSync(localKafkaPasswordFile(TEST_STACK_ENV.STACK_DIR, principal), 'utf8').trim(),
    },
  });
}

/** What sending one message as `principal` to `topic` gives: 'ok' or the error's type/name. */
async function sendAs(principal: string, topic: string): Promise<string> {
  const producer = clientAs(principal).producer({ idempotent: true, maxInFlightRequests: 1 });
  try {
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key: 'x', value: 'forged' }] });
    return 'ok';
  } catch (error) {
    return errorType(error);
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
}

function errorType(error: unknown): string {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    const type = (current as { type?: unknown }).type;
    if (typeof type === 'string') return type;
    current = (current as { originalError?: unknown }).originalError ?? current.cause;
  }
  return error instanceof Error ? error.name : String(error);
}

async function endOffset(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, partition) => sum + Number(partition.high), 0);
}

describe('Kafka access control (SASL/SCRAM + ACLs from the catalogue)', () => {
  let admin: Admin;

  beforeAll(async () => {
    admin = createKafka(testKafkaSettings('access-admin'), logger).admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.disconnect();
  });

  it('refuses anonymous clients and wrong passwords', async () => {
    const anonymous = new kafkajs.Kafka({
      clientId: 'anonymous',
      brokers: kafkaBrokers(),
      connectionTimeout: 2_000,
      requestTimeout: 5_000,
      retry: { retries: 0 },
      logLevel: kafkajs.logLevel.NOTHING,
    }).admin();
    await expect(anonymous.connect().then(() => anonymous.listTopics())).rejects.toThrow();
    await anonymous.disconnect().catch(() => undefined);

    const wrong = clientAs('logger', 'not-the-password').admin();
    await expect(wrong.connect()).rejects.toMatchObject({
      name: 'KafkaJSSASLAuthenticationError',
    });
    await wrong.disconnect().catch(() => undefined);
  });

  it('refuses a principal writing a topic it does not own, and keeps the topic unchanged', async () => {
    const before = await endOffset(admin, 'models.deployments');
    // The model-swap attack from a compromised service: only the promoter and the ops CLI (the
    // holders of the registry's signing key) may write deployments.
    expect(await sendAs('logger', 'models.deployments')).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await sendAs('retrainer', 'models.deployments')).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await sendAs('gateway', 'models.deployments')).toBe('TOPIC_AUTHORIZATION_FAILED');
    // Nor labels or reviews from a service that only stores predictions.
    expect(await sendAs('logger', 'reviews')).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await endOffset(admin, 'models.deployments')).toBe(before);
  });

  it("refuses reading a topic the principal does not read and joining another service's group", async () => {
    /** The errors reading `topic` in `groupId` as `principal` gives: thrown and logged. */
    const readAttempt = async (principal: string, topic: string, groupId: string) => {
      const logged = new Set<string>();
      const consumer = clientAs(principal, undefined, (type) => logged.add(type)).consumer({
        groupId,
        // A join's own retriable steps (MEMBER_ID_REQUIRED, GROUP_LOAD_IN_PROGRESS while a
        // fresh cluster loads its offsets) are retried; a refusal is not retriable.
        retry: { retries: 10, initialRetryTime: 300 },
      });
      const crashed = new Promise<string>((resolve) => {
        // A crash kafkajs recovers from by restarting (a retriable error) is not the answer.
        consumer.on(consumer.events.CRASH, ({ payload }) => {
          if (!payload.restart) resolve(errorType(payload.error));
        });
      });
      try {
        await consumer.connect();
        await consumer.subscribe({ topics: [topic], fromBeginning: true });
        await consumer.run({ eachMessage: async () => undefined });
        const thrown = await Promise.race([
          crashed,
          new Promise<string>((resolve) => setTimeout(() => resolve('no error in 20 s'), 20_000)),
        ]);
        return [thrown, ...logged];
      } catch (error) {
        return [errorType(error), ...logged];
      } finally {
        await consumer.disconnect().catch(() => undefined);
      }
    };
    // The logger's own group prefix, but a topic it does not read.
    expect(await readAttempt('logger', 'reviews', `logger-${randomUUID()}`)).toContain(
      'TOPIC_AUTHORIZATION_FAILED',
    );
    // A topic it reads, but inference's group: it could steal inference's partitions.
    expect(await readAttempt('logger', 'predictions', 'inference')).toContain(
      'GROUP_AUTHORIZATION_FAILED',
    );
    // Its own group on its own topic joins (the refusals above are about rights, not set-up).
    // (The join itself logs MEMBER_ID_REQUIRED and the like: no authorisation error.)
    const own = await readAttempt('logger', 'predictions', `logger-${randomUUID()}`);
    expect(own[0]).toBe('no error in 20 s');
    expect(own.filter((type) => type.includes('AUTHORIZATION'))).toEqual([]);
  }, 60_000);

  it("the cluster's ACLs are the catalogue's; one added by hand is revoked by the next reconciliation", async () => {
    const desired = kafkaAclsOf(loadCatalogue());
    const settled = await reconcileAcls(admin, desired);
    expect(settled).toMatchObject({ created: [], deleted: [], unchanged: desired.length });

    const extra: KafkaAcl = {
      principal: 'logger',
      resource: 'TOPIC',
      name: 'reviews',
      pattern: 'LITERAL',
      operation: 'WRITE',
    };
    await admin.createAcls({
      acl: [
        {
          resourceType: AclResourceTypes.TOPIC,
          resourceName: 'reviews',
          resourcePatternType: ResourcePatternTypes.LITERAL,
          principal: 'User:logger',
          host: '*',
          operation: AclOperationTypes.WRITE,
          permissionType: AclPermissionTypes.ALLOW,
        },
      ],
    });
    // ACLs reach the brokers through the metadata log: wait until the hand-made one is seen.
    let revoked: readonly string[] = [];
    await waitUntil(
      async () => {
        revoked = (await reconcileAcls(admin, desired)).deleted;
        return revoked.length > 0;
      },
      10_000,
      'the hand-made ACL to be found and revoked',
      300,
    );
    expect(revoked).toEqual([aclKey(extra)]);
    await waitUntil(
      async () => (await sendAs('logger', 'reviews')) === 'TOPIC_AUTHORIZATION_FAILED',
      10_000,
      'the revocation to reach the brokers',
      300,
    );
  }, 60_000);
});
