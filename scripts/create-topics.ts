/**
 * Creates the topics of topics/catalogue.json that the cluster lacks (the logic lives in
 * `#platform/kafka`, topics.ts). Run by the local stack (infra/local-stack.sh) and by the
 * docker-compose `init` service before schema registration:
 *   KAFKA_BROKERS=kafka:9092 KAFKA_USERNAME=admin KAFKA_PASSWORD_FILE=... \
 *     node --import tsx scripts/create-topics.ts
 * It first waits until KAFKA_EXPECTED_BROKERS brokers are registered (default 1; the local
 * stack's 3-node cluster passes 3), so a cluster still starting never gets topics with
 * reduced replication.
 */
import {
  createLogger,
  describeError,
  enumField,
  intField,
  listField,
  parseConfig,
  type Env,
} from '#platform/common';
import {
  createKafka,
  createTopics,
  kafkaSecurityConfigFields,
  kafkaSecurityOf,
  waitForBrokers,
  withLocalStackDefaults,
} from '#platform/kafka';
import { loadCatalogue } from '#platform/serde';

async function main(env: Env): Promise<void> {
  const config = parseConfig(
    {
      brokers: listField('KAFKA_BROKERS', 'Kafka bootstrap servers (comma-separated host:port)'),
      ...kafkaSecurityConfigFields,
      expectedBrokers: intField('KAFKA_EXPECTED_BROKERS', 'Brokers to wait for', {
        default: 1,
        min: 1,
      }),
      waitMs: intField('KAFKA_WAIT_MS', 'How long to wait for them', { default: 120_000, min: 0 }),
      logLevel: enumField('LOG_LEVEL', 'Log level', ['debug', 'info', 'warn', 'error'] as const, {
        default: 'warn',
      }),
    },
    withLocalStackDefaults(env, 'admin'),
  );
  const logger = createLogger('create-topics', config.logLevel);
  const admin = createKafka(
    { brokers: config.brokers, clientId: 'create-topics', ...kafkaSecurityOf(config) },
    logger,
  ).admin();
  await admin.connect();
  try {
    await waitForBrokers(admin, config.expectedBrokers, config.waitMs);
    await createTopics(admin, loadCatalogue(), (line) => console.log(line));
  } finally {
    await admin.disconnect();
  }
}

main(process.env).catch((error: unknown) => {
  console.error(`create-topics failed: ${describeError(error)}`);
  process.exitCode = 1;
});
