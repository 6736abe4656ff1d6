/**
 * The classification head on the frozen encoder's [CLS] embedding, as the bootstrap graph
 * has it: logits = C · tanh(P · x + bp) + bc (P: hidden x dim, C: classes x hidden, both
 * row-major [out][in], as the ONNX Gemm nodes with transB = 1 store them).
 *
 * Training (pure, deterministic for a seed): warm start from the parent's head; softmax
 * cross-entropy; Adam on mini-batches; an L2 penalty toward the parent's weights (L2-SP), so
 * the new head moves only as far as the new data asks and keeps what the golden set needs;
 * early stopping on a seeded validation split (the weights of the best validation epoch).
 */
import { mulberry32, shuffleInPlace } from '#shared/drift';

export interface Head {
  readonly dim: number;
  readonly hidden: number;
  readonly classes: number;
  readonly P: Float64Array;
  readonly bp: Float64Array;
  readonly C: Float64Array;
  readonly bc: Float64Array;
}

export interface LabelledMatrix {
  /** rows x dim, row-major. */
  readonly x: Float32Array;
  readonly y: Int32Array;
}

export interface HeadTrainingOptions {
  readonly seed: number;
  readonly maxEpochs?: number;
  readonly batchSize?: number;
  readonly learningRate?: number;
  /** Strength of the L2 penalty toward the parent's weights. */
  readonly l2sp?: number;
  readonly patience?: number;
  readonly validationFraction?: number;
  readonly onEpoch?: (epoch: number, maxEpochs: number, trainLoss: number, valLoss: number) => void;
}

export interface HeadTrainingResult {
  readonly head: Head;
  readonly epochs: number;
  readonly bestEpoch: number;
  readonly trainLoss: number;
  readonly valLoss: number;
  readonly valAccuracy: number;
}

export function cloneHead(head: Head): Head {
  return {
    ...head,
    P: Float64Array.from(head.P),
    bp: Float64Array.from(head.bp),
    C: Float64Array.from(head.C),
    bc: Float64Array.from(head.bc),
  };
}

/** Logits of one embedding; `hiddenOut` receives tanh(P x + bp) when given. */
export function headLogits(
  head: Head,
  x: ArrayLike<number>,
  offset = 0,
  hiddenOut?: Float64Array,
): Float64Array {
  const { dim, hidden, classes, P, bp, C, bc } = head;
  const h = hiddenOut ?? new Float64Array(hidden);
  for (let i = 0; i < hidden; i++) {
    let z = bp[i]!;
    const row = i * dim;
    for (let j = 0; j < dim; j++) z += P[row + j]! * x[offset + j]!;
    h[i] = Math.tanh(z);
  }
  const logits = new Float64Array(classes);
  for (let k = 0; k < classes; k++) {
    let z = bc[k]!;
    const row = k * hidden;
    for (let i = 0; i < hidden; i++) z += C[row + i]! * h[i]!;
    logits[k] = z;
  }
  return logits;
}

function softmaxInPlace(logits: Float64Array): Float64Array {
  let max = -Infinity;
  for (const value of logits) max = Math.max(max, value);
  let sum = 0;
  for (let k = 0; k < logits.length; k++) sum += logits[k] = Math.exp(logits[k]! - max);
  for (let k = 0; k < logits.length; k++) logits[k]! /= sum;
  return logits;
}

/** Mean cross-entropy and accuracy of the head on rows `indices`. */
export function headLoss(
  head: Head,
  data: LabelledMatrix,
  indices: ArrayLike<number>,
): { loss: number; accuracy: number } {
  let loss = 0;
  let correct = 0;
  for (let n = 0; n < indices.length; n++) {
    const r = indices[n]!;
    const p = softmaxInPlace(headLogits(head, data.x, r * head.dim));
    const y = data.y[r]!;
    loss -= Math.log(Math.max(p[y]!, 1e-12));
    if (p.indexOf(Math.max(...p)) === y) correct++;
  }
  return {
    loss: loss / Math.max(indices.length, 1),
    accuracy: correct / Math.max(indices.length, 1),
  };
}

/** Gradient of the mean cross-entropy over `batch` (no penalty), into `grad` (zeroed here). */
export function headGradient(
  head: Head,
  data: LabelledMatrix,
  batch: ArrayLike<number>,
  grad: Head,
): void {
  const { dim, hidden, classes } = head;
  for (const array of [grad.P, grad.bp, grad.C, grad.bc]) array.fill(0);
  const h = new Float64Array(hidden);
  const dh = new Float64Array(hidden);
  const scale = 1 / batch.length;
  for (let n = 0; n < batch.length; n++) {
    const r = batch[n]!;
    const offset = r * dim;
    const p = softmaxInPlace(headLogits(head, data.x, offset, h));
    p[data.y[r]!]! -= 1; // d loss / d logits
    dh.fill(0);
    for (let k = 0; k < classes; k++) {
      const g = p[k]! * scale;
      grad.bc[k]! += g;
      const row = k * hidden;
      for (let i = 0; i < hidden; i++) {
        grad.C[row + i]! += g * h[i]!;
        dh[i]! += g * head.C[row + i]!;
      }
    }
    for (let i = 0; i < hidden; i++) {
      const dz = dh[i]! * (1 - h[i]! * h[i]!);
      if (dz === 0) continue;
      grad.bp[i]! += dz;
      const row = i * dim;
      for (let j = 0; j < dim; j++) grad.P[row + j]! += dz * data.x[offset + j]!;
    }
  }
}

export function trainHead(
  parent: Head,
  data: LabelledMatrix,
  options: HeadTrainingOptions,
): HeadTrainingResult {
  const maxEpochs = options.maxEpochs ?? 12;
  const batchSize = options.batchSize ?? 64;
  const learningRate = options.learningRate ?? 1e-3;
  const l2sp = options.l2sp ?? 1e-3;
  const patience = options.patience ?? 3;
  const random = mulberry32(options.seed);
  const rows = data.y.length;
  const order = Int32Array.from({ length: rows }, (_, i) => i);
  shuffleInPlace(order, random);
  const validationSize = Math.max(1, Math.round(rows * (options.validationFraction ?? 0.1)));
  const validation = order.subarray(0, validationSize);
  const training = Int32Array.from(order.subarray(validationSize));

  const head = cloneHead(parent);
  const grad = cloneHead(parent);
  const params = [head.P, head.bp, head.C, head.bc];
  const anchors = [parent.P, parent.bp, parent.C, parent.bc];
  const grads = [grad.P, grad.bp, grad.C, grad.bc];
  const m = params.map((p) => new Float64Array(p.length));
  const v = params.map((p) => new Float64Array(p.length));
  const [beta1, beta2, epsilon] = [0.9, 0.999, 1e-8];
  let step = 0;

  let best = { ...headLoss(head, data, validation), epoch: 0, head: cloneHead(head) };
  let trainLoss = headLoss(head, data, training).loss;
  let epoch = 0;
  let sinceBest = 0;
  while (epoch < maxEpochs && sinceBest < patience) {
    epoch++;
    shuffleInPlace(training, random);
    for (let start = 0; start < training.length; start += batchSize) {
      const batch = training.subarray(start, start + batchSize);
      headGradient(head, data, batch, grad);
      step++;
      const correction1 = 1 - beta1 ** step;
      const correction2 = 1 - beta2 ** step;
      params.forEach((param, t) => {
        const g = grads[t]!;
        const anchor = anchors[t]!;
        const mt = m[t]!;
        const vt = v[t]!;
        for (let i = 0; i < param.length; i++) {
          const gi = g[i]! + l2sp * (param[i]! - anchor[i]!);
          mt[i] = beta1 * mt[i]! + (1 - beta1) * gi;
          vt[i] = beta2 * vt[i]! + (1 - beta2) * gi * gi;
          param[i]! -=
            (learningRate * (mt[i]! / correction1)) / (Math.sqrt(vt[i]! / correction2) + epsilon);
        }
      });
    }
    trainLoss = headLoss(head, data, training).loss;
    const val = headLoss(head, data, validation);
    options.onEpoch?.(epoch, maxEpochs, trainLoss, val.loss);
    if (val.loss < best.loss - 1e-6) {
      best = { ...val, epoch, head: cloneHead(head) };
      sinceBest = 0;
    } else {
      sinceBest++;
    }
  }
  return {
    head: best.head,
    epochs: epoch,
    bestEpoch: best.epoch,
    trainLoss,
    valLoss: best.loss,
    valAccuracy: best.accuracy,
  };
}
