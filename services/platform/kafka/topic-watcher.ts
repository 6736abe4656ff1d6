/**
 * A watcher of one topic for people (the `mlops drift watch` CLI, the console's live views):
 * a throwaway consumer group whose id starts with the caller's principal, nothing committed,
 * nothing dead-lettered, so a watcher never changes what the real consumers see. Runs until
 * `signal` aborts, then stops its consumer and leaves the group; rejects with
 * TopicWatchError when kafkajs gives up restarting the consumer.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { AppError, describeError } from '#platform/common';
import { CONSUMER_METADATA_MAX_AGE_MS, KAFKA_RETRY } from './client.ts';

/** The watcher's consumer stopped for good (kafkajs gave up restarting it). */
export class TopicWatchError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('TOPIC_WATCH_FAILED', message, options);
  }
}

export interface WatchedMessage {
  readonly partition: number;
  readonly offset: string;
  readonly value: Buffer | null;
  /** The broker's timestamp of the message (ms since the epoch), when known. */
  readonly timestampMs?: number;
}

export interface TopicWatchOptions {
  readonly kafka: Kafka;
  readonly topic: string;
  /** Start of the throwaway group's id: the principal's name (its ACL prefix) and a purpose. */
  readonly groupPrefix: string;
  /** From the oldest retained message instead of from now on. */
  readonly fromBeginning: boolean;
  readonly signal: AbortSignal;
  /** Each message once, in offset order per partition; a throw stops the watcher. */
  readonly onMessage: (message: WatchedMessage) => Promise<void> | void;
  /** Called once the group is joined and the start offsets are pinned. */
  readonly onWatching?: () => void;
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/**
 * Delivers messages until `signal` aborts. Without `fromBeginning` it starts at the end
 * offsets read before joining (sought once the group is joined), so every message published
 * after `onWatching` is delivered.
 */
export async function watchTopic(options: TopicWatchOptions): Promise<void> {
  const { kafka, signal, topic } = options;
  const consumer = kafka.consumer({
    groupId: `${options.groupPrefix}-${randomUUID()}`,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 500,
    metadataMaxAge: CONSUMER_METADATA_MAX_AGE_MS,
    retry: { ...KAFKA_RETRY },
  });
  let fail: (error: unknown) => void = () => undefined;
  const failed = new Promise<never>((_resolve, reject) => {
    fail = reject;
  });
  failed.catch(() => undefined);
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (!payload.restart) {
      fail(
        new TopicWatchError(`consumer of ${topic} stopped: ${describeError(payload.error)}`, {
          cause: payload.error,
        }),
      );
    }
  });

  let endOffsets: { partition: number; high: string }[] = [];
  if (!options.fromBeginning) {
    const admin = kafka.admin();
    await admin.connect();
    try {
      endOffsets = await admin.fetchTopicOffsets(topic);
    } finally {
      await admin.disconnect();
    }
  }
  // The group is joined when run() resolves, unless that first join failed (a coordinator
  // still loading on a fresh cluster) and kafkajs joins again later: wait for the join itself.
  let markJoined: () => void = () => undefined;
  const joined = new Promise<void>((resolve) => {
    markJoined = resolve;
  });
  consumer.on(consumer.events.GROUP_JOIN, () => markJoined());
  if (signal.aborted) return;
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: options.fromBeginning });
    // Newest offset delivered per partition: the seek below may re-deliver what an early first
    // fetch already returned, and nothing is delivered twice.
    const delivered = new Map<number, bigint>();
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const offset = BigInt(message.offset);
        if (offset <= (delivered.get(partition) ?? -1n)) return;
        delivered.set(partition, offset);
        await options.onMessage({
          partition,
          offset: message.offset,
          value: message.value,
          ...(Number.isFinite(Number(message.timestamp))
            ? { timestampMs: Number(message.timestamp) }
            : {}),
        });
      },
    });
    await Promise.race([joined, aborted(signal), failed]);
    if (signal.aborted) return;
    // Seeking once joined pins the start to the offsets read above, however late the first
    // fetch resolves "latest".
    for (const { partition, high } of endOffsets) {
      consumer.seek({ topic, partition, offset: high });
    }
    options.onWatching?.();
    await Promise.race([aborted(signal), failed]);
  } finally {
    await consumer.stop().catch(() => undefined);
    await consumer.disconnect();
  }
}
