/**
 * Faults through real processes: the test stack's Kafka nodes are JVMs started by
 * infra/kafka/run.sh; tests SIGKILL, SIGSTOP (a hung broker) and SIGCONT them, restart them,
 * and find partition leaders through the admin API. `healCluster` puts everything back (all
 * nodes running and every replica in sync) so the next test starts from a healthy cluster.
 */
import { execFileSync } from 'node:child_process';
import type { Admin } from 'kafkajs';
import { REPO_ROOT, TEST_STACK_ENV } from './stack.ts';
import { waitUntil } from './kafka.ts';

export const NODE_IDS = [1, 2, 3] as const;
export type NodeId = (typeof NODE_IDS)[number];

function runSh(...args: string[]): string {
  return execFileSync('bash', ['infra/kafka/run.sh', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...TEST_STACK_ENV },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

/** The node's JVM pid, or undefined when it does not run. */
export function nodePid(id: NodeId): number | undefined {
  try {
    return Number(runSh('pid', String(id)));
  } catch {
    return undefined;
  }
}

function signal(id: NodeId, name: NodeJS.Signals): void {
  const pid = nodePid(id);
  if (pid === undefined) throw new Error(`Kafka node ${id} is not running`);
  process.kill(pid, name);
}

/** SIGKILL: the node dies without a controlled shutdown. */
export function killNode(id: NodeId): void {
  signal(id, 'SIGKILL');
}

/** SIGSTOP: the node hangs (connections stay open, nothing answers). */
export function freezeNode(id: NodeId): void {
  signal(id, 'SIGSTOP');
}

/** SIGCONT: a frozen node resumes. */
export function thawNode(id: NodeId): void {
  signal(id, 'SIGCONT');
}

/**
 * Starts a node that is not running (after a kill) and waits until it serves. A node serves
 * only once a controller quorum (2 of 3) exists: with two nodes down, use `startAllNodes`.
 */
export function startNode(id: NodeId): void {
  runSh('start-node', String(id));
}

/** Starts every node that is not running, together, and waits until they serve. */
export function startAllNodes(): void {
  runSh('start');
}

/** The node that leads a partition, from the cluster's metadata. */
export async function leaderOf(admin: Admin, topic: string, partition = 0): Promise<NodeId> {
  const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
  const leader = metadata.topics[0]?.partitions.find((p) => p.partitionId === partition)?.leader;
  if (leader === undefined || !NODE_IDS.includes(leader as NodeId)) {
    throw new Error(`no leader for ${topic}/${partition} (got ${String(leader)})`);
  }
  return leader as NodeId;
}

/**
 * Thaws frozen nodes, starts stopped ones, then waits until the cluster has 3 brokers and
 * every replica of `topics` is in sync again (a test after a fault must not inherit it).
 */
export async function healCluster(admin: Admin, topics: readonly string[]): Promise<void> {
  for (const id of NODE_IDS) {
    const pid = nodePid(id);
    if (pid !== undefined) process.kill(pid, 'SIGCONT');
  }
  if (NODE_IDS.some((id) => nodePid(id) === undefined)) startAllNodes();
  await waitUntil(
    async () => {
      try {
        const cluster = await admin.describeCluster();
        if (cluster.brokers.length < NODE_IDS.length) return false;
        const metadata = await admin.fetchTopicMetadata({ topics: [...topics] });
        return metadata.topics.every((topic) =>
          topic.partitions.every((p) => p.isr.length === p.replicas.length && p.leader >= 0),
        );
      } catch {
        return false;
      }
    },
    120_000,
    'every Kafka node up and every replica in sync',
  );
}
