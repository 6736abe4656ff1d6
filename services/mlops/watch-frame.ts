/**
 * What every watch command (`drift watch`, `registry watch`) runs in: its Kafka clients under
 * the CLI's principal (no metrics server) and Ctrl-C. The first SIGINT or SIGTERM aborts the
 * watcher's signal (it stops its consumer and leaves its group), a second exits at once, and a
 * watcher that has not stopped within the grace period exits with an error.
 */
import type { Kafka } from 'kafkajs';
import { createLogger, createMetricsRegistry } from '#platform/common';
import { createBackbone } from '#platform/kafka';
import type { EventCodec } from '#platform/serde';

/** Grace for stopping the consumer after Ctrl-C; a second Ctrl-C exits at once. */
export const WATCH_STOP_GRACE_MS = 10_000;

/** Runs `run` with a signal that SIGINT / SIGTERM abort; the handlers go when it settles. */
export async function untilStopped(run: (signal: AbortSignal) => Promise<void>): Promise<void> {
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) {
      console.error(`${signal} again: exiting without a clean stop`);
      process.exit(130);
    }
    console.error(`${signal}: stopping`);
    stop.abort();
    setTimeout(() => {
      console.error(`error: consumer did not stop within ${WATCH_STOP_GRACE_MS} ms`);
      process.exit(1);
    }, WATCH_STOP_GRACE_MS).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await run(stop.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * Runs a watcher: Kafka clients named `clientId` from `config`, and a signal that Ctrl-C
 * aborts (`untilStopped`).
 */
export async function runWatch(
  config: Parameters<typeof createBackbone>[0] & {
    readonly logLevel: Parameters<typeof createLogger>[1];
  },
  clientId: string,
  watch: (clients: { kafka: Kafka; codec: EventCodec }, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const logger = createLogger('mlops', config.logLevel, 'stderr');
  const { kafka, codec } = createBackbone(config, clientId, logger, createMetricsRegistry('mlops'));
  await untilStopped((signal) => watch({ kafka, codec }, signal));
}
