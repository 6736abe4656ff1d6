/**
 * Single writer by consumer-group membership (LeaderElection) on the local Kafka cluster: of several
 * candidates exactly one leads; when it leaves, or dies without leaving, a standby takes over.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaderElection } from '#platform/kafka';
import { type TestKafka, connectTestKafka, waitUntil } from '../support/kafka.ts';

describe('leader election on a one-partition topic', () => {
  let kafka: TestKafka;
  const members: LeaderElection[] = [];

  beforeAll(async () => {
    kafka = await connectTestKafka();
  });

  afterAll(async () => {
    await Promise.all(members.map((member) => member.stop().catch(() => undefined)));
    await kafka?.close();
  });

  function candidate(groupId: string): LeaderElection {
    const member = new LeaderElection({
      kafka: kafka.kafka,
      groupId,
      topic: 'drift.events',
      logger: kafka.logger,
      sessionTimeoutMs: 6_000,
      heartbeatIntervalMs: 500,
    });
    members.push(member);
    return member;
  }

  it('exactly one of three candidates leads; a leader that leaves is replaced', async () => {
    const groupId = `leader-it-${randomUUID().slice(0, 8)}`;
    const [a, b, c] = [candidate(groupId), candidate(groupId), candidate(groupId)];
    const leaders = () => members.filter((member) => member.isLeader);
    // All at once: the group settles on one leader.
    await Promise.all([a!.start(), b!.start(), c!.start()]);
    await waitUntil(() => leaders().length === 1, 30_000, 'one leader');
    // Stable: still exactly one a few heartbeats later.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(leaders()).toHaveLength(1);

    const first = leaders()[0]!;
    // Sticky: a standby joining later does not move leadership.
    const late = candidate(groupId);
    await late.start();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await waitUntil(() => leaders().length === 1, 30_000, 'one leader after a join');
    expect(leaders()[0]).toBe(first);
    expect(late.isLeader).toBe(false);

    await first.stop();
    await waitUntil(
      () => leaders().length === 1 && leaders()[0] !== first,
      30_000,
      'a standby to take over',
    );
    expect(first.isLeader).toBe(false);
  });

  it('separate groups (one per model name) each have their own leader', async () => {
    const x = candidate(`leader-it-x-${randomUUID().slice(0, 8)}`);
    const y = candidate(`leader-it-y-${randomUUID().slice(0, 8)}`);
    await Promise.all([x.start(), y.start()]);
    await waitUntil(() => x.isLeader && y.isLeader, 30_000, 'both groups to elect');
  });
});
