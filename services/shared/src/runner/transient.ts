import { AppError } from '#shared/common';
import { hasKafkaErrorType } from '#shared/kafka';

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

/** kafkajs's names of the errors that mean "ask another broker who coordinates the group". */
const COORDINATOR_MOVED = new Set([
  'NOT_COORDINATOR_FOR_GROUP',
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'GROUP_LOAD_IN_PROGRESS',
]);

/** The group coordinator moved or is unavailable (a broker restarted or failed over). */
export function isCoordinatorMovedError(error: unknown): boolean {
  return hasKafkaErrorType(error, COORDINATOR_MOVED);
}
