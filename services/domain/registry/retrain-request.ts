/**
 * A manual retrain request (`retrain.requests`), as the operators' CLI and the console's admin
 * action both publish it: one builder, so both carry the same fields and the retrainer treats
 * them alike (one candidate per request id).
 */
import { randomUUID } from 'node:crypto';
import type { OutgoingEvent } from '#platform/kafka';

export interface RetrainRequestInput {
  readonly modelName: string;
  /** Why (required by both callers; kept in the request and the candidate's lineage). */
  readonly reason: string;
  /** Who asked: `<user>@cli`, `<api key name>@console`. */
  readonly requestedBy: string;
  /** Training options passed through to the retrainer (e.g. epochs); none by default. */
  readonly options?: Readonly<Record<string, string>>;
  readonly now?: () => number;
}

/** The event to send, keyed by its new request id. */
export function retrainRequestEvent(input: RetrainRequestInput): {
  readonly requestId: string;
  readonly event: OutgoingEvent<'retrain.requests'>;
} {
  const requestId = randomUUID();
  return {
    requestId,
    event: {
      key: requestId,
      value: {
        eventId: randomUUID(),
        eventTime: (input.now ?? Date.now)(),
        requestId,
        modelName: input.modelName,
        trigger: 'MANUAL',
        reason: input.reason,
        requestedBy: input.requestedBy,
        episodeId: null,
        options: { ...(input.options ?? {}) },
      },
    },
  };
}
