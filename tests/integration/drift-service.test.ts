/**
 * The drift service as separate processes against real ClickHouse and Kafka, on real
 * [CLS] embeddings of the bootstrap model: one writer per model (a second instance stays idle
 * and takes over when the leader is killed), per-segment drift while the global window is in
 * domain, production learnt from the registry's signed deployments only (a forged one is
 * dead-lettered and changes nothing), and an ERROR state (not a false OK) for a malformed or
 * missing reference.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DriftEvent, DeploymentSigner, generateDeploymentKeyPair } from '#platform/serde';
import { createClickHouse } from '#platform/store';
import {
  type EmbeddedText,
  embedTexts,
  inDomainTexts,
  insertPredictions,
  productReviewTexts,
} from '../support/drift.ts';
import { type TestKafka, connectTestKafka, waitUntil } from '../support/kafka.ts';
import { runCli } from '../support/loop.ts';
import { copyModelAsVersion } from '../support/model.ts';
import { type Child, startTsProcess, stopProcess } from '../support/processes.ts';
import { startRunner } from '../support/runner.ts';
import { clickhouseUrl, testStackProcessEnv } from '../support/stack.ts';

const run = randomUUID().slice(0, 8);
const modelName = `sentiment-drift-${run}`;
const database = `drift_${run}`;
const artifactRoot = mkdtempSync(join(tmpdir(), 'artifacts-'));
const W = 200;
const env = () =>
  testStackProcessEnv({
    CLICKHOUSE_DATABASE: database,
    ARTIFACT_ROOT: artifactRoot,
    MODEL_NAME: modelName,
  });

const cli = (...args: string[]) =>
  runCli({ modelName, database, artifactRoot, workDir: artifactRoot }, ...args);

function startDetector(name: string): Child {
  return startTsProcess(
    'services/drift/main.ts',
    testStackProcessEnv({
      ...env(),
      DRIFT_WINDOW_SIZE: String(W),
      DRIFT_MIN_WINDOW_ROWS: String(W),
      DRIFT_EVERY_PREDICTIONS: '100',
      DRIFT_INTERVAL_MS: '1000',
      DRIFT_POLL_MS: '250',
      DRIFT_AFTER_WINDOWS: '2',
      DRIFT_RECOVER_AFTER_WINDOWS: '2',
      DRIFT_LEADER_SESSION_MS: '6000',
      METRICS_PORT: '0',
      LOG_LEVEL: 'info',
      INSTANCE: name,
    }),
  );
}

describe('drift service (separate processes, real embeddings)', () => {
  let kafka: TestKafka;
  let inDomain: EmbeddedText[];
  let shifted: EmbeddedText[];
  let leader: Child;
  let standby: Child;
  const events: DriftEvent[] = [];
  const stops: { stop(): Promise<void> }[] = [];
  const clickhouse = createClickHouse({
    clickhouseUrl: clickhouseUrl(),
    clickhouseUser: 'default',
    clickhousePassword: '',
    clickhouseDatabase: database,
  });
  let clock = Date.now() - 3_600_000;
  let cursor = 0;
  let feeding = true;
  let feedVersion = '1';
  let feeder: Promise<void> | undefined;

  /** In-domain 'web' traffic of the version production should be serving. */
  async function feed(count: number): Promise<void> {
    const texts = Array.from({ length: count }, () => inDomain[cursor++ % inDomain.length]!);
    await insertPredictions(clickhouse, {
      modelName,
      modelVersion: feedVersion,
      source: 'web',
      texts,
      startMs: clock,
    });
    clock += count;
  }

  async function checks(where: string) {
    const result = await clickhouse.query({
      query: `SELECT model_version, segment, input_state, prediction_state, error, check_time_ms
              FROM drift_checks WHERE model_name = '${modelName}' AND ${where}
              ORDER BY check_time_ms`,
      format: 'JSONEachRow',
    });
    return result.json<{
      model_version: string;
      segment: string;
      input_state: string;
      prediction_state: string;
      error: string | null;
      check_time_ms: string;
    }>();
  }

  beforeAll(async () => {
    [inDomain, shifted] = await Promise.all([
      embedTexts(inDomainTexts(1500)),
      embedTexts(productReviewTexts()),
    ]);
    kafka = await connectTestKafka();
    const collector = startRunner(kafka, 'drift.events', async (batch) => {
      for (const { event } of batch) if (event.modelName === modelName) events.push(event);
    });
    stops.push(collector.runner);
    await collector.started;
    const bootstrap = await cli('registry', 'bootstrap');
    expect(bootstrap.code, bootstrap.stderr).toBe(0);
    await feed(2 * W);
    leader = startDetector('a');
    await leader.waitFor('drift detector active', 60_000);
    // Production comes from the deployment bootstrap published; the thresholds are the ones
    // the registry stored with version 1 (the drift service never calibrates).
    await leader.waitFor('"msg":"drift round"', 120_000);
    expect(leader.output()).toContain('production version from models.deployments');
    expect(leader.output()).not.toContain('calibrating');
    feeder = (async () => {
      while (feeding) {
        await feed(25);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();
  }, 540_000);

  afterAll(async () => {
    feeding = false;
    await feeder;
    for (const stop of stops) await stop.stop();
    await Promise.all([stopProcess(leader, 'SIGKILL'), stopProcess(standby)]);
    await kafka?.close();
    await clickhouse.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => {});
    await clickhouse.close();
  });

  it('one writer per model: a second instance stays idle, and takes over when the leader dies', async () => {
    standby = startDetector('b');
    await standby.waitFor('drift detector standing by', 60_000);
    const before = (await checks(`segment = '*'`)).length;
    // Several rounds of the leader while the standby is up.
    await waitUntil(
      async () => (await checks(`segment = '*'`)).length >= before + 3,
      60_000,
      'three more rounds',
    );
    expect(standby.output()).not.toContain('"msg":"drift round"');
    expect((await checks(`segment = '*'`)).every((c) => c.input_state === 'OK')).toBe(true);

    leader.process.kill('SIGKILL');
    await leader.exited;
    const killedAt = Date.now();
    await standby.waitFor('drift detector active', 60_000);
    await standby.waitFor('"msg":"drift round"', 60_000);
    console.log(`standby took over ${Date.now() - killedAt} ms after the leader was killed`);
    // The new leader resumes: still OK, no spurious state change on takeover.
    const latest = (await checks(`segment = '*'`)).at(-1)!;
    expect(latest.input_state).toBe('OK');
  });

  it('reports drift for a source that shifted while the global window stays in domain', async () => {
    // Product reviews from a 'shop' source, older than the web traffic around them: the
    // newest W rows overall stay web (in domain), the shop segment's window is all shifted.
    await insertPredictions(clickhouse, {
      modelName,
      modelVersion: '1',
      source: 'shop',
      texts: shifted.slice(0, W + 50),
      startMs: clock - 60_000,
      stepMs: 10,
    });
    await waitUntil(
      async () => (await checks(`segment = 'shop' AND input_state = 'DRIFT'`)).length > 0,
      90_000,
      'the shop segment to drift',
    );
    const [drifted] = await checks(`segment = 'shop' AND input_state = 'DRIFT'`);
    const sameRound = await checks(`segment = '*' AND check_time_ms = ${drifted!.check_time_ms}`);
    expect(sameRound.map((c) => c.input_state)).toEqual(['OK']);
    await waitUntil(
      () =>
        events.some(
          (e) => e.segment === 'shop' && e.kind === 'STATE_CHANGE' && e.state === 'DRIFT',
        ),
      20_000,
      'a DRIFT state change for shop on drift.events',
    );
    const change = events.find(
      (e) => e.segment === 'shop' && e.kind === 'STATE_CHANGE' && e.state === 'DRIFT',
    )!;
    expect(change.episodeId).toBeTruthy();
    expect(change.statistics.some((s) => s.exceeded)).toBe(true);
    expect(events.some((e) => e.segment === '*' && e.state === 'DRIFT')).toBe(false);
  });

  it('learns production from signed deployments only: a forged one is dead-lettered, nothing changes', async () => {
    const deadLetters: string[] = [];
    const dlq = startRunner(kafka, 'dlq.models.deployments', async (batch) => {
      for (const { event } of batch) {
        if (event.key?.toString() === modelName) deadLetters.push(event.errorCode);
      }
    });
    stops.push(dlq.runner);
    await dlq.started;
    const forged = {
      eventId: randomUUID(),
      eventTime: Date.now(),
      modelName,
      modelVersion: 'forged',
      previousVersion: '1',
      action: 'PROMOTE' as const,
      artifactUri: 'file:///tmp/forged',
      artifactSha256: 'f'.repeat(64),
      actor: 'attacker',
      reason: 'point drift at another version',
      candidate: null,
    };
    const attackerKey = new DeploymentSigner(generateDeploymentKeyPair().privateKeyPem);
    await kafka.producer.send(
      'models.deployments',
      [{ ...forged, signature: null }, attackerKey.sign({ ...forged, eventId: randomUUID() })].map(
        (value) => ({ key: modelName, value }),
      ),
    );
    // The live instance (the standby that took over) refuses both.
    await waitUntil(() => deadLetters.length >= 2, 30_000, 'two dead letters from drift');
    expect(new Set(deadLetters)).toEqual(new Set(['DEPLOYMENT_SIGNATURE_INVALID']));
    expect(standby.output()).toContain('deployment refused: not signed by a trusted registry key');
    const before = (await checks(`segment = '*'`)).length;
    await waitUntil(
      async () => (await checks(`segment = '*'`)).length >= before + 2,
      60_000,
      'two more rounds',
    );
    expect(await checks(`model_version = 'forged'`)).toEqual([]);
    expect((await checks(`segment = '*'`)).at(-1)!.model_version).toBe('1');
  });

  it('a malformed or a missing reference is an ERROR state with the reason, never OK', async () => {
    const malformed = copyModelAsVersion('2');
    writeFileSync(join(malformed, 'reference.json'), JSON.stringify({ format: 1, dim: 0 }));
    const missing = copyModelAsVersion('3');
    rmSync(join(missing, 'reference-sample.f32'));
    for (const [version, folder] of [
      ['2', malformed],
      ['3', missing],
    ] as const) {
      const registered = await cli('registry', 'register', folder, '--version', version);
      expect(registered.code, registered.stderr).toBe(0);
      const promoted = await cli('registry', 'promote', version, '--reason', 'reference test');
      expect(promoted.code, promoted.stderr).toBe(0);
      feedVersion = version;
      await waitUntil(
        async () => (await checks(`model_version = '${version}'`)).length > 0,
        60_000,
        `a check of version ${version}`,
      );
      const found = await checks(`model_version = '${version}'`);
      expect(found.map((c) => c.input_state)).toEqual(found.map(() => 'ERROR'));
      expect(found[0]!.error).toMatch(/reference/i);
      await waitUntil(
        () =>
          events.some(
            (e) => e.modelVersion === version && e.kind === 'STATE_CHANGE' && e.state === 'ERROR',
          ),
        20_000,
        `an ERROR state change of version ${version} on drift.events`,
      );
    }
  });
});
