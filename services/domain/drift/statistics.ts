/**
 * Window statistics against a drift reference (pure functions, no I/O).
 *
 * All input-drift statistics are computed on standardised embeddings z = (x - mean) / std
 * (mean and std of the reference), so every dimension counts in units of its reference spread
 * and the origin is the reference centroid.
 *
 * - Class-conditional standardised cosine distance (input drift):
 *     for each predicted class k with n_k >= minClassRows window rows,
 *       d_k = 1 - cos(zbar_k(window), c_k(reference))
 *     where zbar_k is the mean of the window's standardised rows predicted k and c_k the
 *     reference's; the statistic is the window-share-weighted mean
 *       D = sum_k n_k d_k / sum_k n_k        (over the classes that qualify).
 *     Classes with fewer than minClassRows rows are left out (their centroid is too noisy);
 *     when no class qualifies the statistic is null (not enough data). Because each class
 *     is compared with its own reference centroid, a change of the class mix alone does not
 *     move D.
 * - Class mix (prediction drift): total variation distance between the window's and the
 *   reference's predicted-class shares, TV = 1/2 sum_k |p_k(window) - p_k(reference)|; for
 *   two classes it is the absolute difference of the POSITIVE share.
 * - Plain centroid cosine distance (for comparison only): 1 - cos(mean of raw window rows,
 *   raw reference mean). It mixes domain and class mix, and is tiny for this model.
 */
import { type EmbeddingMatrix, type EmbeddingWindow } from './matrix.ts';
import { type DriftReference } from './reference.ts';

/** Default smallest number of window rows of a class for it to enter the cosine statistic. */
export const DEFAULT_MIN_CLASS_ROWS = 20;

/** 1 - cos(a, b); 1 when either vector is zero (no direction to compare). */
export function cosineDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let j = 0; j < a.length; j++) {
    dot += a[j]! * b[j]!;
    na += a[j]! * a[j]!;
    nb += b[j]! * b[j]!;
  }
  if (na === 0 || nb === 0) return 1;
  return 1 - dot / Math.sqrt(na * nb);
}

/** Per-class row counts and sums of raw embeddings: what every centroid statistic needs. */
export interface ClassSums {
  readonly classes: number;
  readonly dim: number;
  readonly counts: Float64Array;
  /** classes x dim, row-major. */
  readonly sums: Float64Array;
}

/**
 * Sums the raw rows of `embeddings` per predicted class; `indices` selects (and may repeat)
 * rows, so a bootstrap resample needs no copy. Rows with a class outside [0, classes) throw.
 */
export function accumulateClassSums(
  embeddings: EmbeddingMatrix,
  predicted: ArrayLike<number>,
  classes: number,
  indices?: ArrayLike<number>,
): ClassSums {
  const { dim, data } = embeddings;
  const counts = new Float64Array(classes);
  const sums = new Float64Array(classes * dim);
  const n = indices ? indices.length : embeddings.rows;
  for (let i = 0; i < n; i++) {
    const r = indices ? indices[i]! : i;
    const k = predicted[r]!;
    if (!(k >= 0 && k < classes)) throw new RangeError(`row ${r}: class ${k} out of range`);
    counts[k]!++;
    const offset = k * dim;
    const rowOffset = r * dim;
    for (let j = 0; j < dim; j++) sums[offset + j]! += data[rowOffset + j]!;
  }
  return { classes, dim, counts, sums };
}

/** Standardised centroid (mean(x) - mean_ref) / std_ref of class k from its sums. */
export function standardisedClassCentroid(
  sums: ClassSums,
  k: number,
  reference: Pick<DriftReference, 'mean' | 'std'>,
): Float64Array {
  const { dim } = sums;
  const n = sums.counts[k]!;
  const out = new Float64Array(dim);
  for (let j = 0; j < dim; j++) {
    out[j] = (sums.sums[k * dim + j]! / n - reference.mean[j]!) / reference.std[j]!;
  }
  return out;
}

export interface ClassCosineTerm {
  readonly count: number;
  /** 1 - cos to the reference class centroid; null when the class had too few rows. */
  readonly distance: number | null;
}

export interface ClassConditionalCosine {
  /** Share-weighted mean distance over qualifying classes; null when none qualifies. */
  readonly value: number | null;
  readonly perClass: readonly ClassCosineTerm[];
}

/** The class-conditional standardised cosine distance from precomputed class sums. */
export function classConditionalCosineFromSums(
  sums: ClassSums,
  reference: Pick<DriftReference, 'mean' | 'std' | 'classCentroids'>,
  minClassRows = DEFAULT_MIN_CLASS_ROWS,
  referenceCentroids: readonly ArrayLike<number>[] = reference.classCentroids,
): ClassConditionalCosine {
  let weighted = 0;
  let used = 0;
  const perClass: ClassCosineTerm[] = [];
  for (let k = 0; k < sums.classes; k++) {
    const count = sums.counts[k]!;
    if (count < Math.max(1, minClassRows)) {
      perClass.push({ count, distance: null });
      continue;
    }
    const distance = cosineDistance(
      standardisedClassCentroid(sums, k, reference),
      referenceCentroids[k]!,
    );
    perClass.push({ count, distance });
    weighted += count * distance;
    used += count;
  }
  return { value: used > 0 ? weighted / used : null, perClass };
}

/** Class-conditional standardised cosine distance of a window (see the module comment). */
export function classConditionalCosine(
  window: EmbeddingWindow,
  reference: DriftReference,
  minClassRows = DEFAULT_MIN_CLASS_ROWS,
): ClassConditionalCosine {
  checkDim(window.embeddings, reference);
  const sums = accumulateClassSums(
    window.embeddings,
    window.predicted,
    reference.classLabels.length,
  );
  return classConditionalCosineFromSums(sums, reference, minClassRows);
}

export interface ClassMix {
  /** Total variation distance between window and reference class shares, in [0, 1]. */
  readonly value: number;
  readonly windowShares: Float64Array;
  readonly referenceShares: Float64Array;
}

/** Class-mix statistic from window class counts (see the module comment). */
export function classMixFromCounts(
  counts: ArrayLike<number>,
  referenceShares: ArrayLike<number>,
): ClassMix {
  let total = 0;
  for (let k = 0; k < counts.length; k++) total += counts[k]!;
  const windowShares = Float64Array.from(counts, (c) => (total > 0 ? c / total : 0));
  let tv = 0;
  for (let k = 0; k < windowShares.length; k++) {
    tv += Math.abs(windowShares[k]! - referenceShares[k]!);
  }
  return { value: tv / 2, windowShares, referenceShares: Float64Array.from(referenceShares) };
}

/** Class-mix (prediction drift) statistic of a window. */
export function classMixDistance(
  predicted: ArrayLike<number>,
  reference: Pick<DriftReference, 'classShares'>,
): ClassMix {
  const counts = new Float64Array(reference.classShares.length);
  for (let i = 0; i < predicted.length; i++) {
    const k = predicted[i]!;
    if (!(k >= 0 && k < counts.length)) throw new RangeError(`row ${i}: class ${k} out of range`);
    counts[k]!++;
  }
  return classMixFromCounts(counts, reference.classShares);
}

/** Plain centroid cosine distance from class sums (all classes pooled), raw space. */
export function centroidCosineFromSums(sums: ClassSums, referenceMean: ArrayLike<number>): number {
  const { dim } = sums;
  const total = new Float64Array(dim);
  for (let k = 0; k < sums.classes; k++) {
    for (let j = 0; j < dim; j++) total[j]! += sums.sums[k * dim + j]!;
  }
  return cosineDistance(total, referenceMean);
}

/** Plain (raw, pooled) centroid cosine distance of a window: comparison only. */
export function centroidCosineDistance(window: EmbeddingWindow, reference: DriftReference): number {
  checkDim(window.embeddings, reference);
  const sums = accumulateClassSums(
    window.embeddings,
    window.predicted,
    reference.classLabels.length,
  );
  return centroidCosineFromSums(sums, reference.mean);
}

function checkDim(embeddings: EmbeddingMatrix, reference: DriftReference): void {
  if (embeddings.dim !== reference.dim) {
    throw new RangeError(`window dim ${embeddings.dim} != reference dim ${reference.dim}`);
  }
}
