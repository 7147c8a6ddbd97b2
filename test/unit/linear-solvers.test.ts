import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lambdas/shared/errors.js';
import { fitLogistic } from '../../lambdas/training/linear/solvers.js';
import { prng } from '../support/random.js';

/** The largest entry of the penalized logistic loss's gradient at `w`, computed independently. */
function gradientNorm(z: Float64Array, y: Int32Array, n: number, m: number, w: Float64Array, l2: number) {
  const g = new Float64Array(m);
  for (let i = 0; i < n; i++) {
    let t = 0;
    for (let j = 0; j < m; j++) t += (z[i * m + j] as number) * (w[j] as number);
    const r = 1 / (1 + Math.exp(-t)) - (y[i] as number);
    for (let j = 0; j < m; j++) g[j] = (g[j] as number) + (r * (z[i * m + j] as number)) / n;
  }
  for (let j = 0; j < m - 1; j++) g[j] = (g[j] as number) + l2 * (w[j] as number);
  return Math.max(...Array.from(g, Math.abs));
}

/**
 * A large design (40k rows: the solver warm-starts from a row sketch there) with a rare indicator
 * column set only in rows the sketch (every 4th row) never takes, and the intercept last.
 */
function design(n: number) {
  const m = 4;
  const rand = prng(11);
  const z = new Float64Array(n * m);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const a = 2 * rand() - 1;
    const b = 2 * rand() - 1;
    const rare = i % 4 === 1 && i < 4_000 ? 1 : 0;
    z.set([a, b, rare, 1], i * m);
    y[i] = rand() < 1 / (1 + Math.exp(-(1.5 * a - b + 0.8 * rare - 0.3))) ? 1 : 0;
  }
  return { z, y, m };
}

describe('fitLogistic on a large set (warm start from a row sketch)', () => {
  it('stops at the full problem’s optimum, to the gradient tolerance', () => {
    const n = 40_000;
    const { z, y, m } = design(n);
    const result = fitLogistic(z, y, n, m, { l2: 1e-4, gradientTolerance: 1e-10 });
    expect(result.converged).toBe(true);
    expect(gradientNorm(z, y, n, m, result.w, 1e-4)).toBeLessThanOrEqual(1e-10);
  });

  it('falls back to a cold start when the sketch alone is singular (a column it never sees, no L2)', () => {
    const n = 40_000;
    const { z, y, m } = design(n);
    // Unpenalized, the sketch's rare column is all zeros: its Hessian is singular, the full one is not.
    const result = fitLogistic(z, y, n, m, { l2: 0, gradientTolerance: 1e-10 });
    expect(result.converged).toBe(true);
    expect(gradientNorm(z, y, n, m, result.w, 0)).toBeLessThanOrEqual(1e-10);
  });

  it('still refuses a design that is singular on every row', () => {
    const n = 40_000;
    const { z, y, m } = design(n);
    for (let i = 0; i < n; i++) z[i * m + 2] = 0;
    expect(() => fitLogistic(z, y, n, m, { l2: 0 })).toThrow(ValidationError);
  });
});
