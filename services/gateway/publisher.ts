/**
 * Publishes the gateway's synchronous predictions to `predictions` off the response path.
 * Events wait in a bounded in-memory buffer; a background loop sends them in batches and,
 * while Kafka is unavailable, keeps them and retries with backoff. The HTTP answer never
 * waits for Kafka. If the buffer is full, a new event is not buffered: that is counted
 * (`gateway_predictions_dropped_total`) and logged as an error, never silent, and /ready
 * reports the gateway not ready until Kafka is back.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import {
  type BackoffPolicy,
  DEFAULT_BACKOFF,
  type Logger,
  backoffDelay,
  describeError,
  sleep,
} from '#platform/common';
import type { OutgoingEvent } from '#platform/kafka';

export interface PublisherOptions {
  readonly send: (events: readonly OutgoingEvent<'predictions'>[]) => Promise<void>;
  readonly capacity: number;
  readonly batchSize: number;
  readonly logger: Logger;
  readonly metrics: Registry;
  readonly backoff?: BackoffPolicy;
  /** A send pending longer than this counts as Kafka unavailable. Default 5,000 ms. */
  readonly stallMs?: number;
}

export interface PublisherStatus {
  readonly buffered: number;
  readonly capacity: number;
  /** False after a failed send until the next successful one. */
  readonly kafkaAvailable: boolean;
  readonly dropped: number;
}

export class PredictionPublisher {
  private readonly buffer: OutgoingEvent<'predictions'>[] = [];
  private readonly abort = new AbortController();
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private kafkaAvailable = true;
  private droppedCount = 0;
  private stopping = false;
  /** When the pending send started (kafkajs retries internally for many seconds). */
  private sendingSince: number | undefined;
  private readonly bufferedGauge: Gauge;
  private readonly published: Counter;
  private readonly dropped: Counter;
  private readonly failures: Counter;

  constructor(private readonly options: PublisherOptions) {
    const registers = [options.metrics];
    this.bufferedGauge = new Gauge({
      name: 'gateway_publish_buffer_events',
      help: 'Predictions waiting to be published to Kafka',
      registers,
    });
    new Gauge({
      name: 'gateway_publish_buffer_capacity',
      help: 'Capacity of the publish buffer',
      registers,
    }).set(options.capacity);
    this.published = new Counter({
      name: 'gateway_predictions_published_total',
      help: 'Sync predictions acknowledged by Kafka',
      registers,
    });
    this.dropped = new Counter({
      name: 'gateway_predictions_dropped_total',
      help: 'Sync predictions not published because the buffer was full',
      registers,
    });
    this.failures = new Counter({
      name: 'gateway_publish_failures_total',
      help: 'Failed publish attempts (each retry counts)',
      registers,
    });
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Queues events; returns how many were accepted (the rest are counted as dropped). */
  enqueue(events: readonly OutgoingEvent<'predictions'>[]): number {
    const room = Math.max(0, this.options.capacity - this.buffer.length);
    const accepted = events.slice(0, room);
    this.buffer.push(...accepted);
    const rejected = events.length - accepted.length;
    if (rejected > 0) {
      this.droppedCount += rejected;
      this.dropped.inc(rejected);
      this.options.logger.error(
        {
          dropped: rejected,
          capacity: this.options.capacity,
          reviewIds: events.slice(room).map((e) => e.value.reviewId),
        },
        'publish buffer full: predictions not published',
      );
    }
    this.bufferedGauge.set(this.buffer.length);
    this.wake?.();
    return accepted.length;
  }

  status(): PublisherStatus {
    return {
      buffered: this.buffer.length,
      capacity: this.options.capacity,
      kafkaAvailable:
        this.kafkaAvailable &&
        (this.sendingSince === undefined ||
          Date.now() - this.sendingSince < (this.options.stallMs ?? 5_000)),
      dropped: this.droppedCount,
    };
  }

  /** Publishes what is buffered (retrying while Kafka is down) for up to `timeoutMs`, then stops. */
  async flushAndStop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    this.wake?.();
    const deadline = Date.now() + timeoutMs;
    while (this.buffer.length > 0 && Date.now() < deadline) await sleep(20);
    this.abort.abort();
    this.wake?.();
    await this.loop;
    if (this.buffer.length > 0) {
      this.options.logger.error(
        { unpublished: this.buffer.length },
        'stopping with unpublished predictions',
      );
    }
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.abort.signal.aborted) {
      if (this.buffer.length === 0) {
        if (this.stopping) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      const batch = this.buffer.slice(0, this.options.batchSize);
      try {
        this.sendingSince = Date.now();
        await this.options.send(batch);
        this.buffer.splice(0, batch.length);
        this.bufferedGauge.set(this.buffer.length);
        this.published.inc(batch.length);
        if (!this.kafkaAvailable)
          this.options.logger.info('Kafka available again; publishing resumed');
        this.kafkaAvailable = true;
        attempt = 0;
      } catch (error) {
        attempt++;
        this.failures.inc();
        if (this.kafkaAvailable) {
          this.options.logger.error(
            { err: describeError(error), buffered: this.buffer.length },
            'publishing failed',
          );
        }
        this.kafkaAvailable = false;
        await sleep(
          backoffDelay(attempt, this.options.backoff ?? DEFAULT_BACKOFF),
          this.abort.signal,
        );
      } finally {
        this.sendingSince = undefined;
      }
    }
  }
}
