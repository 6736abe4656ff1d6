/**
 * Topics from the catalogue through the Kafka admin API: the one code path that creates them,
 * run by the local stack (infra/local-stack.sh) and by the docker-compose `init` service
 * (both through scripts/create-topics.ts).
 *
 * Missing catalogue topics are created with their partition count, replication factor and
 * configs (retention, cleanup policy, min.insync.replicas). Existing topics are left alone:
 * changing partitions or configs of a live topic is an operator decision, not a start-up side
 * effect.
 */
import type { Admin, ITopicConfig } from 'kafkajs';
import { describeError, sleep } from '#platform/common';
import type { Catalogue } from '#platform/serde';

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
  /** Things an operator should know (replication reduced to fit the cluster). */
  readonly warnings: readonly string[];
}

/**
 * Decides what to create: every catalogue topic not in `existingTopics`. A replication factor
 * above the broker count makes CreateTopics fail, and a one-broker development cluster is a
 * legitimate target, so the factor is clamped to `brokerCount`; min.insync.replicas is then
 * clamped to one less than the replicas (at least 1), so that a reduced topic still accepts
 * writes with one replica down.
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
    let minInsyncReplicas = topic.minInsyncReplicas;
    if (replicationFactor < topic.replicationFactor) {
      minInsyncReplicas = Math.min(minInsyncReplicas, Math.max(1, replicationFactor - 1));
      warnings.push(
        `${topic.name}: replication factor ${topic.replicationFactor} reduced to ` +
          `${replicationFactor}, min.insync.replicas ${topic.minInsyncReplicas} to ` +
          `${minInsyncReplicas} (the cluster has ${brokerCount} broker${brokerCount === 1 ? '' : 's'})`,
      );
    }
    create.push({
      name: topic.name,
      partitions: topic.partitions,
      replicationFactor,
      configs: {
        'retention.ms': String(topic.retentionMs),
        'cleanup.policy': topic.cleanupPolicy,
        'min.insync.replicas': String(minInsyncReplicas),
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

/** The part of the kafkajs admin client that topic creation uses. */
export type TopicAdmin = Pick<Admin, 'describeCluster' | 'listTopics' | 'createTopics'>;

/**
 * Waits until the cluster reports at least `brokers` live brokers (a cluster that is still
 * starting answers with fewer, and topics created then would get a reduced replication).
 * Resolves with the count; rejects after `timeoutMs` with the last count or error.
 */
export async function waitForBrokers(
  admin: Pick<Admin, 'describeCluster'>,
  brokers: number,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    try {
      const cluster = await admin.describeCluster();
      if (cluster.brokers.length >= brokers) return cluster.brokers.length;
      last = `${cluster.brokers.length} broker(s) registered`;
    } catch (error) {
      last = describeError(error);
    }
    if (Date.now() > deadline) {
      throw new Error(`the cluster did not reach ${brokers} broker(s) in ${timeoutMs} ms: ${last}`);
    }
    await sleep(500);
  }
}

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
