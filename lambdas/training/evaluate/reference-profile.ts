/**
 * The reference profile a training run stores beside its model for drift monitoring: what each
 * input feature and the model's predictions looked like on the reference data. The drift monitor
 * bins live traffic with the same edges ({@link binIndex}) and compares the counts.
 *
 * Shape (JSON, `formatVersion` 1; readers refuse other versions):
 * ```
 * { formatVersion: 1, rows, bins,
 *   features: [                       // in the model's input order
 *     { kind: 'numeric', name, count, nullCount, nullRate, min, max, edges, counts, sample? },
 *     { kind: 'categorical', name, count, nullCount, nullRate,
 *       categories: [{ value, count, frequency }], otherCount, otherCategories, otherValues? } ],
 *   prediction:
 *     { kind: 'probability', classes, edges, counts: [per class [per bin]], predictedCounts }
 *   | { kind: 'score', count, min, max, edges, counts } }
 * ```
 * - Numeric bins: `edges` are inner cut points, the distinct numpy `quantile(method='lower')`
 *   values (always data values) at q = k/bins, k = 1..bins-1, without those >= the maximum (the
 *   bin above them would be empty). Bins are right-closed: bin 0 is (-inf, e0], bin k is
 *   (e[k-1], e[k]], the last is (e[last], +inf); `counts` has edges.length + 1 entries and sums to
 *   `count` (the non-null values). A constant feature has no edges and one bin; a feature with
 *   few distinct values gets at most one bin per value. Missing values (NaN) count in `nullCount`.
 * - Numeric `sample` (optional: profiles written before it parse without it): the reference's
 *   quantiles at (i + 0.5)/Q, i = 0..Q−1, Q = min(count, {@link PROFILE_SAMPLE_SIZE}), nearest rank
 *   (sorted[floor((2i + 1)·count / 2Q)]), ascending. Up to 1000 values it is the whole sample; above,
 *   its empirical CDF is within 1/(2Q) of the reference's everywhere (where k of the count values
 *   are ≤ x, ceil(kQ/count − 1/2) of the Q are), so the drift check's KS statistic against it is
 *   within 1/(2Q) of the full reference's, and its Wasserstein-1 within (max − min)/(2Q). The drift
 *   check needs it for KS and Wasserstein (without it they are absent and a finding says why).
 * - Categorical: categories by count (descending, then value by code unit), the declared ones
 *   included even when absent (count 0); past `maxCategories` the rest fold into `otherCount` rows
 *   over `otherCategories` values. `frequency` = count / rows (nulls included in rows).
 *   `otherValues` (optional) lists the folded values when there are at most
 *   {@link PROFILE_MAX_OTHER_VALUES} of them (sorted by code unit), so that the drift check can tell
 *   a folded value from one the reference never saw.
 * - Predictions: classifiers' probabilities per class on fixed edges 0.1..0.9 (same bin rule) and
 *   the predicted-class counts (first largest probability); regressors' scores binned like a
 *   numeric feature.
 *
 * Deterministic: the same data (in any row order) gives the same profile, to the byte as JSON.
 */
import * as z from 'zod';
import type { FeatureColumn } from '../../feature-store/point-in-time-join.js';
import { ValidationError } from '../../shared/errors.js';
import { parseOrThrow } from '../../shared/validation.js';
import type { FeatureInput, TrainingFrame } from '../encoding.js';
import type { ClassLabel } from '../model-contract.js';

export const PROFILE_FORMAT_VERSION = 1;
export const DEFAULT_PROFILE_BINS = 10;
export const DEFAULT_PROFILE_MAX_CATEGORIES = 50;
/** Most reference quantiles a numeric feature's profile keeps (`sample`). */
export const PROFILE_SAMPLE_SIZE = 1000;
/** Most folded category values a categorical feature's profile lists (`otherValues`). */
export const PROFILE_MAX_OTHER_VALUES = 10_000;
/** Inner edges of the probability bins: ten bins of width 0.1. */
export const PROBABILITY_EDGES: readonly number[] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

const count = z.number().int().min(0);
const rate = z.number().min(0).max(1);
const histogramShape = {
  /** Non-null values. */
  count,
  min: z.number().nullable(),
  max: z.number().nullable(),
  /** Inner cut points, ascending. */
  edges: z.array(z.number()),
  /** edges.length + 1 entries. */
  counts: z.array(count).min(1),
};
const histogramSchema = z.strictObject(histogramShape);
const numericProfileSchema = z.strictObject({
  kind: z.literal('numeric'),
  name: z.string(),
  nullCount: count,
  nullRate: rate,
  ...histogramShape,
  /** The reference's quantiles at (i + 0.5)/Q, ascending (see the module comment); optional. */
  sample: z.array(z.number()).optional(),
});
const categoricalProfileSchema = z.strictObject({
  kind: z.literal('categorical'),
  name: z.string(),
  count,
  nullCount: count,
  nullRate: rate,
  categories: z.array(z.strictObject({ value: z.string(), count, frequency: rate })),
  otherCount: count,
  otherCategories: count,
  /** The values folded into `otherCount`, when at most PROFILE_MAX_OTHER_VALUES; optional. */
  otherValues: z.array(z.string()).optional(),
});
const predictionProfileSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('probability'),
    classes: z.array(z.union([z.number(), z.string()])).min(2),
    edges: z.array(z.number()),
    /** Per class, per bin. */
    counts: z.array(z.array(count)),
    predictedCounts: z.array(count),
  }),
  z.strictObject({ kind: z.literal('score'), ...histogramShape }),
]);

/** The stored shape; {@link parseReferenceProfile} checks it. */
export const referenceProfileSchema = z.strictObject({
  formatVersion: z.literal(PROFILE_FORMAT_VERSION, { error: `must be ${PROFILE_FORMAT_VERSION}` }),
  rows: count,
  bins: z.number().int().min(1),
  features: z.array(z.discriminatedUnion('kind', [numericProfileSchema, categoricalProfileSchema])),
  prediction: predictionProfileSchema,
});

export type Histogram = z.output<typeof histogramSchema>;
export type NumericProfile = z.output<typeof numericProfileSchema>;
export type CategoricalProfile = z.output<typeof categoricalProfileSchema>;
export type PredictionProfile = z.output<typeof predictionProfileSchema>;
export type ReferenceProfile = z.output<typeof referenceProfileSchema>;

/** The model's outputs on the reference rows. */
export type ReferencePredictions =
  | {
      readonly kind: 'probability';
      /** Row-major [N, classes.length], the `probabilities` output. */
      readonly probabilities: ArrayLike<number>;
      readonly classes: readonly ClassLabel[];
    }
  | { readonly kind: 'score'; readonly prediction: ArrayLike<number> };

export interface ProfileOptions {
  /** Quantile bins per numeric feature (fewer when values repeat). @default 10 */
  readonly bins?: number;
  /** Categories listed per categorical feature before the rest fold into "other". @default 50 */
  readonly maxCategories?: number;
}

/** The bin of `x` under inner `edges` (right-closed): the number of edges below x. */
export function binIndex(edges: readonly number[], x: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((edges[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The non-NaN values, sorted; an infinity is refused. */
function sortedPresent(field: string, values: ArrayLike<number>): Float64Array {
  const buffer = new Float64Array(values.length);
  let m = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (Number.isNaN(v)) continue;
    if (!Number.isFinite(v))
      throw new ValidationError(field, `must be finite or missing, not ${v} (row ${i})`);
    buffer[m++] = v;
  }
  return buffer.subarray(0, m).sort();
}

/**
 * The quantiles of sorted values at (i + 0.5)/Q, Q = min(n, size): sorted[floor((2i + 1)·n / 2Q)]
 * (exact integer arithmetic, so deterministic). With n ≤ size, the values themselves.
 */
export function referenceSample(sorted: ArrayLike<number>, size = PROFILE_SAMPLE_SIZE): number[] {
  const n = sorted.length;
  const q = Math.min(n, size);
  return Array.from({ length: q }, (_, i) => sorted[Math.floor(((2 * i + 1) * n) / (2 * q))] as number);
}

/** Quantile-binned histogram of the non-NaN values (see the module comment for the rule). */
export function quantileHistogram(field: string, values: ArrayLike<number>, bins: number): Histogram {
  return histogramOfSorted(sortedPresent(field, values), bins);
}

function histogramOfSorted(sorted: Float64Array, bins: number): Histogram {
  const m = sorted.length;
  if (m === 0) return { count: 0, min: null, max: null, edges: [], counts: [0] };
  const max = sorted[m - 1] as number;
  const edges: number[] = [];
  for (let k = 1; k < bins; k++) {
    const edge = sorted[Math.floor((m - 1) * (k / bins))] as number;
    if (edge < max && edge !== edges[edges.length - 1]) edges.push(edge);
  }
  // The values are sorted: sweep them against the edges (the binIndex rule, in one pass).
  const counts = new Array<number>(edges.length + 1).fill(0);
  let bin = 0;
  for (let i = 0; i < m; i++) {
    const v = sorted[i] as number;
    while (bin < edges.length && v > (edges[bin] as number)) bin++;
    counts[bin] = (counts[bin] as number) + 1;
  }
  return { count: m, min: sorted[0] as number, max, edges, counts };
}

function columnOf(frame: TrainingFrame, feature: FeatureInput): FeatureColumn {
  const field = `columns.${feature.name}`;
  const column = frame.columns[feature.name];
  if (column === undefined) throw new ValidationError(field, 'is missing from the reference data');
  if ((feature.type !== 'string') !== column instanceof Float64Array)
    throw new ValidationError(
      field,
      feature.type === 'string' ? 'must be a categorical column' : 'must be a numeric column',
    );
  const length = column instanceof Float64Array ? column.length : column.codes.length;
  if (length !== frame.rows) throw new ValidationError(field, `must hold ${frame.rows} rows, not ${length}`);
  return column;
}

const byCountThenValue = (a: { value: string; count: number }, b: { value: string; count: number }) =>
  b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0);

function categoricalProfile(
  feature: FeatureInput,
  column: { codes: Int32Array; dictionary: readonly string[] },
  rows: number,
  maxCategories: number,
): CategoricalProfile {
  const counts = new Map<string, number>((feature.categories ?? []).map((c) => [c, 0]));
  let nullCount = 0;
  const codeCounts = new Float64Array(column.dictionary.length);
  for (const code of column.codes) {
    if (code < 0) nullCount++;
    else if (code >= column.dictionary.length)
      throw new ValidationError(`columns.${feature.name}`, `holds code ${code} outside its dictionary`);
    else codeCounts[code] = (codeCounts[code] as number) + 1;
  }
  column.dictionary.forEach((value, code) => {
    if (codeCounts[code]) counts.set(value, (counts.get(value) ?? 0) + (codeCounts[code] as number));
  });
  const ranked = [...counts].map(([value, count]) => ({ value, count })).sort(byCountThenValue);
  const listed = ranked.slice(0, maxCategories);
  const rest = ranked.slice(maxCategories).filter((c) => c.count > 0);
  const otherValues =
    rest.length > 0 && rest.length <= PROFILE_MAX_OTHER_VALUES
      ? { otherValues: rest.map((c) => c.value).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) }
      : {};
  return {
    kind: 'categorical',
    name: feature.name,
    count: rows - nullCount,
    nullCount,
    nullRate: nullCount / rows,
    categories: listed.map((c) => ({ ...c, frequency: c.count / rows })),
    otherCount: rest.reduce((sum, c) => sum + c.count, 0),
    otherCategories: rest.length,
    ...otherValues,
  };
}

function predictionProfile(predictions: ReferencePredictions, rows: number, bins: number): PredictionProfile {
  if (predictions.kind === 'score') {
    if (predictions.prediction.length !== rows)
      throw new ValidationError(
        'prediction',
        `must hold ${rows} values, not ${predictions.prediction.length}`,
      );
    return { kind: 'score', ...quantileHistogram('prediction', predictions.prediction, bins) };
  }
  const k = predictions.classes.length;
  if (k < 2) throw new ValidationError('classes', 'must list at least two classes');
  const p = predictions.probabilities;
  if (p.length !== rows * k)
    throw new ValidationError('probabilities', `must hold ${rows * k} values, not ${p.length}`);
  const edges = [...PROBABILITY_EDGES];
  const counts = Array.from({ length: k }, () => new Array<number>(edges.length + 1).fill(0));
  const predictedCounts = new Array<number>(k).fill(0);
  for (let i = 0; i < rows; i++) {
    let best = 0;
    for (let c = 0; c < k; c++) {
      const v = p[i * k + c] as number;
      if (!(v >= 0 && v <= 1))
        throw new ValidationError('probabilities', `must be probabilities in [0, 1], not ${v} (row ${i})`);
      const bin = binIndex(edges, v);
      (counts[c] as number[])[bin] = ((counts[c] as number[])[bin] as number) + 1;
      if (v > (p[i * k + best] as number)) best = c;
    }
    predictedCounts[best] = (predictedCounts[best] as number) + 1;
  }
  return { kind: 'probability', classes: [...predictions.classes], edges, counts, predictedCounts };
}

/** Profiles the reference rows (features in the model's input order) and the model's outputs on them. */
export function buildReferenceProfile(
  features: readonly FeatureInput[],
  frame: TrainingFrame,
  predictions: ReferencePredictions,
  options: ProfileOptions = {},
): ReferenceProfile {
  const bins = options.bins ?? DEFAULT_PROFILE_BINS;
  const maxCategories = options.maxCategories ?? DEFAULT_PROFILE_MAX_CATEGORIES;
  if (!(Number.isInteger(bins) && bins >= 1 && bins <= 1000))
    throw new ValidationError('bins', 'must be a whole number from 1 to 1000');
  if (!(Number.isInteger(maxCategories) && maxCategories >= 0))
    throw new ValidationError('maxCategories', 'must be a whole number >= 0');
  if (features.length === 0) throw new ValidationError('features', 'must list at least one feature');
  if (frame.rows === 0) throw new ValidationError('rows', 'must not be empty (no reference rows)');
  const profiles = features.map((feature): NumericProfile | CategoricalProfile => {
    const column = columnOf(frame, feature);
    if (!(column instanceof Float64Array))
      return categoricalProfile(feature, column, frame.rows, maxCategories);
    const sorted = sortedPresent(`columns.${feature.name}`, column);
    const histogram = histogramOfSorted(sorted, bins);
    const nullCount = frame.rows - histogram.count;
    return {
      kind: 'numeric',
      name: feature.name,
      nullCount,
      nullRate: nullCount / frame.rows,
      ...histogram,
      sample: referenceSample(sorted),
    };
  });
  return {
    formatVersion: PROFILE_FORMAT_VERSION,
    rows: frame.rows,
    bins,
    features: profiles,
    prediction: predictionProfile(predictions, frame.rows, bins),
  };
}

/** Reads a stored profile back (JSON text or a value), checking its shape and format version. */
export function parseReferenceProfile(input: unknown): ReferenceProfile {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch {
      throw new ValidationError('profile', 'must be JSON');
    }
  }
  return parseOrThrow(referenceProfileSchema, value, 'profile');
}
