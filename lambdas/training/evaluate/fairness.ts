/**
 * Metrics per slice of a configured attribute (model-config.ts `slices`, e.g. segment, region) and
 * the fairness gaps between slices that gates can bound:
 * - demographic-parity difference: max − min over slices of the share predicted positive;
 * - equal-opportunity difference: max − min over slices of the true-positive rate (recall).
 *
 * Every slice is reported with its row count and its own metrics. A slice with fewer than
 * `minCount` rows is reported but left out of both gaps (its rates are noise); a slice without
 * actual positives has no true-positive rate and is left out of the equal-opportunity gap. Each
 * gap names the slices it compared and the ones it left out, and says why. Gaps are defined for
 * binary tasks; for the others they are null with the reason.
 *
 * Slice values: a categorical column's category, a numeric one's number as text (bool as 0/1);
 * a missing value is its own slice, `<missing>`. Slices are sorted by value (numbers ascending,
 * strings by code unit), `<missing>` last.
 */
import type { FeatureColumn } from '../../feature-store/point-in-time-join.js';
import { ValidationError } from '../../shared/errors.js';
import {
  type BinaryMetrics,
  binaryMetrics,
  type MulticlassMetrics,
  multiclassMetrics,
  type RegressionMetrics,
  regressionMetrics,
} from './metrics.js';

/** The slice of rows whose attribute is missing. */
export const MISSING_SLICE = '<missing>';
/** @see SliceOptions.minCount */
export const DEFAULT_MIN_SLICE_COUNT = 30;

/** What the model predicted on the held-out rows, with their truth. */
export type ScoredRows =
  | { readonly task: 'binary'; readonly y: ArrayLike<number>; readonly probability: ArrayLike<number> }
  | {
      readonly task: 'multiclass';
      readonly y: ArrayLike<number>;
      /** Row-major [N, classes]. */
      readonly probabilities: ArrayLike<number>;
      readonly classes: number;
    }
  | { readonly task: 'regression'; readonly y: ArrayLike<number>; readonly prediction: ArrayLike<number> };

export interface SliceOptions {
  /** Binary: P(positive) at or above it counts as a positive prediction. @default 0.5 */
  readonly threshold?: number;
  /** Fewest rows a slice needs to count in the gaps. @default 30 */
  readonly minCount?: number;
}

export interface SliceResult {
  readonly value: string;
  readonly count: number;
  readonly metrics: BinaryMetrics | MulticlassMetrics | RegressionMetrics;
  /** Counted in the demographic-parity gap (binary tasks). */
  readonly inGaps: boolean;
  /** Why it is not counted (in one gap or both). */
  readonly excludedReason?: string;
}

export interface FairnessGap {
  /** max − min of the rate over the compared slices; null when fewer than two qualify. */
  readonly value: number | null;
  readonly max?: { readonly slice: string; readonly rate: number };
  readonly min?: { readonly slice: string; readonly rate: number };
  /** Slices compared. */
  readonly compared: string[];
  /** Slices left out, each with why. */
  readonly excluded: { readonly slice: string; readonly reason: string }[];
  readonly reason?: string;
}

export interface SliceReport {
  readonly attribute: string;
  readonly minCount: number;
  readonly slices: SliceResult[];
  readonly demographicParity: FairnessGap;
  readonly equalOpportunity: FairnessGap;
}

function sliceKeys(field: string, column: FeatureColumn, n: number): string[] {
  if (column instanceof Float64Array) {
    if (column.length !== n) throw new ValidationError(field, `must hold ${n} rows, not ${column.length}`);
    return Array.from(column, (v) => (Number.isNaN(v) ? MISSING_SLICE : String(v)));
  }
  if (column.codes.length !== n)
    throw new ValidationError(field, `must hold ${n} rows, not ${column.codes.length}`);
  return Array.from(column.codes, (code) => {
    if (code < 0) return MISSING_SLICE;
    const value = column.dictionary[code];
    if (value === undefined) throw new ValidationError(field, `holds code ${code} outside its dictionary`);
    return value;
  });
}

function pick(values: ArrayLike<number>, rows: readonly number[], width = 1): Float64Array {
  const out = new Float64Array(rows.length * width);
  rows.forEach((r, i) => {
    for (let k = 0; k < width; k++) out[i * width + k] = values[r * width + k] as number;
  });
  return out;
}

function metricsOf(scored: ScoredRows, rows: readonly number[], threshold: number) {
  const y = pick(scored.y, rows);
  switch (scored.task) {
    case 'binary':
      return binaryMetrics(y, pick(scored.probability, rows), threshold);
    case 'multiclass':
      return multiclassMetrics(y, pick(scored.probabilities, rows, scored.classes), scored.classes);
    case 'regression':
      return regressionMetrics(y, pick(scored.prediction, rows));
  }
}

function gap(
  rates: { slice: string; rate: number | null; skip?: string }[],
  undefinedRate: string,
): FairnessGap {
  const compared: { slice: string; rate: number }[] = [];
  const excluded: { slice: string; reason: string }[] = [];
  for (const r of rates) {
    if (r.skip !== undefined) excluded.push({ slice: r.slice, reason: r.skip });
    else if (r.rate === null) excluded.push({ slice: r.slice, reason: undefinedRate });
    else compared.push({ slice: r.slice, rate: r.rate });
  }
  const names = compared.map((c) => c.slice);
  if (compared.length < 2)
    return {
      value: null,
      compared: names,
      excluded,
      reason: `needs at least two qualifying slices, has ${compared.length}`,
    };
  let max = compared[0] as { slice: string; rate: number };
  let min = max;
  for (const c of compared) {
    if (c.rate > max.rate) max = c;
    if (c.rate < min.rate) min = c;
  }
  return { value: max.rate - min.rate, max, min, compared: names, excluded };
}

/** Per-slice metrics of one attribute and the fairness gaps between its slices. */
export function sliceReport(
  attribute: string,
  column: FeatureColumn,
  scored: ScoredRows,
  options: SliceOptions = {},
): SliceReport {
  const n = scored.y.length;
  if (n === 0) throw new ValidationError('labels', 'must not be empty (no held-out rows)');
  const threshold = options.threshold ?? 0.5;
  const minCount = options.minCount ?? DEFAULT_MIN_SLICE_COUNT;
  if (!(Number.isInteger(minCount) && minCount >= 1))
    throw new ValidationError('minCount', 'must be a whole number >= 1');
  const keys = sliceKeys(`slices.${attribute}`, column, n);
  const rowsBy = new Map<string, number[]>();
  keys.forEach((key, row) => {
    const rows = rowsBy.get(key);
    if (rows === undefined) rowsBy.set(key, [row]);
    else rows.push(row);
  });
  const numeric = column instanceof Float64Array;
  const values = [...rowsBy.keys()].sort((a, b) =>
    a === MISSING_SLICE || b === MISSING_SLICE
      ? Number(a === MISSING_SLICE) - Number(b === MISSING_SLICE)
      : numeric
        ? Number(a) - Number(b)
        : a < b
          ? -1
          : a > b
            ? 1
            : 0,
  );
  const small = `fewer than ${minCount} rows`;
  const slices = values.map((value): SliceResult => {
    const rows = rowsBy.get(value) as number[];
    const inGaps = rows.length >= minCount;
    return {
      value,
      count: rows.length,
      metrics: metricsOf(scored, rows, threshold),
      inGaps,
      ...(inGaps ? {} : { excludedReason: small }),
    };
  });
  if (scored.task !== 'binary') {
    const none: FairnessGap = {
      value: null,
      compared: [],
      excluded: [],
      reason: `fairness gaps are defined for binary tasks, not ${scored.task}`,
    };
    return { attribute, minCount, slices, demographicParity: none, equalOpportunity: none };
  }
  const binary = slices.map((s) => ({ slice: s, m: s.metrics as BinaryMetrics }));
  const skip = (s: SliceResult) => (s.inGaps ? {} : { skip: small });
  return {
    attribute,
    minCount,
    slices,
    demographicParity: gap(
      binary.map(({ slice, m }) => ({ slice: slice.value, rate: m.positiveRate, ...skip(slice) })),
      'no predictions',
    ),
    equalOpportunity: gap(
      binary.map(({ slice, m }) => ({ slice: slice.value, rate: m.recall, ...skip(slice) })),
      'no actual positives (true-positive rate undefined)',
    ),
  };
}
