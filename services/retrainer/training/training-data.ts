/**
 * Training rows for a head: the labelled part of a model folder's reference sample (the
 * bootstrap model's reference rows carry their true SST-2 label), stratified samples, and the
 * mix of recent labelled traffic with reference rows that keeps the original domain in view.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError, mulberry32, sampleWithoutReplacement } from '#platform/common';
import { REFERENCE_FILE, loadDriftReference } from '#domain/drift';
import { type LabelledEmbeddings, selectLabelled, stratifiedSplit } from './head-trainer.ts';

export class TrainingDataError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('TRAINING_DATA_INVALID', message, options);
  }
}

export interface LabelledReference extends LabelledEmbeddings {
  readonly x: Float32Array;
  readonly y: Int32Array;
  /** Sample row of each returned row. */
  readonly rows: Int32Array;
}

/**
 * The reference sample of a model folder with its true labels (reference.json
 * `sample.rows[r].label`); rows without a label are left out. `rows` maps each returned row
 * to its sample row.
 */
export function readLabelledReference(folder: string): LabelledReference {
  const reference = loadDriftReference(folder);
  let json: { sample?: { rows?: { label?: unknown }[] } };
  try {
    json = JSON.parse(readFileSync(join(folder, REFERENCE_FILE), 'utf8')) as typeof json;
  } catch (error) {
    throw new TrainingDataError(`cannot read ${folder}/${REFERENCE_FILE}`, { cause: error });
  }
  const classes = reference.classLabels.length;
  const kept: number[] = [];
  const labels: number[] = [];
  (json.sample?.rows ?? []).forEach((row, r) => {
    const label = row.label;
    if (typeof label === 'number' && Number.isInteger(label) && label >= 0 && label < classes) {
      kept.push(r);
      labels.push(label);
    }
  });
  if (kept.length === 0) {
    throw new TrainingDataError(`${folder}: the reference sample has no labelled rows`);
  }
  const { dim, data } = reference.sample.embeddings;
  const fullLabels = new Int32Array(reference.sample.embeddings.rows);
  kept.forEach((r, i) => (fullLabels[r] = labels[i]!));
  const all: LabelledEmbeddings = { x: data, dim, y: fullLabels };
  const selected = selectLabelled(all, kept);
  return {
    x: Float32Array.from(selected.x),
    dim,
    y: Int32Array.from(labels),
    rows: Int32Array.from(kept),
  };
}

/**
 * `count` row indices drawn without replacement, stratified by label (each class keeps its
 * share, rounded; the total is exactly min(count, rows)). Sorted.
 */
export function stratifiedSample(
  labels: ArrayLike<number>,
  count: number,
  seed: number,
): Int32Array {
  const rows = labels.length;
  const take = Math.max(0, Math.min(Math.floor(count), rows));
  const random = mulberry32(seed);
  const byClass = new Map<number, number[]>();
  for (let r = 0; r < rows; r++) {
    const members = byClass.get(labels[r]!) ?? [];
    members.push(r);
    byClass.set(labels[r]!, members);
  }
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  // Largest-remainder apportionment, so the shares add up to `take` exactly.
  const quotas = classes.map((k) => (take * byClass.get(k)!.length) / Math.max(rows, 1));
  const counts = quotas.map(Math.floor);
  let left = take - counts.reduce((a, b) => a + b, 0);
  const byRemainder = quotas
    .map((q, i) => ({ i, remainder: q - Math.floor(q) }))
    .sort((a, b) => b.remainder - a.remainder || a.i - b.i);
  for (const { i } of byRemainder) {
    if (left <= 0) break;
    counts[i]!++;
    left--;
  }
  const chosen: number[] = [];
  classes.forEach((k, i) =>
    chosen.push(...sampleWithoutReplacement(random, byClass.get(k)!, counts[i]!)),
  );
  return Int32Array.from(chosen).sort();
}

/** Reference rows mixed in per recent row (docs/retraining.md). */
export const DEFAULT_REFERENCE_RATIO = 0.5;

export interface MixOptions {
  /** Reference rows per recent row (capped by the reference rows available). Default 0.5. */
  readonly referenceRatio?: number;
  /** Loss weight of each reference row (recent rows weigh 1). Default 1. */
  readonly referenceWeight?: number;
  readonly seed?: number;
}

export interface MixedTrainingData extends LabelledEmbeddings {
  readonly weights: Float64Array;
  /** Per row: 'recent' or 'reference'. */
  readonly source: readonly ('recent' | 'reference')[];
  /** Per row: its row in `recent` or in `reference`. */
  readonly sourceRow: Int32Array;
  readonly recentRows: number;
  readonly referenceRows: number;
}

/** Recent rows followed by a stratified sample of reference rows, with loss weights. */
export function mixTrainingData(
  recent: LabelledEmbeddings,
  reference: LabelledEmbeddings,
  options: MixOptions = {},
): MixedTrainingData {
  if (recent.dim !== reference.dim) {
    throw new TrainingDataError(
      `recent rows have dim ${recent.dim}, reference rows ${reference.dim}`,
    );
  }
  const ratio = options.referenceRatio ?? DEFAULT_REFERENCE_RATIO;
  const weight = options.referenceWeight ?? 1;
  if (!(ratio >= 0) || !(weight >= 0)) {
    throw new TrainingDataError('referenceRatio and referenceWeight must be >= 0');
  }
  const recentRows = recent.y.length;
  const picked = stratifiedSample(reference.y, Math.round(ratio * recentRows), options.seed ?? 1);
  const ref = selectLabelled(reference, picked);
  const dim = recent.dim;
  const rows = recentRows + picked.length;
  const x = new Float32Array(rows * dim);
  x.set(recent.x.subarray(0, recentRows * dim));
  x.set(ref.x, recentRows * dim);
  const y = new Int32Array(rows);
  const weights = new Float64Array(rows);
  const sourceRow = new Int32Array(rows);
  for (let r = 0; r < recentRows; r++) {
    y[r] = recent.y[r]!;
    weights[r] = recent.weights?.[r] ?? 1;
    sourceRow[r] = r;
  }
  for (let i = 0; i < picked.length; i++) {
    y[recentRows + i] = ref.y[i]!;
    weights[recentRows + i] = weight * (reference.weights?.[picked[i]!] ?? 1);
    sourceRow[recentRows + i] = picked[i]!;
  }
  const source: ('recent' | 'reference')[] = [];
  for (let r = 0; r < rows; r++) source.push(r < recentRows ? 'recent' : 'reference');
  return { x, dim, y, weights, source, sourceRow, recentRows, referenceRows: picked.length };
}

export interface HeadTrainingSetsOptions extends MixOptions {
  /** Share of the recent rows (or of all rows, see validateOn) kept for validation. Default 0.1. */
  readonly validationFraction?: number;
  /**
   * Where the validation rows come from: 'recent' (the new domain only; the reference rows
   * all train) or 'mixed' (a stratified share of recent and reference rows alike, with their
   * loss weights). Default 'recent'.
   */
  readonly validateOn?: 'recent' | 'mixed';
}

/**
 * Training and validation rows for trainHead: recent rows mixed with reference rows
 * (`referenceRatio` per recent row, counted on all recent rows) and a stratified validation
 * split that never trains.
 */
export function headTrainingSets(
  recent: LabelledEmbeddings,
  reference: LabelledEmbeddings,
  options: HeadTrainingSetsOptions = {},
): { train: MixedTrainingData; validation: LabelledEmbeddings } {
  const fraction = options.validationFraction ?? 0.1;
  const seed = options.seed ?? 1;
  if ((options.validateOn ?? 'recent') === 'mixed') {
    const mixed = mixTrainingData(recent, reference, options);
    const split = stratifiedSplit(mixed.y, fraction, seed ^ 0x5eed);
    const pick = <T>(values: readonly T[], rows: Int32Array) => Array.from(rows, (r) => values[r]!);
    const train = selectLabelled(mixed, split.train);
    return {
      train: {
        ...train,
        weights: Float64Array.from(split.train, (r) => mixed.weights[r]!),
        source: pick(mixed.source, split.train),
        sourceRow: Int32Array.from(split.train, (r) => mixed.sourceRow[r]!),
        recentRows: split.train.filter((r) => r < mixed.recentRows).length,
        referenceRows: split.train.filter((r) => r >= mixed.recentRows).length,
      },
      validation: selectLabelled(mixed, split.validation),
    };
  }
  const split = stratifiedSplit(recent.y, fraction, seed ^ 0x5eed);
  const kept = selectLabelled(recent, split.train);
  const ratio = options.referenceRatio ?? DEFAULT_REFERENCE_RATIO;
  const train = mixTrainingData(kept, reference, {
    ...options,
    referenceRatio: kept.y.length > 0 ? (ratio * recent.y.length) / kept.y.length : 0,
  });
  return {
    // sourceRow of a recent row points into `recent`, not into the kept subset.
    train: {
      ...train,
      sourceRow: Int32Array.from(train.sourceRow, (row, i) =>
        i < train.recentRows ? split.train[row]! : row,
      ),
    },
    validation: selectLabelled(recent, split.validation),
  };
}
