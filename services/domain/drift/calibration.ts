/**
 * Thresholds calibrated on the reference, not guessed: each statistic's distribution under
 * "no drift" is simulated by resampling windows of size W from the reference sample, and the
 * threshold is that null distribution's (1 - alpha) quantile. alpha is then the probability
 * that one window of in-distribution traffic exceeds the threshold of one statistic (the false
 * alarm rate per window and statistic), provided live traffic looks like the reference sample.
 *
 * Centroid statistics (class-conditional cosine, class mix, plain centroid) are cheap, so they
 * use many resamples (default ceil(20 / alpha), about 20 expected exceedances of the threshold)
 * and the empirical quantile: the ceil((1 - alpha)(B + 1))-th smallest of B values. Each
 * resample is a bootstrap window (W rows drawn with replacement, the model of iid traffic),
 * compared with reference centroids that carry their own estimation noise: the reference
 * centroids came from `count` rows, so each resample uses the sample's class mean plus a
 * bootstrap deviation scaled to `count` rows. Leaving that noise out would under-state the
 * null spread by a factor sqrt(1 + W / count_k) (25 % in variance for W = 1000 and a
 * 4,000-row reference; negligible for the 67k-row bootstrap reference).
 *
 * The domain-classifier AUC costs a logistic-regression fit per fold, so it gets fewer
 * resamples (default 200) and its threshold is extrapolated by a normal fit,
 * mean + z_{1-alpha} sd (the null AUC is a Mann-Whitney statistic, close to normal; the
 * empirical 0.99 quantile and the maximum are reported to check the fit). Its resamples are
 * permutation splits, not bootstrap draws: the sample is shuffled, the first W rows are the
 * window and the class-matched reference side (R rows) is drawn from the *remaining* rows only.
 * A row on both sides (what a with-replacement draw would produce) could not be told apart,
 * which would shrink the null AUC and give a threshold that is too low; duplicates inside the
 * window would sit in training and test folds at once and inflate it. Disjoint splits make the
 * null exact under exchangeability, at the price of R + W <= sample rows: the same R must be
 * used live (it is part of the result), so a reference sample should hold at least R + W_max
 * rows.
 */
import { type CrossValidationOptions, domainClassifierAuc } from './domain-classifier.ts';
import { selectWindow } from './matrix.ts';
import {
  mulberry32,
  randomInt,
  sampleWithReplacement,
  shuffleInPlace,
  type Random,
} from '#platform/common';
import { type DriftReference } from './reference.ts';
import {
  DEFAULT_MIN_CLASS_ROWS,
  type ClassSums,
  accumulateClassSums,
  centroidCosineFromSums,
  classConditionalCosineFromSums,
  classMixFromCounts,
} from './statistics.ts';

export const DEFAULT_ALPHA = 0.001;
/** Rows on the classifier's reference side when the sample allows it. */
export const DEFAULT_REFERENCE_SIDE_SIZE = 2000;

export interface CalibrationOptions {
  readonly windowSize: number;
  /** Per-window false-alarm probability of each statistic. Default 0.001. */
  readonly alpha?: number;
  /** Resamples for the centroid statistics. Default max(2000, ceil(20 / alpha)). */
  readonly resamples?: number;
  /** Resamples for the domain-classifier AUC; 0 skips it. Default 200. */
  readonly classifierResamples?: number;
  readonly seed?: number;
  readonly minClassRows?: number;
  readonly classifier?: CrossValidationOptions;
  /** Classifier reference side R. Default min(2000, sample rows - windowSize). */
  readonly referenceSideSize?: number;
  /** Rows per bootstrap draw of a reference centroid's estimation noise. Default 64. */
  readonly noiseRows?: number;
  readonly onProgress?: (stage: string, done: number, total: number) => void;
}

export interface StatisticThreshold {
  readonly threshold: number;
  readonly method: 'empirical-quantile' | 'normal-fit';
  readonly resamples: number;
  /** Null distribution summary. */
  readonly mean: number;
  readonly sd: number;
  readonly q99: number;
  readonly max: number;
}

export interface DriftThresholds {
  readonly windowSize: number;
  readonly alpha: number;
  readonly minClassRows: number;
  /** Reference-side rows the classifier must use live for `domainAuc` to hold. */
  readonly referenceSideSize: number;
  readonly cosine: StatisticThreshold;
  readonly classMix: StatisticThreshold;
  readonly centroid: StatisticThreshold;
  /** Null when not calibrated (classifierResamples 0, or the sample is too small). */
  readonly domainAuc: StatisticThreshold | null;
}

/**
 * Inverse of the standard normal CDF (Acklam's rational approximation, relative error
 * < 1.2e-9 on (0, 1)).
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`p must be in (0, 1), got ${p}`);
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972,
    -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734,
    4.374664141464968, 2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
    );
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}

/**
 * The (1 - alpha) quantile of `values` as a conservative Monte-Carlo threshold: the
 * ceil((1 - alpha)(B + 1))-th smallest value (the largest when B is too small for alpha).
 */
export function empiricalUpperQuantile(values: ArrayLike<number>, alpha: number): number {
  const sorted = Float64Array.from(values).sort();
  const rank = Math.ceil((1 - alpha) * (sorted.length + 1));
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

function summarise(values: Float64Array): Omit<StatisticThreshold, 'threshold' | 'method'> {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / Math.max(1, n - 1));
  return {
    resamples: n,
    mean,
    sd,
    q99: empiricalUpperQuantile(values, 0.01),
    max: values.reduce((m, v) => Math.max(m, v), -Infinity),
  };
}

/** Mean of raw rows `members` (all of them), as a Float64Array. */
function meanOf(data: ArrayLike<number>, dim: number, members: ArrayLike<number>): Float64Array {
  const out = new Float64Array(dim);
  for (let i = 0; i < members.length; i++) {
    const offset = members[i]! * dim;
    for (let j = 0; j < dim; j++) out[j]! += data[offset + j]!;
  }
  for (let j = 0; j < dim; j++) out[j]! /= Math.max(1, members.length);
  return out;
}

/**
 * `mean` plus the estimation noise of a mean over `count` rows: a bootstrap mean of
 * `noiseRows` rows of `members`, its deviation from `mean` scaled by sqrt(noiseRows / count).
 */
function noisyMean(
  data: ArrayLike<number>,
  dim: number,
  members: Int32Array,
  mean: Float64Array,
  count: number,
  noiseRows: number,
  random: Random,
): Float64Array {
  if (members.length === 0 || !(count > 0)) return mean;
  const draw = new Int32Array(noiseRows);
  for (let i = 0; i < noiseRows; i++) draw[i] = members[randomInt(random, members.length)]!;
  const boot = meanOf(data, dim, draw);
  const scale = Math.sqrt(noiseRows / count);
  return mean.map((m, j) => m + scale * (boot[j]! - m));
}

/** Null distributions and thresholds of every statistic for windows of `windowSize` rows. */
export function calibrateThresholds(
  reference: DriftReference,
  options: CalibrationOptions,
): DriftThresholds {
  const alpha = options.alpha ?? DEFAULT_ALPHA;
  const W = options.windowSize;
  const minClassRows = options.minClassRows ?? DEFAULT_MIN_CLASS_ROWS;
  const resamples = options.resamples ?? Math.max(2000, Math.ceil(20 / alpha));
  const noiseRows = options.noiseRows ?? 64;
  const { dim, classLabels } = reference;
  const classes = classLabels.length;
  const { embeddings, predicted } = reference.sample;
  const N = embeddings.rows;
  if (!(W >= 1)) throw new RangeError(`windowSize must be >= 1, got ${W}`);
  const random = mulberry32(options.seed ?? 7);
  const progress = options.onProgress ?? (() => undefined);

  // Sample class members and means: the "population" of the bootstrap world.
  const members = Array.from({ length: classes }, (_, k) =>
    Int32Array.from(Array.from({ length: N }, (_, r) => r).filter((r) => predicted[r] === k)),
  );
  const all = Int32Array.from({ length: N }, (_, r) => r);
  const classMeans = members.map((m) => meanOf(embeddings.data, dim, m));
  const sampleMean = meanOf(embeddings.data, dim, all);
  const sampleShares = Float64Array.from(members, (m) => m.length / N);
  const standardise = (raw: Float64Array) =>
    raw.map((v, j) => (v - reference.mean[j]!) / reference.std[j]!);

  const cosine = new Float64Array(resamples);
  const mix = new Float64Array(resamples);
  const centroid = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    const sums: ClassSums = accumulateClassSums(
      embeddings,
      predicted,
      classes,
      sampleWithReplacement(random, N, W),
    );
    const referenceCentroids = classMeans.map((m, k) =>
      standardise(
        noisyMean(
          embeddings.data,
          dim,
          members[k]!,
          m,
          reference.classCounts[k]!,
          noiseRows,
          random,
        ),
      ),
    );
    cosine[b] =
      classConditionalCosineFromSums(sums, reference, minClassRows, referenceCentroids).value ??
      NaN;
    // Reference shares, with the noise of shares estimated from `count` rows.
    const shareDraw = new Float64Array(classes);
    for (let i = 0; i < noiseRows * 4; i++) shareDraw[predicted[randomInt(random, N)]!]!++;
    const shareScale = Math.sqrt((noiseRows * 4) / reference.count);
    const referenceShares = sampleShares.map(
      (s, k) => s + shareScale * (shareDraw[k]! / (noiseRows * 4) - s),
    );
    mix[b] = classMixFromCounts(sums.counts, referenceShares).value;
    centroid[b] = centroidCosineFromSums(
      sums,
      noisyMean(embeddings.data, dim, all, sampleMean, reference.count, noiseRows, random),
    );
    if ((b + 1) % 1000 === 0 || b + 1 === resamples)
      progress('centroid statistics', b + 1, resamples);
  }
  const empirical = (values: Float64Array): StatisticThreshold => {
    const finite = values.filter((v) => Number.isFinite(v));
    return {
      threshold: empiricalUpperQuantile(finite, alpha),
      method: 'empirical-quantile',
      ...summarise(finite),
    };
  };

  const referenceSideSize =
    options.referenceSideSize ?? Math.min(DEFAULT_REFERENCE_SIDE_SIZE, N - W);
  const classifierResamples = options.classifierResamples ?? 200;
  let domainAuc: StatisticThreshold | null = null;
  if (classifierResamples > 0 && referenceSideSize >= 50 && referenceSideSize + W <= N) {
    const aucs = new Float64Array(classifierResamples);
    for (let b = 0; b < classifierResamples; b++) {
      const order = shuffleInPlace(Int32Array.from(all), random);
      const window = selectWindow(reference.sample, order.subarray(0, W));
      aucs[b] = domainClassifierAuc(reference, window, {
        ...options.classifier,
        pool: order.subarray(W),
        referenceSideSize,
        seed: (options.seed ?? 7) * 100_003 + b,
      }).auc;
      progress('domain classifier', b + 1, classifierResamples);
    }
    const summary = summarise(aucs);
    domainAuc = {
      threshold: summary.mean + normalQuantile(1 - alpha) * summary.sd,
      method: 'normal-fit',
      ...summary,
    };
  }
  return {
    windowSize: W,
    alpha,
    minClassRows,
    referenceSideSize,
    cosine: empirical(cosine),
    classMix: empirical(mix),
    centroid: empirical(centroid),
    domainAuc,
  };
}

/**
 * Key of a stored calibration (thresholds live with a model version in the registry, one set
 * per key): window size, alpha, and whether the domain classifier was calibrated.
 */
export function calibrationKey(windowSize: number, alpha: number, classifier: boolean): string {
  return `w${windowSize}-a${alpha}${classifier ? '-auc' : ''}`;
}

/** A stored value has the shape of DriftThresholds (stored calibrations are free-form JSON). */
export function isDriftThresholds(value: unknown): value is DriftThresholds {
  const candidate = value as Partial<DriftThresholds> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.windowSize === 'number' &&
    typeof candidate.cosine?.threshold === 'number' &&
    typeof candidate.classMix?.threshold === 'number'
  );
}

/** What a detector needs of a version's stored calibrations. */
export interface CalibrationNeed {
  readonly windowSize: number;
  readonly alpha: number;
  /** The detector decides input drift with the domain-classifier AUC. */
  readonly classifier: boolean;
}

export type CalibrationLookup =
  | { readonly found: true; readonly key: string; readonly thresholds: DriftThresholds }
  | { readonly found: false; readonly reason: string };

/**
 * The stored calibration that serves `need`, or why there is none. A calibration made with
 * the classifier serves a detector that does not use it too: the centroid statistics come
 * first from the same seed, so their thresholds are the same either way. One that was asked
 * for the classifier but has no AUC threshold (a reference sample too small for the
 * classifier's disjoint splits) does not serve a detector that decides by the AUC: it could
 * never report input drift, which would be a silent OK.
 */
export function findCalibration(
  calibrations: Readonly<Record<string, unknown>>,
  need: CalibrationNeed,
): CalibrationLookup {
  const withClassifier = calibrationKey(need.windowSize, need.alpha, true);
  const keys = need.classifier
    ? [withClassifier]
    : [calibrationKey(need.windowSize, need.alpha, false), withClassifier];
  for (const key of keys) {
    const thresholds = calibrations[key];
    if (!isDriftThresholds(thresholds)) continue;
    if (need.classifier && thresholds.domainAuc === null) {
      return {
        found: false,
        reason:
          `drift calibration ${key} has no domain-classifier threshold (the reference sample ` +
          'is too small for it): input drift cannot be judged by domainAuc',
      };
    }
    return { found: true, key, thresholds };
  }
  const stored = Object.keys(calibrations).filter((key) => isDriftThresholds(calibrations[key]));
  const error = typeof calibrations.error === 'string' ? ` (${calibrations.error})` : '';
  return {
    found: false,
    reason:
      `no drift calibration ${keys[0]} stored with the version${error}; stored: ` +
      `${stored.length ? stored.join(', ') : 'none'}. Versions are calibrated when they are ` +
      'registered, for the DRIFT_WINDOW_SIZE and DRIFT_ALPHA of the registering process ' +
      '(retrainer, mlops CLI): give them the values the drift service has and run ' +
      '`npm run mlops -- registry bootstrap` to calibrate the production version',
  };
}

/** The registry's one-number summary of a calibration: the threshold of the deciding statistic. */
export function headlineThreshold(thresholds: DriftThresholds): number {
  return thresholds.domainAuc?.threshold ?? thresholds.cosine.threshold;
}
