import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  type ReadinessChecks,
  ServiceOps,
  createLogger,
  createMetricsRegistry,
  evaluateReadiness,
} from '#platform/common';

const logger = createLogger('service-ops-test', 'silent');

function harness(graceMs = 5_000, readiness: ReadinessChecks = { consumer: () => true }) {
  const exits: number[] = [];
  const order: string[] = [];
  let signalled: ((reason: string) => Promise<number>) | undefined;
  const ops = new ServiceOps({
    logger,
    graceMs,
    exit: (code) => exits.push(code),
    installSignals: (shutdown) => (signalled = shutdown),
  });
  const start = (steps: { name: string; run: () => Promise<void> | void }[]) =>
    ops.start({
      metrics: createMetricsRegistry('service-ops-test'),
      metricsPort: 0,
      readiness,
      steps,
    });
  const url = (path: string) =>
    `http://127.0.0.1:${(ops.opsServer!.address() as AddressInfo).port}${path}`;
  return { ops, exits, order, start, url, signal: (reason: string) => signalled!(reason) };
}

describe('ServiceOps: ops server, ordered shutdown, fatal errors', () => {
  it('serves /ready and /metrics, runs the steps in order on a signal and closes the ops server last', async () => {
    const { exits, order, start, url, signal } = harness();
    await start([
      { name: 'stop consumer', run: () => void order.push('stop consumer') },
      {
        name: 'flush producer',
        run: async () => {
          // The ops server still answers while the service drains.
          order.push(`flush producer (ready ${(await fetch(url('/ready'))).status})`);
        },
      },
    ]);
    expect(await (await fetch(url('/ready'))).json()).toEqual({
      ready: true,
      checks: { consumer: true },
    });
    expect((await fetch(url('/metrics'))).status).toBe(200);
    const target = url('/health');
    expect(await signal('SIGTERM')).toBe(0);
    expect(order).toEqual(['stop consumer', 'flush producer (ready 200)']);
    expect(exits).toEqual([0]);
    await expect(fetch(target)).rejects.toThrow(); // closed last
  });

  it('fail: shuts down in order and exits with code 1', async () => {
    const { ops, exits, order, start } = harness();
    await start([{ name: 'stop consumer', run: () => void order.push('stop consumer') }]);
    ops.fail(new Error('consumer restarted 20 times'));
    await ops.shutdown('again'); // the same shutdown, not a second one
    expect(order).toEqual(['stop consumer']);
    expect(exits).toEqual([1]);
  });

  it('fail before start exits with code 1 at once', () => {
    const { ops, exits } = harness();
    ops.fail(new Error('early'));
    expect(exits).toEqual([1]);
  });

  it('a failing step makes the exit code 1, and the later steps still run', async () => {
    const { exits, order, start, signal } = harness();
    await start([
      {
        name: 'stop consumer',
        run: () => {
          throw new Error('boom');
        },
      },
      { name: 'close client', run: () => void order.push('close client') },
    ]);
    expect(await signal('SIGINT')).toBe(1);
    expect(order).toEqual(['close client']);
    expect(exits).toEqual([1]);
  });

  it('force-exits with code 1 when the steps outlast the grace period', async () => {
    const { exits, start, signal } = harness(50);
    let release: () => void = () => undefined;
    await start([
      { name: 'stuck drain', run: () => new Promise<void>((resolve) => (release = resolve)) },
    ]);
    const done = signal('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(exits).toEqual([1]); // ShutdownTimeoutError: the grace period ran out
    release();
    await done;
  });

  it('/ready asks every part: a part that is down, throws or does not answer is not ready', async () => {
    let clickhouseUp = true;
    const { start, url } = harness(5_000, {
      consumer: () => true,
      clickhouse: async () => clickhouseUp,
    });
    await start([]);
    expect((await fetch(url('/ready'))).status).toBe(200);
    clickhouseUp = false;
    const down = await fetch(url('/ready'));
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({
      ready: false,
      checks: { consumer: true, clickhouse: false },
    });
    clickhouseUp = true;
    expect((await fetch(url('/ready'))).status).toBe(200);

    const slow = await evaluateReadiness(
      {
        throws: () => {
          throw new Error('no client');
        },
        late: () => new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 500)),
        fine: () => true,
      },
      50,
    );
    expect(slow).toEqual({ ready: false, checks: { throws: false, late: false, fine: true } });
  });

  it('run: start-up steps in order; the first failure is fatal (ordered shutdown, exit 1), later steps never run', async () => {
    const { ops, exits, order, start } = harness();
    await start([{ name: 'close client', run: () => void order.push('shutdown: close client') }]);
    const ok = await ops.run([
      { name: 'migrations', run: () => void order.push('migrations') },
      {
        name: 'connect producer',
        run: () => Promise.reject(new Error('ECONNREFUSED')),
      },
      { name: 'start consumer', run: () => void order.push('start consumer') },
    ]);
    await ops.shutdown('wait for the fatal shutdown');
    expect(ok).toBe(false);
    expect(order).toEqual(['migrations', 'shutdown: close client']);
    expect(exits).toEqual([1]);
  });

  it('create: the service-named logger and registry, and the ops server on the config port', async () => {
    const exits: number[] = [];
    const ops = ServiceOps.create(
      'unit-service',
      { logLevel: 'silent', shutdownGraceMs: 1_000, metricsPort: 0 },
      { exit: (code) => exits.push(code), installSignals: () => undefined },
    );
    await ops.start({ readiness: { part: () => true }, steps: [] });
    const port = (ops.opsServer!.address() as AddressInfo).port;
    expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toContain(
      'service="unit-service"',
    );
    expect(await ops.run([{ name: 'nothing', run: () => undefined }])).toBe(true);
    await ops.shutdown('done');
    expect(exits).toEqual([0]);
  });

  it('create without a metrics port (the gateway): no ops server, readiness still answers', async () => {
    const ops = ServiceOps.create(
      'unit-gateway',
      { logLevel: 'silent', shutdownGraceMs: 1_000 },
      { exit: () => undefined, installSignals: () => undefined },
    );
    await ops.start({ readiness: { model: () => false }, steps: [] });
    expect(ops.opsServer).toBeUndefined();
    expect(await ops.readiness()).toEqual({ ready: false, checks: { model: false } });
  });
});
