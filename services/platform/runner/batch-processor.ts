/**
 * The consumer contract, as pure logic over injected dependencies (unit-tested without Kafka):
 *
 * 1. Every message of a partition batch is decoded. A message that cannot be decoded
 *    (not Confluent-framed, unknown schema id, invalid Avro, wrong record type) is poison:
 *    it is dead-lettered with its reason and original bytes, never retried.
 * 2. The decoded events go to the handler as one batch. The handler resolves once the
 *    effects are durable (rows inserted, produced messages acknowledged). It may reject
 *    single events (bad content): those are dead-lettered too.
 * 3. A *transient* failure (dependency down: `retriable` AppError, kafkajs errors, network
 *    errors) is retried with backoff for as long as the consumer runs: an outage pauses the
 *    partition, it never sends good data to the DLQ. Any other failure is retried up to
 *    `maxAttempts` times; then the batch is split and each event is tried alone, so one
 *    poison event cannot hold back its neighbours, and an event that still fails goes to
 *    the DLQ with RETRIES_EXHAUSTED.
 * 4. Only after all effects and all dead letters are durable does the batch report the
 *    offset to commit (last offset + 1). If the consumer is stopping mid-retry, nothing is
 *    committed and the batch is redelivered after restart (at-least-once; consumers that
 *    must be exactly-once as seen by users de-duplicate on eventId).
 *
 * Events a handler derives for other topics go through `context.output`. At least once, that
 * is the service's producer (durable when `send` resolves). Exactly once (the consumer runner
 * with a transactional producer), each handler call gets a buffer instead: the events of the
 * calls that succeeded are committed with the dead letters and the offset in one transaction.
 */
import type { EventSink } from '#platform/kafka';
import {
  AppError,
  type BackoffPolicy,
  RetriesExhaustedError,
  backoffDelay,
  describeError,
  errorCode,
} from '#platform/common';

export interface RawMessage {
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, Buffer>>;
  readonly timestamp: string;
}

export interface ConsumedEvent<T> extends RawMessage {
  readonly topic: string;
  readonly schemaId: number;
  readonly event: T;
}

export interface Rejection<T> {
  readonly event: ConsumedEvent<T>;
  readonly error: Error;
}

export interface HandlerResult<T> {
  /** Events refused for their content; they are dead-lettered, the rest counts as done. */
  readonly rejected?: readonly Rejection<T>[];
}

export interface HandlerContext {
  /** Call during long work so the group does not consider this member dead. */
  readonly heartbeat: () => Promise<void>;
  readonly signal: AbortSignal;
  /** Where derived events go (see the module comment): resolved = durable or buffered. */
  readonly output: EventSink;
}

export type BatchHandler<T> = (
  events: readonly ConsumedEvent<T>[],
  context: HandlerContext,
) => Promise<HandlerResult<T> | void>;

export interface DeadLetterRequest {
  readonly message: RawMessage;
  readonly errorCode: string;
  readonly reason: string;
  readonly attempts: number;
}

export interface BatchProcessorDeps<T> {
  readonly topic: string;
  readonly decode: (message: RawMessage) => Promise<{ schemaId: number; event: T }>;
  readonly handler: BatchHandler<T>;
  readonly deadLetter: (requests: readonly DeadLetterRequest[]) => Promise<void>;
  readonly output: EventSink;
  readonly heartbeat: () => Promise<void>;
  /** False once the consumer is stopping; retry loops give up and nothing is committed. */
  readonly isRunning: () => boolean;
  readonly sleep: (ms: number) => Promise<void>;
  readonly signal: AbortSignal;
  readonly maxAttempts: number;
  readonly backoff: BackoffPolicy;
  readonly isTransient: (error: unknown) => boolean;
  readonly onRetry?: (info: { error: unknown; attempt: number; transient: boolean }) => void;
}

export type BatchOutcome =
  | {
      readonly kind: 'done';
      readonly commitOffset: string;
      readonly processed: number;
      readonly deadLettered: number;
    }
  | { readonly kind: 'aborted' };

/** Thrown inside retry loops when the consumer stops; the batch is then left uncommitted. */
class StoppedError extends Error {}

export async function processBatch<T>(
  messages: readonly RawMessage[],
  deps: BatchProcessorDeps<T>,
): Promise<BatchOutcome> {
  const last = messages[messages.length - 1];
  if (last === undefined) return { kind: 'aborted' };
  try {
    const deadLetters: DeadLetterRequest[] = [];
    const events: ConsumedEvent<T>[] = [];
    for (const message of messages) {
      try {
        const decoded = await withRetry(() => deps.decode(message), deps, { transientOnly: true });
        events.push({
          ...message,
          topic: deps.topic,
          schemaId: decoded.schemaId,
          event: decoded.event,
        });
      } catch (error) {
        if (error instanceof StoppedError) throw error;
        deadLetters.push(toDeadLetter(message, error, 1));
      }
    }
    if (events.length > 0) deadLetters.push(...(await handleAll(events, deps)));
    if (deadLetters.length > 0) {
      await withRetry(() => deps.deadLetter(deadLetters), deps, {
        transientOnly: false,
        forever: true,
      });
    }
    return {
      kind: 'done',
      commitOffset: (BigInt(last.offset) + 1n).toString(),
      processed: events.length,
      deadLettered: deadLetters.length,
    };
  } catch (error) {
    if (error instanceof StoppedError) return { kind: 'aborted' };
    throw error;
  }
}

async function handleAll<T>(
  events: readonly ConsumedEvent<T>[],
  deps: BatchProcessorDeps<T>,
): Promise<DeadLetterRequest[]> {
  const context: HandlerContext = {
    heartbeat: deps.heartbeat,
    signal: deps.signal,
    output: deps.output,
  };
  try {
    const result = await withRetry(() => deps.handler(events, context), deps, {
      transientOnly: false,
    });
    return rejectionsToDeadLetters(result, 1);
  } catch (error) {
    if (error instanceof StoppedError) throw error;
    if (events.length === 1) {
      const [only] = events;
      return only ? [toDeadLetter(only, error, deps.maxAttempts)] : [];
    }
  }
  // The batch keeps failing: isolate the culprit(s) by handling events one at a time.
  const deadLetters: DeadLetterRequest[] = [];
  for (const event of events) {
    try {
      const result = await withRetry(() => deps.handler([event], context), deps, {
        transientOnly: false,
      });
      deadLetters.push(...rejectionsToDeadLetters(result, 1));
    } catch (error) {
      if (error instanceof StoppedError) throw error;
      deadLetters.push(toDeadLetter(event, error, deps.maxAttempts));
    }
  }
  return deadLetters;
}

/**
 * Runs `operation` until it succeeds. Transient errors are retried while the consumer runs;
 * other errors up to maxAttempts (or rethrown at once when `transientOnly`), or forever when
 * `forever` is set (dead-lettering itself must not give up: that would lose the message).
 */
async function withRetry<R>(
  operation: () => Promise<R>,
  deps: RetryDeps,
  options: { transientOnly: boolean; forever?: boolean },
): Promise<R> {
  let failures = 0;
  for (let attempt = 1; ; attempt++) {
    if (!deps.isRunning()) throw new StoppedError();
    try {
      return await operation();
    } catch (error) {
      const transient = deps.isTransient(error);
      if (!transient) {
        failures++;
        if (options.transientOnly) throw error;
        if (!options.forever && failures >= deps.maxAttempts) {
          throw new RetriesExhaustedError(failures, error);
        }
      }
      deps.onRetry?.({ error, attempt, transient });
      await deps.heartbeat().catch(() => undefined);
      await deps.sleep(backoffDelay(attempt, deps.backoff));
    }
  }
}

type RetryDeps = Pick<
  BatchProcessorDeps<unknown>,
  'isRunning' | 'isTransient' | 'maxAttempts' | 'onRetry' | 'heartbeat' | 'sleep' | 'backoff'
>;

function rejectionsToDeadLetters<T>(
  result: HandlerResult<T> | void,
  attempts: number,
): DeadLetterRequest[] {
  return (result?.rejected ?? []).map(({ event, error }) => toDeadLetter(event, error, attempts));
}

function toDeadLetter(message: RawMessage, error: unknown, attempts: number): DeadLetterRequest {
  const cause = error instanceof RetriesExhaustedError ? error.cause : undefined;
  const code =
    error instanceof RetriesExhaustedError
      ? `${error.code}:${errorCode(cause)}`
      : error instanceof AppError
        ? error.code
        : errorCode(error);
  return { message, errorCode: code, reason: describeError(error), attempts };
}
