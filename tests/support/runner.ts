/** An in-process ConsumerRunner on the test stack, collecting what its handler saw. */
import { randomUUID } from 'node:crypto';
import { createMetricsRegistry } from '#shared/common';
import { type BatchHandler, ConsumerRunner, createRunnerMetrics } from '#shared/runner';
import type { TopicName, TopicValues } from '#shared/serde';
import type { TestKafka } from './kafka.ts';

export function startRunner<T extends TopicName>(
  kafka: TestKafka,
  topic: T,
  handler: BatchHandler<TopicValues[T]>,
  /**
   * fromBeginning (default true): read the topic's history too. False: only what is produced
   * after `started` resolves (the group's start is pinned at the end of the topic then);
   * collectors of long tests use it so as not to read every earlier test's events.
   */
  options: { groupId?: string; maxAttempts?: number; fromBeginning?: boolean } = {},
): {
  runner: ConsumerRunner<T>;
  started: Promise<void>;
  metrics: ReturnType<typeof createMetricsRegistry>;
} {
  const metrics = createMetricsRegistry('test-runner');
  const runner = new ConsumerRunner({
    kafka: kafka.kafka,
    codec: kafka.codec,
    producer: kafka.producer,
    topic,
    groupId: options.groupId ?? `test-${topic}-${randomUUID()}`,
    service: 'integration-test',
    handler,
    logger: kafka.logger,
    metrics: createRunnerMetrics(metrics),
    fromBeginning: options.fromBeginning ?? true,
    maxAttempts: options.maxAttempts ?? 3,
    backoff: { initialMs: 50, maxMs: 500, factor: 2 },
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 1_000,
  });
  return { runner, started: runner.start(), metrics };
}
