/**
 * Domain-classifier drift statistic: how well can a linear classifier tell the window's
 * embeddings from the reference's? Its cross-validated ROC AUC is ~0.5 when the two come
 * from the same distribution and approaches 1 as they separate.
 *
 * - Features: embeddings standardised with the reference mean and std; wider than 128, projected
 *   onto the reference sample's top 128 principal components (principalProjection).
 * - Reference side: rows of the reference sample drawn (seeded) so that their predicted-class
 *   mix equals the window's ("class-matched"): the classifier then cannot win on the
 *   sentiment mix alone, so a mix change is left to the class-mix statistic.
 * - Classifier: L2-regularised logistic regression (logistic-regression.ts), k-fold CV
 *   stratified by side, AUC per fold by the rank (Mann-Whitney) formula, averaged over folds.
 */
import { type EmbeddingWindow } from './matrix.ts';
import {
  type Random,
  mulberry32,
  sampleWithoutReplacement,
  shuffleInPlace,
} from '#platform/common';
import { type DriftReference } from './reference.ts';
import {
  type LogisticRegressionOptions,
  fitLogisticRegression,
  logisticScores,
} from './logistic-regression.ts';

/**
 * ROC AUC of `scores` for the positives (label 1) against the negatives (label 0), by the
 * Mann-Whitney rank formula with mid-ranks for ties: (R_1 - n_1 (n_1 + 1) / 2) / (n_1 n_0).
 * NaN when either class is empty.
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let rankSumPositive = 0;
  let positives = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const midRank = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) {
      if (labels[order[t]!] === 1) {
        rankSumPositive += midRank;
        positives++;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return NaN;
  return (rankSumPositive - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Fold index per row, k folds, stratified by label (each label's rows dealt round-robin). */
export function stratifiedFolds(
  labels: ArrayLike<number>,
  folds: number,
  random: Random,
): Int32Array {
  const out = new Int32Array(labels.length);
  const byLabel = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const list = byLabel.get(labels[i]!) ?? [];
    list.push(i);
    byLabel.set(labels[i]!, list);
  }
  let offset = 0;
  for (const key of [...byLabel.keys()].sort((a, b) => a - b)) {
    const members = shuffleInPlace(Int32Array.from(byLabel.get(key)!), random);
    members.forEach((row, position) => (out[row] = (position + offset) % folds));
    offset += members.length;
  }
  return out;
}

export interface CrossValidationOptions extends LogisticRegressionOptions {
  /** Folds. Default 5. */
  readonly folds?: number;
  readonly seed?: number;
}

export interface CrossValidatedAuc {
  /** Mean of the per-fold AUCs. */
  readonly auc: number;
  readonly foldAucs: readonly number[];
  /** L-BFGS iterations summed over folds. */
  readonly iterations: number;
}

/** k-fold stratified cross-validated AUC of logistic regression on (x, y). */
export function crossValidatedAuc(
  x: Float64Array,
  rows: number,
  dim: number,
  y: ArrayLike<number>,
  options: CrossValidationOptions = {},
): CrossValidatedAuc {
  const folds = options.folds ?? 5;
  const fold = stratifiedFolds(y, folds, mulberry32(options.seed ?? 1));
  const foldAucs: number[] = [];
  let iterations = 0;
  let warm: Float64Array | undefined;
  for (let f = 0; f < folds; f++) {
    let trainRows = 0;
    for (let i = 0; i < rows; i++) if (fold[i] !== f) trainRows++;
    const testRows = rows - trainRows;
    if (trainRows === 0 || testRows === 0) continue;
    const trainX = new Float64Array(trainRows * dim);
    const trainY = new Uint8Array(trainRows);
    const testX = new Float64Array(testRows * dim);
    const testY = new Uint8Array(testRows);
    let a = 0;
    let b = 0;
    for (let i = 0; i < rows; i++) {
      const row = x.subarray(i * dim, (i + 1) * dim);
      if (fold[i] !== f) {
        trainX.set(row, a * dim);
        trainY[a++] = y[i]!;
      } else {
        testX.set(row, b * dim);
        testY[b++] = y[i]!;
      }
    }
    const model = fitLogisticRegression(trainX, trainRows, dim, trainY, options, warm);
    iterations += model.iterations;
    warm = Float64Array.from([...model.weights, model.intercept]);
    const auc = rocAuc(logisticScores(model, testX, testRows, dim), testY);
    if (Number.isFinite(auc)) foldAucs.push(auc);
  }
  const auc = foldAucs.reduce((s, v) => s + v, 0) / foldAucs.length;
  return { auc, foldAucs, iterations };
}

/**
 * Indices of reference-sample rows (taken from `pool`) whose predicted-class counts are
 * proportional to `windowCounts` and total at most `size`. When a class has too few rows in
 * the pool, the whole side shrinks so that the proportions still hold.
 */
export function matchedReferenceSide(
  samplePredicted: ArrayLike<number>,
  pool: ArrayLike<number>,
  windowCounts: ArrayLike<number>,
  size: number,
  random: Random,
): Int32Array {
  const classes = windowCounts.length;
  const available: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < pool.length; i++) {
    const k = samplePredicted[pool[i]!]!;
    if (k >= 0 && k < classes) available[k]!.push(pool[i]!);
  }
  let windowTotal = 0;
  for (let k = 0; k < classes; k++) windowTotal += windowCounts[k]!;
  let total = size;
  for (let k = 0; k < classes; k++) {
    const share = windowCounts[k]! / windowTotal;
    if (share > 0) total = Math.min(total, available[k]!.length / share);
  }
  const chosen: number[] = [];
  for (let k = 0; k < classes; k++) {
    const take = Math.min(
      available[k]!.length,
      Math.round((total * windowCounts[k]!) / windowTotal),
    );
    chosen.push(...sampleWithoutReplacement(random, available[k]!, take));
  }
  return Int32Array.from(chosen);
}

/**
 * Most features the classifier sees. Wider embeddings (the production model's 384) are
 * projected onto the top principal components of the reference sample's standardised
 * embeddings: the logistic-regression fits of a calibration (200 resamples x 5 folds) cost in
 * proportion to the width, and shifts of the kind drift detection is for move the
 * high-variance directions. 128, the compact model's width, leaves it unprojected.
 */
export const DEFAULT_CLASSIFIER_FEATURES = 128;

/** A reference's principal subspace: `basis` [dim x k] (orthonormal columns), `sample` [rows x k]. */
interface PrincipalProjection {
  readonly k: number;
  readonly basis: Float64Array;
  readonly sample: Float64Array;
}

const projections = new WeakMap<DriftReference, Map<number, PrincipalProjection>>();

/**
 * The top-k principal subspace of the reference sample's standardised embeddings, by subspace
 * iteration on their covariance from a seeded start: deterministic, so the drift service and
 * the calibration (in its own worker) compute the same one. Cached per reference object.
 */
export function principalProjection(reference: DriftReference, k: number): PrincipalProjection {
  const cached = projections.get(reference)?.get(k);
  if (cached) return cached;
  const { dim } = reference;
  const { rows, data } = reference.sample.embeddings;
  const z = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < dim; j++) {
      z[r * dim + j] = (data[r * dim + j]! - reference.mean[j]!) / reference.std[j]!;
    }
  }
  // Covariance (upper triangle accumulated, then mirrored).
  const cov = new Float64Array(dim * dim);
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    for (let a = 0; a < dim; a++) {
      const va = z[o + a]!;
      const rowA = a * dim;
      for (let b = a; b < dim; b++) cov[rowA + b]! += va * z[o + b]!;
    }
  }
  for (let a = 0; a < dim; a++) {
    for (let b = a; b < dim; b++) {
      cov[a * dim + b]! /= rows;
      cov[b * dim + a] = cov[a * dim + b]!;
    }
  }
  // Subspace iteration: Q <- orth(C Q), Q stored column-major ([k][dim]).
  const random = mulberry32(0x9e3779b9);
  let q = new Float64Array(k * dim);
  for (let i = 0; i < q.length; i++) q[i] = random() - 0.5;
  const orthonormalise = (m: Float64Array) => {
    for (let c = 0; c < k; c++) {
      const col = m.subarray(c * dim, (c + 1) * dim);
      for (let p = 0; p < c; p++) {
        const prev = m.subarray(p * dim, (p + 1) * dim);
        let dot = 0;
        for (let j = 0; j < dim; j++) dot += col[j]! * prev[j]!;
        for (let j = 0; j < dim; j++) col[j]! -= dot * prev[j]!;
      }
      let norm = 0;
      for (let j = 0; j < dim; j++) norm += col[j]! * col[j]!;
      norm = Math.sqrt(norm) || 1;
      for (let j = 0; j < dim; j++) col[j]! /= norm;
    }
  };
  orthonormalise(q);
  for (let iteration = 0; iteration < 30; iteration++) {
    const next = new Float64Array(k * dim);
    for (let c = 0; c < k; c++) {
      const col = q.subarray(c * dim, (c + 1) * dim);
      for (let a = 0; a < dim; a++) {
        let sum = 0;
        const rowA = a * dim;
        for (let b = 0; b < dim; b++) sum += cov[rowA + b]! * col[b]!;
        next[c * dim + a] = sum;
      }
    }
    orthonormalise(next);
    q = next;
  }
  const sample = new Float64Array(rows * k);
  for (let r = 0; r < rows; r++) projectRow(z, r * dim, q, dim, k, sample, r * k);
  const projection = { k, basis: q, sample };
  const byK = projections.get(reference) ?? new Map<number, PrincipalProjection>();
  byK.set(k, projection);
  projections.set(reference, byK);
  return projection;
}

/** out[outOffset .. +k] = row (standardised, length dim, at offset) times the basis. */
function projectRow(
  row: ArrayLike<number>,
  offset: number,
  basis: Float64Array,
  dim: number,
  k: number,
  out: Float64Array,
  outOffset: number,
): void {
  for (let c = 0; c < k; c++) {
    let sum = 0;
    const col = c * dim;
    for (let j = 0; j < dim; j++) sum += row[offset + j]! * basis[col + j]!;
    out[outOffset + c] = sum;
  }
}

export interface DomainClassifierOptions extends CrossValidationOptions {
  /**
   * Embeddings wider than this are projected onto the reference's top principal components
   * (see DEFAULT_CLASSIFIER_FEATURES). Part of what a calibration's threshold means: the
   * detector and the calibration use the same value (the default).
   */
  readonly maxFeatures?: number;
  /** Rows on the reference side (before class matching). Default: the whole pool. */
  readonly referenceSideSize?: number;
  /** Reference-sample rows the reference side may use. Default: all of them. */
  readonly pool?: ArrayLike<number>;
}

export interface DomainClassifierResult extends CrossValidatedAuc {
  readonly referenceRows: number;
  readonly windowRows: number;
}

/**
 * Cross-validated AUC of a classifier telling `window` from a class-matched reference side
 * drawn from the reference sample (see the module comment).
 */
export function domainClassifierAuc(
  reference: DriftReference,
  window: EmbeddingWindow,
  options: DomainClassifierOptions = {},
): DomainClassifierResult {
  const { dim } = reference;
  if (window.embeddings.dim !== dim) {
    throw new RangeError(`window dim ${window.embeddings.dim} != reference dim ${dim}`);
  }
  const random = mulberry32((options.seed ?? 1) ^ 0x5bd1e995);
  const sample = reference.sample;
  const pool = options.pool ?? Int32Array.from({ length: sample.embeddings.rows }, (_, i) => i);
  const classes = reference.classLabels.length;
  const windowCounts = new Float64Array(classes);
  for (let i = 0; i < window.embeddings.rows; i++) windowCounts[window.predicted[i]!]!++;
  const side = matchedReferenceSide(
    sample.predicted,
    pool,
    windowCounts,
    options.referenceSideSize ?? pool.length,
    random,
  );
  const windowRows = window.embeddings.rows;
  const rows = side.length + windowRows;
  const maxFeatures = options.maxFeatures ?? DEFAULT_CLASSIFIER_FEATURES;
  const projection = dim > maxFeatures ? principalProjection(reference, maxFeatures) : null;
  const width = projection ? projection.k : dim;
  const x = new Float64Array(rows * width);
  const y = new Uint8Array(rows);
  const standardised = new Float64Array(dim);
  const put = (target: number, source: ArrayLike<number>, offset: number) => {
    for (let j = 0; j < dim; j++) {
      standardised[j] = (source[offset + j]! - reference.mean[j]!) / reference.std[j]!;
    }
    if (projection) projectRow(standardised, 0, projection.basis, dim, width, x, target * width);
    else x.set(standardised, target * dim);
  };
  side.forEach((r, i) => {
    if (projection) x.set(projection.sample.subarray(r * width, (r + 1) * width), i * width);
    else put(i, sample.embeddings.data, r * dim);
  });
  for (let i = 0; i < windowRows; i++) {
    put(side.length + i, window.embeddings.data, i * dim);
    y[side.length + i] = 1;
  }
  const cv = crossValidatedAuc(x, rows, width, y, options);
  return { ...cv, referenceRows: side.length, windowRows };
}
