import { mkdtempSync, writeFileSync, mkdirSync, rmSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '#platform/common';
import {
  type CalibrationOptions,
  type DriftThresholds,
  DRIFT_CALIBRATION_FILE,
  DriftReferenceError,
} from '#domain/drift';
import { ArtifactStore, classificationMetrics, folderDigest, verifyFolder } from '#domain/model';
import { ModelRegistry, type RegisterInput } from '#domain/registry';
import { type Deployment, DeploymentSigner, generateDeploymentKeyPair } from '#platform/serde';
import {
  type Decision,
  type DecisionRecord,
  type ModelVersionRecord,
  type RegistryTables,
  productionHistory,
  productionVersion,
  rollbackTarget,
} from '#platform/store';

let clock = 0;
function decision(kind: Decision, candidate: string, after: string | null): DecisionRecord {
  clock += 1000;
  return {
    decisionId: `d${clock}`,
    timeMs: clock,
    modelName: 'm',
    actor: 'test',
    decision: kind,
    candidateVersion: candidate,
    productionBefore: null,
    productionAfter: after,
    candidateScore: null,
    productionScore: null,
    reason: 'r',
    details: {},
  };
}

describe('production alias derived from the promotion log', () => {
  it('is the latest promotion; REGISTERED and BLOCKED change nothing', () => {
    const log = [
      decision('REGISTERED', '1', null),
      decision('PROMOTED', '1', '1'),
      decision('REGISTERED', '2', null),
      decision('BLOCKED', '2', '1'),
    ];
    expect(productionVersion(log)).toBe('1');
    expect(rollbackTarget(log)).toBeNull();
    expect(productionVersion([])).toBeNull();
  });

  it('unwinds rollbacks, so two rollbacks in a row walk back two promotions', () => {
    const log = [
      decision('PROMOTED', '1', '1'),
      decision('PROMOTED', '2', '2'),
      decision('PROMOTED', '3', '3'),
    ];
    expect(productionHistory(log)).toEqual(['1', '2', '3']);
    expect(rollbackTarget(log)).toBe('2');
    log.push(decision('ROLLED_BACK', '2', '2'));
    expect(productionVersion(log)).toBe('2');
    expect(rollbackTarget(log)).toBe('1');
    log.push(decision('ROLLED_BACK', '1', '1'));
    expect(productionVersion(log)).toBe('1');
    expect(rollbackTarget(log)).toBeNull();
    // Promoting again after rolling back starts a new branch on top of 1.
    log.push(decision('PROMOTED', '4', '4'));
    expect(productionHistory(log)).toEqual(['1', '4']);
  });

  it('orders by time, not by the order rows came back in', () => {
    const a = decision('PROMOTED', '1', '1');
    const b = decision('PROMOTED', '2', '2');
    expect(productionVersion([b, a])).toBe('2');
  });

  it('a rollback to a version never promoted before (--to) becomes production', () => {
    const log = [decision('PROMOTED', '2', '2'), decision('ROLLED_BACK', '1', '1')];
    expect(productionHistory(log)).toEqual(['2', '1']);
  });
});

describe('content-addressed artifact store', () => {
  function modelFolder(): string {
    const dir = mkdtempSync(join(tmpdir(), 'model-'));
    mkdirSync(join(dir, 'onnx'));
    writeFileSync(join(dir, 'config.json'), '{"hidden_size": 4}');
    writeFileSync(join(dir, 'onnx/model.onnx'), Buffer.from([1, 2, 3, 4]));
    return dir;
  }

  it('digests names and bytes only: a copy elsewhere has the same address', async () => {
    const a = modelFolder();
    const b = join(mkdtempSync(join(tmpdir(), 'copy-')), 'elsewhere');
    cpSync(a, b, { recursive: true });
    expect(await folderDigest(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(await folderDigest(b)).toBe(await folderDigest(a));
    writeFileSync(join(b, 'onnx/model.onnx'), Buffer.from([1, 2, 3, 5]));
    expect(await folderDigest(b)).not.toBe(await folderDigest(a));
  });

  it('a renamed file changes the digest', async () => {
    const a = modelFolder();
    const before = await folderDigest(a);
    cpSync(join(a, 'config.json'), join(a, 'config2.json'));
    rmSync(join(a, 'config.json'));
    expect(await folderDigest(a)).not.toBe(before);
  });

  it('put is idempotent and open verifies the files against the address', async () => {
    const store = new ArtifactStore(mkdtempSync(join(tmpdir(), 'artifacts-')));
    const folder = modelFolder();
    const first = await store.put(folder);
    const second = await store.put(folder);
    expect(second).toEqual(first);
    expect(first.uri).toBe(`file://${first.folder}`);
    expect(await store.open(first.sha256)).toBe(first.folder);

    writeFileSync(join(first.folder, 'config.json'), '{"hidden_size": 5}');
    await expect(store.open(first.sha256)).rejects.toMatchObject({ code: 'ARTIFACT_INTEGRITY' });
    await expect(verifyFolder(first.folder, first.sha256)).rejects.toThrow(/refusing to load/);
    await expect(store.open('0'.repeat(64))).rejects.toMatchObject({ code: 'ARTIFACT_NOT_FOUND' });
  });
});

describe('classification metrics (positive class = 1)', () => {
  it('computes accuracy, precision, recall and F1', () => {
    // tp = 2, fp = 1, fn = 1, tn = 1
    const m = classificationMetrics([1, 1, 1, 0, 0], [1, 1, 0, 1, 0]);
    expect(m.accuracy).toBeCloseTo(3 / 5);
    expect(m.precision).toBeCloseTo(2 / 3);
    expect(m.recall).toBeCloseTo(2 / 3);
    expect(m.f1).toBeCloseTo(2 / 3);
    expect(m.n).toBe(5);
  });

  it('a model that never predicts positive has F1 0, not NaN', () => {
    expect(classificationMetrics([0, 0], [1, 0]).f1).toBe(0);
    expect(() => classificationMetrics([0], [0, 1])).toThrow(RangeError);
  });
});

describe('model registry: the one writer of model_versions, calibrating at registration', () => {
  const signer = new DeploymentSigner(generateDeploymentKeyPair().privateKeyPem);
  /** model_versions and promotion_log in memory, with the store's newest-revision rule. */
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
      const names = new Set(
        this.rows.filter((r) => r.modelName === modelName).map((r) => r.version),
      );
      return Promise.all([...names].map(async (v) => (await this.version(modelName, v))!));
    }
    async decisions(modelName: string) {
      return this.log.filter((d) => d.modelName === modelName);
    }
  }

  const thresholdsFor = (windowSize: number, auc: number | null): DriftThresholds => {
    const statistic = (threshold: number) => ({
      threshold,
      method: 'empirical-quantile' as const,
      resamples: 10,
      mean: 0,
      sd: 1,
      q99: threshold,
      max: threshold,
    });
    return {
      windowSize,
      alpha: 0.001,
      minClassRows: 10,
      referenceSideSize: 100,
      cosine: statistic(0.3),
      classMix: statistic(0.1),
      centroid: statistic(0.2),
      domainAuc: auc === null ? null : statistic(auc),
    };
  };

  function modelFolder(version: string, shipped?: Record<string, unknown>): string {
    const dir = mkdtempSync(join(tmpdir(), 'model-'));
    mkdirSync(join(dir, 'onnx'));
    writeFileSync(join(dir, 'config.json'), '{"hidden_size": 4}');
    writeFileSync(join(dir, 'tokenizer.json'), '{}');
    writeFileSync(join(dir, 'tokenizer_config.json'), '{}');
    writeFileSync(join(dir, 'onnx/model.onnx'), Buffer.from(version));
    writeFileSync(join(dir, 'model-card.json'), JSON.stringify({ version, training_data: [] }));
    writeFileSync(join(dir, 'reference.json'), JSON.stringify({ centroid: [0, 1, 0, 1] }));
    if (shipped) {
      writeFileSync(
        join(dir, DRIFT_CALIBRATION_FILE),
        JSON.stringify({ format: 1, calibrations: shipped }),
      );
    }
    return dir;
  }

  function setup(options: { windowSize?: number; calibrate?: boolean; fail?: Error } = {}) {
    const tables = new MemoryTables();
    const calibrated: { folder: string; options: CalibrationOptions }[] = [];
    const published: Deployment[] = [];
    let clock = 1_000;
    const registry = new ModelRegistry({
      store: tables,
      artifacts: new ArtifactStore(mkdtempSync(join(tmpdir(), 'artifacts-'))),
      publishDeployment: async (deployment) => void published.push(deployment),
      signer,
      ...(options.calibrate === false
        ? {}
        : {
            driftCalibration: {
              windowSize: options.windowSize ?? 200,
              alpha: 0.001,
              calibrate: async (folder: string, calibration: CalibrationOptions) => {
                calibrated.push({ folder, options: calibration });
                if (options.fail) throw options.fail;
                return thresholdsFor(calibration.windowSize, 0.6);
              },
            },
          }),
      logger: createLogger('test', 'silent'),
      baseDir: '/',
      now: () => (clock += 10),
    });
    return { tables, registry, calibrated, published };
  }

  const input = (version: string, folder: string): RegisterInput => ({
    modelName: 'm',
    version,
    parentVersion: null,
    folder,
    trainingData: {},
    trainingDataSha256: '',
    metrics: { golden_f1: 0.9 },
    referenceCentroid: [],
    actor: 'test',
  });

  it('stores the thresholds shipped with the folder when they fit, without calibrating', async () => {
    const { registry, calibrated, tables } = setup();
    const shipped = { 'w200-a0.001-auc': thresholdsFor(200, 0.58) };
    const record = await registry.register(input('1', modelFolder('1', shipped)));
    expect(calibrated).toEqual([]);
    expect(record.driftCalibration).toEqual(shipped);
    expect(record.driftThreshold).toBe(0.58);
    expect(tables.rows).toHaveLength(1);
  });

  it('calibrates the folder for the configured window (with the classifier) when nothing fits', async () => {
    const { registry, calibrated } = setup({ windowSize: 500 });
    const folder = modelFolder('1', { 'w200-a0.001-auc': thresholdsFor(200, 0.58) });
    const record = await registry.register(input('1', folder));
    expect(calibrated.map((c) => [c.folder, c.options.windowSize, c.options.alpha])).toEqual([
      [folder, 500, 0.001],
    ]);
    expect(calibrated[0]!.options.classifierResamples).toBeUndefined(); // the default: calibrated
    expect(Object.keys(record.driftCalibration).sort()).toEqual([
      'w200-a0.001-auc',
      'w500-a0.001-auc',
    ]);
    expect(record.driftThreshold).toBe(0.6);
    // Registering again is a no-op: no second calibration.
    await registry.register(input('1', folder));
    expect(calibrated).toHaveLength(1);
  });

  it('an uncalibratable reference registers as uncalibrated with the reason; other failures stop it', async () => {
    const invalid = setup({ fail: new DriftReferenceError('reference.json: dim must be > 0') });
    const record = await invalid.registry.register(input('1', modelFolder('1')));
    expect(record.driftCalibration).toEqual({
      status: 'uncalibrated',
      error: 'reference.json: dim must be > 0',
    });
    expect(record.driftThreshold).toBe(0);
    const crashed = setup({ fail: new Error('worker exited with code 1') });
    await expect(crashed.registry.register(input('1', modelFolder('1')))).rejects.toThrow(
      'worker exited',
    );
    expect(crashed.tables.rows).toEqual([]);
  });

  it('a registry without calibration settings (the promoter) cannot register', async () => {
    const { registry } = setup({ calibrate: false });
    await expect(registry.register(input('1', modelFolder('1')))).rejects.toMatchObject({
      code: 'DRIFT_CALIBRATION_UNCONFIGURED',
    });
  });

  it('a status change rewrites the newest row: a calibration added meanwhile is kept', async () => {
    const first = setup();
    const folder = modelFolder('1', { 'w200-a0.001-auc': thresholdsFor(200, 0.58) });
    await first.registry.register(input('1', folder));
    // Another registry process (other drift settings) adds a calibration to the same version.
    const other = new ModelRegistry({
      store: first.tables,
      artifacts: new ArtifactStore(mkdtempSync(join(tmpdir(), 'artifacts-'))),
      publishDeployment: async () => undefined,
      driftCalibration: {
        windowSize: 500,
        alpha: 0.001,
        calibrate: async (_folder, calibration) => thresholdsFor(calibration.windowSize, 0.7),
      },
      logger: createLogger('test', 'silent'),
      baseDir: '/',
      now: () => 5_000,
    });
    expect(await other.ensureDriftCalibration('m', '1')).toBe(true);
    expect(await other.ensureDriftCalibration('m', '1')).toBe(false);
    await first.registry.block('1', { modelName: 'm', actor: 'test', reason: 'worse' });
    const latest = (await first.tables.version('m', '1'))!;
    expect(latest.status).toBe('BLOCKED');
    expect(Object.keys(latest.driftCalibration).sort()).toEqual([
      'w200-a0.001-auc',
      'w500-a0.001-auc',
    ]);
    expect(latest.revision).toBeGreaterThan(5_000);
  });

  it('bootstrap at a later start calibrates production for changed drift settings, once', async () => {
    const shipped = { 'w200-a0.001-auc': thresholdsFor(200, 0.58) };
    const folder = modelFolder('1', shipped);
    const { registry, tables, published } = setup();
    const bootstrap = {
      modelName: 'm',
      folder,
      minF1: 0.5,
      evaluateGolden: async () => ({ f1: 0.9, accuracy: 0.9, precision: 0.9, recall: 0.9, n: 10 }),
      actor: 'test',
    };
    expect(await registry.bootstrap(bootstrap)).toEqual({ version: '1', decision: 'PROMOTED' });
    expect(published.map((d) => d.modelVersion)).toEqual(['1']);

    const restarted = new ModelRegistry({
      store: tables,
      // The artifact is where the first registry stored it (its URI is absolute).
      artifacts: new ArtifactStore(mkdtempSync(join(tmpdir(), 'artifacts-'))),
      publishDeployment: async (deployment) => void published.push(deployment),
      signer,
      driftCalibration: {
        windowSize: 400,
        alpha: 0.001,
        calibrate: async (_folder, calibration) => thresholdsFor(calibration.windowSize, 0.65),
      },
      logger: createLogger('test', 'silent'),
      baseDir: '/',
    });
    expect(await restarted.bootstrap(bootstrap)).toEqual({ version: '1', decision: null });
    expect(published.map((d) => d.modelVersion)).toEqual(['1', '1']);
    const latest = (await tables.version('m', '1'))!;
    expect(Object.keys(latest.driftCalibration).sort()).toEqual([
      'w200-a0.001-auc',
      'w400-a0.001-auc',
    ]);
    expect(latest.status).toBe('PROMOTED');
    const revisions = tables.rows.length;
    await restarted.bootstrap(bootstrap);
    expect(tables.rows).toHaveLength(revisions);
  });
});
