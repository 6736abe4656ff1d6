import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pinNewGroupAtEnd } from '#platform/kafka';
import type { Prediction } from '#platform/serde';
import { type ClickHouseClient, sql } from '#platform/store';
import { type TestKafka, connectTestKafka, waitUntil } from '../support/kafka.ts';
import { type Child, startTsProcess, stopProcess } from '../support/processes.ts';
import { REPO_ROOT, TEST_STACK_ENV, testStackProcessEnv } from '../support/stack.ts';
import { createTestDatabase } from '../support/clickhouse.ts';

const TOTAL = 12_000;
/** The logger holds at most one fetch per partition while it waits: memory stays flat. */
const RSS_BOUND_MB = 300;

function clickhouse(command: 'start' | 'stop'): void {
  execFileSync('bash', ['infra/clickhouse/run.sh', command], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...TEST_STACK_ENV },
    stdio: 'ignore',
  });
}

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : 0;
}

describe('logger: ClickHouse stopped for 30 s mid-stream', () => {
  let kafka: TestKafka;
  let client: ClickHouseClient;
  let logger: Child | undefined;
  let stopped = false;
  const run = `outage_${randomUUID().slice(0, 8)}`;
  const database = `it_${run}`;

  beforeAll(async () => {
    kafka = await connectTestKafka();
    client = await createTestDatabase(database);
  });
  afterAll(async () => {
    if (stopped) clickhouse('start');
    await stopProcess(logger);
    await client?.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    await client?.close();
    await kafka?.close();
  });

  it(
    'loses nothing, duplicates nothing, keeps RSS bounded, and resumes by itself',
    { timeout: 300_000 },
    async () => {
      // The logger reads a new group from the beginning; the test stack's `predictions` keeps
      // every earlier test's rows, so the group starts at the end: the outage's 12,000 only.
      await pinNewGroupAtEnd(kafka.kafka, `logger-${run}`, 'predictions');
      logger = startTsProcess(
        'services/logger/main.ts',
        testStackProcessEnv({
          CLICKHOUSE_DATABASE: database,
          LOGGER_GROUP_ID: `logger-${run}`,
          METRICS_PORT: '0',
          LOG_LEVEL: 'warn',
        }),
      );
      let maxRss = 0;
      const sampler = setInterval(() => {
        if (logger?.process.pid) maxRss = Math.max(maxRss, rssMb(logger.process.pid));
      }, 250);
      const produce = async (from: number, to: number) => {
        for (let start = from; start < to; start += 500) {
          await kafka.producer.send(
            'predictions',
            Array.from({ length: 500 }, (_, k) => {
              const i = start + k;
              const value: Prediction = {
                eventId: randomUUID(),
                eventTime: Date.now(),
                reviewId: `${run}-${i}`,
                reviewEventId: null,
                origin: 'STREAM',
                source: run,
                text: `outage review ${i}`,
                modelName: 'sentiment',
                modelVersion: '1',
                label: 'POSITIVE',
                probabilities: [0.25, 0.75],
                confidence: 0.75,
                embedding: Array.from({ length: 128 }, (_, d) => Math.fround((i + d) / 1000)),
                latencyMs: 1,
                truncated: false,
                groundTruth: null,
                scoredAt: Date.now(),
                shadowOf: null,
              };
              return { key: value.reviewId, value };
            }),
          );
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      };
      await produce(0, TOTAL / 3);
      clickhouse('stop');
      stopped = true;
      const outageStart = Date.now();
      await produce(TOTAL / 3, TOTAL);
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, 30_000 - (Date.now() - outageStart))),
      );
      clickhouse('start');
      stopped = false;

      const counts = async () => {
        const result = await client.query({
          query: sql`SELECT count() AS rows, uniqExact(event_id) AS ids FROM predictions_dedup WHERE source = ${run}`,
          format: 'JSONEachRow',
        });
        const [row] = await result.json<{ rows: string; ids: string }>();
        return { rows: Number(row?.rows ?? 0), ids: Number(row?.ids ?? 0) };
      };
      await waitUntil(
        async () => (await counts()).rows >= TOTAL,
        120_000,
        'every prediction after the outage',
      );
      clearInterval(sampler);
      expect(await counts()).toEqual({ rows: TOTAL, ids: TOTAL });
      expect(logger.process.exitCode).toBeNull();
      console.log(
        `logger RSS max during the outage test: ${maxRss.toFixed(0)} MB (bound ${RSS_BOUND_MB} MB)`,
      );
      expect(maxRss).toBeLessThan(RSS_BOUND_MB);
    },
  );
});
