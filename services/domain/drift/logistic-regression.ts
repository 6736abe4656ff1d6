/**
 * L2-regularised binary logistic regression, fitted by L-BFGS (deterministic: no randomness,
 * Float64 throughout). Minimises
 *
 *   f(w, b) = (1/n) sum_i [ log(1 + exp(s_i)) - y_i s_i ] + (l2 / 2) |w|^2,   s_i = w.x_i + b
 *
 * (the intercept b is not penalised). The problem is strictly convex for l2 > 0, so the
 * minimiser is unique and "converged" means the gradient's largest component is below the
 * tolerance.
 */

export interface LogisticRegressionOptions {
  /** L2 penalty on the weights (not the intercept). Default 1e-2. */
  readonly l2?: number;
  /** Most L-BFGS iterations. Default 200. */
  readonly maxIterations?: number;
  /** Stop when max |gradient component| is below this. Default 1e-4 (ample for ranking). */
  readonly tolerance?: number;
  /** L-BFGS memory (correction pairs kept). Default 8. */
  readonly memory?: number;
}

export interface LogisticModel {
  readonly weights: Float64Array;
  readonly intercept: number;
  /** Objective value at the solution. */
  readonly loss: number;
  readonly iterations: number;
  readonly converged: boolean;
}

export const DEFAULT_L2 = 1e-2;

/**
 * Objective and gradient at theta = [w_0 .. w_{d-1}, b]; writes the gradient into `grad`.
 * Exported for tests (the gradient must vanish at the fitted model).
 */
export function logisticObjective(
  theta: Float64Array,
  x: ArrayLike<number>,
  rows: number,
  dim: number,
  y: ArrayLike<number>,
  l2: number,
  grad: Float64Array,
): number {
  grad.fill(0);
  const b = theta[dim]!;
  let loss = 0;
  for (let i = 0; i < rows; i++) {
    const offset = i * dim;
    let s = b;
    for (let j = 0; j < dim; j++) s += theta[j]! * x[offset + j]!;
    const yi = y[i]!;
    // One exp per row: softplus(s) = max(s, 0) + log1p(e), sigmoid(s) from the same e.
    const e = Math.exp(-Math.abs(s));
    loss += (s > 0 ? s : 0) + Math.log1p(e) - yi * s;
    const r = (s >= 0 ? 1 / (1 + e) : e / (1 + e)) - yi;
    for (let j = 0; j < dim; j++) grad[j]! += r * x[offset + j]!;
    grad[dim]! += r;
  }
  let penalty = 0;
  for (let j = 0; j <= dim; j++) grad[j]! /= rows;
  for (let j = 0; j < dim; j++) {
    penalty += theta[j]! * theta[j]!;
    grad[j]! += l2 * theta[j]!;
  }
  return loss / rows + 0.5 * l2 * penalty;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/**
 * Fits the model on `rows` x `dim` features (row-major) and 0/1 labels. `initial` (weights
 * then intercept, length dim + 1) warm-starts the solver, e.g. from a neighbouring CV fold.
 */
export function fitLogisticRegression(
  x: ArrayLike<number>,
  rows: number,
  dim: number,
  y: ArrayLike<number>,
  options: LogisticRegressionOptions = {},
  initial?: Float64Array,
): LogisticModel {
  const l2 = options.l2 ?? DEFAULT_L2;
  const maxIterations = options.maxIterations ?? 200;
  const tolerance = options.tolerance ?? 1e-4;
  const memory = options.memory ?? 8;
  if (rows === 0) throw new RangeError('no rows to fit');
  const n = dim + 1;
  let theta = initial ? Float64Array.from(initial) : new Float64Array(n);
  let grad = new Float64Array(n);
  let f = logisticObjective(theta, x, rows, dim, y, l2, grad);
  const sList: Float64Array[] = [];
  const yList: Float64Array[] = [];
  const rhoList: number[] = [];
  const alpha = new Float64Array(memory);
  const direction = new Float64Array(n);
  let nextTheta = new Float64Array(n);
  let nextGrad = new Float64Array(n);
  let iterations = 0;
  let converged = maxAbs(grad) < tolerance;
  while (!converged && iterations < maxIterations) {
    iterations++;
    // Two-loop recursion: direction = -H g.
    direction.set(grad);
    for (let i = sList.length - 1; i >= 0; i--) {
      alpha[i] = rhoList[i]! * dot(sList[i]!, direction);
      const yi = yList[i]!;
      for (let j = 0; j < n; j++) direction[j]! -= alpha[i]! * yi[j]!;
    }
    const last = sList.length - 1;
    const gamma =
      last >= 0
        ? dot(sList[last]!, yList[last]!) / dot(yList[last]!, yList[last]!)
        : 1 / Math.max(1, Math.sqrt(dot(grad, grad)));
    for (let j = 0; j < n; j++) direction[j]! *= gamma;
    for (let i = 0; i < sList.length; i++) {
      const beta = rhoList[i]! * dot(yList[i]!, direction);
      const si = sList[i]!;
      for (let j = 0; j < n; j++) direction[j]! += si[j]! * (alpha[i]! - beta);
    }
    for (let j = 0; j < n; j++) direction[j] = -direction[j]!;
    let slope = dot(grad, direction);
    if (!(slope < 0)) {
      // Not a descent direction (numerical trouble): forget the history, go downhill.
      sList.length = yList.length = rhoList.length = 0;
      for (let j = 0; j < n; j++) direction[j] = -grad[j]!;
      slope = -dot(grad, grad);
    }
    // Backtracking line search (Armijo).
    let step = 1;
    let nextF = Infinity;
    for (let attempt = 0; attempt < 50; attempt++) {
      for (let j = 0; j < n; j++) nextTheta[j] = theta[j]! + step * direction[j]!;
      nextF = logisticObjective(nextTheta, x, rows, dim, y, l2, nextGrad);
      if (nextF <= f + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    if (!(nextF <= f)) break; // no progress possible at double precision
    const s = new Float64Array(n);
    const yv = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      s[j] = nextTheta[j]! - theta[j]!;
      yv[j] = nextGrad[j]! - grad[j]!;
    }
    const sy = dot(s, yv);
    if (sy > 1e-12) {
      if (sList.length === memory) {
        sList.shift();
        yList.shift();
        rhoList.shift();
      }
      sList.push(s);
      yList.push(yv);
      rhoList.push(1 / sy);
    }
    const improvement = f - nextF;
    [theta, nextTheta] = [nextTheta, theta];
    [grad, nextGrad] = [nextGrad, grad];
    f = nextF;
    converged = maxAbs(grad) < tolerance;
    if (!converged && improvement <= 1e-15 * Math.max(1, Math.abs(f))) break;
  }
  return {
    weights: theta.slice(0, dim),
    intercept: theta[dim]!,
    loss: f,
    iterations,
    converged,
  };
}

/** Linear scores w.x_i + b of `rows` rows (rank-equivalent to the probabilities). */
export function logisticScores(
  model: Pick<LogisticModel, 'weights' | 'intercept'>,
  x: ArrayLike<number>,
  rows: number,
  dim: number,
): Float64Array {
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = model.intercept;
    for (let j = 0; j < dim; j++) s += model.weights[j]! * x[i * dim + j]!;
    out[i] = s;
  }
  return out;
}
