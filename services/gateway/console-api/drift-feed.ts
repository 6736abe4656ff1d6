/**
 * The console's live drift view: drift events of the gateway's model, fanned out to every
 * browser that watches (server-sent events), with the newest few kept so a page that connects
 * late still sees the latest state of each segment. Fed by a #platform/kafka topic watcher
 * under the console's principal (nothing committed, nothing dead-lettered: an event that does
 * not decode is the retrainer's to dead-letter; here it is counted and skipped).
 */
import type { Logger } from '#platform/common';
import type { DriftEvent } from '#platform/serde';
import type { WatchedMessage } from '#platform/kafka';

/** What a browser receives of a drift event (the statistics stay in ClickHouse). */
export interface DriftFeedEvent {
  readonly eventId: string;
  readonly eventTime: number;
  readonly modelName: string;
  readonly modelVersion: string;
  readonly segment: string;
  readonly kind: DriftEvent['kind'];
  readonly state: DriftEvent['state'];
  readonly previousState: DriftEvent['previousState'];
  readonly predictionDriftState: DriftEvent['predictionDriftState'];
  readonly episodeId: string | null;
  readonly reason: string | null;
}

export type DriftFeedListener = (event: DriftFeedEvent) => void;

export interface DriftFeedOptions {
  /** Only this model's events are shown (the model the gateway serves). */
  readonly modelName: string;
  /** Events kept for late subscribers; default 100. */
  readonly keep?: number;
  readonly decode: (value: Buffer | null) => Promise<DriftEvent>;
  readonly logger?: Logger;
}

export class DriftFeed {
  private readonly listeners = new Set<DriftFeedListener>();
  private readonly kept: DriftFeedEvent[] = [];
  private readonly keep: number;
  private undecodable = 0;

  constructor(private readonly options: DriftFeedOptions) {
    this.keep = options.keep ?? 100;
  }

  /** One message of `drift.events`: decoded, filtered by model, kept and fanned out. */
  async accept(message: WatchedMessage): Promise<void> {
    let event: DriftEvent;
    try {
      event = await this.options.decode(message.value);
    } catch (error) {
      this.undecodable += 1;
      this.options.logger?.warn(
        { partition: message.partition, offset: message.offset, err: error },
        'drift event not shown: it does not decode',
      );
      return;
    }
    if (event.modelName !== this.options.modelName) return;
    this.publish(toFeedEvent(event));
  }

  publish(event: DriftFeedEvent): void {
    this.kept.push(event);
    if (this.kept.length > this.keep) this.kept.splice(0, this.kept.length - this.keep);
    // One failing subscriber (a browser's stream) must not starve the others or stop the
    // watcher that feeds them.
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.options.logger?.warn({ err: error }, 'drift event not delivered to one subscriber');
      }
    }
  }

  /** Events kept for late subscribers, oldest first. */
  recent(): readonly DriftFeedEvent[] {
    return [...this.kept];
  }

  subscribe(listener: DriftFeedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Messages skipped because they did not decode. */
  get undecodableCount(): number {
    return this.undecodable;
  }
}

export function toFeedEvent(event: DriftEvent): DriftFeedEvent {
  return {
    eventId: event.eventId,
    eventTime: event.eventTime,
    modelName: event.modelName,
    modelVersion: event.modelVersion,
    segment: event.segment,
    kind: event.kind,
    state: event.state,
    previousState: event.previousState,
    predictionDriftState: event.predictionDriftState,
    episodeId: event.episodeId,
    reason: event.reason,
  };
}
