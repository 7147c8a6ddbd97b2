/**
 * Population stability index (PSI) between a reference sample and a current one, on the
 * reference's quantile bins: Σ (c_i − r_i) · ln(c_i / r_i) over bins i, where r_i and c_i are the
 * shares of each sample in bin i. Empty bins are smoothed (a share of ε = 1e-4 instead of 0), so one
 * empty bin gives a large but finite index. Plain code on typed arrays: the canary analysis compares
 * two versions' predictions with it, and the drift checks compare features with it.
 *
 * Reading it: below 0.1 no real shift, 0.1–0.25 a moderate one, above 0.25 a significant one.
 */
import { ValidationError } from '../shared/errors.js';
import { binSortedCounts, psiFromCounts } from './statistics.js';

/** Share a bin counts as when it holds nothing (keeps ln finite); the statistics' constant. */
export { PSI_EPSILON } from './statistics.js';

/**
 * Bin edges at the reference's quantiles q/bins, q = 1..bins−1 (nearest rank on the sorted
 * sample), duplicates removed: a value v falls in the first bin whose edge is ≥ v (bins are
 * right-closed), values above the last edge in the last bin. A heavy value (a constant, a
 * mode) makes fewer bins; the last bin then holds only values above it, which a current sample
 * reaching past the reference's bulk fills.
 */
export function quantileEdges(sortedReference: Float64Array, bins: number): Float64Array {
  const edges: number[] = [];
  const n = sortedReference.length;
  for (let q = 1; q < bins; q++) {
    const rank = Math.min(n - 1, Math.max(0, Math.ceil((q / bins) * n) - 1));
    const edge = sortedReference[rank] as number;
    if (edges.length === 0 || edge > (edges.at(-1) as number)) edges.push(edge);
  }
  return Float64Array.from(edges);
}

function finiteSorted(values: ArrayLike<number>, field: string): Float64Array {
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) throw new ValidationError(`${field}[${i}]`, 'must be a finite number');
    out[i] = v;
  }
  return out.sort();
}

/**
 * PSI of `current` against `reference` on `bins` quantile bins of the reference (default 10).
 * Both samples must be non-empty and finite. A constant reference has two bins (the constant and
 * above it): PSI is 0 for the same constant and large when the current sample moves above it.
 */
export function populationStabilityIndex(
  reference: ArrayLike<number>,
  current: ArrayLike<number>,
  bins = 10,
): number {
  if (!Number.isInteger(bins) || bins < 2)
    throw new ValidationError('bins', 'must be a whole number of at least 2');
  if (reference.length === 0) throw new ValidationError('reference', 'must hold at least one value');
  if (current.length === 0) throw new ValidationError('current', 'must hold at least one value');
  const ref = finiteSorted(reference, 'reference');
  const cur = finiteSorted(current, 'current');
  const edges = quantileEdges(ref, bins);
  return psiFromCounts(binSortedCounts(ref, edges), binSortedCounts(cur, edges));
}
