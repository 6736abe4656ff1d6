/**
 * What starts a retraining (pure): a DRIFT state change of the production version on
 * `drift.events`, or a request on `retrain.requests` (the ops CLI). Each becomes a Trigger
 * whose id is the unit of idempotency: one candidate per drift episode or per request.
 */
import { createHash } from 'node:crypto';
import type { DriftEvent, RetrainRequest } from '#platform/serde';

export interface Trigger {
  /** The drift episode id or the request id: one candidate per trigger id. */
  readonly id: string;
  readonly kind: 'DRIFT' | 'MANUAL';
  readonly modelName: string;
  /** The version whose drift this is (null for manual requests). */
  readonly modelVersion: string | null;
  /** Labelled predictions from this event time on are the recent training data. */
  readonly sinceMs: number;
  readonly reason: string;
  readonly requestedBy: string;
  readonly episodeId: string | null;
  readonly requestId: string | null;
  readonly options: Readonly<Record<string, string>>;
}

export interface DriftTriggerPolicy {
  readonly modelName: string;
  /** Segments whose drift retrains ('*' = the global window). */
  readonly segments: readonly string[];
}

/**
 * A DRIFT state change with an episode id, for our model and a watched segment, is a trigger;
 * the drifted window's start is where the recent data begins. Everything else (status
 * events, recoveries, other models) is not.
 */
export function triggerFromDriftEvent(
  event: DriftEvent,
  policy: DriftTriggerPolicy,
): Trigger | null {
  if (
    event.modelName !== policy.modelName ||
    event.kind !== 'STATE_CHANGE' ||
    event.state !== 'DRIFT' ||
    event.episodeId === null ||
    !policy.segments.includes(event.segment)
  ) {
    return null;
  }
  return {
    id: event.episodeId,
    kind: 'DRIFT',
    modelName: event.modelName,
    modelVersion: event.modelVersion,
    sinceMs: event.windowStart,
    reason: `drift episode ${event.episodeId} of version ${event.modelVersion} (segment ${event.segment}): ${event.reason ?? 'input drift'}`,
    requestedBy: 'drift',
    episodeId: event.episodeId,
    requestId: null,
    options: {},
  };
}

/** A manual request retrains on the labelled predictions of the last `lookbackMs`. */
export function triggerFromRequest(
  request: RetrainRequest,
  modelName: string,
  lookbackMs: number,
): Trigger | null {
  if (request.modelName !== modelName) return null;
  return {
    id: request.requestId,
    kind: request.trigger,
    modelName: request.modelName,
    modelVersion: null,
    sinceMs: request.eventTime - lookbackMs,
    reason: request.reason,
    requestedBy: request.requestedBy,
    episodeId: request.episodeId,
    requestId: request.requestId,
    options: request.options,
  };
}

/**
 * Deterministic held-out split by event id (the first 32 bits of its SHA-256): the same
 * prediction is always on the same side, whichever run or restart reads it, so held-out data
 * is never trained on.
 */
export function isHeldOut(eventId: string, fraction: number): boolean {
  return createHash('sha256').update(eventId).digest().readUInt32BE(0) / 0x1_0000_0000 < fraction;
}
