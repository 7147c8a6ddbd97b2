/**
 * Quantile binning for the gradient-boosted trees: each feature's values are cut into at most
 * `maxBins` (≤ 255) ordered bins plus one bin for missing values (NaN), so a row fits in one byte
 * per feature and a node's statistics fit in a histogram of a few thousand cells.
 *
 * Every bin boundary is a float32 value, and the bin of `x` is the first bin whose upper bound `u`
 * has `x <= u`. A split after bin `t` is therefore exactly the ONNX test `x <= u_t` (BRANCH_LEQ):
 * onnxruntime stores thresholds as float32 and compares the model's double input against them, so
 * the trainer, its in-memory predict and the exported model send every row the same way.
 *
 * Boundaries come from the distinct values of a (seeded) sample of rows: a feature with at most
 * `maxBins` distinct values gets one bin per value, cut halfway between neighbours; otherwise the
 * sorted values are cut greedily into bins of about equal count, a value never split across bins.
 */

/** The most value bins a feature may have (LightGBM's default max_bin). */
export const MAX_BINS = 255;

/** The binning of every feature, learned from the training rows. */
export interface FeatureBins {
  /** Per feature, the float32 upper bound of each value bin; the last is +Infinity. */
  readonly upperBounds: readonly Float64Array[];
}

/**
 * Rows binned against {@link FeatureBins}, row-major, one byte per feature: feature f's value bins
 * are 0 … n_f − 1 and its missing bin is n_f. Histograms number bins globally: feature f's bin b
 * is `binBase[f] + b`.
 */
export interface BinnedRows {
  readonly rows: number;
  readonly features: number;
  /** First global bin of each feature; `binBase[features]` is the total number of bins. */
  readonly binBase: Int32Array;
  /** `bins[row * features + f]`: the bin of feature f in that row. */
  readonly bins: Uint8Array;
}

/** Global bin numbering for `bins`: the first bin of each feature, and the total at the end. */
export function binBases(bins: FeatureBins): Int32Array {
  const F = bins.upperBounds.length;
  const base = new Int32Array(F + 1);
  for (let f = 0; f < F; f++) base[f + 1] = (base[f] as number) + valueBinCount(bins, f) + 1;
  return base;
}

/** The number of value bins of feature `f` (its missing bin is this index). */
export function valueBinCount(bins: FeatureBins, f: number): number {
  return (bins.upperBounds[f] as Float64Array).length;
}

/** A float32 threshold `t` with `a <= t < b` (a < b, both float32), near their midpoint. */
function cutBetween(a: number, b: number): number {
  const t = Math.fround(a / 2 + b / 2);
  return t >= a && t < b ? t : a;
}

/**
 * Sorts float32 values (no NaN) ascending in place: an LSD radix sort on their bit patterns, mapped
 * so that unsigned order is numeric order (about 5× faster than TypedArray#sort on 100k values).
 */
function sortFloat32(values: Float32Array, scratch: Uint32Array): void {
  const n = values.length;
  const keys = new Uint32Array(values.buffer, values.byteOffset, n);
  for (let i = 0; i < n; i++) {
    const k = keys[i] as number;
    keys[i] = k & 0x80000000 ? ~k >>> 0 : (k | 0x80000000) >>> 0;
  }
  const counts = new Uint32Array(2048);
  let src = keys;
  let dst = scratch.subarray(0, n);
  for (let shift = 0; shift < 32; shift += 11) {
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const d = ((src[i] as number) >>> shift) & 2047;
      counts[d] = (counts[d] as number) + 1;
    }
    let sum = 0;
    for (let d = 0; d < 2048; d++) {
      const c = counts[d] as number;
      counts[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const k = src[i] as number;
      const d = (k >>> shift) & 2047;
      dst[counts[d] as number] = k;
      counts[d] = (counts[d] as number) + 1;
    }
    const t = src;
    src = dst;
    dst = t;
  }
  // Three passes: the sorted keys are in `scratch`; map them back into `values`.
  for (let i = 0; i < n; i++) {
    const k = src[i] as number;
    keys[i] = k & 0x80000000 ? (k & 0x7fffffff) >>> 0 : ~k >>> 0;
  }
}

/** Upper bounds for one feature from its sorted, non-missing float32 sample. */
function boundsFromSorted(sorted: Float32Array, maxBins: number): Float64Array {
  const n = sorted.length;
  if (n === 0) return Float64Array.of(Number.POSITIVE_INFINITY);
  // Distinct values and their counts.
  const values = new Float64Array(n);
  const counts = new Int32Array(n);
  let distinct = 0;
  for (let i = 0; i < n; ) {
    const v = sorted[i] as number;
    let j = i + 1;
    while (j < n && sorted[j] === v) j++;
    values[distinct] = v;
    counts[distinct++] = j - i;
    i = j;
  }
  const bounds: number[] = [];
  if (distinct <= maxBins) {
    for (let i = 0; i + 1 < distinct; i++)
      bounds.push(cutBetween(values[i] as number, values[i + 1] as number));
  } else {
    let remaining = n;
    let binsLeft = maxBins;
    let target = remaining / binsLeft;
    let inBin = 0;
    for (let i = 0; i + 1 < distinct && binsLeft > 1; i++) {
      inBin += counts[i] as number;
      // Close the bin once it holds its share, or when every value left needs a bin of its own.
      if (inBin >= target || distinct - 1 - i <= binsLeft - 1) {
        bounds.push(cutBetween(values[i] as number, values[i + 1] as number));
        remaining -= inBin;
        binsLeft--;
        target = remaining / binsLeft;
        inBin = 0;
      }
    }
  }
  bounds.push(Number.POSITIVE_INFINITY);
  return Float64Array.from(bounds);
}

/**
 * Learns each feature's bins from the rows `sample` (all rows when undefined).
 * `columns[f][row]`; NaN is missing.
 */
export function learnBins(
  columns: readonly ArrayLike<number>[],
  maxBins: number,
  sample?: Uint32Array,
): FeatureBins {
  const size = sample ? sample.length : (columns[0]?.length ?? 0);
  const values = new Float32Array(size);
  const scratch = new Uint32Array(size);
  const upperBounds = columns.map((column) => {
    const count = sample ? sample.length : column.length;
    let filled = 0;
    for (let i = 0; i < count; i++) {
      const v = column[sample ? (sample[i] as number) : i] as number;
      if (!Number.isNaN(v)) values[filled++] = v;
    }
    const sorted = values.subarray(0, filled);
    sortFloat32(sorted, scratch);
    return boundsFromSorted(sorted, maxBins);
  });
  return { upperBounds };
}

/** The value bin of `x` (not NaN): the first bound `u` with `x <= u`. */
export function binOf(bounds: Float64Array, x: number): number {
  let lo = 0;
  let hi = bounds.length - 1; // the last bound is +Infinity: every non-NaN value fits
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (x <= (bounds[mid] as number)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Bins the rows `rows` (all rows when undefined) of `columns` against `bins`. */
export function binRows(
  columns: readonly ArrayLike<number>[],
  bins: FeatureBins,
  rows?: Uint32Array,
): BinnedRows {
  const features = columns.length;
  const count = rows ? rows.length : (columns[0]?.length ?? 0);
  const out = new Uint8Array(count * features);
  for (let f = 0; f < features; f++) {
    const column = columns[f] as ArrayLike<number>;
    const bounds = bins.upperBounds[f] as Float64Array;
    const missing = bounds.length;
    for (let i = 0; i < count; i++) {
      const v = column[rows ? (rows[i] as number) : i] as number;
      out[i * features + f] = Number.isNaN(v) ? missing : binOf(bounds, v);
    }
  }
  return { rows: count, features, binBase: binBases(bins), bins: out };
}
