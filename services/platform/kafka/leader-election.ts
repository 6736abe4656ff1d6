/**
 * Single writer by Kafka consumer-group membership: every candidate joins the group
 * `<groupId>` on a topic with ONE partition; the group coordinator assigns that partition to
 * exactly one member, which is the leader. The others hold no partition and stay idle. When
 * the leader stops (it leaves the group at once) or dies (its session times out), the group
 * rebalances and a standby takes over, without any other coordination service.
 *
 * Leadership is dropped as soon as a rebalance starts and regained only by the assignment
 * that ends it, so two members never both believe they lead within one generation. A leader
 * that is paused for longer than the session timeout (a zombie) may act once after losing
 * the partition: the writes it guards must be idempotent or checked (callers check
 * `isLeader` right before each write).
 *
 * The member consumes nothing: it runs with an empty handler and never commits.
 *
 * The group uses its own assigner (`SingleOwner`): every partition to one member, and an
 * explicit empty assignment to every other member (kafkajs's round-robin leaves members
 * without partitions out of the SyncGroup request, which some coordinators never complete). It is sticky: a member that leads says so in its join
 * metadata and keeps leading when standbys join, so adding a standby never moves leadership.
 */
import { AssignerProtocol, type Consumer, type Kafka, type PartitionAssigner } from 'kafkajs';
import { type Logger, describeError, sleep } from '#platform/common';

export interface LeaderElectionOptions {
  readonly kafka: Kafka;
  readonly groupId: string;
  /** A topic with exactly one partition. */
  readonly topic: string;
  readonly logger: Logger;
  /** How fast a dead leader is replaced (default 10,000 ms). */
  readonly sessionTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
  readonly onChange?: (leader: boolean) => void;
}

export const SINGLE_OWNER_PROTOCOL = 'SingleOwner';

export interface Candidate {
  readonly memberId: string;
  /** When the member became leader (ms since the epoch), or null when it does not lead. */
  readonly leaderSince: number | null;
}

/** The member that gets the partitions: the longest-standing leader, else the lowest id. */
export function chooseOwner(candidates: readonly Candidate[]): string | undefined {
  const leading = candidates
    .filter((c) => c.leaderSince !== null)
    .sort((a, b) => a.leaderSince! - b.leaderSince! || a.memberId.localeCompare(b.memberId));
  if (leading[0]) return leading[0].memberId;
  return [...candidates].sort((a, b) => a.memberId.localeCompare(b.memberId))[0]?.memberId;
}

function encodeLeaderSince(leaderSince: number | null): Buffer {
  return Buffer.from(JSON.stringify({ leaderSince }));
}

function decodeLeaderSince(userData: Buffer | undefined): number | null {
  try {
    const value = (JSON.parse(userData?.toString() || '{}') as { leaderSince?: unknown })
      .leaderSince;
    return typeof value === 'number' ? value : null;
  } catch {
    return null;
  }
}

function singleOwnerAssigner(leaderSince: () => number | null): PartitionAssigner {
  return ({ cluster }) => ({
    name: SINGLE_OWNER_PROTOCOL,
    version: 1,
    async assign({ members, topics }) {
      const owner = chooseOwner(
        members.map((member) => ({
          memberId: member.memberId,
          leaderSince: decodeLeaderSince(
            AssignerProtocol.MemberMetadata.decode(member.memberMetadata)?.userData,
          ),
        })),
      );
      const everything = Object.fromEntries(
        topics.map((topic) => [
          topic,
          cluster.findTopicPartitionMetadata(topic).map((partition) => partition.partitionId),
        ]),
      );
      return members.map((member) => ({
        memberId: member.memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 1,
          assignment: member.memberId === owner ? everything : {},
          userData: Buffer.alloc(0),
        }),
      }));
    },
    protocol({ topics }) {
      return {
        name: SINGLE_OWNER_PROTOCOL,
        metadata: AssignerProtocol.MemberMetadata.encode({
          version: 1,
          topics,
          userData: encodeLeaderSince(leaderSince()),
        }),
      };
    },
  });
}

export class LeaderElection {
  private consumer: Consumer;
  private leader = false;
  /** Kept through a rebalance (while `leader` is false) to claim leadership back. */
  private leaderSince: number | null = null;
  private running = false;
  /** In a generation of the group (leader or standby), not crashed or stopped. */
  private member = false;
  private restarting: Promise<void> | undefined;

  constructor(private readonly options: LeaderElectionOptions) {
    this.consumer = this.createConsumer();
  }

  get isLeader(): boolean {
    return this.leader;
  }

  /** Taking part in the election (leading or standing by): a readiness part. */
  get isMember(): boolean {
    return this.member;
  }

  async start(): Promise<void> {
    this.running = true;
    await this.runConsumer();
  }

  /** Leaves the group (a standby takes over at once) and disconnects. */
  async stop(): Promise<void> {
    this.running = false;
    await this.restarting;
    await this.consumer.disconnect();
    this.leaderSince = null;
    this.set(false, 'left the group');
  }

  private createConsumer(): Consumer {
    const { options } = this;
    const consumer = options.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs ?? 10_000,
      heartbeatInterval: options.heartbeatIntervalMs ?? 1_000,
      allowAutoTopicCreation: false,
      partitionAssigners: [singleOwnerAssigner(() => this.leaderSince)],
    });
    const { events } = consumer;
    consumer.on(events.REBALANCING, () => this.set(false, 'rebalancing'));
    consumer.on(events.GROUP_JOIN, ({ payload }) => {
      const partitions = payload.memberAssignment[options.topic] ?? [];
      const leads = partitions.length > 0;
      this.member = true;
      this.leaderSince = leads ? (this.leaderSince ?? Date.now()) : null;
      this.set(leads, `joined generation as ${payload.memberId}`);
    });
    consumer.on(events.STOP, () => {
      this.member = false;
      this.set(false, 'stopped');
    });
    consumer.on(events.CRASH, ({ payload }) => {
      this.member = false;
      this.leaderSince = null;
      this.set(false, 'crashed');
      // kafkajs restarts by itself after retriable errors only; a join that kept meeting
      // "rebalance in progress" while several members start at once is not one of them.
      if (!payload.restart && this.running) this.restarting = this.restartAfterCrash(payload.error);
    });
    return consumer;
  }

  private async runConsumer(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.options.topic], fromBeginning: false });
    await this.consumer.run({
      autoCommit: false,
      // Nothing to process: membership is the point. Fetches still run, their messages are
      // ignored.
      eachBatchAutoResolve: false,
      eachBatch: async () => undefined,
    });
  }

  private async restartAfterCrash(error: unknown): Promise<void> {
    this.options.logger.warn(
      { err: describeError(error) },
      'leader election member crashed; rejoining',
    );
    await this.consumer.disconnect().catch(() => undefined);
    for (let attempt = 0; this.running; attempt++) {
      await sleep(Math.min(5_000, 250 * 2 ** attempt) * (0.5 + Math.random()));
      if (!this.running) return;
      try {
        this.consumer = this.createConsumer();
        await this.runConsumer();
        return;
      } catch (retryError) {
        this.options.logger.warn({ err: describeError(retryError) }, 'rejoin failed; retrying');
        await this.consumer.disconnect().catch(() => undefined);
      }
    }
  }

  private set(leader: boolean, why: string): void {
    if (leader === this.leader) return;
    this.leader = leader;
    this.options.logger.info(
      { group: this.options.groupId, leader, why },
      leader ? 'leadership acquired' : 'leadership released',
    );
    this.options.onChange?.(leader);
  }
}
