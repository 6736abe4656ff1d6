/**
 * kafkajs client construction: one place for connection settings, retry policy and the
 * bridge from kafkajs's logger to pino; recognising kafkajs protocol errors.
 */
import { Kafka, logLevel, type LogEntry, type logCreator } from 'kafkajs';
import type { Logger } from '#shared/common';

export interface KafkaSettings {
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** Default 3,000 ms. */
  readonly connectionTimeoutMs?: number;
  /** Default 30,000 ms. */
  readonly requestTimeoutMs?: number;
}

/**
 * Client-level retries of every producer, consumer and admin request. A dead broker keeps
 * its partitions until the controller fences it (broker.session.timeout.ms, 9 s), then
 * leadership moves: retries must span that (12 retries, about 30 s in all), and their delay
 * is capped at 3 s so that a client notices the new leader within seconds of the move (with
 * a 10 s cap, a producer slept up to 10 s more after the failover had completed).
 */
export const KAFKA_RETRY = Object.freeze({
  initialRetryTime: 300,
  maxRetryTime: 3_000,
  retries: 12,
});

export function createKafka(settings: KafkaSettings, logger: Logger): Kafka {
  return new Kafka({
    clientId: settings.clientId,
    brokers: [...settings.brokers],
    connectionTimeout: settings.connectionTimeoutMs ?? 3_000,
    requestTimeout: settings.requestTimeoutMs ?? 30_000,
    retry: KAFKA_RETRY,
    logLevel: logLevel.WARN,
    logCreator: pinoLogCreator(logger),
  });
}

/**
 * kafkajs warns about this at every idempotent producer's creation. Retries are limited on
 * purpose (see producer.ts: a failed send surfaces to the caller, which resends the same
 * batch, and the broker de-duplicates it), so it is logged at debug level.
 */
const LIMITED_IDEMPOTENT_RETRIES = 'Limiting retries for the idempotent producer';

function pinoLogCreator(logger: Logger): logCreator {
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      const { message, ...extra } = log;
      const child = { kafkajs: namespace, ...extra };
      if (message.startsWith(LIMITED_IDEMPOTENT_RETRIES)) logger.debug(child, message);
      else if (level === logLevel.ERROR) logger.error(child, message);
      else if (level === logLevel.WARN) logger.warn(child, message);
      else if (level === logLevel.INFO) logger.info(child, message);
      else logger.debug(child, message);
    };
}

/** kafkajs's names of the errors that mean "ask another broker who coordinates the group". */
export const COORDINATOR_MOVED_ERRORS: ReadonlySet<string> = new Set([
  'NOT_COORDINATOR_FOR_GROUP',
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'GROUP_LOAD_IN_PROGRESS',
]);

/**
 * Whether `error`, or an error it wraps (kafkajs wraps a protocol error in `originalError`
 * or `cause` once its retries give up), is a kafkajs protocol error of one of `types`
 * (kafkajs's names, as NOT_COORDINATOR_FOR_GROUP).
 */
export function hasKafkaErrorType(error: unknown, types: ReadonlySet<string>): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    const type = (current as { type?: unknown }).type;
    if (typeof type === 'string' && types.has(type)) return true;
    current = (current as { originalError?: unknown }).originalError ?? current.cause;
  }
  return false;
}

/**
 * How often a consumer refreshes cluster metadata even when nothing failed (kafkajs's
 * `metadataMaxAge`; its default is 300,000 ms). After a partition leader moves, the broker
 * that lost leadership still answers kafkajs's fetches (Fetch v11+, KIP-392 fetch from
 * follower: kafkajs sends no leader epoch, so nothing fences it) without an error, but only
 * up to its own high watermark, which can stay behind: the consumer waits for records it
 * never gets until the next refresh. Seen in the broker-fault test (a partition stalled for
 * minutes after a hung leader resumed) and in a CLI watcher after a preferred-leader election.
 */
export const CONSUMER_METADATA_MAX_AGE_MS = 10_000;
