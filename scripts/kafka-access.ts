/**
 * Kafka access from topics/catalogue.json `principals` (docs/security.md "Kafka"):
 *
 *   node --import tsx scripts/kafka-access.ts passwords <folder> [--rotate <principal>]
 *       writes `<principal>.password` (random, mode 0600) for every catalogue principal,
 *       `admin` and `cluster` (the brokers' own) where none exists; `--rotate` replaces one. infra/kafka/run.sh users then makes
 *       the brokers' SCRAM credentials match the folder (a removed file revokes the user).
 *   node --import tsx scripts/kafka-access.ts acls
 *       makes the cluster's ACLs equal to the catalogue's grants (#platform/kafka
 *       reconcileAcls), as `admin`: KAFKA_BROKERS, KAFKA_USERNAME, KAFKA_PASSWORD_FILE (the
 *       local stack's by default).
 *
 * The local stack (infra/local-stack.sh up) runs both; for docker-compose, `make
 * compose-secrets` runs `passwords` and the compose init runs `acls`.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger, describeError, listField, parseConfig } from '#platform/common';
import {
  createKafka,
  kafkaAclsOf,
  kafkaSecurityConfigFields,
  kafkaSecurityOf,
  reconcileAcls,
  withLocalStackDefaults,
} from '#platform/kafka';
import { loadCatalogue } from '#platform/serde';

const USAGE = 'usage: kafka-access.ts passwords <folder> [--rotate <principal>] | acls';

function writePasswords(folder: string, rotate: string | undefined): void {
  // `cluster` logs brokers and controllers in to each other (PLAIN); the rest are SCRAM users.
  const principals = [
    'cluster',
    'admin',
    ...loadCatalogue().principals.map((principal) => principal.name),
  ];
  if (rotate !== undefined && !principals.includes(rotate)) {
    throw new Error(`no principal "${rotate}" (known: ${principals.join(', ')})`);
  }
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  chmodSync(folder, 0o700);
  const written: string[] = [];
  for (const principal of principals) {
    const file = join(folder, `${principal}.password`);
    if (existsSync(file) && principal !== rotate) continue;
    // base64url: no quote or backslash, which could not go into a JAAS line; no newline, as
    // Kafka's DirectoryConfigProvider passes a file's bytes on unchanged.
    writeFileSync(file, randomBytes(24).toString('base64url'), { mode: 0o600 });
    chmodSync(file, 0o600);
    written.push(principal);
  }
  console.log(
    `kafka passwords: ${principals.length} principals, ${written.length} new` +
      (written.length > 0 ? ` (${written.join(', ')})` : ''),
  );
}

async function applyAcls(): Promise<void> {
  const config = parseConfig(
    {
      brokers: listField('KAFKA_BROKERS', 'Kafka bootstrap servers (comma-separated host:port)'),
      ...kafkaSecurityConfigFields,
    },
    withLocalStackDefaults(process.env, 'admin'),
  );
  const admin = createKafka(
    { brokers: config.brokers, clientId: 'kafka-access', ...kafkaSecurityOf(config) },
    createLogger('kafka-access', 'warn'),
  ).admin();
  await admin.connect();
  try {
    const desired = kafkaAclsOf(loadCatalogue());
    const result = await reconcileAcls(admin, desired);
    for (const acl of result.created) console.log(`granted ${acl}`);
    for (const acl of result.deleted) console.log(`revoked ${acl}`);
    console.log(
      `kafka ACLs: ${desired.length} grants, ${result.created.length} new, ` +
        `${result.deleted.length} revoked`,
    );
  } finally {
    await admin.disconnect();
  }
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { rotate: { type: 'string' } },
  });
  const [command, folder] = positionals;
  if (command === 'passwords' && folder !== undefined && positionals.length === 2) {
    writePasswords(resolve(folder), values.rotate);
  } else if (command === 'acls' && positionals.length === 1) {
    await applyAcls();
  } else {
    console.error(USAGE);
    process.exitCode = 2;
  }
}

main().catch((error: unknown) => {
  console.error(`kafka-access failed: ${describeError(error)}`);
  process.exitCode = 1;
});
