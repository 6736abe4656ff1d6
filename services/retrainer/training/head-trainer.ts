/**
 * Trains a new classification head on frozen [CLS] embeddings: the parent's tanh MLP
 * (logits = Wc tanh(Wp x + bp) + bc), warm-started from the parent's weights, by Adam on
 * mini-batches, minimising
 *
 *   sum_i w_i CE(x_i, y_i) / sum_i w_i  +  (l2sp / 2) |theta - theta_parent|^2  +  (l2 / 2) |W|^2
 *
 * L2-SP (the penalty toward the parent's weights, all head parameters) keeps the head close to
 * what the original domain needs; `l2` (toward zero, weight matrices only) is plain weight
 * decay. After every epoch the head is scored on a validation split; the best epoch (the
 * parent itself counts as epoch 0) is returned, and training stops after `patience` epochs
 * without improvement.
 *
 * `mode: 'linear'` trains the classifier layer only (logistic regression on the parent's
 * frozen tanh-pooler features): cheaper and more conservative, same graph.
 *
 * Deterministic: the validation split and the batch order come from mulberry32(seed), and all
 * arithmetic is in Float64 in a fixed order, so a seed gives the same head bit for bit.
 * No dependencies and no threads: 20,000 x 128 examples train in seconds on one core.
 */
import { AppError, mulberry32, sampleWithoutReplacement, shuffleInPlace } from '#platform/common';
import { type ClassificationMetrics, classificationMetrics } from '#domain/model';
import { type TanhHead, validateHead } from './onnx-head.ts';

/** Embeddings (row-major, rows = y.length) with class labels and optional row weights. */
export interface LabelledEmbeddings {
  readonly x: Float32Array | Float64Array;
  readonly dim: number;
  /** Class index per row. */
  readonly y: ArrayLike<number>;
  /** Weight per row in the loss (default 1), e.g. to weigh reference rows against recent ones. */
  readonly weights?: ArrayLike<number>;
}

export type HeadMode = 'mlp' | 'linear';

export interface HeadTrainingOptions {
  /** Seed of the validation split and the batch order. Default 1. */
  readonly seed?: number;
  /** 'mlp' trains pooler and classifier; 'linear' the classifier only. Default 'mlp'. */
  readonly mode?: HeadMode;
  /** Adam step size. Default 1e-3. */
  readonly learningRate?: number;
  /** Rows per Adam step. Default 64. */
  readonly batchSize?: number;
  /** Most epochs. Default 20 (about 20 s for 20,000 rows on one core). */
  readonly maxEpochs?: number;
  /** Stop after this many epochs without a validation improvement. Default 5. */
  readonly patience?: number;
  /** Smallest change that counts as an improvement. Default 1e-4. */
  readonly minDelta?: number;
  /** Validation figure that picks the epoch: weighted cross-entropy or F1. Default 'loss'. */
  readonly monitor?: 'loss' | 'f1';
  /** Penalty toward the parent's parameters (L2-SP). Default DEFAULT_L2SP. */
  readonly l2sp?: number;
  /** Penalty toward zero on the weight matrices. Default 0. */
  readonly l2?: number;
  /** Validation rows; when absent a stratified `validationFraction` of `data` is held out. */
  readonly validation?: LabelledEmbeddings;
  /** Share of `data` held out for validation when `validation` is absent. Default 0.1. */
  readonly validationFraction?: number;
  /**
   * Stop (keeping the best epoch so far) once an epoch ends after this many seconds. A safety
   * net for a busy machine; when it triggers, the result depends on the machine's speed.
   * Default none.
   */
  readonly maxSeconds?: number;
  /** Called after every epoch (epoch 0: the parent, before any step). */
  readonly onProgress?: (progress: HeadTrainingProgress) => void;
}

export interface HeadTrainingProgress {
  readonly epoch: number;
  readonly maxEpochs: number;
  /** Mean weighted cross-entropy over the epoch's batches (NaN for epoch 0). */
  readonly trainLoss: number;
  readonly valLoss: number;
  readonly valF1: number;
  readonly valAccuracy: number;
  /** This epoch is the best so far. */
  readonly improved: boolean;
  readonly seconds: number;
}

export interface ValidationFigures extends ClassificationMetrics {
  /** Weighted mean cross-entropy. */
  readonly loss: number;
}

/** JSON-safe description of a training run (for model cards and logs). */
export interface HeadTrainingSummary {
  readonly mode: HeadMode;
  readonly seed: number;
  readonly trainRows: number;
  readonly validationRows: number;
  readonly epochs: number;
  readonly bestEpoch: number;
  readonly stoppedEarly: boolean;
  readonly stoppedBy: 'patience' | 'max_epochs' | 'time';
  readonly learningRate: number;
  readonly batchSize: number;
  readonly maxEpochs: number;
  readonly patience: number;
  readonly monitor: 'loss' | 'f1';
  readonly l2sp: number;
  readonly l2: number;
  /** The parent head on the validation rows. */
  readonly parentValidation: ValidationFigures;
  /** The returned head on the validation rows. */
  readonly validation: ValidationFigures;
  readonly seconds: number;
}

export interface HeadTrainingResult {
  readonly head: TanhHead;
  readonly summary: HeadTrainingSummary;
  readonly history: readonly HeadTrainingProgress[];
}

/** Default L2-SP strength (docs/retraining.md: chosen on validation data). */
export const DEFAULT_L2SP = 1e-2;

/** Bad training data or options. */
export class HeadTrainingError extends AppError {
  constructor(message: string) {
    super('HEAD_TRAINING_INVALID', message);
  }
}

/* ------------------------------------------------------------------ parameters, flat */

interface Layout {
  readonly d: number;
  readonly h: number;
  readonly k: number;
  readonly wp: number;
  readonly bp: number;
  readonly wc: number;
  readonly bc: number;
  readonly size: number;
}

function layoutOf(head: TanhHead): Layout {
  const d = head.inputDim;
  const h = head.hiddenDim;
  const k = head.classes;
  const wp = 0;
  const bp = h * d;
  const wc = bp + h;
  const bc = wc + k * h;
  return { d, h, k, wp, bp, wc, bc, size: bc + k };
}

function flatten(head: TanhHead, layout: Layout): Float64Array {
  const theta = new Float64Array(layout.size);
  theta.set(head.poolerWeight, layout.wp);
  theta.set(head.poolerBias, layout.bp);
  theta.set(head.classifierWeight, layout.wc);
  theta.set(head.classifierBias, layout.bc);
  return theta;
}

function unflatten(theta: Float64Array, layout: Layout): TanhHead {
  return {
    inputDim: layout.d,
    hiddenDim: layout.h,
    classes: layout.k,
    poolerWeight: theta.slice(layout.wp, layout.bp),
    poolerBias: theta.slice(layout.bp, layout.wc),
    classifierWeight: theta.slice(layout.wc, layout.bc),
    classifierBias: theta.slice(layout.bc, layout.size),
  };
}

/* ------------------------------------------------------------------ forward / backward */

/** Scratch space of one row's forward/backward pass. */
interface Scratch {
  readonly a: Float64Array;
  readonly s: Float64Array;
  readonly da: Float64Array;
}

function scratchFor(layout: Layout): Scratch {
  return {
    a: new Float64Array(layout.h),
    s: new Float64Array(layout.k),
    da: new Float64Array(layout.h),
  };
}

/**
 * tanh pooler of one row into scratch.a. `x` row at `offset`.
 */
function pool(
  theta: Float64Array,
  L: Layout,
  x: Float32Array | Float64Array,
  offset: number,
  a: Float64Array,
): void {
  const { d, h, bp } = L;
  for (let o = 0; o < h; o++) {
    const row = o * d;
    // Four accumulators: about twice as fast in V8 as one (independent additions).
    let z0 = 0;
    let z1 = 0;
    let z2 = 0;
    let z3 = 0;
    let j = 0;
    for (; j + 3 < d; j += 4) {
      z0 += theta[row + j]! * x[offset + j]!;
      z1 += theta[row + j + 1]! * x[offset + j + 1]!;
      z2 += theta[row + j + 2]! * x[offset + j + 2]!;
      z3 += theta[row + j + 3]! * x[offset + j + 3]!;
    }
    for (; j < d; j++) z0 += theta[row + j]! * x[offset + j]!;
    a[o] = Math.tanh(theta[bp + o]! + (z0 + z1 + (z2 + z3)));
  }
}

/** Classifier scores of pooled features `a` (at `aOffset`) into s; returns log-sum-exp. */
function classify(
  theta: Float64Array,
  L: Layout,
  a: Float64Array,
  aOffset: number,
  s: Float64Array,
): number {
  const { h, k, wc, bc } = L;
  let max = -Infinity;
  for (let c = 0; c < k; c++) {
    let v = theta[bc + c]!;
    const row = wc + c * h;
    for (let o = 0; o < h; o++) v += theta[row + o]! * a[aOffset + o]!;
    s[c] = v;
    if (v > max) max = v;
  }
  let sum = 0;
  for (let c = 0; c < k; c++) sum += Math.exp(s[c]! - max);
  return max + Math.log(sum);
}

interface Batch {
  /** Sum of w_i CE_i. */
  loss: number;
  /** Sum of w_i. */
  weight: number;
}

/**
 * Adds the gradient of sum_i w_i CE_i over rows `indices[start, end)` into `grad`.
 * `pooled` (rows x h), when given, holds precomputed pooler outputs: only the classifier
 * gradient is computed (linear mode).
 */
function accumulate(
  theta: Float64Array,
  L: Layout,
  data: LabelledEmbeddings,
  indices: ArrayLike<number>,
  start: number,
  end: number,
  grad: Float64Array,
  scratch: Scratch,
  pooled?: Float64Array,
): Batch {
  const { d, h, k, bp, wc, bc } = L;
  const { x, y, weights } = data;
  const { s, da } = scratch;
  let loss = 0;
  let weight = 0;
  for (let n = start; n < end; n++) {
    const r = indices[n]!;
    const w = weights ? weights[r]! : 1;
    if (w === 0) continue;
    const xOffset = r * d;
    let a: Float64Array;
    let aOffset: number;
    if (pooled) {
      a = pooled;
      aOffset = r * h;
    } else {
      a = scratch.a;
      aOffset = 0;
      pool(theta, L, x, xOffset, a);
    }
    const lse = classify(theta, L, a, aOffset, s);
    const label = y[r]!;
    loss += w * (lse - s[label]!);
    weight += w;
    if (!pooled) da.fill(0);
    for (let c = 0; c < k; c++) {
      const ds = w * (Math.exp(s[c]! - lse) - (c === label ? 1 : 0));
      grad[bc + c]! += ds;
      const row = wc + c * h;
      for (let o = 0; o < h; o++) {
        grad[row + o]! += ds * a[aOffset + o]!;
        if (!pooled) da[o]! += ds * theta[row + o]!;
      }
    }
    if (pooled) continue;
    for (let o = 0; o < h; o++) {
      const ao = a[o]!;
      const dz = da[o]! * (1 - ao * ao);
      if (dz === 0) continue;
      grad[bp + o]! += dz;
      const row = o * d;
      let j = 0;
      for (; j + 3 < d; j += 4) {
        grad[row + j]! += dz * x[xOffset + j]!;
        grad[row + j + 1]! += dz * x[xOffset + j + 1]!;
        grad[row + j + 2]! += dz * x[xOffset + j + 2]!;
        grad[row + j + 3]! += dz * x[xOffset + j + 3]!;
      }
      for (; j < d; j++) grad[row + j]! += dz * x[xOffset + j]!;
    }
  }
  return { loss, weight };
}

/** Adds the penalties' value (returned) and gradient (into grad). */
function penalise(
  theta: Float64Array,
  anchor: Float64Array,
  L: Layout,
  l2sp: number,
  l2: number,
  grad: Float64Array,
  from: number,
): number {
  let value = 0;
  if (l2sp > 0) {
    for (let i = from; i < L.size; i++) {
      const diff = theta[i]! - anchor[i]!;
      value += 0.5 * l2sp * diff * diff;
      grad[i]! += l2sp * diff;
    }
  }
  if (l2 > 0) {
    const weightRanges: [number, number][] = [
      [L.wp, L.bp],
      [L.wc, L.bc],
    ];
    for (const [lo, hi] of weightRanges) {
      for (let i = Math.max(lo, from); i < hi; i++) {
        value += 0.5 * l2 * theta[i]! * theta[i]!;
        grad[i]! += l2 * theta[i]!;
      }
    }
  }
  return value;
}

function rowsOf(data: LabelledEmbeddings, head: TanhHead, what: string): number {
  const rows = data.y.length;
  const problems: string[] = [];
  if (data.dim !== head.inputDim) {
    problems.push(`${what} has dim ${data.dim}, the head expects ${head.inputDim}`);
  }
  if (data.x.length !== rows * data.dim) {
    problems.push(`${what}: ${data.x.length} values for ${rows} rows x ${data.dim}`);
  }
  if (data.weights && data.weights.length !== rows) {
    problems.push(`${what}: ${data.weights.length} weights for ${rows} rows`);
  }
  for (let r = 0; r < rows; r++) {
    const label = data.y[r]!;
    if (!Number.isInteger(label) || label < 0 || label >= head.classes) {
      problems.push(`${what} row ${r}: label ${label} is not in [0, ${head.classes})`);
      break;
    }
    const w = data.weights?.[r] ?? 1;
    if (!(w >= 0) || !Number.isFinite(w)) {
      problems.push(`${what} row ${r}: weight ${w} must be finite and >= 0`);
      break;
    }
  }
  for (let i = 0; i < data.x.length; i++) {
    if (!Number.isFinite(data.x[i]!)) {
      problems.push(`${what} row ${Math.floor(i / data.dim)} has a non-finite value`);
      break;
    }
  }
  if (problems.length > 0) {
    throw new HeadTrainingError(`invalid training data:\n  - ${problems.join('\n  - ')}`);
  }
  return rows;
}

/**
 * The objective (mean weighted cross-entropy over all rows of `data` plus penalties) and its
 * gradient, in head layout. Exported for gradient checks.
 */
export function headObjective(
  head: TanhHead,
  data: LabelledEmbeddings,
  regularisation: { readonly l2sp?: number; readonly l2?: number; readonly anchor?: TanhHead } = {},
): { loss: number; gradient: TanhHead } {
  validateHead(head);
  const L = layoutOf(head);
  const rows = rowsOf(data, head, 'data');
  const theta = flatten(head, L);
  const grad = new Float64Array(L.size);
  const indices = Int32Array.from({ length: rows }, (_, i) => i);
  const batch = accumulate(theta, L, data, indices, 0, rows, grad, scratchFor(L));
  const scale = batch.weight > 0 ? 1 / batch.weight : 0;
  for (let i = 0; i < L.size; i++) grad[i]! *= scale;
  const anchor = flatten(regularisation.anchor ?? head, L);
  const penalty = penalise(
    theta,
    anchor,
    L,
    regularisation.l2sp ?? 0,
    regularisation.l2 ?? 0,
    grad,
    0,
  );
  return { loss: batch.loss * scale + penalty, gradient: unflatten(grad, L) };
}

/** Logits (rows x classes, row-major) of the head on embeddings `x` (rows x inputDim). */
export function headLogits(head: TanhHead, x: Float32Array | Float64Array): Float64Array {
  const L = layoutOf(head);
  if (x.length % L.d !== 0) throw new HeadTrainingError(`${x.length} values is not rows x ${L.d}`);
  const rows = x.length / L.d;
  const theta = flatten(head, L);
  const scratch = scratchFor(L);
  const out = new Float64Array(rows * L.k);
  for (let r = 0; r < rows; r++) {
    pool(theta, L, x, r * L.d, scratch.a);
    classify(theta, L, scratch.a, 0, scratch.s);
    out.set(scratch.s, r * L.k);
  }
  return out;
}

/** Predicted class (argmax of the logits) per row. */
export function headPredict(head: TanhHead, x: Float32Array | Float64Array): Int32Array {
  const logits = headLogits(head, x);
  const k = head.classes;
  const out = new Int32Array(logits.length / k);
  for (let r = 0; r < out.length; r++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (logits[r * k + c]! > logits[r * k + best]!) best = c;
    out[r] = best;
  }
  return out;
}

function pooledFeatures(theta: Float64Array, L: Layout, data: LabelledEmbeddings): Float64Array {
  const rows = data.y.length;
  const out = new Float64Array(rows * L.h);
  const a = new Float64Array(L.h);
  for (let r = 0; r < rows; r++) {
    pool(theta, L, data.x, r * L.d, a);
    out.set(a, r * L.h);
  }
  return out;
}

function validationFigures(
  theta: Float64Array,
  L: Layout,
  data: LabelledEmbeddings,
  scratch: Scratch,
  pooled?: Float64Array,
): ValidationFigures {
  const rows = data.y.length;
  const predicted = new Array<number>(rows);
  let loss = 0;
  let weight = 0;
  for (let r = 0; r < rows; r++) {
    let a = scratch.a;
    let aOffset = 0;
    if (pooled) {
      a = pooled;
      aOffset = r * L.h;
    } else {
      pool(theta, L, data.x, r * L.d, a);
    }
    const lse = classify(theta, L, a, aOffset, scratch.s);
    const w = data.weights ? data.weights[r]! : 1;
    loss += w * (lse - scratch.s[data.y[r]!]!);
    weight += w;
    let best = 0;
    for (let c = 1; c < L.k; c++) if (scratch.s[c]! > scratch.s[best]!) best = c;
    predicted[r] = best;
  }
  const metrics = classificationMetrics(predicted, Array.from(data.y));
  return { ...metrics, loss: weight > 0 ? loss / weight : NaN };
}

/** Rows of `data` at `indices` (copied). */
export function selectLabelled(
  data: LabelledEmbeddings,
  indices: ArrayLike<number>,
): LabelledEmbeddings {
  const { dim } = data;
  const x = new Float32Array(indices.length * dim);
  const y = new Int32Array(indices.length);
  const weights = data.weights ? new Float64Array(indices.length) : undefined;
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i]!;
    x.set(data.x.subarray(r * dim, (r + 1) * dim), i * dim);
    y[i] = data.y[r]!;
    if (weights) weights[i] = data.weights![r]!;
  }
  return weights ? { x, dim, y, weights } : { x, dim, y };
}

/**
 * Splits row indices into train and validation, stratified by label (each class contributes
 * round(fraction x its rows), at least one when it has two or more). Both lists are sorted.
 */
export function stratifiedSplit(
  labels: ArrayLike<number>,
  fraction: number,
  seed: number,
): { train: Int32Array; validation: Int32Array } {
  if (!(fraction > 0 && fraction < 1)) {
    throw new HeadTrainingError(`validation fraction must be in (0, 1), got ${fraction}`);
  }
  const random = mulberry32(seed);
  const byClass = new Map<number, number[]>();
  for (let r = 0; r < labels.length; r++) {
    const members = byClass.get(labels[r]!) ?? [];
    members.push(r);
    byClass.set(labels[r]!, members);
  }
  const held = new Set<number>();
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const members = byClass.get(label)!;
    const take = members.length < 2 ? 0 : Math.max(1, Math.round(fraction * members.length));
    for (const r of sampleWithoutReplacement(random, members, take)) held.add(r);
  }
  const train: number[] = [];
  const validation: number[] = [];
  for (let r = 0; r < labels.length; r++) (held.has(r) ? validation : train).push(r);
  return { train: Int32Array.from(train), validation: Int32Array.from(validation) };
}

/** Trains a head of `parent`'s shape, warm-started from `parent`; see the module comment. */
export function trainHead(
  data: LabelledEmbeddings,
  parent: TanhHead,
  options: HeadTrainingOptions = {},
): HeadTrainingResult {
  const started = performance.now();
  validateHead(parent);
  const seed = options.seed ?? 1;
  const mode = options.mode ?? 'mlp';
  const learningRate = options.learningRate ?? 1e-3;
  const batchSize = options.batchSize ?? 64;
  const maxEpochs = options.maxEpochs ?? 20;
  const patience = options.patience ?? 5;
  const minDelta = options.minDelta ?? 1e-4;
  const monitor = options.monitor ?? 'loss';
  const l2sp = options.l2sp ?? DEFAULT_L2SP;
  const l2 = options.l2 ?? 0;
  const problems: string[] = [];
  if (!(learningRate > 0)) problems.push(`learningRate must be > 0`);
  if (!Number.isInteger(batchSize) || batchSize < 1) problems.push(`batchSize must be >= 1`);
  if (!Number.isInteger(maxEpochs) || maxEpochs < 0) problems.push(`maxEpochs must be >= 0`);
  if (!Number.isInteger(patience) || patience < 1) problems.push(`patience must be >= 1`);
  if (!(l2sp >= 0) || !(l2 >= 0)) problems.push(`l2sp and l2 must be >= 0`);
  if (problems.length > 0) {
    throw new HeadTrainingError(`invalid training options: ${problems.join('; ')}`);
  }
  rowsOf(data, parent, 'training data');
  let train: LabelledEmbeddings;
  let validation: LabelledEmbeddings;
  if (options.validation) {
    train = data;
    validation = options.validation;
    rowsOf(validation, parent, 'validation data');
  } else {
    const split = stratifiedSplit(data.y, options.validationFraction ?? 0.1, seed ^ 0x5eed);
    train = selectLabelled(data, split.train);
    validation = selectLabelled(data, split.validation);
  }
  const trainRows = train.y.length;
  if (trainRows === 0) throw new HeadTrainingError('no training rows');
  if (validation.y.length === 0) throw new HeadTrainingError('no validation rows');

  const L = layoutOf(parent);
  const anchor = flatten(parent, L);
  const theta = Float64Array.from(anchor);
  let best = Float64Array.from(anchor);
  // Linear mode: the pooler is frozen, so its features are computed once.
  const from = mode === 'linear' ? L.wc : 0;
  const trainPooled = mode === 'linear' ? pooledFeatures(theta, L, train) : undefined;
  const validationPooled = mode === 'linear' ? pooledFeatures(theta, L, validation) : undefined;
  const scratch = scratchFor(L);
  const grad = new Float64Array(L.size);
  const m = new Float64Array(L.size);
  const v = new Float64Array(L.size);
  const beta1 = 0.9;
  const beta2 = 0.999;
  const epsilon = 1e-8;
  let step = 0;
  const random = mulberry32(seed);
  const order = Int32Array.from({ length: trainRows }, (_, i) => i);
  const history: HeadTrainingProgress[] = [];
  const elapsed = () => (performance.now() - started) / 1000;

  const parentValidation = validationFigures(theta, L, validation, scratch, validationPooled);
  let bestFigures = parentValidation;
  let bestEpoch = 0;
  let sinceBest = 0;
  const report = (progress: HeadTrainingProgress) => {
    history.push(progress);
    options.onProgress?.(progress);
  };
  report({
    epoch: 0,
    maxEpochs,
    trainLoss: NaN,
    valLoss: parentValidation.loss,
    valF1: parentValidation.f1,
    valAccuracy: parentValidation.accuracy,
    improved: true,
    seconds: elapsed(),
  });
  let stoppedBy: HeadTrainingSummary['stoppedBy'] = 'max_epochs';
  let epoch = 0;
  while (epoch < maxEpochs) {
    epoch++;
    shuffleInPlace(order, random);
    let epochLoss = 0;
    let epochWeight = 0;
    for (let start = 0; start < trainRows; start += batchSize) {
      const end = Math.min(start + batchSize, trainRows);
      grad.fill(0, from);
      const batch = accumulate(theta, L, train, order, start, end, grad, scratch, trainPooled);
      if (batch.weight === 0) continue;
      epochLoss += batch.loss;
      epochWeight += batch.weight;
      const scale = 1 / batch.weight;
      for (let i = from; i < L.size; i++) grad[i]! *= scale;
      penalise(theta, anchor, L, l2sp, l2, grad, from);
      step++;
      const c1 = 1 - beta1 ** step;
      const c2 = 1 - beta2 ** step;
      for (let i = from; i < L.size; i++) {
        const g = grad[i]!;
        const mi = (m[i] = beta1 * m[i]! + (1 - beta1) * g);
        const vi = (v[i] = beta2 * v[i]! + (1 - beta2) * g * g);
        theta[i]! -= (learningRate * (mi / c1)) / (Math.sqrt(vi / c2) + epsilon);
      }
    }
    const figures = validationFigures(theta, L, validation, scratch, validationPooled);
    const improved =
      monitor === 'loss'
        ? figures.loss < bestFigures.loss - minDelta
        : figures.f1 > bestFigures.f1 + minDelta;
    if (improved) {
      best = Float64Array.from(theta);
      bestFigures = figures;
      bestEpoch = epoch;
      sinceBest = 0;
    } else {
      sinceBest++;
    }
    report({
      epoch,
      maxEpochs,
      trainLoss: epochWeight > 0 ? epochLoss / epochWeight : NaN,
      valLoss: figures.loss,
      valF1: figures.f1,
      valAccuracy: figures.accuracy,
      improved,
      seconds: elapsed(),
    });
    if (sinceBest >= patience) {
      stoppedBy = 'patience';
      break;
    }
    if (options.maxSeconds !== undefined && elapsed() >= options.maxSeconds) {
      stoppedBy = 'time';
      break;
    }
  }
  const head = unflatten(best, L);
  return {
    head,
    history,
    summary: {
      mode,
      seed,
      trainRows,
      validationRows: validation.y.length,
      epochs: epoch,
      bestEpoch,
      stoppedEarly: stoppedBy !== 'max_epochs',
      stoppedBy,
      learningRate,
      batchSize,
      maxEpochs,
      patience,
      monitor,
      l2sp,
      l2,
      parentValidation,
      validation: bestFigures,
      seconds: elapsed(),
    },
  };
}
