/**
 * Commits offsets for a consumer group that has no active members, by joining it for a moment
 * as its only member. kafkajs's `admin.setOffsets` does the same through a consumer that waits
 * for a full fetch (5 s by default) before it commits; this one commits as soon as it has
 * joined (about 0.2 s here). It fails when other members are active: their group, their
 * offsets.
 */
import type { Kafka } from 'kafkajs';
import { sleep } from '#platform/common';
import { COORDINATOR_MOVED_ERRORS, hasKafkaErrorType } from './client.ts';

export interface GroupOffsets {
  readonly groupId: string;
  readonly topic: string;
  readonly partitions: readonly { readonly partition: number; readonly offset: string }[];
}

export async function commitGroupOffsets(
  kafka: Kafka,
  { groupId, topic, partitions }: GroupOffsets,
  timeoutMs = 30_000,
): Promise<void> {
  const consumer = kafka.consumer({
    groupId,
    maxWaitTimeInMs: 50,
    sessionTimeout: 6_000,
    heartbeatInterval: 1_000,
    allowAutoTopicCreation: false,
  });
  let joined = false;
  consumer.on(consumer.events.GROUP_JOIN, () => {
    joined = true;
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: false });
    // Nothing is consumed: the batches are neither handled nor resolved.
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async () => undefined,
    });
    consumer.pause([{ topic }]);
    const deadline = Date.now() + timeoutMs;
    while (!joined) {
      if (Date.now() > deadline) throw new Error(`could not join ${groupId} in ${timeoutMs} ms`);
      await sleep(20);
    }
    await consumer.commitOffsets(
      partitions.map(({ partition, offset }) => ({ topic, partition, offset })),
    );
  } finally {
    await consumer.disconnect();
  }
}

/**
 * Gives the partitions of `topic` that `groupId` has no committed offset for one at the
 * current end of the topic, while the group has no members; returns what it pinned (empty
 * when nothing was missing, or when members are active: they own the group then). A new
 * group that should start at the end thus starts at the end as it was when it was first
 * started, even if its first member dies before committing a partition.
 */
export async function pinNewGroupAtEnd(
  kafka: Kafka,
  groupId: string,
  topic: string,
): Promise<GroupOffsets['partitions']> {
  // kafkajs's admin keeps asking a broker that is no longer (or not yet) the group's
  // coordinator, as on a cluster that has just started: a fresh admin asks again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await pinOnce(kafka, groupId, topic);
    } catch (error) {
      if (attempt >= 10 || !hasKafkaErrorType(error, COORDINATOR_MOVED_ERRORS)) throw error;
      await sleep(Math.min(500 * attempt, 3_000));
    }
  }
}

async function pinOnce(
  kafka: Kafka,
  groupId: string,
  topic: string,
): Promise<GroupOffsets['partitions']> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const missing = (committed?.partitions ?? []).filter(({ offset }) => Number(offset) < 0);
    if (missing.length === 0) return [];
    const { groups } = await admin.describeGroups([groupId]);
    const state = groups[0]?.state ?? 'Dead';
    if (state !== 'Empty' && state !== 'Dead') return [];
    const ends = new Map(
      (await admin.fetchTopicOffsets(topic)).map(({ partition, high }) => [partition, high]),
    );
    const partitions = missing.map(({ partition }) => ({
      partition,
      offset: ends.get(partition) ?? '0',
    }));
    await commitGroupOffsets(kafka, { groupId, topic, partitions });
    return partitions;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Waits until `groupId` has committed, on every partition of `topic`, at least the end offset
 * the partition had when this was called: its consumer has handled everything written before
 * (with the runner's contract, durably). For a follower that must know the current state
 * before it acts (drift: the production version, from `models.deployments`). Resolves true
 * then, false once `timeoutMs` passed (the caller goes on and catches up later).
 */
export async function waitUntilCaughtUp(
  kafka: Kafka,
  groupId: string,
  topic: string,
  timeoutMs = 30_000,
): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const offsetOf = new Map(
        (committed?.partitions ?? []).map(({ partition, offset }) => [partition, BigInt(offset)]),
      );
      const caughtUp = ends.every(
        ({ partition, high, low }) =>
          BigInt(high) <= BigInt(low) || (offsetOf.get(partition) ?? -1n) >= BigInt(high),
      );
      if (caughtUp) return true;
      if (Date.now() > deadline) return false;
      await sleep(100);
    }
  } finally {
    await admin.disconnect();
  }
}
