/**
 * `mlops registry watch`: follows `models.deployments` with a throwaway consumer group
 * (#platform/kafka watchTopic: nothing committed, nothing dead-lettered, so the serving
 * processes see exactly what they would without it) and prints one line per change of one
 * model's serving plan. A message that cannot be decoded is reported on the warning stream
 * and skipped. Runs until `signal` aborts, then stops the consumer and leaves the group.
 */
import type { Kafka } from 'kafkajs';
import { AppError, describeError } from '#platform/common';
import type { Deployment } from '#platform/serde';
import { TopicWatchError, type WatchedMessage, watchTopic } from '#platform/kafka';
import type { WatchLine } from './drift-watch.ts';
import { formatDeployment, formatMalformedDeployment } from './registry-format.ts';
import type { Paint } from './render.ts';

export const DEPLOYMENTS_TOPIC = 'models.deployments';

/** The watcher's consumer stopped for good (kafkajs gave up restarting it). */
export class RegistryWatchError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('REGISTRY_WATCH_FAILED', message, options);
  }
}

export interface RegistryWatchView {
  /** Show only this model's plan changes (the registry commands' model). */
  readonly modelName: string;
  /** One JSON object per line instead of the human-readable line. */
  readonly json: boolean;
  readonly paint: Paint;
  readonly now: () => number;
}

/**
 * What to print for one message: the plan change's line, a warning for a message that is not
 * a readable Deployment, or nothing (another model's deployment).
 */
export async function describeDeploymentMessage(
  message: WatchedMessage,
  decode: (value: Buffer | null) => Promise<Deployment>,
  view: RegistryWatchView,
): Promise<WatchLine | null> {
  let event: Deployment;
  try {
    event = await decode(message.value);
  } catch (error) {
    return {
      stream: 'err',
      text: formatMalformedDeployment(
        message,
        {
          ...(error instanceof AppError ? { code: error.code } : {}),
          message: describeError(error),
        },
        message.timestampMs ?? view.now(),
      ),
    };
  }
  if (event.modelName !== view.modelName) return null;
  return {
    stream: 'out',
    text: view.json ? JSON.stringify(event) : formatDeployment(event, view.paint),
  };
}

export interface RegistryWatchOptions extends RegistryWatchView {
  readonly kafka: Kafka;
  readonly decode: (value: Buffer | null) => Promise<Deployment>;
  /** From the oldest retained event (the compacted topic: at least the latest plan). */
  readonly fromBeginning: boolean;
  readonly signal: AbortSignal;
  readonly print: (line: string) => void;
  readonly warn: (line: string) => void;
}

/**
 * Prints the model's plan changes until `signal` aborts (#platform/kafka watchTopic: throwaway
 * group, nothing committed). Without `fromBeginning`, every deployment published after the
 * "watching" line appears.
 */
export async function watchDeployments(options: RegistryWatchOptions): Promise<void> {
  try {
    await watchTopic({
      kafka: options.kafka,
      topic: DEPLOYMENTS_TOPIC,
      groupPrefix: 'mlops-registry-watch',
      fromBeginning: options.fromBeginning,
      signal: options.signal,
      onMessage: async (message) => {
        const line = await describeDeploymentMessage(message, options.decode, options);
        if (line?.stream === 'out') options.print(line.text);
        else if (line?.stream === 'err') options.warn(line.text);
      },
      onWatching: () => {
        options.warn(
          `watching ${DEPLOYMENTS_TOPIC} for model ${options.modelName} ${options.fromBeginning ? 'from the beginning' : 'from now on'} (Ctrl-C to stop)`,
        );
      },
    });
  } catch (error) {
    if (error instanceof TopicWatchError) {
      throw new RegistryWatchError(error.message, { cause: error });
    }
    throw error;
  }
}
