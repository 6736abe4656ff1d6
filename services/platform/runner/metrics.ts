import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Metrics of one consumer runner; labels name the topic (and partition for lag). */
export interface RunnerMetrics {
  readonly consumed: Counter<'topic'>;
  readonly processed: Counter<'topic'>;
  readonly failed: Counter<'topic' | 'transient'>;
  readonly deadLettered: Counter<'topic' | 'code'>;
  readonly batchSeconds: Histogram<'topic'>;
  readonly lag: Gauge<'topic' | 'partition'>;
}

export function createRunnerMetrics(registry: Registry): RunnerMetrics {
  const existing = registry.getSingleMetric('kafka_messages_consumed_total');
  if (existing) {
    return {
      consumed: existing as Counter<'topic'>,
      processed: registry.getSingleMetric('kafka_messages_processed_total') as Counter<'topic'>,
      failed: registry.getSingleMetric('kafka_processing_failures_total') as Counter<
        'topic' | 'transient'
      >,
      deadLettered: registry.getSingleMetric('kafka_messages_dead_lettered_total') as Counter<
        'topic' | 'code'
      >,
      batchSeconds: registry.getSingleMetric('kafka_batch_duration_seconds') as Histogram<'topic'>,
      lag: registry.getSingleMetric('kafka_consumer_lag') as Gauge<'topic' | 'partition'>,
    };
  }
  const registers = [registry];
  return {
    consumed: new Counter({
      name: 'kafka_messages_consumed_total',
      help: 'Messages fetched from Kafka',
      labelNames: ['topic'],
      registers,
    }),
    processed: new Counter({
      name: 'kafka_messages_processed_total',
      help: 'Messages whose effects are durable and whose offsets were committed',
      labelNames: ['topic'],
      registers,
    }),
    failed: new Counter({
      name: 'kafka_processing_failures_total',
      help: 'Failed processing attempts (each retry counts), by transient or not',
      labelNames: ['topic', 'transient'],
      registers,
    }),
    deadLettered: new Counter({
      name: 'kafka_messages_dead_lettered_total',
      help: 'Messages sent to the dead-letter topic, by error code',
      labelNames: ['topic', 'code'],
      registers,
    }),
    batchSeconds: new Histogram({
      name: 'kafka_batch_duration_seconds',
      help: 'Time to process one fetched batch, decode to commit',
      labelNames: ['topic'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    lag: new Gauge({
      name: 'kafka_consumer_lag',
      help: 'High watermark minus the next offset to process, per partition',
      labelNames: ['topic', 'partition'],
      registers,
    }),
  };
}
