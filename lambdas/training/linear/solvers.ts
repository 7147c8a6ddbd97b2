/**
 * Exact solvers for L2-penalized linear models on a design matrix Z (row-major n × m whose last
 * column is the constant 1 of the intercept, which is never penalized). Objectives are per row:
 *
 *   ridge:     (1/2n) Σ (yᵢ − zᵢ·w)²           + (λ/2)‖w₀..ₘ₋₂‖²   normal equations, Cholesky
 *   logistic:  (1/n)  Σ log(1+e^{zᵢ·w}) − yᵢ zᵢ·w + (λ/2)‖w₀..ₘ₋₂‖²   Newton (IRLS), backtracking
 *   softmax:   (1/n)  Σ logsumexp(Wzᵢ) − (Wzᵢ)_yᵢ + (λ/2)‖W without intercepts‖²   Newton
 *
 * scikit-learn's C is 1/(nλ) and Ridge's alpha is nλ. Newton stops when the largest gradient entry is
 * at most `gradientTolerance` × max(1, its value at the start).
 */
import { ValidationError } from '../../shared/errors.js';
import { addGram, choleskySolve, symmetrize } from './linalg.js';

export interface SolverOptions {
  /** L2 penalty λ on the coefficients (not the intercept). */
  readonly l2: number;
  /** @default 1e-10 */
  readonly gradientTolerance?: number;
  /** @default 100 */
  readonly maxIterations?: number;
}

export interface SolverResult {
  /** Parameters, row-major K × m (K = 1 for ridge and binary logistic); the last of each row is the intercept. */
  readonly w: Float64Array;
  readonly iterations: number;
  /** Largest gradient entry at the end. */
  readonly gradientNorm: number;
  readonly converged: boolean;
}

const notPositiveDefinite = () =>
  new ValidationError(
    'params.l2',
    'the features are collinear or constant, so the problem has no unique solution: use l2 > 0',
  );

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] as number));
  return m;
}

/** Ridge regression, exact. */
export function fitRidge(
  z: Float64Array,
  y: Float64Array,
  n: number,
  m: number,
  options: SolverOptions,
): SolverResult {
  const a = new Float64Array(m * m);
  addGram(a, z, n, m, null, 1 / n);
  symmetrize(a, m);
  for (let j = 0; j < m - 1; j++) a[j * m + j] = (a[j * m + j] as number) + options.l2;
  const b = new Float64Array(m);
  for (let i = 0; i < n; i++) {
    const yi = (y[i] as number) / n;
    for (let j = 0; j < m; j++) b[j] = (b[j] as number) + yi * (z[i * m + j] as number);
  }
  const w = choleskySolve(a, b, m);
  if (w === null) throw notPositiveDefinite();
  return { w, iterations: 1, gradientNorm: 0, converged: true };
}

const softplus = (t: number) => (t > 0 ? t + Math.log1p(Math.exp(-t)) : Math.log1p(Math.exp(t)));
const sigmoid = (t: number) => (t >= 0 ? 1 / (1 + Math.exp(-t)) : Math.exp(t) / (1 + Math.exp(t)));

function penalty(w: Float64Array, k: number, m: number, l2: number): number {
  let s = 0;
  for (let c = 0; c < k; c++) for (let j = 0; j < m - 1; j++) s += (w[c * m + j] as number) ** 2;
  return 0.5 * l2 * s;
}

/** Binary logistic regression (y ∈ {0, 1}) by Newton's method with a backtracking line search. */
export function fitLogistic(
  z: Float64Array,
  y: Int32Array,
  n: number,
  m: number,
  options: SolverOptions,
): SolverResult {
  const { l2 } = options;
  const tol = options.gradientTolerance ?? 1e-10;
  const maxIter = options.maxIterations ?? 100;
  let w: Float64Array = new Float64Array(m);
  const eta = new Float64Array(n);
  const weights = new Float64Array(n);
  const g = new Float64Array(m);

  const linear = (params: Float64Array, out: Float64Array) => {
    for (let i = 0; i < n; i++) {
      let s = 0;
      const base = i * m;
      for (let j = 0; j < m; j++) s += (z[base + j] as number) * (params[j] as number);
      out[i] = s;
    }
  };
  const objective = (params: Float64Array, etaOut: Float64Array) => {
    linear(params, etaOut);
    let s = 0;
    for (let i = 0; i < n; i++) s += softplus(etaOut[i] as number) - (y[i] as number) * (etaOut[i] as number);
    return s / n + penalty(params, 1, m, l2);
  };

  let f = objective(w, eta);
  let g0 = -1;
  let gnorm = Number.POSITIVE_INFINITY;
  let iter = 0;
  for (; iter <= maxIter; iter++) {
    g.fill(0);
    for (let i = 0; i < n; i++) {
      const p = sigmoid(eta[i] as number);
      const r = (p - (y[i] as number)) / n;
      weights[i] = p * (1 - p);
      const base = i * m;
      for (let j = 0; j < m; j++) g[j] = (g[j] as number) + r * (z[base + j] as number);
    }
    for (let j = 0; j < m - 1; j++) g[j] = (g[j] as number) + l2 * (w[j] as number);
    gnorm = maxAbs(g);
    if (g0 < 0) g0 = Math.max(1, gnorm);
    if (gnorm <= tol * g0 || iter === maxIter) break;
    const h = new Float64Array(m * m);
    addGram(h, z, n, m, weights, 1 / n);
    symmetrize(h, m);
    for (let j = 0; j < m - 1; j++) h[j * m + j] = (h[j * m + j] as number) + l2;
    const d = choleskySolve(h, g, m);
    if (d === null) throw notPositiveDefinite();
    const next = lineSearch(w, d, g, f, objective, eta);
    w = next.w;
    f = next.f;
  }
  return { w, iterations: iter, gradientNorm: gnorm, converged: gnorm <= tol * g0 };
}

/** Backtracking (Armijo) along −d; leaves the accepted point's linear predictor in `eta`. */
function lineSearch(
  w: Float64Array,
  d: Float64Array,
  g: Float64Array,
  f: number,
  objective: (params: Float64Array, etaOut: Float64Array) => number,
  eta: Float64Array,
): { w: Float64Array; f: number } {
  let slope = 0;
  for (let j = 0; j < w.length; j++) slope += (g[j] as number) * (d[j] as number);
  const trial = new Float64Array(w.length);
  let t = 1;
  for (let k = 0; k < 60; k++, t /= 2) {
    for (let j = 0; j < w.length; j++) trial[j] = (w[j] as number) - t * (d[j] as number);
    const ft = objective(trial, eta);
    // The relative slack lets the last steps (changes below rounding of f) through.
    if (ft <= f - 1e-4 * t * slope + 1e-15 * Math.abs(f)) return { w: trial, f: ft };
  }
  objective(w, eta);
  return { w, f };
}

/** Multinomial logistic regression (y ∈ {0 … K−1}) by Newton's method; intercepts sum to zero. */
export function fitSoftmax(
  z: Float64Array,
  y: Int32Array,
  n: number,
  m: number,
  k: number,
  options: SolverOptions,
): SolverResult {
  const { l2 } = options;
  const tol = options.gradientTolerance ?? 1e-10;
  const maxIter = options.maxIterations ?? 100;
  const size = k * m;
  let w: Float64Array = new Float64Array(size);
  const eta = new Float64Array(n * k);
  const p = new Float64Array(n * k);
  const g = new Float64Array(size);

  const objective = (params: Float64Array, etaOut: Float64Array) => {
    let s = 0;
    for (let i = 0; i < n; i++) {
      const base = i * m;
      let max = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < k; c++) {
        let v = 0;
        for (let j = 0; j < m; j++) v += (z[base + j] as number) * (params[c * m + j] as number);
        etaOut[i * k + c] = v;
        if (v > max) max = v;
      }
      let sum = 0;
      for (let c = 0; c < k; c++) sum += Math.exp((etaOut[i * k + c] as number) - max);
      s += max + Math.log(sum) - (etaOut[i * k + (y[i] as number)] as number);
    }
    return s / n + penalty(params, k, m, l2);
  };

  let f = objective(w, eta);
  let g0 = -1;
  let gnorm = Number.POSITIVE_INFINITY;
  let iter = 0;
  for (; iter <= maxIter; iter++) {
    g.fill(0);
    for (let i = 0; i < n; i++) {
      let max = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < k; c++) max = Math.max(max, eta[i * k + c] as number);
      let sum = 0;
      for (let c = 0; c < k; c++) {
        const e = Math.exp((eta[i * k + c] as number) - max);
        p[i * k + c] = e;
        sum += e;
      }
      const base = i * m;
      for (let c = 0; c < k; c++) {
        const pc = (p[i * k + c] as number) / sum;
        p[i * k + c] = pc;
        const r = (pc - (y[i] === c ? 1 : 0)) / n;
        for (let j = 0; j < m; j++) g[c * m + j] = (g[c * m + j] as number) + r * (z[base + j] as number);
      }
    }
    for (let c = 0; c < k; c++)
      for (let j = 0; j < m - 1; j++) g[c * m + j] = (g[c * m + j] as number) + l2 * (w[c * m + j] as number);
    gnorm = maxAbs(g);
    if (g0 < 0) g0 = Math.max(1, gnorm);
    if (gnorm <= tol * g0 || iter === maxIter) break;
    const h = softmaxHessian(z, p, n, m, k, l2);
    const d = choleskySolve(h, g, size);
    if (d === null) throw notPositiveDefinite();
    const next = lineSearch(w, d, g, f, objective, eta);
    w = next.w;
    f = next.f;
  }
  // The intercepts are free up to a common shift (the probabilities do not change): center them.
  let mean = 0;
  for (let c = 0; c < k; c++) mean += (w[c * m + m - 1] as number) / k;
  for (let c = 0; c < k; c++) w[c * m + m - 1] = (w[c * m + m - 1] as number) - mean;
  return { w, iterations: iter, gradientNorm: gnorm, converged: gnorm <= tol * g0 };
}

/**
 * (1/n) Σᵢ (diag(pᵢ) − pᵢpᵢᵀ) ⊗ zᵢzᵢᵀ + λ on the coefficients + 1 on the all-intercepts direction (the
 * one direction the objective is flat in; the gradient is orthogonal to it, so the step is unchanged).
 */
function softmaxHessian(
  z: Float64Array,
  p: Float64Array,
  n: number,
  m: number,
  k: number,
  l2: number,
): Float64Array {
  const size = k * m;
  const h = new Float64Array(size * size);
  const wts = new Float64Array(n);
  const block = new Float64Array(m * m);
  for (let a = 0; a < k; a++) {
    for (let b = a; b < k; b++) {
      for (let i = 0; i < n; i++) {
        const pa = p[i * k + a] as number;
        wts[i] = a === b ? pa * (1 - pa) : -pa * (p[i * k + b] as number);
      }
      block.fill(0);
      addGram(block, z, n, m, wts, 1 / n);
      symmetrize(block, m);
      for (let j = 0; j < m; j++) {
        for (let q = 0; q < m; q++) {
          const v = block[j * m + q] as number;
          h[(a * m + j) * size + b * m + q] = v;
          h[(b * m + q) * size + a * m + j] = v;
        }
      }
    }
  }
  for (let c = 0; c < k; c++)
    for (let j = 0; j < m - 1; j++)
      h[(c * m + j) * size + c * m + j] = (h[(c * m + j) * size + c * m + j] as number) + l2;
  for (let a = 0; a < k; a++)
    for (let b = 0; b < k; b++) {
      const at = (a * m + m - 1) * size + b * m + m - 1;
      h[at] = (h[at] as number) + 1;
    }
  return h;
}
