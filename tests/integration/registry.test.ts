/**
 * Model registry end to end: the `mlops` CLI (a separate process) registers, promotes and
 * rolls back against real ClickHouse and Kafka, while the inference service and the
 * gateway (separate processes) follow `models.deployments`.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { folderDigest } from '#domain/model';
import {
  type Deployment,
  DeploymentSigner,
  type Prediction,
  generateDeploymentKeyPair,
} from '#platform/serde';
import { type DecisionRecord, RegistryStore, createClickHouse } from '#platform/store';
import { type TestKafka, connectTestKafka, makeReview, waitUntil } from '../support/kafka.ts';
import { COMPACT_MODEL_DIR, copyModelAsVersion } from '../support/model.ts';
import { freePort, runCli } from '../support/loop.ts';
import { type Child, startTsProcess, stopProcess } from '../support/processes.ts';
import { startRunner } from '../support/runner.ts';
import {
  DEPLOYMENT_SIGNING_KEY_FILE,
  clickhouseUrl,
  testStackProcessEnv,
} from '../support/stack.ts';

const run = randomUUID().slice(0, 8);
const modelName = `sentiment-reg-${run}`;
const database = `registry_${run}`;
const artifactRoot = mkdtempSync(join(tmpdir(), 'artifacts-'));

const settings = { modelName, database, artifactRoot, workDir: artifactRoot };
const cli = (...args: string[]) => runCli(settings, ...args);
const signer = DeploymentSigner.fromFile(DEPLOYMENT_SIGNING_KEY_FILE);

describe('model registry: mlops CLI, promotion log, deployments followed by both prediction paths', () => {
  let kafka: TestKafka;
  let inference: Child;
  let gateway: Child;
  let gatewayUrl: string;
  const stops: { stop(): Promise<void> }[] = [];
  const deployments: Deployment[] = [];
  const predictions: Prediction[] = [];
  const clickhouse = createClickHouse({
    clickhouseUrl: clickhouseUrl(),
    clickhouseUser: 'default',
    clickhousePassword: '',
    clickhouseDatabase: database,
  });
  const store = new RegistryStore(clickhouse);
  const decisions = (): Promise<DecisionRecord[]> => store.decisions(modelName);

  /** Version the inference service scores with now: send a review, see its prediction. */
  async function inferenceVersion(): Promise<string | undefined> {
    const id = `${run}-probe-${randomUUID()}`;
    await kafka.producer.send('reviews', [{ key: id, value: makeReview(id, 'a probe review') }]);
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      const found = predictions.find((p) => p.reviewId === id);
      if (found) return found.modelVersion;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return undefined;
  }

  async function gatewayVersion(): Promise<string | undefined> {
    const response = await fetch(`${gatewayUrl}/v1/model`).catch(() => undefined);
    if (!response?.ok) return undefined;
    return ((await response.json()) as { version: string }).version;
  }

  beforeAll(async () => {
    kafka = await connectTestKafka();
    const deploymentsCollector = startRunner(kafka, 'models.deployments', async (events) => {
      for (const { event } of events) if (event.modelName === modelName) deployments.push(event);
    });
    const predictionsCollector = startRunner(kafka, 'predictions', async (events) => {
      for (const { event } of events) if (event.reviewId.startsWith(run)) predictions.push(event);
    });
    stops.push(deploymentsCollector.runner, predictionsCollector.runner);
    await Promise.all([deploymentsCollector.started, predictionsCollector.started]);

    const serviceEnv = {
      MODEL_DIR: COMPACT_MODEL_DIR,
      MODEL_NAME: modelName,
      LOG_LEVEL: 'warn',
    };
    inference = startTsProcess(
      'services/inference/main.ts',
      testStackProcessEnv({
        ...serviceEnv,
        INFERENCE_GROUP_ID: `inference-reg-${run}`,
        METRICS_PORT: '0',
      }),
    );
    const port = await freePort();
    gatewayUrl = `http://127.0.0.1:${port}`;
    gateway = startTsProcess(
      'services/gateway/main.ts',
      testStackProcessEnv({ ...serviceEnv, GATEWAY_HOST: '127.0.0.1', GATEWAY_PORT: String(port) }),
    );
    await waitUntil(async () => (await inferenceVersion()) === '1', 90_000, 'inference to answer');
    await waitUntil(async () => (await gatewayVersion()) === '1', 90_000, 'gateway to answer');
  });

  afterAll(async () => {
    for (const stop of stops) await stop.stop();
    await Promise.all([stopProcess(inference), stopProcess(gateway)]);
    await kafka?.close();
    await clickhouse.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => {});
    await clickhouse.close();
  });

  it('bootstrap registers the committed model as version 1, scores the golden set and promotes it', async () => {
    const result = await cli('registry', 'bootstrap');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('version 1 PROMOTED');

    const log = await decisions();
    expect(
      log.map((d) => [d.decision, d.candidateVersion, d.productionBefore, d.productionAfter]),
    ).toEqual([
      ['REGISTERED', '1', null, null],
      ['PROMOTED', '1', null, '1'],
    ]);
    const promoted = log[1]!;
    // The score is measured now, on SST-2 dev, not copied from the model card.
    expect(promoted.candidateScore).toBeGreaterThan(0.8);
    expect(promoted.actor).toBe('it');

    const bootstrapDigest = await folderDigest(COMPACT_MODEL_DIR);
    const version = (await store.version(modelName, '1'))!;
    expect(version.artifactSha256).toBe(bootstrapDigest);
    expect(version.metrics.golden_f1).toBeCloseTo(promoted.candidateScore!, 6);
    expect(version.referenceCentroid).toHaveLength(128);
    // The thresholds shipped with the folder are stored with the version: no calibration
    // at the detector's first round.
    expect(Object.keys(version.driftCalibration)).toEqual(['w200-a0.001-auc']);
    expect(version.driftThreshold).toBeGreaterThan(0.5);
    expect(readdirSync(artifactRoot)).toContain(bootstrapDigest);

    await waitUntil(
      () => deployments.some((d) => d.eventId === promoted.decisionId),
      20_000,
      'deployment of 1',
    );
    const deployment = deployments.find((d) => d.eventId === promoted.decisionId)!;
    expect(deployment).toMatchObject({
      modelVersion: '1',
      previousVersion: null,
      action: 'PROMOTE',
      artifactSha256: bootstrapDigest,
      actor: 'it',
    });

    // Safe on every start: a second bootstrap decides nothing and re-publishes production.
    const again = await cli('registry', 'bootstrap');
    expect(again.code, again.stderr).toBe(0);
    expect(await decisions()).toHaveLength(2);
  });

  it('registers, promotes and rolls back through the CLI; both prediction paths follow', async () => {
    const folder = copyModelAsVersion('2');
    const registered = await cli('registry', 'register', folder, '--version', '2', '--parent', '1');
    expect(registered.code, registered.stderr).toBe(0);
    const afterRegister = await decisions();
    expect(afterRegister.at(-1)).toMatchObject({ decision: 'REGISTERED', candidateVersion: '2' });
    expect((await store.version(modelName, '2'))!.parentVersion).toBe('1');

    const missingReason = await cli('registry', 'promote', '2');
    expect(missingReason.code).toBe(2);
    expect(missingReason.stderr).toContain('--reason');
    expect(await decisions()).toHaveLength(afterRegister.length);

    const promoted = await cli('registry', 'promote', '2', '--reason', 'better on recent traffic');
    expect(promoted.code, promoted.stderr).toBe(0);
    const promotion = (await decisions()).at(-1)!;
    expect(promotion).toMatchObject({
      decision: 'PROMOTED',
      candidateVersion: '2',
      productionBefore: '1',
      productionAfter: '2',
      reason: 'better on recent traffic',
    });
    await waitUntil(async () => (await inferenceVersion()) === '2', 30_000, 'inference on 2');
    await waitUntil(async () => (await gatewayVersion()) === '2', 30_000, 'gateway on 2');

    const rolledBack = await cli('registry', 'rollback', '--reason', 'complaints about 2');
    expect(rolledBack.code, rolledBack.stderr).toBe(0);
    const started = Date.now();
    const rollback = (await decisions()).at(-1)!;
    expect(rollback).toMatchObject({
      decision: 'ROLLED_BACK',
      candidateVersion: '1',
      productionBefore: '2',
      productionAfter: '1',
      reason: 'complaints about 2',
    });
    let inferenceAt = 0;
    let gatewayAt = 0;
    await waitUntil(
      async () => {
        if (!inferenceAt && (await inferenceVersion()) === '1') inferenceAt = Date.now() - started;
        if (!gatewayAt && (await gatewayVersion()) === '1') gatewayAt = Date.now() - started;
        return inferenceAt > 0 && gatewayAt > 0;
      },
      // A functional bound, not a performance figure (it prints the time): 7-9 s measured on an
      // idle two-core machine both before and after deployments were signed, 13 s in a loaded
      // CI run, so 10 s failed there.
      30_000,
      'both prediction paths back on version 1',
    );
    console.log(
      `rollback reached inference in ${inferenceAt} ms and the gateway in ${gatewayAt} ms`,
    );

    const published = deployments.filter((d) =>
      [promotion.decisionId, rollback.decisionId].includes(d.eventId),
    );
    expect(published.map((d) => [d.action, d.modelVersion, d.previousVersion, d.reason])).toEqual([
      ['PROMOTE', '2', '1', 'better on recent traffic'],
      ['ROLLBACK', '1', '2', 'complaints about 2'],
    ]);

    const listed = await cli('registry', 'list', '--json');
    const versions = JSON.parse(listed.stdout) as { version: string; production: boolean }[];
    expect(versions.map((v) => [v.version, v.production])).toEqual([
      ['1', true],
      ['2', false],
    ]);
  });

  it('refuses to promote an artifact whose files no longer match its sha256', async () => {
    const record = (await store.version(modelName, '2'))!;
    const before = await decisions();
    writeFileSync(join(artifactRoot, record.artifactSha256, 'config.json'), '{"tampered": true}');
    const result = await cli('registry', 'promote', '2', '--reason', 'try the tampered one');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('ARTIFACT_INTEGRITY');
    expect(await decisions()).toEqual(before);
    expect(await gatewayVersion()).toBe('1');
  });

  it('a deployment whose artifact fails its sha256 is dead-lettered; both paths keep serving', async () => {
    const deadLetters: { key: string; code: string }[] = [];
    const dlq = startRunner(kafka, 'dlq.models.deployments', async (events) => {
      for (const { event } of events) {
        deadLetters.push({ key: event.key?.toString() ?? '', code: event.errorCode });
      }
    });
    stops.push(dlq.runner);
    await dlq.started;
    const record = (await store.version(modelName, '2'))!; // tampered by the previous test
    const eventId = randomUUID();
    // Signed with the registry's key: only the artifact's digest can stop this one.
    await kafka.producer.send('models.deployments', [
      {
        key: modelName,
        value: signer.sign({
          eventId,
          eventTime: Date.now(),
          modelName,
          modelVersion: '2',
          previousVersion: '1',
          action: 'PROMOTE',
          artifactUri: record.artifactUri,
          artifactSha256: record.artifactSha256,
          actor: 'it',
          reason: 'bypassing the registry',
          candidate: null,
        }),
      },
    ]);
    // One dead letter from each follower (inference and gateway): the handler's error is not
    // transient, so after the runner's attempts it is dead-lettered with its code.
    await waitUntil(
      () => deadLetters.filter((d) => d.key === modelName).length >= 2,
      30_000,
      'dead letters from inference and gateway',
    );
    expect(deadLetters.filter((d) => d.key === modelName).map((d) => d.code)).toEqual([
      'RETRIES_EXHAUSTED:ARTIFACT_INTEGRITY',
      'RETRIES_EXHAUSTED:ARTIFACT_INTEGRITY',
    ]);
    expect(await gatewayVersion()).toBe('1');
    expect(await inferenceVersion()).toBe('1');
  });

  it('refuses forged deployments (unsigned, signed by an unknown key, altered): logged, counted, dead-lettered, serving unchanged', async () => {
    const deadLetters: { id: string; code: string }[] = [];
    const dlq = startRunner(kafka, 'dlq.models.deployments', async (events) => {
      for (const { event } of events) {
        if (event.key?.toString() === modelName) {
          deadLetters.push({ id: event.reason, code: event.errorCode });
        }
      }
    });
    stops.push(dlq.runner);
    await dlq.started;
    const logBefore = await decisions();
    // The attack: a modified copy of the model, its digest computed from the copy itself.
    const forgedDir = copyModelAsVersion('forged');
    writeFileSync(join(forgedDir, 'config.json'), '{"modified": true}');
    const forged = {
      eventId: randomUUID(),
      eventTime: Date.now(),
      modelName,
      modelVersion: 'forged',
      previousVersion: '1',
      action: 'PROMOTE' as const,
      artifactUri: pathToFileURL(forgedDir).href,
      artifactSha256: await folderDigest(forgedDir),
      actor: 'attacker',
      reason: 'model swap through Kafka',
      candidate: null,
    };
    const attackerKey = new DeploymentSigner(generateDeploymentKeyPair().privateKeyPem);
    const genuine = signer.sign({ ...forged, eventId: randomUUID() });
    await kafka.producer.send(
      'models.deployments',
      [
        { ...forged, signature: null },
        attackerKey.sign({ ...forged, eventId: randomUUID() }),
        // A genuine signature over other fields: the digest swapped after signing.
        { ...genuine, artifactSha256: 'f'.repeat(64) },
      ].map((value) => ({ key: modelName, value })),
    );
    await waitUntil(
      () => deadLetters.length >= 6,
      30_000,
      'three dead letters from each of inference and the gateway',
    );
    expect(new Set(deadLetters.map((d) => d.code))).toEqual(
      new Set(['DEPLOYMENT_SIGNATURE_INVALID']),
    );
    expect(deadLetters.map((d) => d.id).join('\n')).toMatch(/not signed/);
    expect(deadLetters.map((d) => d.id).join('\n')).toMatch(/not trusted/);
    expect(deadLetters.map((d) => d.id).join('\n')).toMatch(/altered or forged/);
    expect(await gatewayVersion()).toBe('1');
    expect(await inferenceVersion()).toBe('1');
    expect(await decisions()).toEqual(logBefore);
    const metrics = await (await fetch(`${gatewayUrl}/metrics`)).text();
    const refused = metrics
      .split('\n')
      .filter((line) => line.startsWith('model_deployments_refused_total{'))
      .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
    expect(refused).toBe(3);
  });
});
