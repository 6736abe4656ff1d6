/**
 * Error table of the project. Every error thrown across a module boundary is an
 * `AppError` with a stable `code` (safe to alert on and to write into dead letters),
 * a `retriable` flag (the consumer runner retries retriable errors with backoff and
 * dead-letters the others) and an optional `cause`.
 */
export interface AppErrorOptions {
  cause?: unknown;
  retriable?: boolean;
}

export class AppError extends Error {
  readonly code: string;
  readonly retriable: boolean;

  constructor(code: string, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** Configuration failed validation; `problems` lists every problem found, not only the first. */
export class ConfigError extends AppError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super('CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.problems = Object.freeze([...problems]);
  }
}

/** The bytes are not in Confluent wire format (magic byte 0 + 4-byte schema id + Avro body). */
export class UndecodableMessageError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super('MESSAGE_UNDECODABLE', message, options);
  }
}

/** The schema id in the message header is not known to the schema registry. */
export class UnknownSchemaIdError extends AppError {
  readonly schemaId: number;
  constructor(schemaId: number, options: AppErrorOptions = {}) {
    super('SCHEMA_ID_UNKNOWN', `schema id ${schemaId} is not registered`, options);
    this.schemaId = schemaId;
  }
}

/** The payload does not match its schema (bad Avro body, or a value that fails validation). */
export class SchemaValidationError extends AppError {
  readonly paths: readonly string[];
  constructor(message: string, paths: readonly string[] = [], options: AppErrorOptions = {}) {
    super('SCHEMA_INVALID', message, options);
    this.paths = paths;
  }
}

/** The writer schema of a message cannot be read as the event type the topic carries. */
export class SchemaMismatchError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super('SCHEMA_MISMATCH', message, options);
  }
}

/** The schema registry could not be reached or answered 5xx; worth retrying. */
export class RegistryUnavailableError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super('REGISTRY_UNAVAILABLE', message, { ...options, retriable: true });
  }
}

/** A message failed processing more times than the retry policy allows. */
export class RetriesExhaustedError extends AppError {
  readonly attempts: number;
  constructor(attempts: number, cause: unknown) {
    super('RETRIES_EXHAUSTED', `gave up after ${attempts} attempts: ${describeError(cause)}`, {
      cause,
    });
    this.attempts = attempts;
  }
}

/** A handler rejected one message on purpose (bad content); the runner dead-letters it. */
export class InvalidMessageError extends AppError {
  constructor(code: string, message: string, options: AppErrorOptions = {}) {
    super(code, message, { ...options, retriable: false });
  }
}

/** Graceful shutdown did not finish within its grace period; the process exits forcibly. */
export class ShutdownTimeoutError extends AppError {
  constructor(graceMs: number, pendingStep: string) {
    super(
      'SHUTDOWN_TIMEOUT',
      `graceful shutdown did not finish within ${graceMs} ms (stuck in step "${pendingStep}")`,
    );
  }
}

/** A dependency (database, broker, registry) is unavailable; wait and retry, never dead-letter. */
export class DependencyUnavailableError extends AppError {
  constructor(dependency: string, message: string, options: AppErrorOptions = {}) {
    super('DEPENDENCY_UNAVAILABLE', `${dependency} unavailable: ${message}`, {
      ...options,
      retriable: true,
    });
  }
}

/** The schema registry refused a schema (incompatible change or invalid schema). */
export class SchemaRegistrationError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super('SCHEMA_REGISTRATION_REFUSED', message, options);
  }
}

export function errorCode(error: unknown): string {
  return error instanceof AppError ? error.code : 'UNEXPECTED';
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
