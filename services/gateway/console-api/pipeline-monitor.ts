/**
 * The console's Pipeline page data: throughput per topic, consumer lag per group, dead letters
 * per topic and each service's readiness, polled on a shared loop while anyone watches.
 *
 * Kafka and HTTP stay outside: the monitor asks a KafkaObserver (the gateway wraps a kafkajs
 * Admin in one) and ServiceProbes (httpServiceProbe below for the consumer services' ops
 * `/ready`), so the figures' rules are tested with fakes.
 *
 * A failing part never fails a snapshot: a Kafka call that throws or does not answer within
 * kafkaTimeoutMs leaves that part's previous figures in place (a part never seen is left out)
 * and is logged once per failure streak; a probe that throws or does not answer within
 * probeTimeoutMs is reported `ready: false` with its `error`.
 */
import {
  AppError,
  DependencyUnavailableError,
  READINESS_PROBE_TIMEOUT_MS,
  type Readiness,
  describeError,
  type Logger,
} from '#platform/common';

export interface TopicThroughput {
  readonly topic: string;
  /** Messages appended per second since the previous poll that read this topic (0 at first). */
  readonly messagesPerSecond: number;
  /** Sum of the partitions' high watermarks. */
  readonly endOffset: number;
}

export interface GroupLag {
  readonly group: string;
  readonly topic: string;
  /** Messages the group has not committed yet, summed over the topic's partitions. */
  readonly lag: number;
}

export interface DeadLetterCount {
  readonly topic: string;
  /** Messages the dead-letter topic still retains (high - low, summed over partitions). */
  readonly messages: number;
}

export interface ServiceStatus {
  readonly name: string;
  readonly ready: boolean;
  readonly checks: Record<string, boolean>;
  /** Why the probe gave no answer (it threw or timed out); absent when it answered. */
  readonly error?: string;
}

export interface PipelineSnapshot {
  /** When the poll began, in ms since the epoch. */
  readonly time: number;
  /** Sorted by topic. */
  readonly topics: readonly TopicThroughput[];
  /** Sorted by group, then topic. */
  readonly groups: readonly GroupLag[];
  /** Sorted by topic. */
  readonly deadLetters: readonly DeadLetterCount[];
  /** Sorted by name. */
  readonly services: readonly ServiceStatus[];
}

/**
 * What the monitor asks Kafka (the gateway wraps a kafkajs Admin in it). Offsets are strings
 * as kafkajs returns them; a committed offset of "-1" means the partition has none.
 */
export interface KafkaObserver {
  topicOffsets(topic: string): Promise<readonly { partition: number; low: string; high: string }[]>;
  listGroups(): Promise<readonly string[]>;
  groupOffsets(
    groupId: string,
  ): Promise<
    readonly { topic: string; partitions: readonly { partition: number; offset: string }[] }[]
  >;
}

export interface ServiceProbe {
  readonly name: string;
  readonly readiness: () => Promise<Readiness>;
}

export const PIPELINE_POLL_INTERVAL_MS = 2_000;
/** Longer than kafkajs's own request timeouts would allow a poll to stall the loop for. */
export const PIPELINE_KAFKA_TIMEOUT_MS = 5_000;

export interface PipelineMonitorOptions {
  readonly observer: KafkaObserver;
  /** The catalogue's data topics (not dlq.*): their throughput. */
  readonly topics: readonly string[];
  /** The dead-letter topics (dlq.<topic>): their retained message counts. */
  readonly deadLetterTopics: readonly string[];
  readonly services: readonly ServiceProbe[];
  /** Time between the starts of two polls of the shared loop; default 2000. */
  readonly intervalMs?: number;
  /** Bound on each probe; default READINESS_PROBE_TIMEOUT_MS (2000). */
  readonly probeTimeoutMs?: number;
  /** Bound on each Kafka call; default PIPELINE_KAFKA_TIMEOUT_MS (5000). */
  readonly kafkaTimeoutMs?: number;
  /** The clock snapshots are stamped with and rates divided by; default Date.now. */
  readonly now?: () => number;
  /** Where failure streaks and throwing listeners are reported; silent without one. */
  readonly logger?: Logger;
}

type Listener = (snapshot: PipelineSnapshot) => void;

interface PartitionOffsets {
  readonly low: bigint;
  readonly high: bigint;
}

/** One topic's offsets as read in one poll, by partition. */
type TopicOffsets = ReadonlyMap<number, PartitionOffsets>;

/** A group's committed offsets by topic, then partition; -1n where none is committed. */
type GroupCommits = ReadonlyMap<string, ReadonlyMap<number, bigint>>;

/** The sum of a topic's high watermarks at the last poll that read it, for its rate. */
interface EndOffsetSample {
  readonly endOffset: bigint;
  readonly time: number;
}

const NO_COMMIT = -1n;

export class PipelineMonitor {
  private readonly observer: KafkaObserver;
  private readonly topics: readonly string[];
  private readonly deadLetterTopics: readonly string[];
  private readonly services: readonly ServiceProbe[];
  private readonly intervalMs: number;
  private readonly probeTimeoutMs: number;
  private readonly kafkaTimeoutMs: number;
  private readonly now: () => number;
  private readonly logger: Logger | undefined;

  private readonly listeners = new Set<Listener>();
  private readonly endOffsetSamples = new Map<string, EndOffsetSample>();
  /** Parts whose last attempt failed: their streak is logged already. */
  private readonly failing = new Set<string>();
  private snapshot: PipelineSnapshot | undefined;
  private inFlight: Promise<PipelineSnapshot> | undefined;
  /** Identifies the running poll loop; a loop whose id is not current stops. */
  private loop = 0;
  private loopRunning = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: PipelineMonitorOptions) {
    this.observer = options.observer;
    this.topics = unique(options.topics);
    this.deadLetterTopics = unique(options.deadLetterTopics);
    this.services = [...options.services].sort((a, b) => compareText(a.name, b.name));
    this.intervalMs = positive(options.intervalMs ?? PIPELINE_POLL_INTERVAL_MS, 'intervalMs');
    this.probeTimeoutMs = positive(
      options.probeTimeoutMs ?? READINESS_PROBE_TIMEOUT_MS,
      'probeTimeoutMs',
    );
    this.kafkaTimeoutMs = positive(
      options.kafkaTimeoutMs ?? PIPELINE_KAFKA_TIMEOUT_MS,
      'kafkaTimeoutMs',
    );
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
  }

  /**
   * One poll now; every subscriber receives its snapshot. A call while a poll is running
   * joins that poll rather than starting a second one (the rates need one reading per poll).
   */
  poll(): Promise<PipelineSnapshot> {
    this.inFlight ??= this.collect()
      .then((snapshot) => {
        this.snapshot = snapshot;
        this.publish(snapshot);
        return snapshot;
      })
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }

  /**
   * Listens to every snapshot. One loop polls every intervalMs for all subscribers: the first
   * subscriber starts it (with a poll at once), the last unsubscribe stops it. A subscriber
   * gets the latest snapshot, if any, synchronously before subscribe returns. Returns
   * unsubscribe (idempotent). After close() nothing is delivered and no loop starts.
   */
  subscribe(listener: Listener): () => void {
    if (this.closed) return () => {};
    const entry: Listener = (snapshot) => listener(snapshot);
    this.listeners.add(entry);
    if (this.snapshot) this.deliver(entry, this.snapshot);
    this.startLoop();
    return () => {
      this.listeners.delete(entry);
      if (this.listeners.size === 0) this.stopLoop();
    };
  }

  latest(): PipelineSnapshot | undefined {
    return this.snapshot;
  }

  /** Stops the loop and drops every subscriber; a poll in progress finishes unseen. */
  close(): void {
    this.closed = true;
    this.listeners.clear();
    this.stopLoop();
  }

  private startLoop(): void {
    if (this.loopRunning || this.closed) return;
    this.loopRunning = true;
    this.loop += 1;
    void this.runLoop(this.loop);
  }

  private stopLoop(): void {
    this.loopRunning = false;
    this.loop += 1;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async runLoop(loop: number): Promise<void> {
    const started = this.now();
    try {
      await this.poll();
    } catch (error) {
      // collect() contains every failure; this is a bug, but the loop must outlive it.
      this.logger?.error({ err: describeError(error) }, 'pipeline poll failed');
    }
    if (loop !== this.loop) return;
    // Intervals count from the start of a poll; a poll longer than one starts the next at once.
    const delay = Math.max(0, this.intervalMs - (this.now() - started));
    this.timer = setTimeout(() => void this.runLoop(loop), delay);
    // The loop serves subscribers, whose own connections keep the process alive.
    this.timer.unref();
  }

  private publish(snapshot: PipelineSnapshot): void {
    for (const listener of [...this.listeners]) this.deliver(listener, snapshot);
  }

  private deliver(listener: Listener, snapshot: PipelineSnapshot): void {
    try {
      listener(snapshot);
    } catch (error) {
      this.logger?.error({ err: describeError(error) }, 'pipeline subscriber threw');
    }
  }

  private async collect(): Promise<PipelineSnapshot> {
    const time = this.now();
    const previous = this.snapshot;
    const probing = Promise.all(this.services.map((service) => this.probe(service)));

    // Topic offsets and group commits are read side by side; the topics a group reads that
    // are not in the catalogue lists are read once the commits name them.
    const offsets = new Map<string, TopicOffsets | undefined>();
    const readTopics = (topics: readonly string[]) =>
      Promise.all(
        unique(topics)
          .filter((topic) => !offsets.has(topic))
          .map(async (topic) => {
            offsets.set(topic, undefined);
            offsets.set(topic, await this.readTopicOffsets(topic));
          }),
      );
    const [, groups] = await Promise.all([
      readTopics([...this.topics, ...this.deadLetterTopics]),
      this.readGroupCommits(),
    ]);
    if (groups) {
      await readTopics(
        [...groups.commits.values()].flatMap((commits) => (commits ? [...commits.keys()] : [])),
      );
    }

    return {
      time,
      topics: this.throughput(time, offsets, previous),
      groups: this.lags(groups, offsets, previous),
      deadLetters: this.deadLetterCounts(offsets, previous),
      services: await probing,
    };
  }

  private throughput(
    time: number,
    offsets: ReadonlyMap<string, TopicOffsets | undefined>,
    previous: PipelineSnapshot | undefined,
  ): TopicThroughput[] {
    const rows: TopicThroughput[] = [];
    for (const topic of this.topics) {
      const partitions = offsets.get(topic);
      if (!partitions) {
        const kept = previous?.topics.find((row) => row.topic === topic);
        if (kept) rows.push(kept);
        continue;
      }
      let endOffset = 0n;
      for (const { high } of partitions.values()) endOffset += high;
      const sample = this.endOffsetSamples.get(topic);
      const seconds = sample ? (time - sample.time) / 1000 : 0;
      // A topic recreated (or a clock step back) reads as no traffic, never as a negative rate.
      const messagesPerSecond =
        sample && seconds > 0 && endOffset > sample.endOffset
          ? Number(endOffset - sample.endOffset) / seconds
          : 0;
      this.endOffsetSamples.set(topic, { endOffset, time });
      rows.push({ topic, messagesPerSecond, endOffset: Number(endOffset) });
    }
    return rows.sort((a, b) => compareText(a.topic, b.topic));
  }

  private deadLetterCounts(
    offsets: ReadonlyMap<string, TopicOffsets | undefined>,
    previous: PipelineSnapshot | undefined,
  ): DeadLetterCount[] {
    const rows: DeadLetterCount[] = [];
    for (const topic of this.deadLetterTopics) {
      const partitions = offsets.get(topic);
      if (!partitions) {
        const kept = previous?.deadLetters.find((row) => row.topic === topic);
        if (kept) rows.push(kept);
        continue;
      }
      let messages = 0n;
      for (const { low, high } of partitions.values()) messages += nonNegative(high - low);
      rows.push({ topic, messages: Number(messages) });
    }
    return rows.sort((a, b) => compareText(a.topic, b.topic));
  }

  /**
   * Lag per (group, topic) for every group with committed offsets. A partition without a
   * commit ("-1", or missing from the group's answer while others of the topic are there)
   * counts everything it retains, high - low: a subscribed group owns every partition, and
   * nothing of it is consumed yet.
   */
  private lags(
    groups: GroupReading | undefined,
    offsets: ReadonlyMap<string, TopicOffsets | undefined>,
    previous: PipelineSnapshot | undefined,
  ): GroupLag[] {
    const previousRows = previous?.groups ?? [];
    if (!groups) return [...previousRows];
    const rows: GroupLag[] = [];
    for (const group of groups.names) {
      const commits = groups.commits.get(group);
      if (!commits) {
        rows.push(...previousRows.filter((row) => row.group === group));
        continue;
      }
      for (const [topic, committed] of commits) {
        const partitions = offsets.get(topic);
        if (!partitions) {
          const kept = previousRows.find((row) => row.group === group && row.topic === topic);
          if (kept) rows.push(kept);
          continue;
        }
        let lag = 0n;
        for (const [partition, { low, high }] of partitions) {
          const offset = committed.get(partition) ?? NO_COMMIT;
          lag += nonNegative(offset === NO_COMMIT ? high - low : high - offset);
        }
        rows.push({ group, topic, lag: Number(lag) });
      }
    }
    return rows.sort((a, b) => compareText(a.group, b.group) || compareText(a.topic, b.topic));
  }

  /** The topic's offsets by partition, or undefined when the call failed. */
  private async readTopicOffsets(topic: string): Promise<TopicOffsets | undefined> {
    return this.attempt(`topicOffsets(${topic})`, async () => {
      const partitions = await this.observer.topicOffsets(topic);
      return new Map(
        partitions.map(({ partition, low, high }) => [
          partition,
          { low: parseOffset(low, topic, partition), high: parseOffset(high, topic, partition) },
        ]),
      );
    });
  }

  /**
   * The consumer groups and each one's commits. Undefined when the group list failed (every
   * group keeps its previous rows); a group whose own call failed maps to undefined.
   */
  private async readGroupCommits(): Promise<GroupReading | undefined> {
    const names = await this.attempt('listGroups', () => this.observer.listGroups());
    if (!names) return undefined;
    const sorted = unique(names);
    const commits = new Map<string, GroupCommits | undefined>();
    await Promise.all(
      sorted.map(async (group) => {
        const read = await this.attempt(`groupOffsets(${group})`, async () => {
          const topics = await this.observer.groupOffsets(group);
          const byTopic = new Map<string, Map<number, bigint>>();
          for (const { topic, partitions } of topics) {
            const byPartition = byTopic.get(topic) ?? new Map<number, bigint>();
            for (const { partition, offset } of partitions) {
              byPartition.set(partition, parseOffset(offset, topic, partition));
            }
            byTopic.set(topic, byPartition);
          }
          return byTopic;
        });
        commits.set(group, read);
      }),
    );
    return { names: sorted, commits };
  }

  /**
   * Runs one Kafka call within kafkaTimeoutMs. A failure returns undefined (the caller keeps
   * the previous figures) and is logged at the start of its streak only, so a broker outage
   * logs once per call rather than once per poll; the first success after it logs recovery.
   */
  private async attempt<T>(part: string, call: () => Promise<T>): Promise<T | undefined> {
    try {
      const result = await withTimeout(
        call(),
        this.kafkaTimeoutMs,
        () =>
          new DependencyUnavailableError(
            'kafka',
            `${part} did not answer within ${this.kafkaTimeoutMs} ms`,
          ),
      );
      if (this.failing.delete(part))
        this.logger?.info({ part }, 'pipeline monitor: kafka recovered');
      return result;
    } catch (error) {
      if (!this.failing.has(part)) {
        this.failing.add(part);
        this.logger?.warn(
          { part, err: describeError(error) },
          'pipeline monitor: kafka call failed; keeping the previous figures',
        );
      }
      return undefined;
    }
  }

  private async probe(service: ServiceProbe): Promise<ServiceStatus> {
    const part = `probe(${service.name})`;
    try {
      const readiness = await withTimeout(
        service.readiness(),
        this.probeTimeoutMs,
        () =>
          new DependencyUnavailableError(
            service.name,
            `readiness did not answer within ${this.probeTimeoutMs} ms`,
          ),
      );
      if (this.failing.delete(part)) this.logger?.info({ part }, 'pipeline monitor: probe answers');
      return { name: service.name, ready: readiness.ready, checks: { ...readiness.checks } };
    } catch (error) {
      const message = describeError(error);
      if (!this.failing.has(part)) {
        this.failing.add(part);
        this.logger?.warn({ part, err: message }, 'pipeline monitor: readiness probe failed');
      }
      return { name: service.name, ready: false, checks: {}, error: message };
    }
  }
}

interface GroupReading {
  /** Every group the cluster listed, sorted. */
  readonly names: readonly string[];
  readonly commits: ReadonlyMap<string, GroupCommits | undefined>;
}

/** The shape a service's ops `/ready` answers with (services/platform/common/http.ts). */
function isReadiness(body: unknown): body is Readiness {
  if (typeof body !== 'object' || body === null) return false;
  const { ready, checks } = body as { ready?: unknown; checks?: unknown };
  return (
    typeof ready === 'boolean' &&
    typeof checks === 'object' &&
    checks !== null &&
    !Array.isArray(checks) &&
    Object.values(checks).every((value) => typeof value === 'boolean')
  );
}

/**
 * A ServiceProbe that GETs a service's ops `/ready` with global fetch: 200 is ready and 503 is
 * not, either with a `{ ready, checks }` body; any other status, a body of another shape, a
 * network error or no full answer within timeoutMs (default READINESS_PROBE_TIMEOUT_MS) rejects.
 */
export function httpServiceProbe(
  name: string,
  readyUrl: string,
  timeoutMs = READINESS_PROBE_TIMEOUT_MS,
): ServiceProbe {
  positive(timeoutMs, 'timeoutMs');
  return {
    name,
    readiness: async () => {
      try {
        const response = await fetch(readyUrl, {
          headers: { accept: 'application/json' },
          signal: AbortSignal.timeout(timeoutMs),
        });
        if (response.status !== 200 && response.status !== 503) {
          await response.body?.cancel();
          throw new DependencyUnavailableError(name, `GET ${readyUrl} answered ${response.status}`);
        }
        const body: unknown = await response.json();
        if (!isReadiness(body)) {
          throw new DependencyUnavailableError(
            name,
            `GET ${readyUrl} answered without { ready, checks }`,
          );
        }
        // The status decides: a 503 is never ready, whatever the body says.
        return { ready: response.status === 200 && body.ready, checks: body.checks };
      } catch (error) {
        if (error instanceof AppError) throw error;
        const timedOut = error instanceof Error && error.name === 'TimeoutError';
        throw new DependencyUnavailableError(
          name,
          timedOut
            ? `GET ${readyUrl} did not answer within ${timeoutMs} ms`
            : `GET ${readyUrl} failed: ${describeError(error)}`,
          { cause: error },
        );
      }
    },
  };
}

/** Settles as `promise` does, or rejects with `timeout()` after `ms`; the loser is ignored. */
function withTimeout<T>(promise: Promise<T>, ms: number, timeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(timeout()), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

function parseOffset(value: string, topic: string, partition: number): bigint {
  // BigInt accepts "", " 1" and "0x1f"; kafkajs offsets are plain decimal integers.
  if (!/^-?\d+$/.test(value)) {
    throw new AppError(
      'KAFKA_OFFSET_INVALID',
      `offset ${JSON.stringify(value)} of ${topic}[${partition}] is not an integer`,
    );
  }
  return BigInt(value);
}

function nonNegative(value: bigint): bigint {
  return value > 0n ? value : 0n;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)].sort(compareText);
}

/** Code-unit order: stable across locales, unlike localeCompare. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new AppError('CONSOLE_OPTION_INVALID', `${name} must be a positive number, not ${value}`);
  }
  return value;
}
