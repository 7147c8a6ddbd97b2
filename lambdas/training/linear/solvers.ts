/**
 * Exact solvers for L2-penalized linear models on a design matrix Z (row-major n × m whose last
 * column is the constant 1 of the intercept, which is never penalized). Objectives are per row:
 *
 *   ridge:     (1/2n) Σ (yᵢ − zᵢ·w)²           + (λ/2)‖w₀..ₘ₋₂‖²   normal equations, Cholesky
 *   logistic:  (1/n)  Σ log(1+e^{zᵢ·w}) − yᵢ zᵢ·w + (λ/2)‖w₀..ₘ₋₂‖²   Newton (IRLS), backtracking
 *   softmax:   (1/n)  Σ logsumexp(Wzᵢ) − (Wzᵢ)_yᵢ + (λ/2)‖W without intercepts‖²   Newton
 *
 * scikit-learn's C is 1/(nλ) and Ridge's alpha is nλ. Newton stops when the largest gradient entry is
 * at most `gradientTolerance` × max(1, its value at zero, where Newton starts; binary logistic fits
 * on large sets start instead from the optimum of a row sketch, with the same stopping point).
 */
import { ValidationError } from '../../shared/errors.js';
import { addGram, choleskyFactor, choleskySolve, choleskySolveFactored, symmetrize } from './linalg.js';

/**
 * Below this gradient (relative to the start), Newton may keep its last Hessian while each step still
 * cuts the gradient by `KEEP_RATE` (see fitLogistic).
 */
const KEEP_BELOW = 1e-4;
const KEEP_RATE = 0.1;
/** Logistic fits on at least 4× this many rows start from the optimum of a sketch of about this many. */
const SKETCH_ROWS = 8192;
/** The sketch's gradient tolerance (its optimum is only within sampling error of the full one anyway). */
const SKETCH_TOLERANCE = 1e-6;

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
  /** Hessians computed (a Gram pass over the data each; fewer than iterations when one is reused). */
  readonly hessians: number;
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
  return { w, iterations: 1, hessians: 1, gradientNorm: 0, converged: true };
}

function penalty(w: Float64Array, k: number, m: number, l2: number): number {
  let s = 0;
  for (let c = 0; c < k; c++) for (let j = 0; j < m - 1; j++) s += (w[c * m + j] as number) ** 2;
  return 0.5 * l2 * s;
}

/**
 * Binary logistic regression (y ∈ {0, 1}) by Newton's method with a backtracking line search.
 *
 * Each point costs one pass over Z (linear predictor, loss, gradient and IRLS weights together);
 * a Hessian costs one more (the Gram kernel, the dominant cost), so a factor is kept while the
 * steps it gives still cut the gradient by at least `KEEP_RATE` (see below).
 */
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
  let w = new Float64Array(m);
  let trial = new Float64Array(m);
  let weights = new Float64Array(n);
  let trialWeights = new Float64Array(n);
  let g = new Float64Array(m);
  let trialG = new Float64Array(m);
  const h = new Float64Array(m * m);

  /**
   * Row i's loss softplus(t) − y·t, with its residual σ(t) − y into `out[0]` and its IRLS weight
   * σ(1−σ) into `wts` (a plain function of numbers: a closure variable would box every sum).
   */
  const out = new Float64Array(1);
  const row = (i: number, t: number, wts: Float64Array): number => {
    const yi = y[i] as number;
    // One exponential for both the loss and σ.
    const e = Math.exp(-Math.abs(t));
    const p = t >= 0 ? 1 / (1 + e) : e / (1 + e);
    wts[i] = p * (1 - p);
    out[0] = p - yi;
    return Math.max(t, 0) + Math.log1p(e) - yi * t;
  };
  /**
   * Loss at `params`, its gradient into `grad` and the IRLS weights into `wts`: one pass over Z,
   * four rows at a time (four independent dot products, one load and store of the gradient per
   * four rows' products).
   */
  const evaluate = (params: Float64Array, grad: Float64Array, wts: Float64Array): number => {
    grad.fill(0);
    let s = 0;
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const b0 = i * m;
      const b1 = b0 + m;
      const b2 = b1 + m;
      const b3 = b2 + m;
      let t0 = 0;
      let t1 = 0;
      let t2 = 0;
      let t3 = 0;
      for (let j = 0; j < m; j++) {
        const pj = params[j] as number;
        t0 += (z[b0 + j] as number) * pj;
        t1 += (z[b1 + j] as number) * pj;
        t2 += (z[b2 + j] as number) * pj;
        t3 += (z[b3 + j] as number) * pj;
      }
      s += row(i, t0, wts);
      const r0 = out[0] as number;
      s += row(i + 1, t1, wts);
      const r1 = out[0] as number;
      s += row(i + 2, t2, wts);
      const r2 = out[0] as number;
      s += row(i + 3, t3, wts);
      const r3 = out[0] as number;
      for (let j = 0; j < m; j++) {
        grad[j] =
          (grad[j] as number) +
          r0 * (z[b0 + j] as number) +
          r1 * (z[b1 + j] as number) +
          r2 * (z[b2 + j] as number) +
          r3 * (z[b3 + j] as number);
      }
    }
    for (; i < n; i++) {
      const base = i * m;
      let t = 0;
      for (let j = 0; j < m; j++) t += (z[base + j] as number) * (params[j] as number);
      s += row(i, t, wts);
      const r = out[0] as number;
      for (let j = 0; j < m; j++) grad[j] = (grad[j] as number) + r * (z[base + j] as number);
    }
    let pen = 0;
    for (let j = 0; j < m; j++) {
      grad[j] = (grad[j] as number) / n;
      if (j < m - 1) {
        grad[j] = (grad[j] as number) + l2 * (params[j] as number);
        pen += (params[j] as number) ** 2;
      }
    }
    return s / n + 0.5 * l2 * pen;
  };

  // Start from zero (the loss there is log 2 whatever the data), or, on a large set, from the optimum
  // of a sketch of it (every s-th row, solved the same way): that is within sampling error of this
  // optimum, so Newton starts close and needs few full passes. A start worse than zero is dropped.
  let f = Math.LN2;
  let warm = false;
  const stride = n >= 4 * SKETCH_ROWS ? Math.floor(n / SKETCH_ROWS) : 0;
  if (stride > 0) {
    const rows = Math.floor(n / stride);
    const zs = new Float64Array(rows * m);
    const ys = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      zs.set(z.subarray(r * stride * m, (r * stride + 1) * m), r * m);
      ys[r] = y[r * stride] as number;
    }
    let start: SolverResult | null = null;
    try {
      start = fitLogistic(zs, ys, rows, m, {
        ...options,
        gradientTolerance: Math.max(tol, SKETCH_TOLERANCE),
      });
    } catch (error) {
      // A sketch can be singular where the whole set is not (a rare column it never sees).
      if (!(error instanceof ValidationError)) throw error;
    }
    if (start !== null) {
      const fw = evaluate(start.w, g, weights);
      if (fw < f) {
        w.set(start.w);
        f = fw;
        warm = true;
      }
    }
  }
  if (!warm) f = evaluate(w, g, weights);
  let gnorm = maxAbs(g);
  // The tolerance stays relative to the gradient at zero (as if Newton had started there), so a warm
  // start stops at the same point a cold one would.
  const g0 = Math.max(1, warm ? zeroGradientNorm(z, y, n, m) : gnorm);
  let lastGnorm = Number.POSITIVE_INFINITY;
  let factor: Float64Array | null = null;
  let hessians = 0;
  let iter = 0;
  for (; iter < maxIter && gnorm > tol * g0; iter++) {
    const reuse = factor !== null && gnorm <= KEEP_BELOW * g0 && gnorm <= KEEP_RATE * lastGnorm;
    if (!reuse) {
      h.fill(0);
      addGram(h, z, n, m, weights, 1 / n);
      hessians++;
      symmetrize(h, m);
      for (let j = 0; j < m - 1; j++) h[j * m + j] = (h[j * m + j] as number) + l2;
      factor = choleskyFactor(h, m);
      if (factor === null) throw notPositiveDefinite();
    }
    lastGnorm = gnorm;
    const d = choleskySolveFactored(factor as Float64Array, g, m);
    let slope = 0;
    for (let j = 0; j < m; j++) slope += (g[j] as number) * (d[j] as number);
    let accepted = false;
    for (let k = 0, t = 1; k < 60; k++, t /= 2) {
      for (let j = 0; j < m; j++) trial[j] = (w[j] as number) - t * (d[j] as number);
      const ft = evaluate(trial, trialG, trialWeights);
      // The relative slack lets the last steps (changes below rounding of f) through.
      if (ft <= f - 1e-4 * t * slope + 1e-15 * Math.abs(f)) {
        [w, trial] = [trial, w];
        [g, trialG] = [trialG, g];
        [weights, trialWeights] = [trialWeights, weights];
        f = ft;
        accepted = true;
        break;
      }
    }
    if (!accepted) break;
    gnorm = maxAbs(g);
  }
  return { w, iterations: iter, hessians, gradientNorm: gnorm, converged: gnorm <= tol * g0 };
}

/** The largest entry of the logistic loss's gradient at zero: (1/n) Σ (½ − yᵢ) zᵢ (the penalty's is 0). */
function zeroGradientNorm(z: Float64Array, y: Int32Array, n: number, m: number): number {
  const g = new Float64Array(m);
  for (let i = 0; i < n; i++) {
    const r = 0.5 - (y[i] as number);
    const base = i * m;
    for (let j = 0; j < m; j++) g[j] = (g[j] as number) + r * (z[base + j] as number);
  }
  for (let j = 0; j < m; j++) g[j] = (g[j] as number) / n;
  return maxAbs(g);
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
  return { w, iterations: iter, hessians: iter, gradientNorm: gnorm, converged: gnorm <= tol * g0 };
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
