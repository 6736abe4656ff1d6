/**
 * Creates the topics of topics/catalogue.json that the cluster lacks, with their partition
 * count, replication factor and retention/cleanup configs. Existing topics are left alone
 * (changing partitions or configs of a live topic is an operator decision, not a start-up
 * side effect). Run by the docker-compose `init` service before schema registration:
 *   KAFKA_BROKERS=kafka:9092 node --import tsx scripts/create-topics.ts
 * The local dev broker cannot create topics (no CreateTopics API); its launcher creates them
 * from the same catalogue, so there this script only reports that all of them exist.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { Admin, ITopicConfig } from 'kafkajs';
import {
  createLogger,
  describeError,
  enumField,
  listField,
  parseConfig,
  type Env,
} from '#shared/common';
import { createKafka, withLocalStackDefaults } from '#shared/kafka';
import { loadCatalogue, type Catalogue } from '#shared/serde';

export interface TopicCreation {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  /** Topic-level configs, as Kafka expects them (strings). */
  readonly configs: Readonly<Record<string, string>>;
}

export interface TopicCreationPlan {
  /** Topics to create, in catalogue order. */
  readonly create: readonly TopicCreation[];
  /** Catalogue topics that already exist and are left as they are. */
  readonly existing: readonly string[];
  /** Things an operator should know (replication factors reduced to fit the cluster). */
  readonly warnings: readonly string[];
}

/**
 * Decides what to create: every catalogue topic not in `existingTopics`, with the
 * replication factor clamped to `brokerCount` (a replication factor above the broker count
 * makes CreateTopics fail, and a one-broker development cluster is a legitimate target).
 */
export function planTopicCreation(
  catalogue: Catalogue,
  existingTopics: Iterable<string>,
  brokerCount: number,
): TopicCreationPlan {
  if (!Number.isInteger(brokerCount) || brokerCount < 1) {
    throw new Error(`broker count must be a positive integer, got ${brokerCount}`);
  }
  const existingNames = new Set(existingTopics);
  const create: TopicCreation[] = [];
  const existing: string[] = [];
  const warnings: string[] = [];
  for (const topic of catalogue.topics) {
    if (existingNames.has(topic.name)) {
      existing.push(topic.name);
      continue;
    }
    const replicationFactor = Math.min(topic.replicationFactor, brokerCount);
    if (replicationFactor < topic.replicationFactor) {
      warnings.push(
        `${topic.name}: replication factor ${topic.replicationFactor} reduced to ` +
          `${replicationFactor} (the cluster has ${brokerCount} broker${brokerCount === 1 ? '' : 's'})`,
      );
    }
    create.push({
      name: topic.name,
      partitions: topic.partitions,
      replicationFactor,
      configs: {
        'retention.ms': String(topic.retentionMs),
        'cleanup.policy': topic.cleanupPolicy,
      },
    });
  }
  return { create, existing, warnings };
}

function toKafkajsTopic(topic: TopicCreation): ITopicConfig {
  return {
    topic: topic.name,
    numPartitions: topic.partitions,
    replicationFactor: topic.replicationFactor,
    configEntries: Object.entries(topic.configs).map(([name, value]) => ({ name, value })),
  };
}

/** The part of the kafkajs admin client this script uses. */
export type TopicAdmin = Pick<Admin, 'describeCluster' | 'listTopics' | 'createTopics'>;

/** Plans against the live cluster and creates what is missing; returns the plan. */
export async function createTopics(
  admin: TopicAdmin,
  catalogue: Catalogue,
  print: (line: string) => void,
): Promise<TopicCreationPlan> {
  const [cluster, topics] = await Promise.all([admin.describeCluster(), admin.listTopics()]);
  const plan = planTopicCreation(catalogue, topics, cluster.brokers.length);
  for (const warning of plan.warnings) print(`warning: ${warning}`);
  for (const name of plan.existing) print(`exists   ${name} (left unchanged)`);
  if (plan.create.length > 0) {
    // kafkajs resolves false rather than failing when a topic appeared in the meantime (a
    // concurrent init); that is the state we want, so it is not an error.
    try {
      await admin.createTopics({ topics: plan.create.map(toKafkajsTopic), waitForLeaders: true });
    } catch (error) {
      const names = plan.create.map((topic) => topic.name).join(', ');
      throw new Error(`creating ${names} failed: ${describeError(error)}`, { cause: error });
    }
  }
  for (const topic of plan.create) {
    const configs = Object.entries(topic.configs)
      .map(([name, value]) => `${name}=${value}`)
      .join(' ');
    print(
      `created  ${topic.name} (partitions ${topic.partitions}, replication ${topic.replicationFactor}, ${configs})`,
    );
  }
  print(
    `${plan.create.length} topic(s) created, ${plan.existing.length} already present ` +
      `(cluster of ${cluster.brokers.length} broker(s))`,
  );
  return plan;
}

async function main(env: Env): Promise<void> {
  const config = parseConfig(
    {
      brokers: listField('KAFKA_BROKERS', 'Kafka bootstrap servers (comma-separated host:port)'),
      logLevel: enumField('LOG_LEVEL', 'Log level', ['debug', 'info', 'warn', 'error'] as const, {
        default: 'info',
      }),
    },
    withLocalStackDefaults(env),
  );
  const logger = createLogger('create-topics', config.logLevel);
  const admin = createKafka({ brokers: config.brokers, clientId: 'create-topics' }, logger).admin();
  await admin.connect();
  try {
    await createTopics(admin, loadCatalogue(), (line) => console.log(line));
  } finally {
    await admin.disconnect();
  }
}

function isMainModule(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    // Node resolves symlinks for the entry module, so compare real paths.
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isMainModule()) {
  main(process.env).catch((error: unknown) => {
    console.error(`create-topics failed: ${describeError(error)}`);
    process.exitCode = 1;
  });
}
