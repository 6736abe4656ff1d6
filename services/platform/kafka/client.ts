/**
 * kafkajs client construction: one place for connection settings, retry policy and the
 * bridge from kafkajs's logger to pino; recognising kafkajs protocol errors.
 */
import { readFileSync } from 'node:fs';
import { Kafka, logLevel, type LogEntry, type SASLOptions, type logCreator } from 'kafkajs';
import { type Logger, ConfigError, boolField, enumField, stringField } from '#platform/common';

export type SaslMechanism = 'scram-sha-512' | 'scram-sha-256';

/** SASL credentials of the client's principal (topics/catalogue.json `principals`). */
export interface KafkaCredentials {
  readonly mechanism: SaslMechanism;
  readonly username: string;
  readonly password: string;
}

export interface KafkaSettings {
  readonly brokers: readonly string[];
  readonly clientId: string;
  /**
   * Brokers refuse anonymous clients (infra/kafka/run.sh, docker-compose), so every client
   * that connects has credentials; absent only for clients that never connect (unit tests).
   */
  readonly credentials?: KafkaCredentials;
  /** TLS to the brokers (SASL_SSL); `ca` replaces the system's CAs when given. */
  readonly tls?: { readonly ca?: string };
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

/** Config fields of every Kafka client's security: who it is and how it connects. */
export const kafkaSecurityConfigFields = {
  kafkaUsername: stringField(
    'KAFKA_USERNAME',
    "SASL user: the service's principal in topics/catalogue.json (the local stack fills it in)",
  ),
  kafkaPasswordFile: stringField(
    'KAFKA_PASSWORD_FILE',
    "File holding the SASL user's password (the local stack's are under var/secrets/kafka/)",
  ),
  kafkaSaslMechanism: enumField(
    'KAFKA_SASL_MECHANISM',
    'SASL mechanism',
    ['scram-sha-512', 'scram-sha-256'] as const,
    { default: 'scram-sha-512' },
  ),
  kafkaTls: boolField('KAFKA_TLS', 'Connect with TLS (SASL_SSL rather than SASL_PLAINTEXT)', {
    default: false,
  }),
  kafkaTlsCaFile: stringField(
    'KAFKA_TLS_CA_FILE',
    "PEM file of the CA that signed the brokers' certificates ('' = the system's CAs)",
    { default: '' },
  ),
};

export interface KafkaSecurityConfig {
  readonly kafkaUsername: string;
  readonly kafkaPasswordFile: string;
  readonly kafkaSaslMechanism: SaslMechanism;
  readonly kafkaTls: boolean;
  readonly kafkaTlsCaFile: string;
}

/**
 * The credentials and TLS settings of `config`, with the password and CA read from their
 * files (once, at start: a rotated password takes effect at the next start; SCRAM keeps
 * established connections, see docs/security.md).
 */
export function kafkaSecurityOf(
  config: KafkaSecurityConfig,
): Pick<KafkaSettings, 'credentials' | 'tls'> {
  const read = (what: string, path: string): string => {
    try {
      return readFileSync(path, 'utf8').trim();
    } catch (error) {
      throw new ConfigError([`${what}: cannot read ${path} (${(error as Error).message})`]);
    }
  };
  const password = read('KAFKA_PASSWORD_FILE', config.kafkaPasswordFile);
  if (password === '')
    throw new ConfigError([`KAFKA_PASSWORD_FILE: ${config.kafkaPasswordFile} is empty`]);
  return {
    credentials: {
      mechanism: config.kafkaSaslMechanism,
      username: config.kafkaUsername,
      password,
    },
    tls: config.kafkaTls
      ? config.kafkaTlsCaFile
        ? { ca: read('KAFKA_TLS_CA_FILE', config.kafkaTlsCaFile) }
        : {}
      : undefined,
  };
}

function saslOptionsOf({ mechanism, username, password }: KafkaCredentials): SASLOptions {
  return mechanism === 'scram-sha-512'
    ? { mechanism, username, password }
    : { mechanism, username, password };
}

export function createKafka(settings: KafkaSettings, logger: Logger): Kafka {
  const { credentials, tls } = settings;
  return new Kafka({
    clientId: settings.clientId,
    brokers: [...settings.brokers],
    ...(credentials ? { sasl: saslOptionsOf(credentials) } : {}),
    ...(tls ? { ssl: tls.ca ? { ca: [tls.ca], rejectUnauthorized: true } : true } : {}),
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
