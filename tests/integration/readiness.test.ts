/**
 * Readiness from real parts: each ClickHouse-backed service, started from the build as in
 * production, answers /ready 200 when its parts work, 503 naming `clickhouse` while ClickHouse
 * is unreachable for it (a TCP forwarder the test cuts, so other tests' clients are not
 * affected), and 200 again once it is back, without a restart. Inference, whose parts are
 * Kafka consumers and the model, answers 503 naming its consumer while the whole Kafka
 * cluster is down (its nodes SIGKILLed) and 200 once the cluster is back. A start-up that
 * cannot complete is fatal: the process exits non-zero.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pinNewGroupAtEnd } from '#platform/kafka';
import type { ClickHouseClient } from '#platform/store';
import { createTestDatabase } from '../support/clickhouse.ts';
import { type TestKafka, connectTestKafka, waitUntil } from '../support/kafka.ts';
import { freePort } from '../support/loop.ts';
import { type Child, startTsProcess, stopProcess } from '../support/processes.ts';
import { TEST_STACK_ENV, testStackProcessEnv } from '../support/stack.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';
import { NODE_IDS, healCluster, killNode } from '../support/kafka-cluster.ts';

type ClickHouseService = 'logger' | 'drift' | 'retrainer' | 'promoter';
const SERVICES: readonly ClickHouseService[] = ['logger', 'drift', 'retrainer', 'promoter'];

interface Readiness {
  readonly status: number;
  readonly checks: Record<string, boolean>;
}

async function readiness(port: number): Promise<Readiness | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/ready`);
    const body = (await response.json()) as { checks: Record<string, boolean> };
    return { status: response.status, checks: body.checks };
  } catch {
    return undefined; // not listening yet
  }
}

describe('readiness: each service says which part is down', () => {
  const run = `ready_${randomUUID().slice(0, 8)}`;
  const database = `it_${run}`;
  let kafka: TestKafka;
  let client: ClickHouseClient;
  let proxy: TcpProxy;
  const children = new Map<ClickHouseService, { child: Child; port: number }>();

  beforeAll(async () => {
    kafka = await connectTestKafka();
    client = await createTestDatabase(database);
    proxy = await TcpProxy.start('127.0.0.1', Number(TEST_STACK_ENV.CLICKHOUSE_HTTP_PORT));
    // New groups start at the end of their topics: earlier tests' events are not this test's.
    for (const [groupId, topic] of [
      [`logger-${run}`, 'predictions'],
      [`retrainer-${run}-drift-events`, 'drift.events'],
      [`retrainer-${run}-requests`, 'retrain.requests'],
      [`promoter-${run}`, 'models.candidates'],
    ] as const) {
      await pinNewGroupAtEnd(kafka.kafka, groupId, topic);
    }
  });

  afterAll(async () => {
    await proxy?.restore().catch(() => undefined);
    await Promise.all([...children.values()].map(({ child }) => stopProcess(child)));
    await proxy?.close();
    await client?.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    await client?.close();
    await kafka?.close();
  });

  it(
    'logger, drift, retrainer and promoter: 503 naming clickhouse while it is unreachable, 200 again after',
    { timeout: 300_000 },
    async () => {
      for (const service of SERVICES) {
        const port = await freePort();
        const child = startTsProcess(
          `services/${service}/main.ts`,
          testStackProcessEnv({
            CLICKHOUSE_URL: proxy.url,
            CLICKHOUSE_DATABASE: database,
            MODEL_NAME: run,
            METRICS_PORT: String(port),
            LOGGER_GROUP_ID: `logger-${run}`,
            RETRAINER_GROUP_ID: `retrainer-${run}`,
            PROMOTER_GROUP_ID: `promoter-${run}`,
            DRIFT_POLL_MS: '200',
            LOG_LEVEL: 'info',
          }),
        );
        children.set(service, { child, port });
      }
      const all = async (predicate: (ready: Readiness | undefined) => boolean) =>
        (
          await Promise.all(
            [...children.values()].map(async ({ port }) => predicate(await readiness(port))),
          )
        ).every(Boolean);

      await waitUntil(() => all((ready) => ready?.status === 200), 150_000, 'all ready', 500);

      await proxy.cut();
      await waitUntil(
        () => all((ready) => ready?.status === 503 && ready.checks.clickhouse === false),
        60_000,
        'every service not ready, naming clickhouse',
        500,
      );
      for (const { port } of children.values()) {
        const ready = await readiness(port);
        // Only the part that is down is named: the consumers and the election still run.
        const others = Object.entries(ready!.checks).filter(([name]) => name !== 'clickhouse');
        expect(others.filter(([name, ok]) => !ok && name !== 'rounds')).toEqual([]);
      }

      await proxy.restore();
      await waitUntil(() => all((ready) => ready?.status === 200), 90_000, 'all ready again', 500);
      for (const { child } of children.values()) expect(child.process.exitCode).toBeNull();
    },
  );

  it(
    'inference: 503 naming its consumers while the Kafka cluster is down, 200 again after',
    { timeout: 420_000 },
    async () => {
      const admin = kafka.kafka.admin();
      await admin.connect();
      const port = await freePort();
      await pinNewGroupAtEnd(kafka.kafka, `inference-${run}`, 'reviews');
      const child = startTsProcess(
        'services/inference/main.ts',
        testStackProcessEnv({
          MODEL_NAME: run,
          METRICS_PORT: String(port),
          INFERENCE_GROUP_ID: `inference-${run}`,
          LOG_LEVEL: 'info',
        }),
      );
      let down = false;
      try {
        await waitUntil(
          async () => (await readiness(port))?.status === 200,
          150_000,
          'inference ready',
          500,
        );
        for (const id of NODE_IDS) killNode(id);
        down = true;
        await waitUntil(
          async () => {
            const ready = await readiness(port);
            return ready?.status === 503 && ready.checks.reviewsConsumer === false;
          },
          120_000,
          'inference not ready, naming its reviews consumer',
          500,
        );
        // The model it serves is not what is down.
        expect((await readiness(port))?.checks.model).toBe(true);
        await healCluster(admin, ['reviews', 'models.deployments', '__consumer_offsets']);
        down = false;
        await waitUntil(
          async () => (await readiness(port))?.status === 200,
          120_000,
          'inference ready again',
          500,
        );
        expect(child.process.exitCode).toBeNull();
      } finally {
        if (down) await healCluster(admin, ['reviews', 'models.deployments', '__consumer_offsets']);
        await stopProcess(child);
        await admin.disconnect();
      }
    },
  );

  it('a start-up step that fails is fatal: logged, and the process exits non-zero', async () => {
    const closedPort = await freePort();
    const child = startTsProcess(
      'services/promoter/main.ts',
      testStackProcessEnv({
        CLICKHOUSE_URL: `http://127.0.0.1:${closedPort}`,
        CLICKHOUSE_DATABASE: database,
        MODEL_NAME: run,
        METRICS_PORT: '0',
        PROMOTER_GROUP_ID: `promoter-${run}-fatal`,
      }),
    );
    const code = await child.exited;
    expect(code).toBe(1);
    expect(child.output()).toMatch(/"step":"migrations"[^\n]*"msg":"start failed"/);
    expect(child.output()).toContain('service cannot continue');
  });
});
