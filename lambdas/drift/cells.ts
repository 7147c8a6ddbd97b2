/**
 * A window's numeric values kept as counts in the cells of a fixed grid, so the window is never
 * stored or sorted: O(grid) memory per feature whatever the window's size.
 *
 * The grid is the distinct points of the reference sample (the profile's ≤ 1000 quantiles) and the
 * PSI bin edges, sorted: g_0 < … < g_{K−1}. Its 2K + 1 cells are the open intervals and the points:
 * cell 0 = (−∞, g_0), cell 2i + 1 = {g_i}, cell 2i + 2 = (g_i, g_{i+1}), cell 2K = (g_{K−1}, +∞).
 * Each value lands in its cell (a bucket index over [g_0, g_{K−1}] narrows a binary search to the
 * few points of one bucket; the check feeds each feature's values in batches of a few thousand); per interval cell the count, the sum of the values'
 * offsets from the cell's anchor point (its left point; g_0 for cell 0) and their min and max are
 * kept side by side (one cache line per value: the 20 features' cells together outgrow the L2
 * cache), per point cell the count. From those:
 *
 * - PSI bins (right-closed, (e[k−1], e[k]]): every edge is a grid point, so a bin is a union of
 *   cells and its count is exact ({@link binCountsFromCells}).
 * - KS D = sup |F_ref − F_cur|, exact ({@link ksFromCells}). Proof: F_ref (the sample's CDF) steps
 *   only at sample points, all grid points, so on an open cell (g_i, g_{i+1}) it is a constant R;
 *   F_cur is non-decreasing there, so |R − F_cur(x)| over the cell is largest at one of its ends:
 *   F_cur(g_i) (right-continuous) or F_cur(g_{i+1}⁻) = the share of values < g_{i+1} — and those
 *   two are the values of |F_ref − F_cur| at g_i and at the left limit of g_{i+1}, where F_ref is
 *   R too. Both are read off the cumulative cell counts. Below g_0 both CDFs are 0, above g_{K−1}
 *   both are 1. Hence D is the maximum of |F_ref − F_cur| at each grid point and at each one's left
 *   limit, computed with the same expression (|i/m − j/n|) as `ksStatistic`, so equal to it.
 * - Wasserstein-1 = ∫ |F_ref − F_cur| dx ({@link wassersteinFromCells}), with a bound on its error.
 *   Points have measure 0. In an open cell F_ref = R, and F_cur = C0 (the share below the cell)
 *   up to the cell's least value vmin and C1 = C0 + cnt/n from its greatest vmax on: those parts
 *   are exact. On [vmin, vmax) (length L), ∫ F_cur = C0·L + Σ (vmax − v)/n exactly (from count and
 *   sum), so I = ∫ (R − F_cur) is exact; F_cur there lies in [C0 + 1/n, C1 − 1/n]. If R is outside
 *   that range, |R − F_cur| has one sign and the cell's part is |I|, exact. Otherwise F_cur crosses
 *   R inside: with P, N the positive and negative parts (P − N = I, P ≤ L·A⁺, N ≤ L·A⁻, A⁺ = R −
 *   C0 − 1/n, A⁻ = C1 − 1/n − R), the true part T = P + N lies in [|I|, min(I + 2L·A⁻, 2L·A⁺ − I)];
 *   the midpoint is taken, off by at most half that width ≤ L·(cnt − 2)/(2n) ≤ the cell's width ×
 *   its count / (2n). The bound is summed over crossing cells and returned beside the value. (The
 *   reference sample already stands for the reference within (max − min)/(2Q), reference-profile.ts.)
 *   The tails: below g_0 F_ref = 0 ≤ F_cur and above g_{K−1} F_ref = 1 ≥ F_cur: exact.
 */

/** A window's values counted in the cells of a grid (see the module comment). */
export interface CellHistogram {
  /** The grid: distinct, ascending. */
  readonly points: Float64Array;
  /**
   * Per interval cell j (K + 1 of them: cell 2j), four numbers at 4j: the values in it, Σ (v −
   * anchor) (the anchor being the cell's left point, g_0 for cell 0), their min and their max.
   */
  readonly intervals: Float64Array;
  /** Per point cell i (cell 2i + 1): the values equal to g_i. */
  readonly pointCounts: Float64Array;
  /** Bucket b's first point: index[b] = the points whose bucket is below b (B + 1 entries). */
  readonly index: Int32Array;
  readonly buckets: number;
  readonly scale: number;
  /** The points and a NaN after them (no read past the end in {@link addToCells}). */
  readonly keys: Float64Array;
  /** g_0 (0 for an empty grid). */
  readonly first: number;
  /** Per interval cell j, its anchor: g_{j−1}, g_0 for j = 0 (0 for an empty grid). */
  readonly anchors: Float64Array;
  /** Values added. */
  n: number;
}

/** Buckets per grid point in the lookup index (a power of two at least this many times K). */
const BUCKETS_PER_POINT = 8;
const MAX_BUCKETS = 1 << 16;

/** The sorted distinct union of the given point sets (each any order; non-finite values dropped). */
export function gridOf(...sets: readonly ArrayLike<number>[]): Float64Array {
  let total = 0;
  for (const s of sets) total += s.length;
  const all = new Float64Array(total);
  let k = 0;
  for (const s of sets)
    for (let i = 0; i < s.length; i++) {
      const v = s[i] as number;
      if (Number.isFinite(v)) all[k++] = v === 0 ? 0 : v; // −0 as +0: one point
    }
  const sorted = all.subarray(0, k).sort();
  let m = 0;
  for (let i = 0; i < k; i++)
    if (m === 0 || (sorted[i] as number) !== (sorted[m - 1] as number)) sorted[m++] = sorted[i] as number;
  return sorted.slice(0, m);
}

export function createCellHistogram(points: Float64Array): CellHistogram {
  const k = points.length;
  let buckets = 1;
  while (buckets < BUCKETS_PER_POINT * k && buckets < MAX_BUCKETS) buckets *= 2;
  const span = k > 1 ? (points[k - 1] as number) - (points[0] as number) : 0;
  const scale = span > 0 && Number.isFinite(buckets / span) ? buckets / span : 0;
  const index = new Int32Array(buckets + 1);
  if (k > 0) {
    const g0 = points[0] as number;
    // index[b + 1] − index[b] = the points in bucket b; the bucket rule is monotone in the value.
    for (let i = 0; i < k; i++) {
      const b = Math.min(buckets - 1, Math.floor(((points[i] as number) - g0) * scale));
      index[b + 1] = (index[b + 1] as number) + 1;
    }
    for (let b = 0; b < buckets; b++) index[b + 1] = (index[b + 1] as number) + (index[b] as number);
  }
  const intervals = new Float64Array(4 * (k + 1));
  for (let j = 0; j <= k; j++) {
    intervals[4 * j + 2] = Number.POSITIVE_INFINITY;
    intervals[4 * j + 3] = Number.NEGATIVE_INFINITY;
  }
  const anchors = new Float64Array(k + 1);
  for (let j = 0; j <= k; j++) anchors[j] = k === 0 ? 0 : (points[j === 0 ? 0 : j - 1] as number);
  const keys = new Float64Array(k + 1);
  keys.set(points);
  keys[k] = Number.NaN;
  return {
    points,
    keys,
    intervals,
    first: k === 0 ? 0 : (points[0] as number),
    anchors,
    pointCounts: new Float64Array(k),
    index,
    buckets,
    scale,
    n: 0,
  };
}

/** Counts a finite value into its cell: O(1) for values spread like the grid, O(log K) at worst. */
export function addToCells(h: CellHistogram, v: number): void {
  ONE[0] = v;
  addManyToCells(h, ONE, 1);
}
const ONE = new Float64Array(1);

/**
 * Counts `values[0..count)` (finite) into their cells. The loop holds the grid's arrays in locals;
 * fed a feature's values in batches, one feature's tables stay in cache while it runs.
 */
export function addManyToCells(h: CellHistogram, values: Float64Array, count: number): void {
  const keys = h.keys;
  const cells = h.intervals;
  const pointCounts = h.pointCounts;
  const index = h.index;
  const first = h.first;
  const scale = h.scale;
  const buckets = h.buckets;
  const anchors = h.anchors;
  h.n += count;
  for (let at = 0; at < count; at++) {
    const v = values[at] as number;
    // i: the number of points below v (a lower bound); the cell is 2i, or 2i + 1 when v is point
    // i. A value whose bucket is inside the index: that bucket's few points scanned (searched
    // when many); the rest (the tails, the last point, an empty grid) by a search of all points.
    const t = (v - first) * scale;
    let i: number;
    if (t >= 0 && t < buckets) {
      // Points of later buckets are above v (the bucket rule is monotone) and keys[K] is NaN, so
      // stepping while keys[i] < v stops by the bucket's end: two steps without a branch cover
      // buckets of up to two points below v; a fuller bucket is searched.
      const b = t | 0;
      i = index[b] as number;
      i += +((keys[i] as number) < v);
      i += +((keys[i] as number) < v);
      if ((keys[i] as number) < v) {
        let hi = index[b + 1] as number;
        while (i < hi) {
          const mid = (i + hi) >>> 1;
          if ((keys[mid] as number) < v) i = mid + 1;
          else hi = mid;
        }
      }
    } else i = lowerBound(keys, v);
    if ((keys[i] as number) === v) {
      // (keys[K] is NaN: never equal.)
      pointCounts[i] = (pointCounts[i] as number) + 1;
      continue;
    }
    const c = 4 * i;
    cells[c] = (cells[c] as number) + 1;
    cells[c + 1] = (cells[c + 1] as number) + (v - (anchors[i] as number));
    if (v < (cells[c + 2] as number)) cells[c + 2] = v;
    if (v > (cells[c + 3] as number)) cells[c + 3] = v;
  }
}

/** The number of sorted `keys` below v (the NaN after them excluded). */
function lowerBound(keys: Float64Array, v: number): number {
  let lo = 0;
  let hi = keys.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] as number) < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The counts of all 2K + 1 cells in grid order (cell 2i: the interval below g_i, 2i + 1: g_i). */
export function cellCounts(h: CellHistogram): Float64Array {
  const k = h.points.length;
  const out = new Float64Array(2 * k + 1);
  for (let j = 0; j <= k; j++) out[2 * j] = h.intervals[4 * j] as number;
  for (let i = 0; i < k; i++) out[2 * i + 1] = h.pointCounts[i] as number;
  return out;
}

/**
 * The counts of the right-closed bins under inner `edges` ((e[k−1], e[k]], the `binIndex` rule),
 * from the cells; every edge must be a grid point.
 */
export function binCountsFromCells(h: CellHistogram, edges: ArrayLike<number>): Float64Array {
  const out = new Float64Array(edges.length + 1);
  const points = h.points;
  const k = points.length;
  const counts = cellCounts(h);
  let bin = 0;
  for (let i = 0; i < k; i++) {
    out[bin] = (out[bin] as number) + (counts[2 * i] as number) + (counts[2 * i + 1] as number);
    if (bin < edges.length && (points[i] as number) === (edges[bin] as number)) bin++;
  }
  out[bin] = (out[bin] as number) + (counts[2 * k] as number);
  if (bin !== edges.length) throw new Error('binCountsFromCells: an edge is not a grid point');
  return out;
}

/**
 * Per grid point, the reference sample's values below it and at or below it (`sample` sorted,
 * every value a grid point).
 */
export function sampleRanks(
  points: Float64Array,
  sample: ArrayLike<number>,
): { below: Float64Array; atOrBelow: Float64Array } {
  const k = points.length;
  const below = new Float64Array(k);
  const atOrBelow = new Float64Array(k);
  let j = 0;
  for (let i = 0; i < k; i++) {
    const p = points[i] as number;
    while (j < sample.length && (sample[j] as number) < p) j++;
    below[i] = j;
    while (j < sample.length && (sample[j] as number) === p) j++;
    atOrBelow[i] = j;
  }
  return { below, atOrBelow };
}

/** sup |F_sample − F_window| from the cells (exact; see the module comment). NaN when either is empty. */
export function ksFromCells(h: CellHistogram, sample: ArrayLike<number>): number {
  const m = sample.length;
  const n = h.n;
  if (m === 0 || n === 0) return Number.NaN;
  const { below, atOrBelow } = sampleRanks(h.points, sample);
  let d = 0;
  let cur = 0;
  for (let i = 0; i < h.points.length; i++) {
    cur += h.intervals[4 * i] as number;
    const left = Math.abs((below[i] as number) / m - cur / n);
    cur += h.pointCounts[i] as number;
    const at = Math.abs((atOrBelow[i] as number) / m - cur / n);
    if (left > d) d = left;
    if (at > d) d = at;
  }
  return d;
}

/**
 * ∫ |F_sample − F_window| dx from the cells, and a bound on its error (the value is within `bound`
 * of the exact Wasserstein-1 between the sample and the window; see the module comment). NaN when
 * either is empty.
 */
export function wassersteinFromCells(
  h: CellHistogram,
  sample: ArrayLike<number>,
): { value: number; bound: number } {
  const m = sample.length;
  const n = h.n;
  const points = h.points;
  const k = points.length;
  if (m === 0 || n === 0 || k === 0) return { value: Number.NaN, bound: Number.NaN };
  const { atOrBelow } = sampleRanks(points, sample);
  const { intervals: cells, pointCounts } = h;
  let value = 0;
  let bound = 0;
  // Below g_0: F_ref = 0, so ∫ F_cur = Σ (g_0 − v) / n = −Σ (v − g_0) / n.
  value += -(cells[1] as number) / n;
  let cum = (cells[0] as number) + (pointCounts[0] as number);
  for (let i = 0; i + 1 < k; i++) {
    const c = 4 * (i + 1);
    const a = points[i] as number;
    const b = points[i + 1] as number;
    const r = (atOrBelow[i] as number) / m;
    const c0 = cum / n;
    const cnt = cells[c] as number;
    if (cnt === 0) value += Math.abs(r - c0) * (b - a);
    else {
      const c1 = (cum + cnt) / n;
      const vmin = cells[c + 2] as number;
      const vmax = cells[c + 3] as number;
      const len = vmax - vmin;
      value += Math.abs(r - c0) * (vmin - a) + Math.abs(r - c1) * (b - vmax);
      // I = ∫_{vmin}^{vmax} (R − F_cur) = R·L − C0·L − Σ (vmax − v)/n, offsets from the anchor a.
      const integral = (r - c0) * len - (cnt * (vmax - a) - (cells[c + 1] as number)) / n;
      const above = r - c0 - 1 / n; // A⁺
      const beneath = c1 - 1 / n - r; // A⁻
      if (above <= 0 || beneath <= 0) value += Math.abs(integral);
      else {
        const lower = Math.abs(integral);
        const upper = Math.max(lower, Math.min(integral + 2 * len * beneath, 2 * len * above - integral));
        value += (lower + upper) / 2;
        bound += (upper - lower) / 2;
      }
    }
    cum += cnt + (pointCounts[i + 1] as number);
  }
  // Above g_{K−1}: F_ref = 1, so ∫ (1 − F_cur) = Σ (v − g_{K−1}) / n.
  value += (cells[4 * k + 1] as number) / n;
  return { value, bound };
}
