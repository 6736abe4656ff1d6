/**
 * The operator's shadow and canary commands (`registry shadow`, `canary`, `canary-rollback`)
 * run against a real ModelRegistry over in-memory tables (its refusals come back with their
 * codes, as the CLI reports them), the promotion log and `registry show` rendering the new
 * decisions, and `registry watch`'s line per deployment.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SchemaValidationError, createLogger } from '#platform/common';
import type { DriftThresholds } from '#domain/drift';
import { ArtifactStore } from '#domain/model';
import { ModelRegistry } from '#domain/registry';
import { type Deployment, DeploymentSigner, generateDeploymentKeyPair } from '#platform/serde';
import type { DecisionRecord, ModelVersionRecord, RegistryTables } from '#platform/store';
import {
  type RegistryChangeCommand,
  renderDecisions,
  runRegistryCommand,
} from '../../services/mlops/registry-commands.ts';
import {
  decisionLabel,
  formatDeployment,
  formatShare,
  versionRole,
} from '../../services/mlops/registry-format.ts';
import { describeDeploymentMessage } from '../../services/mlops/registry-watch.ts';
import { painter } from '../../services/mlops/render.ts';

const T0 = Date.UTC(2025, 0, 31, 12, 0, 0);
const plain = painter(false);

/** model_versions and promotion_log in memory, newest revision of a version winning. */
class MemoryTables implements RegistryTables {
  readonly rows: ModelVersionRecord[] = [];
  readonly log: DecisionRecord[] = [];
  async insertVersion(record: ModelVersionRecord) {
    this.rows.push(record);
  }
  async appendDecision(decision: DecisionRecord) {
    this.log.push(decision);
  }
  async version(modelName: string, version: string) {
    const revisions = this.rows.filter((r) => r.modelName === modelName && r.version === version);
    return revisions.sort((a, b) => b.revision - a.revision)[0] ?? null;
  }
  async versions(modelName: string) {
    const names = new Set(this.rows.filter((r) => r.modelName === modelName).map((r) => r.version));
    return Promise.all([...names].map(async (v) => (await this.version(modelName, v))!));
  }
  async decisions(modelName: string) {
    return this.log.filter((d) => d.modelName === modelName);
  }
}

function modelFolder(version: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'model-'));
  mkdirSync(join(dir, 'onnx'));
  writeFileSync(join(dir, 'config.json'), '{"hidden_size": 4}');
  writeFileSync(join(dir, 'onnx/model.onnx'), Buffer.from(version));
  return dir;
}

const statistic = (threshold: number) => ({
  threshold,
  method: 'empirical-quantile' as const,
  resamples: 10,
  mean: 0,
  sd: 1,
  q99: threshold,
  max: threshold,
});
const thresholds: DriftThresholds = {
  windowSize: 200,
  alpha: 0.001,
  minClassRows: 10,
  referenceSideSize: 100,
  cosine: statistic(0.3),
  classMix: statistic(0.1),
  centroid: statistic(0.2),
  domainAuc: statistic(0.6),
};

/** A registry with versions 1, 2, 3 registered (and 1 promoted unless `promote` is false). */
async function setup(options: { promote?: boolean } = {}) {
  const tables = new MemoryTables();
  const published: Deployment[] = [];
  let clock = T0;
  const registry = new ModelRegistry({
    store: tables,
    artifacts: new ArtifactStore(mkdtempSync(join(tmpdir(), 'artifacts-'))),
    publishDeployment: async (deployment) => void published.push(deployment),
    signer: new DeploymentSigner(generateDeploymentKeyPair().privateKeyPem),
    driftCalibration: { windowSize: 200, alpha: 0.001, calibrate: async () => thresholds },
    logger: createLogger('test', 'silent'),
    baseDir: '/',
    now: () => (clock += 60_000),
  });
  for (const version of ['1', '2', '3']) {
    await registry.register({
      modelName: 'm',
      version,
      parentVersion: null,
      folder: modelFolder(version),
      trainingData: {},
      trainingDataSha256: '',
      metrics: { golden_f1: 0.9 },
      referenceCentroid: [],
      actor: 'test',
    });
  }
  if (options.promote !== false) {
    await registry.promote('1', { modelName: 'm', actor: 'test', reason: 'first' });
  }
  const printed: string[] = [];
  const run = (command: RegistryChangeCommand, json = false) =>
    runRegistryCommand(command, {
      registry,
      modelName: 'm',
      actor: 'ana@cli',
      minF1: 0.8,
      bootstrapModelDir: '/nowhere',
      evaluateGolden: () => Promise.reject(new Error('not in this test')),
      print: (text) => void printed.push(text),
      json,
    });
  return { registry, tables, published, printed, run };
}

describe('registry shadow, canary, canary-rollback', () => {
  it('walk a candidate through SHADOW, CANARY and out again, publishing each plan', async () => {
    const { registry, published, printed, run } = await setup();
    published.length = 0;

    await run({ kind: 'registry.shadow', version: '2', reason: 'try 2 on live traffic' });
    expect(printed.pop()).toBe(
      'SHADOW 2 beside production 1, its answers never served; deployment published',
    );
    expect(published.pop()).toMatchObject({
      action: 'SHADOW',
      modelVersion: '1',
      actor: 'ana@cli',
      reason: 'try 2 on live traffic',
      candidate: { modelVersion: '2', role: 'SHADOW', trafficShare: 0 },
    });

    await run({ kind: 'registry.canary', version: '2', share: 0.25, reason: 'shadow looked fine' });
    expect(printed.pop()).toBe(
      'CANARY 2 answers 25% of traffic beside production 1; deployment published',
    );
    expect((await registry.plan('m')).candidate).toMatchObject({
      version: '2',
      role: 'CANARY',
      trafficShare: 0.25,
    });

    await run({ kind: 'registry.canary-rollback', reason: 'complaints' });
    expect(printed.pop()).toBe(
      'ROLLED_BACK canary 2 out of its share; production 1 serves alone; deployment published',
    );
    expect(published.pop()).toMatchObject({
      action: 'ROLLBACK',
      modelVersion: '1',
      previousVersion: '1',
      candidate: null,
    });
    expect(await registry.plan('m')).toMatchObject({ production: '1', candidate: null });

    // With no candidate a version may go straight to CANARY.
    await run({ kind: 'registry.canary', version: '3', share: 0.1, reason: 'straight in' }, true);
    const decision = JSON.parse(printed.pop()!) as DecisionRecord;
    expect(decision).toMatchObject({
      decision: 'CANARY',
      candidateVersion: '3',
      productionBefore: '1',
      productionAfter: '1',
      actor: 'ana@cli',
      details: { trafficShare: 0.1 },
    });
  });

  it("refuses what the registry refuses, with the registry's codes", async () => {
    const { run } = await setup();
    const shadow = (version: string) => run({ kind: 'registry.shadow', version, reason: 'r' });
    const canary = (version: string, share = 0.1) =>
      run({ kind: 'registry.canary', version, share, reason: 'r' });

    await expect(run({ kind: 'registry.canary-rollback', reason: 'r' })).rejects.toMatchObject({
      code: 'NO_CANARY',
    });
    await expect(shadow('1')).rejects.toMatchObject({ code: 'ALREADY_PRODUCTION' });
    await expect(shadow('9')).rejects.toMatchObject({ code: 'VERSION_UNKNOWN' });
    await expect(canary('2', 1)).rejects.toMatchObject({ code: 'TRAFFIC_SHARE_INVALID' });

    await shadow('2');
    await expect(shadow('3')).rejects.toMatchObject({ code: 'CANDIDATE_ACTIVE' });
    await expect(canary('3')).rejects.toMatchObject({ code: 'CANDIDATE_ACTIVE' });
    await expect(run({ kind: 'registry.canary-rollback', reason: 'r' })).rejects.toMatchObject({
      code: 'NO_CANARY',
    });
    await canary('2');
    await expect(shadow('2')).rejects.toMatchObject({ code: 'CANDIDATE_ACTIVE' });
  });

  it('needs a production version to try a candidate beside', async () => {
    const { run } = await setup({ promote: false });
    await expect(run({ kind: 'registry.shadow', version: '2', reason: 'r' })).rejects.toMatchObject(
      { code: 'NO_PRODUCTION' },
    );
  });
});

describe("registry: a production change ends another candidate's trial", () => {
  it('promoting another version BLOCKs the candidate in SHADOW first, and the plan drops it', async () => {
    const { registry, published } = await setup();
    await registry.startShadow('2', { modelName: 'm', actor: 'promoter', reason: 'offline ok' });
    published.length = 0;
    await registry.promote('3', { modelName: 'm', actor: 'ana@cli', reason: 'hotfix' });
    const log = await registry.log('m');
    const blocked = log.find((d) => d.decision === 'BLOCKED' && d.candidateVersion === '2')!;
    const promoted = log.find((d) => d.decision === 'PROMOTED' && d.candidateVersion === '3')!;
    expect(blocked).toMatchObject({
      actor: 'ana@cli',
      productionBefore: '1',
      productionAfter: '1',
      reason: 'SHADOW trial ended: production changes from 1 to 3',
      details: { interruptedTrial: 'SHADOW' },
    });
    expect(blocked.timeMs).toBeLessThan(promoted.timeMs);
    expect((await registry.show('m', '2')).version.status).toBe('BLOCKED');
    expect(await registry.plan('m')).toMatchObject({ production: '3', candidate: null });
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({ action: 'PROMOTE', modelVersion: '3', candidate: null });
  });

  it('a rollback ends a canary trial the same way; widening the canary itself ends nothing', async () => {
    const { registry } = await setup();
    await registry.promote('2', { modelName: 'm', actor: 'test', reason: 'second' });
    await registry.startCanary('3', 0.2, { modelName: 'm', actor: 'promoter', reason: 'canary' });
    await registry.rollback({ modelName: 'm', actor: 'ana@cli', reason: 'incident' });
    const log = await registry.log('m');
    expect(log.filter((d) => d.decision === 'BLOCKED').map((d) => d.reason)).toEqual([
      'CANARY trial ended: production changes from 2 to 1',
    ]);
    expect(await registry.plan('m')).toMatchObject({ production: '1', candidate: null });

    const widened = await setup();
    await widened.registry.startCanary('2', 0.2, { modelName: 'm', actor: 'p', reason: 'c' });
    await widened.registry.promote('2', { modelName: 'm', actor: 'p', reason: 'widened' });
    expect((await widened.registry.log('m')).some((d) => d.decision === 'BLOCKED')).toBe(false);
    expect(await widened.registry.plan('m')).toMatchObject({ production: '2', candidate: null });
  });
});

describe('registry log and show with live roles', () => {
  it("marks a canary's share and a canary's rollback; an ordinary rollback stays as it was", async () => {
    const { tables, printed, run } = await setup();
    await run({ kind: 'registry.shadow', version: '2', reason: 'try 2' });
    await run({ kind: 'registry.canary', version: '2', share: 0.125, reason: 'canary 2' });
    await run({ kind: 'registry.canary-rollback', reason: 'back out' });
    await run({ kind: 'registry.promote', version: '3', reason: 'manual' });
    await run({ kind: 'registry.rollback', reason: 'undo 3' });
    printed.length = 0;

    const labels = tables.log.map((d) => [decisionLabel(d), d.candidateVersion]);
    expect(labels).toEqual([
      ['REGISTERED', '1'],
      ['REGISTERED', '2'],
      ['REGISTERED', '3'],
      ['PROMOTED', '1'],
      ['SHADOW', '2'],
      ['CANARY 12.5%', '2'],
      ['ROLLED_BACK canary', '2'],
      ['PROMOTED', '3'],
      ['ROLLED_BACK', '1'],
    ]);

    await run({ kind: 'registry.log' });
    const rows = printed.pop()!.split('\n');
    expect(rows[0]).toMatch(/^TIME +DECISION +CANDIDATE +BEFORE +AFTER /);
    const row = (label: string) => rows.find((r) => r.split(/ {2,}/)[1] === label)?.split(/ {2,}/);
    // time, decision, candidate, production before, production after, scores, actor, reason
    expect(row('CANARY 12.5%')?.slice(1, 5)).toEqual(['CANARY 12.5%', '2', '1', '1']);
    expect(row('ROLLED_BACK canary')?.slice(1, 5)).toEqual(['ROLLED_BACK canary', '2', '1', '1']);
    expect(row('ROLLED_BACK')?.slice(1, 5)).toEqual(['ROLLED_BACK', '1', '3', '1']);
    expect(row('SHADOW')?.slice(-2)).toEqual(['ana@cli', 'try 2']);
  });

  it('a canary rollback is recognised by production not changing, even without the mark', () => {
    const base: DecisionRecord = {
      decisionId: 'd',
      timeMs: T0,
      modelName: 'm',
      actor: 'promoter',
      decision: 'ROLLED_BACK',
      candidateVersion: '4',
      productionBefore: '3',
      productionAfter: '3',
      candidateScore: null,
      productionScore: null,
      reason: 'r',
      details: {},
    };
    expect(decisionLabel(base)).toBe('ROLLED_BACK canary');
    expect(decisionLabel({ ...base, candidateVersion: '2', productionAfter: '2' })).toBe(
      'ROLLED_BACK',
    );
    // A CANARY whose share is missing or out of range shows no share.
    expect(decisionLabel({ ...base, decision: 'CANARY', details: { trafficShare: 2 } })).toBe(
      'CANARY',
    );
    expect(renderDecisions([base]).split('\n')[1]).toMatch(/ROLLED_BACK canary {2}4 +3 +3 /);
  });

  it("show names the version's role in the serving plan", async () => {
    const { printed, run } = await setup();
    await run({ kind: 'registry.canary', version: '3', share: 0.1, reason: 'r' });
    const heading = async (version: string) => {
      await run({ kind: 'registry.show', version });
      return printed.pop()!.split('\n')[0];
    };
    expect(await heading('1')).toBe('m 1  (production)');
    expect(await heading('3')).toMatch(
      /^m 3 {2}\(in CANARY at 10% since 2025-01-31T12:\d\d:00Z\)$/,
    );
    expect(await heading('2')).toBe('m 2');
    await run({ kind: 'registry.show', version: '3' }, true);
    const shown = JSON.parse(printed.pop()!) as { plan: { candidate: { role: string } } };
    expect(shown.plan.candidate.role).toBe('CANARY');
  });

  it('versionRole: production, SHADOW, CANARY with its share, or nothing', () => {
    const candidate = { version: '3', trafficShare: 0, sinceMs: T0, decisionId: 'd' };
    const shadow = { production: '2', candidate: { ...candidate, role: 'SHADOW' as const } };
    expect(versionRole('2', shadow)).toBe('  (production)');
    expect(versionRole('3', shadow)).toBe('  (in SHADOW since 2025-01-31T12:00:00Z)');
    expect(versionRole('4', shadow)).toBe('');
    expect(
      versionRole('3', {
        production: '2',
        candidate: { ...candidate, role: 'CANARY', trafficShare: 0.05 },
      }),
    ).toBe('  (in CANARY at 5% since 2025-01-31T12:00:00Z)');
    expect([0.1, 0.125, 0.333333, 0.5].map(formatShare)).toEqual(['10%', '12.5%', '33.33%', '50%']);
  });
});

function deployment(overrides: Partial<Deployment> = {}): Deployment {
  return {
    eventId: '00000000-0000-4000-8000-000000000001',
    eventTime: T0,
    modelName: 'sentiment',
    modelVersion: '2',
    previousVersion: '2',
    action: 'CANARY',
    artifactUri: 'file:///artifacts/2',
    artifactSha256: 'a'.repeat(64),
    actor: 'promoter',
    reason: 'passed shadow',
    candidate: {
      modelVersion: '3',
      role: 'CANARY',
      trafficShare: 0.1,
      artifactUri: 'file:///artifacts/3',
      artifactSha256: 'b'.repeat(64),
    },
    signature: 'ed25519:k1:c2ln',
    ...overrides,
  };
}

describe('registry watch: one line per plan change', () => {
  it('shows time, model, action, production, the candidate with role and share, actor, reason', () => {
    expect(formatDeployment(deployment(), plain)).toBe(
      '2025-01-31T12:00:00Z  sentiment  CANARY  production 2  candidate 3 CANARY 10%  by promoter  reason: passed shadow',
    );
    expect(
      formatDeployment(
        deployment({
          action: 'SHADOW',
          actor: 'ana@cli',
          reason: 'try 3',
          candidate: { ...deployment().candidate!, role: 'SHADOW', trafficShare: 0 },
        }),
        plain,
      ),
    ).toBe(
      '2025-01-31T12:00:00Z  sentiment  SHADOW  production 2  candidate 3 SHADOW  by ana@cli  reason: try 3',
    );
  });

  it('shows a production change as before -> after, and a candidate leaving as no candidate', () => {
    const line = (overrides: Partial<Deployment>) =>
      formatDeployment(deployment({ candidate: null, ...overrides }), plain)
        .split('  ')
        .slice(2, 5);
    expect(line({ action: 'PROMOTE', modelVersion: '3', previousVersion: '2' })).toEqual([
      'PROMOTE',
      'production 2 -> 3',
      'no candidate',
    ]);
    expect(line({ action: 'ROLLBACK', modelVersion: '1', previousVersion: '2' })).toEqual([
      'ROLLBACK',
      'production 2 -> 1',
      'no candidate',
    ]);
    // A rollback that left production as it was took the canary out of its share.
    expect(line({ action: 'ROLLBACK' })).toEqual([
      'ROLLBACK canary',
      'production 2',
      'no candidate',
    ]);
    expect(line({ action: 'BLOCK' })).toEqual(['BLOCK', 'production 2', 'no candidate']);
    expect(line({ action: 'PROMOTE', modelVersion: '1', previousVersion: null })).toEqual([
      'PROMOTE',
      'production 1',
      'no candidate',
    ]);
  });

  it('marks an unsigned deployment (no serving process loads it) and colours the action', () => {
    expect(formatDeployment(deployment({ signature: null }), plain)).toContain(
      '  by promoter  UNSIGNED  reason: ',
    );
    const coloured = formatDeployment(
      deployment({ action: 'BLOCK', candidate: null }),
      painter(true),
    );
    expect(coloured).toContain('\u001b[31mBLOCK\u001b[39m');
  });

  const message = { partition: 0, offset: '7', value: Buffer.from('x'), timestampMs: T0 };
  const view = { modelName: 'sentiment', json: false, paint: plain, now: () => T0 + 1 };

  it("prints the watched model's deployments only, as lines or JSON", async () => {
    const decode = () => Promise.resolve(deployment());
    expect(
      await describeDeploymentMessage(message, decode, { ...view, modelName: 'other' }),
    ).toBeNull();
    expect(await describeDeploymentMessage(message, decode, view)).toEqual({
      stream: 'out',
      text: formatDeployment(deployment(), plain),
    });
    const json = await describeDeploymentMessage(message, decode, { ...view, json: true });
    expect(JSON.parse(json!.text)).toEqual(deployment());
  });

  it('warns about a message that is not a readable Deployment and goes on', async () => {
    expect(
      await describeDeploymentMessage(
        message,
        () => Promise.reject(new SchemaValidationError('Avro body does not decode')),
        view,
      ),
    ).toEqual({
      stream: 'err',
      text: '2025-01-31T12:00:00Z  WARNING  models.deployments partition 0 offset 7 skipped, not a readable Deployment (SCHEMA_INVALID: Avro body does not decode)',
    });
    const { timestampMs: _, ...untimed } = message;
    const line = await describeDeploymentMessage(
      untimed,
      () => Promise.reject(new Error('boom')),
      view,
    );
    expect(line?.text).toMatch(/^2025-01-31T12:00:00Z {2}WARNING .*\(boom\)$/);
  });
});
