/**
 * The dense linear algebra the linear trainers need, on row-major Float64Arrays: weighted Gram
 * matrices (ZᵀDZ) and a Cholesky solve of a symmetric positive-definite system.
 */

/**
 * Adds `scale · Σᵢ wᵢ zᵢ zᵢᵀ` to the upper triangle of `out` (m × m, row-major), where zᵢ is row i of
 * the row-major n × m matrix `z` and `w` the row weights (all 1 when absent). Call `symmetrize` after.
 */
export function addGram(
  out: Float64Array,
  z: Float64Array,
  n: number,
  m: number,
  w: Float64Array | null,
  scale: number,
): void {
  // Accumulate in a local buffer, four rows and two triangle rows (j, j+1) at a time: each load of
  // the four rows' entries then feeds eight products, and each load and store of the triangle four
  // (the triangle stays in cache; this loop is the trainers' hot spot). Every entry still adds its
  // products in row order, so the sums are the same as a row-at-a-time loop's.
  const acc = new Float64Array(m * m);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const b0 = i * m;
    const b1 = b0 + m;
    const b2 = b1 + m;
    const b3 = b2 + m;
    const w0 = w === null ? 1 : (w[i] as number);
    const w1 = w === null ? 1 : (w[i + 1] as number);
    const w2 = w === null ? 1 : (w[i + 2] as number);
    const w3 = w === null ? 1 : (w[i + 3] as number);
    let j = 0;
    for (; j + 2 <= m; j += 2) {
      const a0 = w0 * (z[b0 + j] as number);
      const a1 = w1 * (z[b1 + j] as number);
      const a2 = w2 * (z[b2 + j] as number);
      const a3 = w3 * (z[b3 + j] as number);
      const c0 = w0 * (z[b0 + j + 1] as number);
      const c1 = w1 * (z[b1 + j + 1] as number);
      const c2 = w2 * (z[b2 + j + 1] as number);
      const c3 = w3 * (z[b3 + j + 1] as number);
      const row = j * m;
      const next = row + m;
      acc[row + j] =
        (acc[row + j] as number) +
        a0 * (z[b0 + j] as number) +
        a1 * (z[b1 + j] as number) +
        a2 * (z[b2 + j] as number) +
        a3 * (z[b3 + j] as number);
      for (let k = j + 1; k < m; k++) {
        const z0 = z[b0 + k] as number;
        const z1 = z[b1 + k] as number;
        const z2 = z[b2 + k] as number;
        const z3 = z[b3 + k] as number;
        acc[row + k] = (acc[row + k] as number) + a0 * z0 + a1 * z1 + a2 * z2 + a3 * z3;
        acc[next + k] = (acc[next + k] as number) + c0 * z0 + c1 * z1 + c2 * z2 + c3 * z3;
      }
    }
    for (; j < m; j++) {
      const a0 = w0 * (z[b0 + j] as number);
      const a1 = w1 * (z[b1 + j] as number);
      const a2 = w2 * (z[b2 + j] as number);
      const a3 = w3 * (z[b3 + j] as number);
      const row = j * m;
      for (let k = j; k < m; k++) {
        acc[row + k] =
          (acc[row + k] as number) +
          a0 * (z[b0 + k] as number) +
          a1 * (z[b1 + k] as number) +
          a2 * (z[b2 + k] as number) +
          a3 * (z[b3 + k] as number);
      }
    }
  }
  for (; i < n; i++) {
    const base = i * m;
    const wi = w === null ? 1 : (w[i] as number);
    for (let j = 0; j < m; j++) {
      const a = wi * (z[base + j] as number);
      const row = j * m;
      for (let k = j; k < m; k++) acc[row + k] = (acc[row + k] as number) + a * (z[base + k] as number);
    }
  }
  for (let j = 0; j < m; j++) {
    for (let k = j; k < m; k++)
      out[j * m + k] = (out[j * m + k] as number) + scale * (acc[j * m + k] as number);
  }
}

/** Copies the upper triangle of a row-major m × m matrix into its lower triangle. */
export function symmetrize(a: Float64Array, m: number): void {
  for (let j = 0; j < m; j++) {
    for (let k = j + 1; k < m; k++) a[k * m + j] = a[j * m + k] as number;
  }
}

/**
 * The Cholesky factor L (a = L·Lᵀ, row-major lower triangle) of a symmetric positive-definite m × m
 * matrix, or null when `a` is not positive definite (singular, indefinite, or numerically so).
 */
export function choleskyFactor(a: Float64Array, m: number): Float64Array | null {
  const l = new Float64Array(m * m);
  let maxDiag = 0;
  for (let j = 0; j < m; j++) maxDiag = Math.max(maxDiag, a[j * m + j] as number);
  for (let j = 0; j < m; j++) {
    let d = a[j * m + j] as number;
    for (let k = 0; k < j; k++) d -= (l[j * m + k] as number) ** 2;
    // A pivot tiny against the largest diagonal entry means numerically singular.
    if (!(d > maxDiag * 1e-14) || !Number.isFinite(d)) return null;
    const ljj = Math.sqrt(d);
    l[j * m + j] = ljj;
    for (let i = j + 1; i < m; i++) {
      let s = a[i * m + j] as number;
      for (let k = 0; k < j; k++) s -= (l[i * m + k] as number) * (l[j * m + k] as number);
      l[i * m + j] = s / ljj;
    }
  }
  return l;
}

/** Solves L·Lᵀ·x = b given the factor from `choleskyFactor`. */
export function choleskySolveFactored(l: Float64Array, b: Float64Array, m: number): Float64Array {
  const x = Float64Array.from(b);
  for (let i = 0; i < m; i++) {
    let s = x[i] as number;
    for (let k = 0; k < i; k++) s -= (l[i * m + k] as number) * (x[k] as number);
    x[i] = s / (l[i * m + i] as number);
  }
  for (let i = m - 1; i >= 0; i--) {
    let s = x[i] as number;
    for (let k = i + 1; k < m; k++) s -= (l[k * m + i] as number) * (x[k] as number);
    x[i] = s / (l[i * m + i] as number);
  }
  return x;
}

/** Solves `a · x = b` for symmetric positive-definite `a`; null when `a` is not positive definite. */
export function choleskySolve(a: Float64Array, b: Float64Array, m: number): Float64Array | null {
  const l = choleskyFactor(a, m);
  return l === null ? null : choleskySolveFactored(l, b, m);
}
