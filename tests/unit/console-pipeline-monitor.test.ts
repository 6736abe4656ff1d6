/**
 * The console's pipeline monitor (services/gateway/console-api/pipeline-monitor.ts) against a
 * fake Kafka and fake probes: the figures' rules (rates, lag, dead letters), failures kept
 * out of the snapshot, the shared poll loop, and httpServiceProbe against a real HTTP server.
 */
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Readiness, closeServer } from '#platform/common';
import {
  type KafkaObserver,
  type PipelineSnapshot,
  PipelineMonitor,
  type PipelineMonitorOptions,
  type ServiceProbe,
  httpServiceProbe,
} from '../../services/gateway/console-api/pipeline-monitor.ts';
import { capturedLogger } from '../support/logs.ts';

interface PartitionRange {
  partition: number;
  low: string;
  high: string;
}
interface GroupTopicCommits {
  topic: string;
  partitions: { partition: number; offset: string }[];
}
type KafkaCall = 'topicOffsets' | 'listGroups' | 'groupOffsets';

/**
 * A cluster in memory. `fail` and `hang` name calls (`listGroups`, `topicOffsets:<topic>`,
 * `groupOffsets:<group>`) that throw or never answer; `calls` counts every call by name.
 */
class FakeKafka implements KafkaObserver {
  readonly topics = new Map<string, PartitionRange[]>();
  readonly groups = new Map<string, GroupTopicCommits[]>();
  readonly fail = new Set<string>();
  readonly hang = new Set<string>();
  readonly calls: Record<KafkaCall, number> = { topicOffsets: 0, listGroups: 0, groupOffsets: 0 };

  /** Sets a topic's partitions from [low, high] pairs. */
  setTopic(topic: string, ranges: readonly (readonly [number | string, number | string])[]): void {
    this.topics.set(
      topic,
      ranges.map(([low, high], partition) => ({ partition, low: String(low), high: String(high) })),
    );
  }

  /** Sets a group's commits: topic -> offset per partition (omitted partitions: none). */
  setGroup(group: string, commits: Record<string, Record<number, number | string>>): void {
    this.groups.set(
      group,
      Object.entries(commits).map(([topic, partitions]) => ({
        topic,
        partitions: Object.entries(partitions).map(([partition, offset]) => ({
          partition: Number(partition),
          offset: String(offset),
        })),
      })),
    );
  }

  async topicOffsets(topic: string): Promise<readonly PartitionRange[]> {
    await this.enter('topicOffsets', `topicOffsets:${topic}`);
    const partitions = this.topics.get(topic);
    if (!partitions) throw new Error(`This server does not host this topic-partition: ${topic}`);
    return partitions.map((partition) => ({ ...partition }));
  }

  async listGroups(): Promise<readonly string[]> {
    await this.enter('listGroups', 'listGroups');
    return [...this.groups.keys()];
  }

  async groupOffsets(groupId: string): Promise<readonly GroupTopicCommits[]> {
    await this.enter('groupOffsets', `groupOffsets:${groupId}`);
    return this.groups.get(groupId) ?? [];
  }

  private async enter(call: KafkaCall, name: string): Promise<void> {
    this.calls[call] += 1;
    if (this.hang.has(name)) await new Promise<never>(() => {});
    if (this.fail.has(name)) throw new Error(`${name}: broker not available`);
  }
}

function probe(name: string, readiness: () => Promise<Readiness>): ServiceProbe {
  return { name, readiness };
}
const readyProbe = (name: string) =>
  probe(name, async () => ({ ready: true, checks: { consumer: true } }));

/** A monitor on `kafka` with a hand-moved clock (start 1_000_000 ms). */
function monitorOn(kafka: FakeKafka, overrides: Partial<PipelineMonitorOptions> = {}) {
  const clock = { now: 1_000_000 };
  const monitor = new PipelineMonitor({
    observer: kafka,
    topics: ['reviews', 'predictions'],
    deadLetterTopics: ['dlq.reviews', 'dlq.predictions'],
    services: [],
    now: () => clock.now,
    ...overrides,
  });
  return { monitor, clock };
}

function healthyCluster(): FakeKafka {
  const kafka = new FakeKafka();
  kafka.setTopic('reviews', [
    [0, 100],
    [0, 50],
  ]);
  kafka.setTopic('predictions', [[0, 40]]);
  kafka.setTopic('dlq.reviews', [[0, 0]]);
  kafka.setTopic('dlq.predictions', [[0, 0]]);
  return kafka;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('PipelineMonitor figures', () => {
  it('reports end offsets and rates from two polls; 0 at first and never negative', async () => {
    const kafka = healthyCluster();
    const { monitor, clock } = monitorOn(kafka);

    const first = await monitor.poll();
    expect(first.time).toBe(1_000_000);
    expect(first.topics).toEqual([
      { topic: 'predictions', messagesPerSecond: 0, endOffset: 40 },
      { topic: 'reviews', messagesPerSecond: 0, endOffset: 150 },
    ]);

    clock.now += 2_000;
    kafka.setTopic('reviews', [
      [0, 250],
      [0, 100],
    ]);
    const second = await monitor.poll();
    expect(second.topics).toEqual([
      { topic: 'predictions', messagesPerSecond: 0, endOffset: 40 },
      { topic: 'reviews', messagesPerSecond: 100, endOffset: 350 },
    ]);

    // Recreated: the end offset falls back; that is no traffic, not a negative rate.
    clock.now += 2_000;
    kafka.setTopic('reviews', [
      [0, 3],
      [0, 0],
    ]);
    const third = await monitor.poll();
    expect(third.topics.find((row) => row.topic === 'reviews')).toEqual({
      topic: 'reviews',
      messagesPerSecond: 0,
      endOffset: 3,
    });
    monitor.close();
  });

  it('parses offsets beyond 2^53 exactly (BigInt) and reports Numbers', async () => {
    const kafka = healthyCluster();
    const base = 2n ** 53n;
    kafka.setTopic('reviews', [[String(base), String(base + 1n)]]);
    const { monitor, clock } = monitorOn(kafka);
    await monitor.poll();
    clock.now += 1_000;
    // As doubles, 2^53 + 1 and 2^53 + 2 are both 2^53: the rate would read 0 or 2.
    kafka.setTopic('reviews', [[String(base), String(base + 2n)]]);
    const snapshot = await monitor.poll();
    expect(snapshot.topics.find((row) => row.topic === 'reviews')?.messagesPerSecond).toBe(1);
    expect(typeof snapshot.topics[0]?.endOffset).toBe('number');
    monitor.close();
  });

  it('computes lag per (group, topic), with and without commits, sorted', async () => {
    const kafka = healthyCluster();
    kafka.setTopic('predictions', [
      [0, 10],
      [2, 7],
      [0, 3],
    ]);
    // A topic the catalogue lists do not name: its offsets are read for the lag all the same.
    kafka.setTopic('models.deployments', [[0, 4]]);
    // Partition 0 committed, 1 explicitly without commit, 2 absent from the answer.
    kafka.setGroup('logger', { predictions: { 0: 6, 1: -1 } });
    kafka.setGroup('drift', { predictions: { 0: 10, 1: 7, 2: 3 }, 'models.deployments': { 0: 1 } });
    // Committed beyond the high watermark read (a commit after the read): 0, not negative.
    kafka.setGroup('inference', { reviews: { 0: 101, 1: 50 } });
    kafka.setGroup('idle-tool', {});
    const { monitor } = monitorOn(kafka);

    const snapshot = await monitor.poll();
    expect(snapshot.groups).toEqual([
      { group: 'drift', topic: 'models.deployments', lag: 3 },
      { group: 'drift', topic: 'predictions', lag: 0 },
      { group: 'inference', topic: 'reviews', lag: 0 },
      { group: 'logger', topic: 'predictions', lag: 4 + 5 + 3 },
    ]);
    // Only the catalogue's data topics have throughput rows.
    expect(snapshot.topics.map((row) => row.topic)).toEqual(['predictions', 'reviews']);
    // Each topic is read once per poll, however many groups read it.
    expect(kafka.calls.topicOffsets).toBe(5);
    monitor.close();
  });

  it('counts the messages each dead-letter topic retains', async () => {
    const kafka = healthyCluster();
    kafka.setTopic('dlq.reviews', [
      [3, 10],
      [5, 5],
      [0, 2],
    ]);
    const { monitor } = monitorOn(kafka);
    const snapshot = await monitor.poll();
    expect(snapshot.deadLetters).toEqual([
      { topic: 'dlq.predictions', messages: 0 },
      { topic: 'dlq.reviews', messages: 9 },
    ]);
    monitor.close();
  });

  it('reports a probe that throws or times out as not ready, with its error', async () => {
    const kafka = healthyCluster();
    const { monitor } = monitorOn(kafka, {
      probeTimeoutMs: 50,
      services: [
        readyProbe('logger'),
        probe('drift', async () => {
          throw new Error('connect ECONNREFUSED 127.0.0.1:9466');
        }),
        probe('retrainer', () => new Promise<Readiness>(() => {})),
        probe('inference', async () => ({ ready: false, checks: { model: false, kafka: true } })),
      ],
    });
    const snapshot = await monitor.poll();
    expect(snapshot.services).toEqual([
      {
        name: 'drift',
        ready: false,
        checks: {},
        error: 'connect ECONNREFUSED 127.0.0.1:9466',
      },
      { name: 'inference', ready: false, checks: { model: false, kafka: true } },
      { name: 'logger', ready: true, checks: { consumer: true } },
      {
        name: 'retrainer',
        ready: false,
        checks: {},
        error: 'retrainer unavailable: readiness did not answer within 50 ms',
      },
    ]);
    monitor.close();
  });
});

describe('PipelineMonitor failures', () => {
  it('keeps the previous figures of a failing Kafka call and logs once per failure streak', async () => {
    const kafka = healthyCluster();
    kafka.setGroup('logger', { predictions: { 0: 30 } });
    const { logger, warnings, lines } = capturedLogger();
    const { monitor, clock } = monitorOn(kafka, { logger });
    const first = await monitor.poll();

    kafka.fail.add('listGroups');
    kafka.fail.add('topicOffsets:reviews');
    kafka.fail.add('topicOffsets:dlq.reviews');
    kafka.setTopic('predictions', [[0, 60]]);
    kafka.setTopic('reviews', [
      [0, 300],
      [0, 150],
    ]);
    for (let poll = 0; poll < 3; poll += 1) {
      clock.now += 2_000;
      const snapshot = await monitor.poll();
      expect(snapshot.groups).toEqual(first.groups);
      expect(snapshot.topics.find((row) => row.topic === 'reviews')).toEqual(
        first.topics.find((row) => row.topic === 'reviews'),
      );
      expect(snapshot.deadLetters).toEqual(first.deadLetters);
      // What did answer is fresh.
      expect(snapshot.topics.find((row) => row.topic === 'predictions')?.endOffset).toBe(60);
    }
    expect(
      warnings()
        .map((line) => line.part)
        .sort(),
    ).toEqual(['listGroups', 'topicOffsets(dlq.reviews)', 'topicOffsets(reviews)']);
    expect(warnings()[0]?.err).toBe('listGroups: broker not available');

    kafka.fail.clear();
    clock.now += 2_000;
    const recovered = await monitor.poll();
    // The rate spans the failed polls: 300 messages in the 8 s since the last reading.
    expect(recovered.topics.find((row) => row.topic === 'reviews')).toEqual({
      topic: 'reviews',
      messagesPerSecond: 300 / 8,
      endOffset: 450,
    });
    expect(recovered.groups).toEqual([{ group: 'logger', topic: 'predictions', lag: 30 }]);
    expect(lines.filter((line) => line.msg === 'pipeline monitor: kafka recovered')).toHaveLength(
      3,
    );

    // A new streak is logged again.
    kafka.fail.add('listGroups');
    await monitor.poll();
    expect(warnings()).toHaveLength(4);
    monitor.close();
  });

  it('keeps a failing group its previous rows and leaves out a part never read', async () => {
    const kafka = healthyCluster();
    kafka.setGroup('logger', { predictions: { 0: 30 } });
    kafka.setGroup('drift', { predictions: { 0: 10 } });
    kafka.fail.add('topicOffsets:dlq.predictions');
    const { monitor } = monitorOn(kafka);
    const first = await monitor.poll();
    expect(first.deadLetters).toEqual([{ topic: 'dlq.reviews', messages: 0 }]);

    kafka.fail.add('groupOffsets:drift');
    kafka.setGroup('drift', { predictions: { 0: 40 } });
    kafka.setGroup('logger', { predictions: { 0: 40 } });
    const second = await monitor.poll();
    expect(second.groups).toEqual([
      { group: 'drift', topic: 'predictions', lag: 30 },
      { group: 'logger', topic: 'predictions', lag: 0 },
    ]);
    monitor.close();
  });

  it('treats a Kafka call that does not answer in time as failed', async () => {
    const kafka = healthyCluster();
    const { monitor } = monitorOn(kafka, { kafkaTimeoutMs: 30 });
    const first = await monitor.poll();
    kafka.hang.add('topicOffsets:predictions');
    kafka.setTopic('predictions', [[0, 99]]);
    const second = await monitor.poll();
    expect(second.topics).toEqual(first.topics);
    monitor.close();
  });
});

describe('PipelineMonitor subscriptions', () => {
  it('polls once per interval for all subscribers, and stops when the last one leaves', async () => {
    vi.useFakeTimers();
    const kafka = healthyCluster();
    const { monitor, clock } = monitorOn(kafka, { intervalMs: 2_000 });
    const seenByA: PipelineSnapshot[] = [];
    const seenByB: PipelineSnapshot[] = [];

    const unsubscribeA = monitor.subscribe((snapshot) => seenByA.push(snapshot));
    await vi.advanceTimersByTimeAsync(0);
    expect(kafka.calls.listGroups).toBe(1);
    expect(seenByA).toHaveLength(1);

    // A late subscriber gets the latest snapshot before subscribe returns, without a poll.
    const unsubscribeB = monitor.subscribe((snapshot) => seenByB.push(snapshot));
    expect(seenByB).toEqual([seenByA[0]]);
    expect(kafka.calls.listGroups).toBe(1);

    for (let interval = 0; interval < 3; interval += 1) {
      clock.now += 2_000;
      await vi.advanceTimersByTimeAsync(2_000);
    }
    expect(kafka.calls.listGroups).toBe(4);
    expect(seenByA).toHaveLength(4);
    expect(seenByB).toHaveLength(4);
    expect(seenByB.at(-1)).toBe(monitor.latest());

    unsubscribeA();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(kafka.calls.listGroups).toBe(5);
    expect(seenByA).toHaveLength(4);

    unsubscribeB();
    unsubscribeB(); // idempotent
    await vi.advanceTimersByTimeAsync(20_000);
    expect(kafka.calls.listGroups).toBe(5);
    expect(vi.getTimerCount()).toBe(0);

    // A new first subscriber gets the last snapshot at once and restarts the loop.
    const seenByC: PipelineSnapshot[] = [];
    const unsubscribeC = monitor.subscribe((snapshot) => seenByC.push(snapshot));
    expect(seenByC).toEqual([monitor.latest()]);
    await vi.advanceTimersByTimeAsync(0);
    expect(kafka.calls.listGroups).toBe(6);
    expect(seenByC).toHaveLength(2);
    unsubscribeC();
    monitor.close();
  });

  it('a subscriber joining during a poll shares it; close() stops everything', async () => {
    vi.useFakeTimers();
    const kafka = healthyCluster();
    kafka.hang.add('listGroups');
    const { monitor } = monitorOn(kafka, {
      intervalMs: 1_000,
      kafkaTimeoutMs: 500,
      now: () => Date.now(),
    });
    const seen: PipelineSnapshot[] = [];
    monitor.subscribe((snapshot) => seen.push(snapshot));
    monitor.subscribe((snapshot) => seen.push(snapshot));
    expect(monitor.latest()).toBeUndefined();
    // The first poll waits out the hanging call; both subscribers get its one snapshot.
    await vi.advanceTimersByTimeAsync(500);
    expect(kafka.calls.listGroups).toBe(1);
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBe(seen[1]);
    // Intervals count from a poll's start: the next poll comes 1000 ms after the first began.
    await vi.advanceTimersByTimeAsync(500);
    expect(kafka.calls.listGroups).toBe(2);

    monitor.close();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(kafka.calls.listGroups).toBe(2);
    expect(seen).toHaveLength(2);
    // Closed: a subscriber gets nothing, and no loop starts.
    const late: PipelineSnapshot[] = [];
    monitor.subscribe((snapshot) => late.push(snapshot));
    await vi.advanceTimersByTimeAsync(5_000);
    expect(late).toEqual([]);
    expect(kafka.calls.listGroups).toBe(2);
  });

  it('a throwing subscriber neither stops the others nor the loop', async () => {
    vi.useFakeTimers();
    const kafka = healthyCluster();
    const { logger, lines } = capturedLogger();
    const { monitor } = monitorOn(kafka, { intervalMs: 1_000, logger });
    const seen: PipelineSnapshot[] = [];
    monitor.subscribe(() => {
      throw new Error('socket gone');
    });
    monitor.subscribe((snapshot) => seen.push(snapshot));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(seen).toHaveLength(2);
    expect(lines.filter((line) => line.msg === 'pipeline subscriber threw')).toHaveLength(2);
    monitor.close();
  });
});

describe('httpServiceProbe', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => closeServer(server)));
  });

  /** Serves /ready with `status` and `body` after `delayMs`. */
  async function readyServer(status: number, body: string, delayMs = 0): Promise<string> {
    const server = createServer((_request, response) => {
      setTimeout(() => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(body);
      }, delayMs);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/ready`;
  }

  it('reads 200 as ready and 503 as not, with the checks', async () => {
    const ready = await readyServer(200, '{"ready":true,"checks":{"consumer":true}}');
    expect(await httpServiceProbe('logger', ready).readiness()).toEqual({
      ready: true,
      checks: { consumer: true },
    });
    const notReady = await readyServer(503, '{"ready":false,"checks":{"clickhouse":false}}');
    const probe = httpServiceProbe('logger', notReady);
    expect(probe.name).toBe('logger');
    expect(await probe.readiness()).toEqual({ ready: false, checks: { clickhouse: false } });
  });

  it('rejects another status, another body, no server and a late answer', async () => {
    const failing = await readyServer(500, 'boom');
    await expect(httpServiceProbe('drift', failing).readiness()).rejects.toThrow(
      `drift unavailable: GET ${failing} answered 500`,
    );
    const shapeless = await readyServer(200, '{"ok":true}');
    await expect(httpServiceProbe('drift', shapeless).readiness()).rejects.toThrow(
      'answered without { ready, checks }',
    );
    const slow = await readyServer(200, '{"ready":true,"checks":{}}', 1_000);
    await expect(httpServiceProbe('drift', slow, 50).readiness()).rejects.toThrow(
      `drift unavailable: GET ${slow} did not answer within 50 ms`,
    );
    await expect(httpServiceProbe('drift', 'http://127.0.0.1:1/ready').readiness()).rejects.toThrow(
      'drift unavailable: GET http://127.0.0.1:1/ready failed',
    );
  });
});
