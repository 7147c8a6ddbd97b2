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
  // Accumulate in a local buffer first: one pass over the rows, the m×m triangle stays in cache.
  const acc = new Float64Array(m * m);
  for (let i = 0; i < n; i++) {
    const base = i * m;
    const wi = w === null ? 1 : (w[i] as number);
    if (wi === 0) continue;
    for (let j = 0; j < m; j++) {
      const a = wi * (z[base + j] as number);
      if (a === 0) continue;
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
 * Solves `a · x = b` for symmetric positive-definite `a` (m × m, row-major, full) by Cholesky;
 * returns null when `a` is not positive definite (singular or indefinite). `a` is not modified.
 */
export function choleskySolve(a: Float64Array, b: Float64Array, m: number): Float64Array | null {
  const l = new Float64Array(m * m);
  for (let j = 0; j < m; j++) {
    let d = a[j * m + j] as number;
    for (let k = 0; k < j; k++) d -= (l[j * m + k] as number) ** 2;
    if (!(d > 0) || !Number.isFinite(d)) return null;
    const ljj = Math.sqrt(d);
    l[j * m + j] = ljj;
    for (let i = j + 1; i < m; i++) {
      let s = a[i * m + j] as number;
      for (let k = 0; k < j; k++) s -= (l[i * m + k] as number) * (l[j * m + k] as number);
      l[i * m + j] = s / ljj;
    }
  }
  // Relative pivot check: a pivot tiny against the diagonal means numerically singular.
  let maxDiag = 0;
  for (let j = 0; j < m; j++) maxDiag = Math.max(maxDiag, a[j * m + j] as number);
  for (let j = 0; j < m; j++) if ((l[j * m + j] as number) ** 2 < maxDiag * 1e-14) return null;
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
