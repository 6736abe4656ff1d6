/**
 * `mlops drift watch`: follows `drift.events` with a throwaway consumer group (nothing is
 * committed, nothing dead-lettered: a watcher must never change what the real consumers see;
 * #platform/kafka watchTopic) and prints one line per event. A message that cannot be decoded is reported on the warning
 * stream and skipped. Runs until `signal` aborts, then stops the consumer and leaves the group.
 */
import type { Kafka } from 'kafkajs';
import { AppError, describeError } from '#platform/common';
import type { DriftEvent } from '#platform/serde';
import { TopicWatchError, type WatchedMessage, watchTopic } from '#platform/kafka';
import { formatDriftEvent, formatMalformed } from './drift-format.ts';
import type { Paint } from './render.ts';

export const DRIFT_TOPIC = 'drift.events';

/** The watcher's consumer stopped for good (kafkajs gave up restarting it). */
export class DriftWatchError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('DRIFT_WATCH_FAILED', message, options);
  }
}

export type DriftMessage = WatchedMessage;

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

/**
 * Prints drift events until `signal` aborts (#platform/kafka watchTopic: throwaway group,
 * nothing committed). Without `fromBeginning`, every event published after the "watching"
 * line appears.
 */
export async function watchDriftEvents(options: DriftWatchOptions): Promise<void> {
  try {
    await watchTopic({
      kafka: options.kafka,
      topic: DRIFT_TOPIC,
      groupPrefix: 'mlops-drift-watch',
      fromBeginning: options.fromBeginning,
      signal: options.signal,
      onMessage: async (message) => {
        const line = await describeDriftMessage(message, options.decode, options);
        if (line?.stream === 'out') options.print(line.text);
        else if (line?.stream === 'err') options.warn(line.text);
      },
      onWatching: () => {
        const scope = options.modelName === undefined ? '' : ` for model ${options.modelName}`;
        options.warn(
          `watching ${DRIFT_TOPIC}${scope} ${options.fromBeginning ? 'from the beginning' : 'from now on'} (Ctrl-C to stop)`,
        );
      },
    });
  } catch (error) {
    if (error instanceof TopicWatchError) {
      throw new DriftWatchError(error.message, { cause: error });
    }
    throw error;
  }
}
