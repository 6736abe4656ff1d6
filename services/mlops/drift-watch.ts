/**
 * `mlops drift watch`: follows `drift.events` with a throwaway consumer group (nothing is
 * committed, nothing dead-lettered: a watcher must never change what the real consumers see)
 * and prints one line per event. A message that cannot be decoded is reported on the warning
 * stream and skipped. Runs until `signal` aborts, then stops the consumer and leaves the group.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { AppError, describeError } from '#platform/common';
import type { DriftEvent } from '#platform/serde';
import { CONSUMER_METADATA_MAX_AGE_MS, KAFKA_RETRY } from '#platform/kafka';
import { formatDriftEvent, formatMalformed } from './drift-format.ts';
import type { Paint } from './render.ts';

export const DRIFT_TOPIC = 'drift.events';

/** The watcher's consumer stopped for good (kafkajs gave up restarting it). */
export class DriftWatchError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('DRIFT_WATCH_FAILED', message, options);
  }
}

export interface DriftMessage {
  readonly partition: number;
  readonly offset: string;
  readonly value: Buffer | null;
  /** The broker's timestamp of the message (ms since the epoch), when known. */
  readonly timestampMs?: number;
}

export interface DriftWatchView {
  /** Show only this model's events; every model's when absent. */
  readonly modelName?: string;
  /** One JSON object per line instead of the human-readable line. */
  readonly json: boolean;
  readonly paint: Paint;
  readonly now: () => number;
}

export type WatchLine =
  | { readonly stream: 'out'; readonly text: string }
  | { readonly stream: 'err'; readonly text: string };

/**
 * What to print for one message: the event's line, a warning for a message that is not a
 * readable DriftEvent, or nothing (another model's event).
 */
export async function describeDriftMessage(
  message: DriftMessage,
  decode: (value: Buffer | null) => Promise<DriftEvent>,
  view: DriftWatchView,
): Promise<WatchLine | null> {
  let event: DriftEvent;
  try {
    event = await decode(message.value);
  } catch (error) {
    return {
      stream: 'err',
      text: formatMalformed(
        message,
        {
          ...(error instanceof AppError ? { code: error.code } : {}),
          message: describeError(error),
        },
        message.timestampMs ?? view.now(),
      ),
    };
  }
  if (view.modelName !== undefined && event.modelName !== view.modelName) return null;
  return {
    stream: 'out',
    text: view.json ? JSON.stringify(event) : formatDriftEvent(event, view.paint),
  };
}

export interface DriftWatchOptions extends DriftWatchView {
  readonly kafka: Kafka;
  readonly decode: (value: Buffer | null) => Promise<DriftEvent>;
  /** From the oldest retained event instead of from now on. */
  readonly fromBeginning: boolean;
  readonly signal: AbortSignal;
  readonly print: (line: string) => void;
  readonly warn: (line: string) => void;
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/**
 * Prints drift events until `signal` aborts. Without `fromBeginning` it starts at the end
 * offsets read before joining (sought once the group is joined), so every event published
 * after the "watching" line appears.
 */
export async function watchDriftEvents(options: DriftWatchOptions): Promise<void> {
  const { kafka, signal } = options;
  const consumer = kafka.consumer({
    groupId: `mlops-drift-watch-${randomUUID()}`,
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
        new DriftWatchError(`consumer stopped: ${describeError(payload.error)}`, {
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
      endOffsets = await admin.fetchTopicOffsets(DRIFT_TOPIC);
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
    await consumer.subscribe({ topics: [DRIFT_TOPIC], fromBeginning: options.fromBeginning });
    // Newest offset shown per partition: the seek below may re-deliver what an early first
    // fetch already returned, and nothing is shown twice.
    const shown = new Map<number, bigint>();
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const offset = BigInt(message.offset);
        if (offset <= (shown.get(partition) ?? -1n)) return;
        shown.set(partition, offset);
        const line = await describeDriftMessage(
          {
            partition,
            offset: message.offset,
            value: message.value,
            ...(Number.isFinite(Number(message.timestamp))
              ? { timestampMs: Number(message.timestamp) }
              : {}),
          },
          options.decode,
          options,
        );
        if (line?.stream === 'out') options.print(line.text);
        else if (line?.stream === 'err') options.warn(line.text);
      },
    });
    await Promise.race([joined, aborted(signal), failed]);
    if (signal.aborted) return;
    // Seeking once joined pins the start to the offsets read above, however late the first
    // fetch resolves "latest".
    for (const { partition, high } of endOffsets) {
      consumer.seek({ topic: DRIFT_TOPIC, partition, offset: high });
    }
    const scope = options.modelName === undefined ? '' : ` for model ${options.modelName}`;
    options.warn(
      `watching ${DRIFT_TOPIC}${scope} ${options.fromBeginning ? 'from the beginning' : 'from now on'} (Ctrl-C to stop)`,
    );
    await Promise.race([aborted(signal), failed]);
  } finally {
    await consumer.stop().catch(() => undefined);
    await consumer.disconnect();
  }
}
