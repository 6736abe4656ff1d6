/**
 * One window against a reference and its calibrated thresholds: every statistic, and the
 * two verdicts the detector needs:
 * - input drift: the statistics named in `inputStatistics` (default: the class-conditional
 *   cosine and the domain-classifier AUC), any of them over its threshold;
 * - prediction drift: the class mix over its threshold (reported separately; a change of
 *   sentiment mix alone is not input drift).
 */
import { type DriftThresholds } from './calibration.ts';
import { type CrossValidationOptions, domainClassifierAuc } from './domain-classifier.ts';
import { type EmbeddingWindow } from './matrix.ts';
import { type DriftReference } from './reference.ts';
import {
  accumulateClassSums,
  centroidCosineFromSums,
  classConditionalCosineFromSums,
  classMixFromCounts,
} from './statistics.ts';

export type InputStatistic = 'cosine' | 'domainAuc';

export interface WindowEvaluationOptions {
  readonly inputStatistics?: readonly InputStatistic[];
  readonly classifier?: CrossValidationOptions;
  /** Skip the (costlier) domain classifier even when calibrated. */
  readonly skipClassifier?: boolean;
}

export interface WindowEvaluation {
  readonly rows: number;
  /** Class-conditional standardised cosine distance; null when no class had enough rows. */
  readonly cosine: number | null;
  readonly classMix: number;
  /** Window share of each predicted class. */
  readonly classShares: readonly number[];
  readonly centroid: number;
  /** Cross-validated domain-classifier AUC; null when skipped or not calibrated. */
  readonly domainAuc: number | null;
  readonly over: {
    readonly cosine: boolean;
    readonly classMix: boolean;
    readonly centroid: boolean;
    readonly domainAuc: boolean;
  };
  readonly inputDrift: boolean;
  readonly predictionDrift: boolean;
  /** Milliseconds spent per statistic. */
  readonly ms: { readonly centroidStatistics: number; readonly domainAuc: number };
}

export function evaluateWindow(
  reference: DriftReference,
  thresholds: DriftThresholds,
  window: EmbeddingWindow,
  options: WindowEvaluationOptions = {},
): WindowEvaluation {
  const started = performance.now();
  const sums = accumulateClassSums(
    window.embeddings,
    window.predicted,
    reference.classLabels.length,
  );
  const cosine = classConditionalCosineFromSums(sums, reference, thresholds.minClassRows).value;
  const mix = classMixFromCounts(sums.counts, reference.classShares);
  const centroid = centroidCosineFromSums(sums, reference.mean);
  const centroidMs = performance.now() - started;
  let domainAuc: number | null = null;
  const classifierStarted = performance.now();
  if (!options.skipClassifier && thresholds.domainAuc) {
    domainAuc = domainClassifierAuc(reference, window, {
      ...options.classifier,
      referenceSideSize: thresholds.referenceSideSize,
    }).auc;
  }
  const classifierMs = performance.now() - classifierStarted;
  const over = {
    cosine: cosine !== null && cosine > thresholds.cosine.threshold,
    classMix: mix.value > thresholds.classMix.threshold,
    centroid: centroid > thresholds.centroid.threshold,
    domainAuc:
      domainAuc !== null &&
      thresholds.domainAuc !== null &&
      domainAuc > thresholds.domainAuc.threshold,
  };
  const inputStatistics = options.inputStatistics ?? ['cosine', 'domainAuc'];
  return {
    rows: window.embeddings.rows,
    cosine,
    classMix: mix.value,
    classShares: Array.from(mix.windowShares),
    centroid,
    domainAuc,
    over,
    inputDrift: inputStatistics.some((name) => over[name]),
    predictionDrift: over.classMix,
    ms: { centroidStatistics: centroidMs, domainAuc: classifierMs },
  };
}
