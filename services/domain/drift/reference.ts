/**
 * The drift reference of a model version: what "no drift" looks like for that model.
 *
 * - per-dimension mean and standard deviation of the [CLS] embeddings of its training data,
 *   used to standardise every embedding (z = (x - mean) / std) before comparing anything;
 * - centroids of the standardised embeddings per predicted class, and the class shares, so
 *   that a window is compared class by class and a change of sentiment mix is not read as a
 *   change of domain;
 * - a sample of reference embeddings with their predicted classes, from which thresholds are
 *   calibrated (bootstrap) and against which the domain classifier is trained.
 *
 * On disk (model folder): `reference.json` (format 1, see models/sentiment-compact/
 * model-card.json `reference_format`) and `reference-sample.f32` (float32 little-endian,
 * row-major [rows, dim]; row r has predicted class `sample.rows[r].predicted`).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError, mulberry32, sampleWithoutReplacement } from '#platform/common';
import { type EmbeddingWindow, embeddingMatrix } from './matrix.ts';

/** A reference is missing, unreadable or inconsistent; the detector must not run on it. */
export class DriftReferenceError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('DRIFT_REFERENCE_INVALID', message, options);
  }
}

export interface DriftReference {
  readonly dim: number;
  /** Class names by predicted class index (config.json id2label order). */
  readonly classLabels: readonly string[];
  /** Rows the mean, std, centroids and shares were computed from. */
  readonly count: number;
  /** Per-dimension mean of the raw embeddings (also the raw reference centroid). */
  readonly mean: Float64Array;
  /** Per-dimension standard deviation of the raw embeddings (> 0). */
  readonly std: Float64Array;
  /** Per predicted class: the centroid of the standardised embeddings. */
  readonly classCentroids: readonly Float64Array[];
  /** Per predicted class: rows of the reference data predicted as that class. */
  readonly classCounts: readonly number[];
  /** Per predicted class: its share of the reference data (sums to 1). */
  readonly classShares: Float64Array;
  /** Reference embeddings (raw) with predicted classes: the calibration / classifier sample. */
  readonly sample: EmbeddingWindow;
  /** Input row of each sample row (set by buildDriftReference; for per-row metadata). */
  readonly sampleRows?: Int32Array;
}

/** Standard deviations below this are raised to it (a constant dimension carries no signal). */
export const STD_FLOOR = 1e-6;

export interface BuildReferenceOptions {
  readonly classLabels?: readonly string[];
  /** Rows kept as the sample (stratified by predicted class, proportional). Default 4000. */
  readonly sampleSize?: number;
  readonly seed?: number;
}

export const DEFAULT_CLASS_LABELS: readonly string[] = ['NEGATIVE', 'POSITIVE'];

/**
 * Builds a reference from embeddings and predicted classes (e.g. a retrained candidate's
 * training data): mean and std over all rows, class centroids in standardised space, class
 * shares, and a seeded stratified sample of at most `sampleSize` rows.
 */
export function buildDriftReference(
  data: EmbeddingWindow,
  options: BuildReferenceOptions = {},
): DriftReference {
  const { rows, dim } = data.embeddings;
  const x = data.embeddings.data;
  const classLabels = options.classLabels ?? DEFAULT_CLASS_LABELS;
  const classes = classLabels.length;
  if (rows < 2) throw new DriftReferenceError(`a reference needs at least 2 rows, got ${rows}`);
  const mean = new Float64Array(dim);
  const sq = new Float64Array(dim);
  const sums = Array.from({ length: classes }, () => new Float64Array(dim));
  const counts = new Array<number>(classes).fill(0);
  for (let r = 0; r < rows; r++) {
    const k = data.predicted[r]!;
    if (!Number.isInteger(k) || k < 0 || k >= classes) {
      throw new DriftReferenceError(`row ${r}: predicted class ${k} is not in [0, ${classes})`);
    }
    counts[k]!++;
    const sum = sums[k]!;
    for (let j = 0; j < dim; j++) {
      const v = x[r * dim + j]!;
      if (!Number.isFinite(v)) throw new DriftReferenceError(`row ${r} has a non-finite value`);
      mean[j]! += v;
      sum[j]! += v;
    }
  }
  for (let j = 0; j < dim; j++) mean[j]! /= rows;
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < dim; j++) {
      const d = x[r * dim + j]! - mean[j]!;
      sq[j]! += d * d;
    }
  }
  const std = sq.map((s) => Math.max(Math.sqrt(s / rows), STD_FLOOR));
  const classCentroids = sums.map((sum, k) =>
    sum.map((s, j) => (counts[k]! > 0 ? (s / counts[k]! - mean[j]!) / std[j]! : 0)),
  );
  const sampleSize = Math.min(options.sampleSize ?? 4000, rows);
  const random = mulberry32(options.seed ?? 1013);
  const chosen: number[] = [];
  for (let k = 0; k < classes; k++) {
    const members: number[] = [];
    for (let r = 0; r < rows; r++) if (data.predicted[r] === k) members.push(r);
    const take = Math.round((sampleSize * members.length) / rows);
    chosen.push(...sampleWithoutReplacement(random, members, Math.min(take, members.length)));
  }
  chosen.sort((a, b) => a - b);
  const sampleData = new Float32Array(chosen.length * dim);
  const samplePredicted = new Int32Array(chosen.length);
  chosen.forEach((r, i) => {
    for (let j = 0; j < dim; j++) sampleData[i * dim + j] = x[r * dim + j]!;
    samplePredicted[i] = data.predicted[r]!;
  });
  const reference: DriftReference = {
    dim,
    classLabels: [...classLabels],
    count: rows,
    mean,
    std,
    classCentroids,
    classCounts: counts,
    classShares: Float64Array.from(counts, (c) => c / rows),
    sample: { embeddings: embeddingMatrix(sampleData, dim), predicted: samplePredicted },
    sampleRows: Int32Array.from(chosen),
  };
  validateDriftReference(reference);
  return reference;
}

/** Smallest number of sample rows per class a reference must hold. */
export const MIN_SAMPLE_ROWS_PER_CLASS = 20;

/** Throws DriftReferenceError listing every inconsistency of a reference. */
export function validateDriftReference(reference: DriftReference): void {
  const problems: string[] = [];
  const { dim, classLabels } = reference;
  const classes = classLabels.length;
  const finiteVector = (name: string, v: ArrayLike<number> | undefined, positive = false) => {
    if (!v || v.length !== dim) {
      problems.push(`${name} has ${v?.length ?? 0} values, expected dim ${dim}`);
      return;
    }
    for (let j = 0; j < v.length; j++) {
      if (!Number.isFinite(v[j]!) || (positive && !(v[j]! > 0))) {
        problems.push(`${name}[${j}] is ${v[j]}${positive ? ' (must be finite and > 0)' : ''}`);
        return;
      }
    }
  };
  if (!Number.isInteger(dim) || dim <= 0) problems.push(`dim must be a positive integer`);
  if (classes < 2) problems.push(`needs at least 2 classes, got ${classes}`);
  if (!Number.isInteger(reference.count) || reference.count <= 0) {
    problems.push(`count must be a positive integer, got ${reference.count}`);
  }
  finiteVector('mean', reference.mean);
  finiteVector('std', reference.std, true);
  if (reference.classCentroids.length !== classes) {
    problems.push(`${reference.classCentroids.length} class centroids for ${classes} classes`);
  }
  reference.classCentroids.forEach((c, k) => finiteVector(`centroid of ${classLabels[k]}`, c));
  const shareSum = Array.from(reference.classShares).reduce((a, b) => a + b, 0);
  if (reference.classShares.length !== classes || Math.abs(shareSum - 1) > 1e-6) {
    problems.push(`class shares must have ${classes} values summing to 1`);
  }
  const { embeddings, predicted } = reference.sample;
  if (embeddings.dim !== dim) problems.push(`sample dim ${embeddings.dim} != ${dim}`);
  if (predicted.length !== embeddings.rows) {
    problems.push(`sample has ${embeddings.rows} rows but ${predicted.length} predicted classes`);
  }
  const perClass = new Array<number>(classes).fill(0);
  for (let r = 0; r < predicted.length; r++) {
    const k = predicted[r]!;
    if (!Number.isInteger(k) || k < 0 || k >= classes) {
      problems.push(`sample row ${r}: predicted class ${k} is not in [0, ${classes})`);
      break;
    }
    perClass[k]!++;
  }
  perClass.forEach((n, k) => {
    if (n < MIN_SAMPLE_ROWS_PER_CLASS) {
      problems.push(
        `sample has ${n} rows of class ${classLabels[k]}, needs >= ${MIN_SAMPLE_ROWS_PER_CLASS}`,
      );
    }
  });
  for (let i = 0; i < embeddings.data.length; i++) {
    if (!Number.isFinite(embeddings.data[i]!)) {
      problems.push(`sample row ${Math.floor(i / embeddings.dim)} has a non-finite value`);
      break;
    }
  }
  if (problems.length > 0) {
    throw new DriftReferenceError(`invalid drift reference:\n  - ${problems.join('\n  - ')}`);
  }
}

/** reference.json, format 1 (the fields this module reads and writes). */
interface ReferenceJson {
  format?: number;
  dim?: number;
  count?: number;
  mean?: number[];
  std?: number[];
  by_predicted?: Record<string, { count?: number; centroid?: number[] }>;
  sample?: {
    file?: string;
    dtype?: string;
    byte_order?: string;
    shape?: number[];
    rows?: { predicted?: number; label?: number; text_index?: number }[];
  };
  [key: string]: unknown;
}

export const REFERENCE_FILE = 'reference.json';

function readJson<T>(path: string): T {
  if (!existsSync(path)) throw new DriftReferenceError(`${path} is missing`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (error) {
    throw new DriftReferenceError(`cannot read ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** A JSON array of numbers (JSON has no NaN: null or a string there is a corrupt value). */
function numberArray(name: string, value: unknown): Float64Array {
  if (!Array.isArray(value)) throw new DriftReferenceError(`${name} is not an array`);
  const bad = value.findIndex((v) => typeof v !== 'number' || !Number.isFinite(v));
  if (bad >= 0) {
    throw new DriftReferenceError(`${name}[${bad}] is ${JSON.stringify(value[bad])}, not a number`);
  }
  return Float64Array.from(value as number[]);
}

/** Class labels of a model folder, by index, from config.json id2label (else NEGATIVE, POSITIVE). */
function folderClassLabels(folder: string): readonly string[] {
  const path = join(folder, 'config.json');
  if (!existsSync(path)) return DEFAULT_CLASS_LABELS;
  const id2label = readJson<{ id2label?: Record<string, string> }>(path).id2label;
  if (!id2label) return DEFAULT_CLASS_LABELS;
  return Object.keys(id2label)
    .map(Number)
    .sort((a, b) => a - b)
    .map((i) => (id2label[String(i)] ?? String(i)).toUpperCase());
}

/**
 * Loads and validates the reference of a model folder (reference.json + its sample file).
 * Throws DriftReferenceError (code DRIFT_REFERENCE_INVALID) when a file is missing or the
 * content is inconsistent (wrong dimension, NaN, unknown class, truncated sample, ...).
 */
export function loadDriftReference(folder: string): DriftReference {
  const json = readJson<ReferenceJson>(join(folder, REFERENCE_FILE));
  const classLabels = folderClassLabels(folder);
  const dim = json.dim;
  if (json.format !== undefined && json.format !== 1) {
    throw new DriftReferenceError(`${folder}/${REFERENCE_FILE}: unknown format ${json.format}`);
  }
  if (typeof dim !== 'number' || !Number.isInteger(dim) || dim <= 0) {
    throw new DriftReferenceError(`${folder}/${REFERENCE_FILE}: dim must be a positive integer`);
  }
  const where = `${folder}/${REFERENCE_FILE}`;
  const mean = numberArray(`${where}: mean`, json.mean);
  const std = numberArray(`${where}: std`, json.std);
  const byPredicted = json.by_predicted ?? {};
  const missing = classLabels.filter((label) => !byPredicted[label]?.centroid);
  if (missing.length > 0) {
    throw new DriftReferenceError(
      `${folder}/${REFERENCE_FILE}: by_predicted has no centroid for ${missing.join(', ')}`,
    );
  }
  const classCounts = classLabels.map((label) => byPredicted[label]!.count ?? 0);
  const count = json.count ?? classCounts.reduce((a, b) => a + b, 0);
  const total = classCounts.reduce((a, b) => a + b, 0);
  // Stored centroids are raw; standardising is affine, so the standardised centroid is exact.
  const classCentroids = classLabels.map((label) => {
    const raw = numberArray(`${where}: centroid of ${label}`, byPredicted[label]!.centroid);
    return raw.map((v, j) => (v - (mean[j] ?? NaN)) / (std[j] ?? NaN));
  });
  const sampleMeta = json.sample;
  if (!sampleMeta?.file || !sampleMeta.rows) {
    throw new DriftReferenceError(`${folder}/${REFERENCE_FILE}: no sample (file and rows)`);
  }
  if (
    (sampleMeta.dtype ?? 'float32') !== 'float32' ||
    (sampleMeta.byte_order ?? 'little') !== 'little'
  ) {
    throw new DriftReferenceError(
      `${folder}/${REFERENCE_FILE}: sample must be float32 little-endian`,
    );
  }
  const samplePath = join(folder, sampleMeta.file);
  if (!existsSync(samplePath)) throw new DriftReferenceError(`${samplePath} is missing`);
  const bytes = readFileSync(samplePath);
  const rows = sampleMeta.rows.length;
  if (bytes.byteLength !== rows * dim * 4) {
    throw new DriftReferenceError(
      `${samplePath}: ${bytes.byteLength} bytes, expected ${rows} rows x ${dim} x 4 = ${rows * dim * 4}`,
    );
  }
  if (sampleMeta.shape && (sampleMeta.shape[0] !== rows || sampleMeta.shape[1] !== dim)) {
    throw new DriftReferenceError(
      `${folder}/${REFERENCE_FILE}: sample shape ${JSON.stringify(sampleMeta.shape)} != [${rows}, ${dim}]`,
    );
  }
  const data = new Float32Array(rows * dim);
  for (let i = 0; i < data.length; i++) data[i] = bytes.readFloatLE(i * 4);
  const predicted = Int32Array.from(sampleMeta.rows, (row) => row.predicted ?? -1);
  const reference: DriftReference = {
    dim,
    classLabels,
    count,
    mean,
    std,
    classCentroids,
    classCounts,
    classShares: Float64Array.from(classCounts, (c) => (total > 0 ? c / total : NaN)),
    sample: { embeddings: embeddingMatrix(data, dim), predicted },
  };
  try {
    validateDriftReference(reference);
  } catch (error) {
    if (error instanceof DriftReferenceError) {
      throw new DriftReferenceError(`${folder}: ${error.message}`, { cause: error });
    }
    throw error;
  }
  return reference;
}

/** Extra per-row and top-level fields written with a reference (e.g. the source data). */
export interface ReferenceMetadata {
  readonly [key: string]: unknown;
}

const round6 = (v: number) => Number(v.toPrecision(6));

/**
 * Writes a reference into a model folder in format 1 (reference.json + reference-sample.f32),
 * readable by loadDriftReference. Centroids are stored raw, as in the bootstrap model.
 */
export function writeDriftReference(
  folder: string,
  reference: DriftReference,
  metadata: ReferenceMetadata = {},
  /** Extra fields per sample row (e.g. the source row and its true label), row order. */
  rowMetadata: readonly ReferenceMetadata[] = [],
): void {
  validateDriftReference(reference);
  mkdirSync(folder, { recursive: true });
  const { dim, mean, std } = reference;
  const raw = (z: Float64Array) => Array.from(z, (v, j) => round6(v * std[j]! + mean[j]!));
  const sample = reference.sample;
  const byPredicted: Record<string, { count: number; centroid: number[] }> = {};
  reference.classLabels.forEach((label, k) => {
    byPredicted[label] = {
      count: reference.classCounts[k]!,
      centroid: raw(reference.classCentroids[k]!),
    };
  });
  const json = {
    ...metadata,
    format: 1,
    dim,
    count: reference.count,
    centroid: Array.from(mean, round6),
    mean: Array.from(mean, round6),
    std: Array.from(std, round6),
    by_predicted: byPredicted,
    sample: {
      file: 'reference-sample.f32',
      dtype: 'float32',
      byte_order: 'little',
      shape: [sample.embeddings.rows, dim],
      layout: 'row-major; row r has predicted class rows[r].predicted',
      rows: Array.from({ length: sample.embeddings.rows }, (_, r) => ({
        ...rowMetadata[r],
        predicted: sample.predicted[r]!,
      })),
    },
  };
  const bytes = Buffer.alloc(sample.embeddings.rows * dim * 4);
  for (let i = 0; i < sample.embeddings.data.length; i++) {
    bytes.writeFloatLE(sample.embeddings.data[i]!, i * 4);
  }
  writeFileSync(join(folder, 'reference-sample.f32'), bytes);
  writeFileSync(join(folder, REFERENCE_FILE), `${JSON.stringify(json)}\n`);
}

/**
 * Thresholds calibrated when the folder was built (scripts/calibrate-model.ts), by
 * calibrationKey(): the registry stores them with the version it registers, so the detector
 * finds them instead of calibrating at first start. A folder's own file only: a retrained
 * candidate, whose reference differs from its parent's, never inherits it.
 */
export const DRIFT_CALIBRATION_FILE = 'drift-calibration.json';

/** The calibrations shipped in a model folder ({} when it has none). */
export function readShippedCalibrations(folder: string): Record<string, unknown> {
  const path = join(folder, DRIFT_CALIBRATION_FILE);
  if (!existsSync(path)) return {};
  try {
    const file = JSON.parse(readFileSync(path, 'utf8')) as {
      format?: number;
      calibrations?: Record<string, unknown>;
    };
    if (file.format !== 1 || typeof file.calibrations !== 'object' || !file.calibrations) {
      throw new Error('expected {"format": 1, "calibrations": {...}}');
    }
    return file.calibrations;
  } catch (error) {
    throw new DriftReferenceError(`${path}: ${(error as Error).message}`, { cause: error });
  }
}
