/** An in-process ConsumerRunner on the test stack, collecting what its handler saw. */
import { randomUUID } from 'node:crypto';
import { createMetricsRegistry } from '#platform/common';
import { type BatchHandler, ConsumerRunner, createRunnerMetrics } from '#platform/runner';
import type { TopicName, TopicValues } from '#platform/serde';
import type { TestKafka } from './kafka.ts';

export function startRunner<T extends TopicName>(
  kafka: TestKafka,
  topic: T,
  handler: BatchHandler<TopicValues[T]>,
  /**
   * fromBeginning (default false): only what is produced after `started` resolves (the new
   * group's start is pinned at the end of the topic then), so a collector does not read every
   * earlier test's events (the test stack's Kafka keeps them). True: the history too.
   */
  options: { groupId?: string; maxAttempts?: number; fromBeginning?: boolean } = {},
): {
  runner: ConsumerRunner<T>;
  groupId: string;
  started: Promise<void>;
  metrics: ReturnType<typeof createMetricsRegistry>;
} {
  const metrics = createMetricsRegistry('test-runner');
  const groupId = options.groupId ?? `test-${topic}-${randomUUID()}`;
  const runner = new ConsumerRunner({
    kafka: kafka.kafka,
    codec: kafka.codec,
    producer: kafka.producer,
    topic,
    groupId,
    service: 'integration-test',
    handler,
    logger: kafka.logger,
    metrics: createRunnerMetrics(metrics),
    fromBeginning: options.fromBeginning ?? false,
    maxAttempts: options.maxAttempts ?? 3,
    backoff: { initialMs: 50, maxMs: 500, factor: 2 },
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 1_000,
  });
  return { runner, groupId, started: runner.start(), metrics };
}
