import { mkdtempSync, writeFileSync, mkdirSync, rmSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ArtifactStore, classificationMetrics, folderDigest, verifyFolder } from '#shared/model';
import {
  type Decision,
  type DecisionRecord,
  productionHistory,
  productionVersion,
  rollbackTarget,
} from '#shared/store';

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
