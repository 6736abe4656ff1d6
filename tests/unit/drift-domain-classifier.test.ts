import { describe, expect, it } from 'vitest';
import { type Random, mulberry32 } from '#platform/common';
import {
  buildDriftReference,
  crossValidatedAuc,
  domainClassifierAuc,
  fitLogisticRegression,
  logisticObjective,
  matchedReferenceSide,
  principalProjection,
  rocAuc,
  stratifiedFolds,
} from '#domain/drift';

function gaussian(random: Random): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** rows x dim standard normal, plus `shift` on every coordinate of dimension 0. */
function normalRows(random: Random, rows: number, dim: number, shift = 0): Float64Array {
  const x = new Float64Array(rows * dim);
  for (let i = 0; i < x.length; i++) x[i] = gaussian(random) + (i % dim === 0 ? shift : 0);
  return x;
}

function twoSamples(random: Random, n0: number, n1: number, dim: number, shift: number) {
  const x = new Float64Array((n0 + n1) * dim);
  x.set(normalRows(random, n0, dim));
  x.set(normalRows(random, n1, dim, shift), n0 * dim);
  const y = new Uint8Array(n0 + n1).fill(1, n0);
  return { x, y, rows: n0 + n1 };
}

describe('rocAuc (Mann-Whitney)', () => {
  it('matches hand-computed values, ties counted half', () => {
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.75, 12);
    expect(rocAuc([1, 2, 3, 4], [0, 0, 1, 1])).toBe(1);
    expect(rocAuc([1, 2, 3, 4], [1, 1, 0, 0])).toBe(0);
    expect(rocAuc([5, 5, 5, 5], [0, 1, 0, 1])).toBe(0.5);
    expect(rocAuc([1, 2], [1, 1])).toBeNaN();
  });
});

describe('logistic regression (L-BFGS)', () => {
  it('with constant features fits the intercept to the log-odds of the base rate', () => {
    const y = Uint8Array.from({ length: 100 }, (_, i) => (i < 30 ? 1 : 0));
    const model = fitLogisticRegression(new Float64Array(100 * 3), 100, 3, y, {
      l2: 0.1,
      tolerance: 1e-10,
    });
    expect(model.converged).toBe(true);
    expect(model.intercept).toBeCloseTo(Math.log(0.3 / 0.7), 5);
    expect(Math.max(...model.weights.map(Math.abs))).toBeLessThan(1e-8);
  });

  it('reaches the unique minimiser: zero gradient, and the same point as Newton', () => {
    const { x, y, rows } = twoSamples(mulberry32(3), 150, 100, 2, 1.5);
    const l2 = 0.05;
    const model = fitLogisticRegression(x, rows, 2, y, { l2, tolerance: 1e-10 });
    const theta = Float64Array.from([...model.weights, model.intercept]);
    const grad = new Float64Array(3);
    logisticObjective(theta, x, rows, 2, y, l2, grad);
    expect(Math.max(...grad.map(Math.abs))).toBeLessThan(1e-9);
    // Newton's method on the same objective (3 x 3 system by Cramer's rule).
    const t = new Float64Array(3);
    for (let iteration = 0; iteration < 30; iteration++) {
      const g = new Float64Array(3);
      logisticObjective(t, x, rows, 2, y, l2, g);
      const h = [0, 0, 0, 0, 0, 0, 0, 0, 0];
      for (let i = 0; i < rows; i++) {
        const f = [x[i * 2]!, x[i * 2 + 1]!, 1];
        const p = 1 / (1 + Math.exp(-(t[0]! * f[0]! + t[1]! * f[1]! + t[2]!)));
        for (let a = 0; a < 3; a++)
          for (let b = 0; b < 3; b++) h[a * 3 + b]! += (p * (1 - p) * f[a]! * f[b]!) / rows;
      }
      h[0]! += l2;
      h[4]! += l2;
      const det = (m: number[]) =>
        m[0]! * (m[4]! * m[8]! - m[5]! * m[7]!) -
        m[1]! * (m[3]! * m[8]! - m[5]! * m[6]!) +
        m[2]! * (m[3]! * m[7]! - m[4]! * m[6]!);
      const d = det(h);
      for (let c = 0; c < 3; c++) {
        const m = [...h];
        for (let r = 0; r < 3; r++) m[r * 3 + c] = g[r]!;
        t[c]! -= det(m) / d;
      }
    }
    expect(model.weights[0]).toBeCloseTo(t[0]!, 7);
    expect(model.weights[1]).toBeCloseTo(t[1]!, 7);
    expect(model.intercept).toBeCloseTo(t[2]!, 7);
  });

  it('is deterministic', () => {
    const { x, y, rows } = twoSamples(mulberry32(4), 200, 200, 8, 0.5);
    const a = fitLogisticRegression(x, rows, 8, y);
    const b = fitLogisticRegression(x, rows, 8, y);
    expect(Array.from(a.weights)).toEqual(Array.from(b.weights));
  });
});

describe('cross-validated AUC', () => {
  it('deals stratified folds', () => {
    const labels = Uint8Array.from({ length: 103 }, (_, i) => (i < 40 ? 1 : 0));
    const folds = stratifiedFolds(labels, 5, mulberry32(1));
    for (let f = 0; f < 5; f++) {
      const positives = labels.filter((l, i) => l === 1 && folds[i] === f).length;
      expect(positives).toBe(8);
    }
  });

  it('is about 0.5 for identical distributions and about 1 for separated Gaussians', () => {
    const same = twoSamples(mulberry32(5), 2000, 1000, 32, 0);
    const sameAuc = crossValidatedAuc(same.x, same.rows, 32, same.y).auc;
    expect(Math.abs(sameAuc - 0.5)).toBeLessThan(0.05);
    const apart = twoSamples(mulberry32(6), 2000, 1000, 32, 4);
    expect(crossValidatedAuc(apart.x, apart.rows, 32, apart.y).auc).toBeGreaterThan(0.99);
    const slight = twoSamples(mulberry32(7), 2000, 1000, 32, 0.5);
    const slightAuc = crossValidatedAuc(slight.x, slight.rows, 32, slight.y).auc;
    // Two unit-variance normals 0.5 apart: AUC = Phi(0.5 / sqrt 2) = 0.638.
    expect(slightAuc).toBeGreaterThan(0.6);
    expect(slightAuc).toBeLessThan(0.67);
  });

  it('runs 2000 reference x 1000 window rows of dimension 128 in well under a second', () => {
    const data = twoSamples(mulberry32(8), 2000, 1000, 128, 0);
    const started = performance.now();
    crossValidatedAuc(data.x, data.rows, 128, data.y);
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe('domain classifier against a reference', () => {
  /** Two classes separated along dimension 1; `domain` shifts every row along dimension 2. */
  function labelled(random: Random, rows: number, positiveShare: number, domain = 0) {
    const dim = 16;
    const data = new Float32Array(rows * dim);
    const predicted = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      const k = random() < positiveShare ? 1 : 0;
      predicted[r] = k;
      for (let j = 0; j < dim; j++) {
        data[r * dim + j] =
          gaussian(random) + (j === 1 ? (k ? 3 : -3) : 0) + (j === 2 ? domain : 0);
      }
    }
    return { embeddings: { rows, dim, data }, predicted };
  }

  const reference = buildDriftReference(labelled(mulberry32(9), 6000, 0.5), { sampleSize: 3000 });

  it('draws a class-matched reference side', () => {
    const side = matchedReferenceSide(
      reference.sample.predicted,
      Int32Array.from({ length: 3000 }, (_, i) => i),
      [200, 800],
      1000,
      mulberry32(1),
    );
    const positives = Array.from(side).filter((r) => reference.sample.predicted[r] === 1).length;
    expect(side.length).toBe(1000);
    expect(positives).toBe(800);
    expect(new Set(side).size).toBe(1000);
  });

  it('does not react to a class-mix change alone, but does to a domain shift', () => {
    const mixOnly = domainClassifierAuc(reference, labelled(mulberry32(10), 500, 0.85), {
      referenceSideSize: 1500,
    });
    expect(mixOnly.windowRows).toBe(500);
    expect(Math.abs(mixOnly.auc - 0.5)).toBeLessThan(0.06);
    const shifted = domainClassifierAuc(reference, labelled(mulberry32(11), 500, 0.5, 1), {
      referenceSideSize: 1500,
    });
    expect(shifted.auc).toBeGreaterThan(0.7);
  });
});

describe('principal projection of wide embeddings', () => {
  /**
   * dim 24 driven by 4 latent factors (mixed by a fixed matrix) plus small noise, as real
   * embeddings are correlated: class on factor 1, a domain shift on factor 2.
   */
  const mixingRandom = mulberry32(77);
  const mixing = Array.from({ length: 24 * 4 }, () => gaussian(mixingRandom));
  function wide(random: Random, rows: number, domain = 0) {
    const dim = 24;
    const data = new Float32Array(rows * dim);
    const predicted = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      const k = random() < 0.5 ? 1 : 0;
      predicted[r] = k;
      const z = [
        gaussian(random),
        gaussian(random) + (k ? 3 : -3),
        gaussian(random) + domain,
        gaussian(random),
      ];
      for (let j = 0; j < dim; j++) {
        let v = 0.3 * gaussian(random);
        for (let f = 0; f < 4; f++) v += mixing[j * 4 + f]! * z[f]!;
        data[r * dim + j] = v;
      }
    }
    return { embeddings: { rows, dim, data }, predicted };
  }
  const reference = buildDriftReference(wide(mulberry32(21), 4000), { sampleSize: 3000 });

  it('is orthonormal, deterministic, cached, and keeps most of the variance', () => {
    const p = principalProjection(reference, 4);
    expect(principalProjection(reference, 4)).toBe(p);
    const again = principalProjection(
      buildDriftReference(wide(mulberry32(21), 4000), { sampleSize: 3000 }),
      4,
    );
    expect(Array.from(again.basis)).toEqual(Array.from(p.basis));
    for (let a = 0; a < 4; a++) {
      for (let b = 0; b < 4; b++) {
        let dot = 0;
        for (let j = 0; j < 24; j++) dot += p.basis[a * 24 + j]! * p.basis[b * 24 + j]!;
        expect(dot).toBeCloseTo(a === b ? 1 : 0, 9);
      }
    }
    // Variance of the projected (standardised) sample over the total (24 unit variances).
    let kept = 0;
    for (let c = 0; c < 4; c++) {
      let sum = 0;
      let sq = 0;
      for (let r = 0; r < 3000; r++) {
        const v = p.sample[r * 4 + c]!;
        sum += v;
        sq += v * v;
      }
      kept += sq / 3000 - (sum / 3000) ** 2;
    }
    expect(kept / 24).toBeGreaterThan(0.9);
  });

  it('classifies in the projected space: null about 0.5, a latent shift found', () => {
    const options = { referenceSideSize: 1500, maxFeatures: 4 };
    const same = domainClassifierAuc(reference, wide(mulberry32(22), 500), options);
    expect(Math.abs(same.auc - 0.5)).toBeLessThan(0.06);
    const shifted = domainClassifierAuc(reference, wide(mulberry32(23), 500, 1), options);
    expect(shifted.auc).toBeGreaterThan(0.7);
  });
});
