import { mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '#platform/common';
import {
  type DriftReference,
  DRIFT_CALIBRATION_FILE,
  DriftReferenceError,
  buildDriftReference,
  loadDriftReference,
  readShippedCalibrations,
  validateDriftReference,
  writeDriftReference,
} from '#domain/drift';

const BOOTSTRAP = 'models/sentiment-compact';
const scratch = mkdtempSync(join(tmpdir(), 'drift-reference-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function synthetic(rows: number, dim: number, seed = 1) {
  const random = mulberry32(seed);
  const data = new Float32Array(rows * dim);
  const predicted = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    predicted[r] = r % 4 === 0 ? 0 : 1; // 25 % NEGATIVE
    for (let j = 0; j < dim; j++) data[r * dim + j] = 2 + 3 * random() + (predicted[r] ? j : 0);
  }
  return { embeddings: { rows, dim, data }, predicted };
}

function expectInvalid(load: () => unknown, pattern: RegExp) {
  let error: unknown;
  try {
    load();
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(DriftReferenceError);
  expect((error as DriftReferenceError).code).toBe('DRIFT_REFERENCE_INVALID');
  expect((error as Error).message).toMatch(pattern);
}

describe('buildDriftReference', () => {
  const data = synthetic(1000, 4);
  const reference = buildDriftReference(data, { sampleSize: 200 });

  it('computes mean, std, standardised class centroids and shares', () => {
    const { data: x } = data.embeddings;
    for (const j of [0, 3]) {
      let mean = 0;
      for (let r = 0; r < 1000; r++) mean += x[r * 4 + j]! / 1000;
      let variance = 0;
      for (let r = 0; r < 1000; r++) variance += (x[r * 4 + j]! - mean) ** 2 / 1000;
      expect(reference.mean[j]).toBeCloseTo(mean, 9);
      expect(reference.std[j]).toBeCloseTo(Math.sqrt(variance), 9);
      // Standardised class centroids, weighted by the class shares, average to 0.
      const pooled =
        reference.classShares[0]! * reference.classCentroids[0]![j]! +
        reference.classShares[1]! * reference.classCentroids[1]![j]!;
      expect(pooled).toBeCloseTo(0, 9);
    }
    expect(Array.from(reference.classShares)).toEqual([0.25, 0.75]);
    expect(reference.classCounts).toEqual([250, 750]);
  });

  it('keeps a stratified sample of the requested size', () => {
    expect(reference.sample.embeddings.rows).toBe(200);
    const negatives = Array.from(reference.sample.predicted).filter((k) => k === 0).length;
    expect(negatives).toBe(50);
  });

  it('refuses non-finite values and unknown classes', () => {
    const bad = synthetic(100, 4);
    (bad.embeddings.data as Float32Array)[7] = NaN;
    expect(() => buildDriftReference(bad)).toThrow(DriftReferenceError);
    const unknown = synthetic(100, 4);
    unknown.predicted[3] = 2;
    expect(() => buildDriftReference(unknown)).toThrow(/class 2/);
  });

  it('round-trips through a model folder', () => {
    const folder = join(scratch, 'round-trip');
    writeDriftReference(folder, reference, { model: 'test' });
    const loaded = loadDriftReference(folder);
    expect(loaded.dim).toBe(4);
    expect(loaded.count).toBe(1000);
    expect(loaded.classLabels).toEqual(['NEGATIVE', 'POSITIVE']);
    expect(Array.from(loaded.sample.predicted)).toEqual(Array.from(reference.sample.predicted));
    expect(Array.from(loaded.sample.embeddings.data)).toEqual(
      Array.from(reference.sample.embeddings.data),
    );
    for (let k = 0; k < 2; k++) {
      for (let j = 0; j < 4; j++) {
        expect(loaded.classCentroids[k]![j]).toBeCloseTo(reference.classCentroids[k]![j]!, 4);
      }
    }
  });
});

describe('loadDriftReference', () => {
  it('loads the bootstrap model reference', () => {
    const reference = loadDriftReference(BOOTSTRAP);
    expect(reference.dim).toBe(128);
    // 4,000 full SST-2 train sentences (scripts/build-reference.ts), all of them the sample.
    expect(reference.count).toBe(4000);
    expect(reference.sample.embeddings.rows).toBe(4000);
    expect(reference.classShares[1]).toBeGreaterThan(0.4);
    expect(reference.classShares[1]).toBeLessThan(0.6);
    // The stored centroid of all rows, standardised, is the share-weighted class centroids.
    const j = 5;
    const pooled =
      reference.classShares[0]! * reference.classCentroids[0]![j]! +
      reference.classShares[1]! * reference.classCentroids[1]![j]!;
    expect(Math.abs(pooled)).toBeLessThan(1e-3);
  });

  function brokenCopy(name: string, edit: (json: Record<string, unknown>) => void): string {
    const folder = join(scratch, name);
    cpSync(BOOTSTRAP, folder, {
      recursive: true,
      filter: (source) => !source.includes('onnx') && !source.endsWith('tokenizer.json'),
    });
    const path = join(folder, 'reference.json');
    const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    edit(json);
    writeFileSync(path, JSON.stringify(json));
    return folder;
  }

  it('reports a missing folder or file clearly', () => {
    expectInvalid(() => loadDriftReference(join(scratch, 'nowhere')), /reference\.json is missing/);
    const folder = brokenCopy('no-sample', () => undefined);
    rmSync(join(folder, 'reference-sample.f32'));
    expectInvalid(() => loadDriftReference(folder), /reference-sample\.f32 is missing/);
  });

  it('reports a wrong dimension, a truncated sample, NaN, zero spread, a missing class', () => {
    expectInvalid(
      () => loadDriftReference(brokenCopy('dim', (json) => (json.dim = 64))),
      /expected 4000 rows x 64/,
    );
    const truncated = brokenCopy('truncated', () => undefined);
    truncateSync(join(truncated, 'reference-sample.f32'), 1000);
    expectInvalid(() => loadDriftReference(truncated), /1000 bytes/);
    expectInvalid(
      () =>
        loadDriftReference(
          brokenCopy('nan', (json) => {
            (json.mean as (number | null)[])[3] = null;
          }),
        ),
      /mean\[3\]/,
    );
    expectInvalid(
      () => loadDriftReference(brokenCopy('std', (json) => ((json.std as number[])[0] = 0))),
      /std\[0\] is 0/,
    );
    expectInvalid(
      () =>
        loadDriftReference(
          brokenCopy('class', (json) => {
            delete (json.by_predicted as Record<string, unknown>).POSITIVE;
          }),
        ),
      /no centroid for POSITIVE/,
    );
    expectInvalid(
      () =>
        loadDriftReference(
          brokenCopy('short-mean', (json) => (json.mean = (json.mean as number[]).slice(0, 100))),
        ),
      /mean has 100 values/,
    );
  });

  it('validates hand-made references, listing every problem', () => {
    const reference = loadDriftReference(BOOTSTRAP);
    const broken: DriftReference = {
      ...reference,
      std: reference.std.map((v, j) => (j === 2 ? -1 : v)),
      classShares: Float64Array.from([0.5, 0.6]),
    };
    expectInvalid(() => validateDriftReference(broken), /std\[2\][\s\S]*shares/);
  });
});

describe('thresholds shipped with a model folder', () => {
  it('reads drift-calibration.json by key, {} without one, and rejects a malformed file', () => {
    const folder = mkdtempSync(join(scratch, 'shipped-'));
    expect(readShippedCalibrations(folder)).toEqual({});
    const thresholds = { windowSize: 200, alpha: 0.001, cosine: { threshold: 0.1 } };
    writeFileSync(
      join(folder, DRIFT_CALIBRATION_FILE),
      JSON.stringify({ format: 1, calibrations: { 'w200-a0.001-auc': thresholds } }),
    );
    expect(readShippedCalibrations(folder)).toEqual({ 'w200-a0.001-auc': thresholds });
    writeFileSync(join(folder, DRIFT_CALIBRATION_FILE), JSON.stringify({ thresholds }));
    expectInvalid(() => readShippedCalibrations(folder), /drift-calibration.json: expected/);
  });
});
