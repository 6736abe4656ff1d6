import { AppError } from '#platform/common';
import { COORDINATOR_MOVED_ERRORS, hasKafkaErrorType } from '#platform/kafka';

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * Default classification of a failure as transient (an outage: wait and retry, never
 * dead-letter) versus a processing failure (counts towards maxAttempts).
 */
export function isTransientError(error: unknown): boolean {
  if (error instanceof AppError) return error.retriable;
  if (!(error instanceof Error)) return false;
  // Broker trouble surfaces as KafkaJS* errors (connection, leader, timeouts, retries exhausted).
  if (error.name.startsWith('KafkaJS')) return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  return error.cause !== undefined && error.cause !== error && isTransientError(error.cause);
}

/** The group coordinator moved or is unavailable (a broker restarted or failed over). */
export function isCoordinatorMovedError(error: unknown): boolean {
  return hasKafkaErrorType(error, COORDINATOR_MOVED_ERRORS);
}
