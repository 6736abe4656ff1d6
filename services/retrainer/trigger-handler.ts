/**
 * The retrainer's batch handlers: each consumed event that is a trigger (triggers.ts) is
 * retrained, one training at a time across all handlers (versions are numbered in
 * registration order, and two trainings would fight over the two cores). A trigger older
 * than `maxAgeMs` is skipped: the group reads its topics from the beginning (a member
 * killed before its first commit has no offsets), and history must not be retrained.
 * The handler resolves once every trigger of the batch is trained (candidate registered and
 * announced), so the runner commits only then; a failed training rejects and is retried.
 */
import type { Logger } from '#platform/common';
import type { BatchHandler, HandlerContext } from '#platform/runner';
import type { Trigger } from './triggers.ts';

/** Runs the work it is given one at a time, in call order; a failure does not stop the next. */
export type Serialiser = <T>(work: () => Promise<T>) => Promise<T>;

export function createSerialiser(): Serialiser {
  let queue: Promise<unknown> = Promise.resolve();
  return <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work, work);
    queue = next.catch(() => undefined);
    return next;
  };
}

export interface TriggerHandlerDeps<T> {
  readonly toTrigger: (event: T) => Trigger | null;
  readonly retrain: (trigger: Trigger, context: HandlerContext) => Promise<unknown>;
  /** Shared by every handler of the process. */
  readonly serialise: Serialiser;
  readonly maxAgeMs: number;
  readonly now: () => number;
  readonly logger: Logger;
}

export function createTriggerHandler<T extends { eventTime: number }>(
  deps: TriggerHandlerDeps<T>,
): BatchHandler<T> {
  return async (events, context) => {
    for (const { event } of events) {
      const trigger = deps.toTrigger(event);
      if (!trigger) continue;
      if (deps.now() - event.eventTime > deps.maxAgeMs) {
        deps.logger.info(
          { trigger: trigger.id },
          'trigger older than RETRAIN_MAX_TRIGGER_AGE_MS; skipped',
        );
        continue;
      }
      deps.logger.info({ trigger: trigger.id, kind: trigger.kind }, 'retraining triggered');
      await deps.serialise(() => deps.retrain(trigger, context));
    }
  };
}
