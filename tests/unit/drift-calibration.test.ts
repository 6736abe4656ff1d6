import { describe, expect, it } from 'vitest';
import { type Random, mulberry32 } from '#platform/common';
import {
  type DriftThresholds,
  buildDriftReference,
  calibrateThresholds,
  calibrationKey,
  classConditionalCosine,
  classMixDistance,
  domainClassifierAuc,
  empiricalUpperQuantile,
  evaluateWindow,
  findCalibration,
  headlineThreshold,
  isDriftThresholds,
  normalQuantile,
} from '#domain/drift';

function gaussian(random: Random): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

function traffic(random: Random, rows: number, dim: number, positiveShare = 0.6, domain = 0) {
  const data = new Float64Array(rows * dim);
  const predicted = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const k = random() < positiveShare ? 1 : 0;
    predicted[r] = k;
    for (let j = 0; j < dim; j++) {
      data[r * dim + j] =
        1 +
        gaussian(random) * (1 + j / dim) +
        (j === 0 ? (k ? 1.5 : -1.5) : 0) +
        (j === 1 ? domain : 0);
    }
  }
  return { embeddings: { rows, dim, data }, predicted };
}

describe('quantiles', () => {
  it('normal quantile', () => {
    expect(normalQuantile(0.5)).toBeCloseTo(0, 9);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.999)).toBeCloseTo(3.090232, 5);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232, 5);
    expect(() => normalQuantile(1)).toThrow();
  });

  it('empirical upper quantile is the ceil((1 - alpha)(B + 1))-th smallest', () => {
    const values = Float64Array.from({ length: 1000 }, (_, i) => 1000 - i);
    expect(empiricalUpperQuantile(values, 0.01)).toBe(991);
    expect(empiricalUpperQuantile(values, 0.0001)).toBe(1000);
  });
});

describe('calibrateThresholds', () => {
  it('gives a false-alarm rate near alpha on fresh in-distribution windows', () => {
    const dim = 16;
    const W = 200;
    const alpha = 0.01;
    // The reference statistics come from 5,000 rows: their own noise must be accounted for.
    const reference = buildDriftReference(traffic(mulberry32(1), 5000, dim), { sampleSize: 3000 });
    const thresholds = calibrateThresholds(reference, {
      windowSize: W,
      alpha,
      resamples: 4000,
      classifierResamples: 0,
    });
    expect(thresholds.cosine.method).toBe('empirical-quantile');
    expect(thresholds.cosine.resamples).toBe(4000);
    expect(thresholds.domainAuc).toBeNull();
    const random = mulberry32(99);
    const windows = 3000;
    let cosineAlarms = 0;
    let mixAlarms = 0;
    for (let i = 0; i < windows; i++) {
      const window = traffic(random, W, dim);
      if (classConditionalCosine(window, reference).value! > thresholds.cosine.threshold)
        cosineAlarms++;
      if (classMixDistance(window.predicted, reference).value > thresholds.classMix.threshold)
        mixAlarms++;
    }
    // Expected 30 alarms of each; binomial sd ~5.5. Bounds allow for the Monte-Carlo error
    // of the threshold itself.
    expect(cosineAlarms / windows).toBeGreaterThan(alpha / 3);
    expect(cosineAlarms / windows).toBeLessThan(alpha * 2.5);
    expect(mixAlarms / windows).toBeLessThan(alpha * 2.5);
    // A real shift is over the threshold.
    const shifted = traffic(mulberry32(5), W, dim, 0.6, 0.6);
    expect(classConditionalCosine(shifted, reference).value!).toBeGreaterThan(
      thresholds.cosine.threshold,
    );
  });

  it('calibrates the domain-classifier AUC on disjoint splits and flags a shifted window', () => {
    const dim = 8;
    const W = 100;
    const reference = buildDriftReference(traffic(mulberry32(2), 2000, dim), { sampleSize: 1000 });
    const thresholds = calibrateThresholds(reference, {
      windowSize: W,
      alpha: 0.05,
      resamples: 2000,
      classifierResamples: 40,
      referenceSideSize: 400,
    });
    const auc = thresholds.domainAuc!;
    expect(auc.method).toBe('normal-fit');
    expect(auc.resamples).toBe(40);
    expect(Math.abs(auc.mean - 0.5)).toBeLessThan(0.05);
    expect(auc.threshold).toBeGreaterThan(auc.mean);
    expect(auc.threshold).toBeLessThan(0.7);
    const random = mulberry32(3);
    let alarms = 0;
    for (let i = 0; i < 40; i++) {
      const window = traffic(random, W, dim);
      if (
        domainClassifierAuc(reference, window, { referenceSideSize: 400, seed: i }).auc >
        auc.threshold
      ) {
        alarms++;
      }
    }
    expect(alarms).toBeLessThanOrEqual(8); // alpha 0.05: expected 2
    const evaluation = evaluateWindow(
      reference,
      thresholds,
      traffic(mulberry32(4), W, dim, 0.6, 1.5),
    );
    expect(evaluation.over.domainAuc).toBe(true);
    expect(evaluation.inputDrift).toBe(true);
    expect(evaluation.predictionDrift).toBe(false);
  });
});

describe('stored calibrations (what the registry stores, the detector reads)', () => {
  const statistic = (threshold: number) => ({
    threshold,
    method: 'empirical-quantile' as const,
    resamples: 100,
    mean: 0,
    sd: 1,
    q99: threshold,
    max: threshold,
  });
  const stored = (windowSize: number, auc: number | null): DriftThresholds => ({
    windowSize,
    alpha: 0.001,
    minClassRows: 10,
    referenceSideSize: 400,
    cosine: statistic(0.3),
    classMix: statistic(0.1),
    centroid: statistic(0.2),
    domainAuc: auc === null ? null : { ...statistic(auc), method: 'normal-fit' },
  });
  const need = (classifier: boolean, windowSize = 200) => ({
    windowSize,
    alpha: 0.001,
    classifier,
  });

  it('finds the key of the settings; one with the classifier serves a detector without it', () => {
    const withAuc = stored(200, 0.58);
    const plain = stored(200, null);
    expect(findCalibration({ 'w200-a0.001-auc': withAuc }, need(true))).toEqual({
      found: true,
      key: 'w200-a0.001-auc',
      thresholds: withAuc,
    });
    expect(findCalibration({ 'w200-a0.001-auc': withAuc }, need(false))).toMatchObject({
      found: true,
      key: 'w200-a0.001-auc',
    });
    // A plain calibration is preferred when the detector does not use the classifier...
    expect(
      findCalibration({ 'w200-a0.001-auc': withAuc, 'w200-a0.001': plain }, need(false)),
    ).toMatchObject({ found: true, key: 'w200-a0.001' });
    // ... and never serves one that does.
    expect(findCalibration({ 'w200-a0.001': plain }, need(true))).toMatchObject({ found: false });
  });

  it('says why nothing fits: other settings, an error at registration, no AUC threshold', () => {
    const other = findCalibration({ 'w500-a0.001-auc': stored(500, 0.55) }, need(true));
    expect(other.found).toBe(false);
    expect(!other.found && other.reason).toMatch(
      /no drift calibration w200-a0\.001-auc .*stored: w500-a0\.001-auc.*DRIFT_WINDOW_SIZE/,
    );
    const failed = findCalibration(
      { status: 'uncalibrated', error: 'reference.json: missing' },
      need(false),
    );
    expect(!failed.found && failed.reason).toContain('(reference.json: missing); stored: none');
    const small = findCalibration({ 'w200-a0.001-auc': stored(200, null) }, need(true));
    expect(!small.found && small.reason).toContain('no domain-classifier threshold');
    // The same calibration still serves the cosine.
    expect(findCalibration({ 'w200-a0.001-auc': stored(200, null) }, need(false)).found).toBe(true);
    expect(findCalibration({ 'w200-a0.001-auc': { windowSize: 200 } }, need(false)).found).toBe(
      false,
    );
  });

  it('shapes, keys and the one-number summary', () => {
    expect(isDriftThresholds(stored(200, null))).toBe(true);
    expect(isDriftThresholds({ status: 'uncalibrated' })).toBe(false);
    expect(isDriftThresholds(null)).toBe(false);
    expect(calibrationKey(200, 0.001, true)).toBe('w200-a0.001-auc');
    expect(headlineThreshold(stored(200, 0.58))).toBe(0.58);
    expect(headlineThreshold(stored(200, null))).toBe(0.3);
  });

  it("calibrating the classifier too leaves the centroid statistics' thresholds as they are", () => {
    const reference = buildDriftReference(traffic(mulberry32(5), 1200, 4), { sampleSize: 600 });
    const options = { windowSize: 50, alpha: 0.01, resamples: 300, seed: 11 };
    const plain = calibrateThresholds(reference, { ...options, classifierResamples: 0 });
    const full = calibrateThresholds(reference, {
      ...options,
      classifierResamples: 3,
      referenceSideSize: 100,
    });
    expect(full.domainAuc).not.toBeNull();
    expect(plain.domainAuc).toBeNull();
    expect(full.cosine).toEqual(plain.cosine);
    expect(full.classMix).toEqual(plain.classMix);
    expect(full.centroid).toEqual(plain.centroid);
  });
});
