/**
 * The one encoding spec that turns a raw row (feature name → value) into a model's float input
 * vector. Trainers fit it on the training set and encode through it; the exported model carries it
 * in its metadata (model-contract.ts) and the serving path encodes requests through the same
 * `encodeRow`, so the same raw row scores the same offline and online.
 *
 * Per feature, in the spec's order:
 * - numeric (float64, int64, bool as 0/1): one column holding the raw value. The training mean and
 *   population standard deviation are recorded: linear trainers standardize with them and fold the
 *   scaling back into the exported weights; missing values (null, undefined, NaN) become the mean
 *   (`missing: 'mean'`, which standardizes to 0) or stay NaN for trees that learn where missing goes
 *   (`missing: 'nan'`).
 * - categorical (string): one-hot over `categories` (the feature view's declared list, or learned:
 *   the most frequent values, ties by value). A value outside the list, or a missing one, is all
 *   zeros (`unknown: 'zeros'`) or sets one extra trailing `<other>` column (`unknown: 'other'`).
 *
 * A value of the wrong type (a string for a numeric feature, a number for a categorical one) is a
 * ValidationError naming the feature: coercing it would score something the model never saw.
 */
import * as z from 'zod';
import type { FeatureType } from '../feature-store/feature-view.js';
import type { FeatureColumn } from '../feature-store/point-in-time-join.js';
import { ValidationError } from '../shared/errors.js';
import { parseOrThrow } from '../shared/validation.js';

/** A raw feature value as rows carry it (Parquet int64 may arrive as bigint). */
export type RawValue = number | bigint | string | boolean | null | undefined;
export type RawRow = Readonly<Record<string, RawValue>>;

export const ENCODING_SPEC_VERSION = 1;
/** Suffix naming the extra column of `unknown: 'other'`. */
export const OTHER_CATEGORY = '<other>';

const featureName = z.string().min(1, 'must not be empty').max(256, 'must be at most 256 characters');
const finite = z.number({ error: 'must be a finite number' }).refine(Number.isFinite, 'must be finite');

const numericSpec = z.strictObject({
  kind: z.literal('numeric'),
  name: featureName,
  mean: finite,
  std: finite.refine((s) => s > 0, 'must be positive'),
  missing: z.enum(['mean', 'nan'], { error: "must be 'mean' or 'nan'" }),
});
const categoricalSpec = z.strictObject({
  kind: z.literal('categorical'),
  name: featureName,
  categories: z.array(z.string()).refine((c) => new Set(c).size === c.length, 'categories must be distinct'),
  unknown: z.enum(['zeros', 'other'], { error: "must be 'zeros' or 'other'" }),
});

export const encodingSpecSchema = z.strictObject({
  version: z.literal(ENCODING_SPEC_VERSION, { error: `must be ${ENCODING_SPEC_VERSION}` }),
  features: z
    .array(
      z.discriminatedUnion('kind', [numericSpec, categoricalSpec], {
        error: 'kind must be numeric or categorical',
      }),
    )
    .min(1, 'must list at least one feature')
    .refine((f) => new Set(f.map((x) => x.name)).size === f.length, 'feature names must be unique'),
});

export type EncodingSpec = z.output<typeof encodingSpecSchema>;
export type FeatureEncoding = EncodingSpec['features'][number];
export type NumericEncoding = Extract<FeatureEncoding, { kind: 'numeric' }>;

/** Parses a spec from JSON text or a value (e.g. ONNX metadata, a registry record). */
export function parseEncodingSpec(input: unknown): EncodingSpec {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch {
      throw new ValidationError('encoding', 'must be JSON');
    }
  }
  return parseOrThrow(encodingSpecSchema, value, 'encoding');
}

/** What a trainer is told about one input feature before fitting. */
export interface FeatureInput {
  readonly name: string;
  readonly type: FeatureType;
  /** Declared categories of a string feature (the feature view's); learned from data when absent. */
  readonly categories?: readonly string[];
}

export interface FitEncodingOptions {
  /** @default 'mean' */
  readonly missing?: NumericEncoding['missing'];
  /** @default 'zeros' */
  readonly unknown?: 'zeros' | 'other';
  /** Most categories learned per feature (the rest count as unknown). @default 100 */
  readonly maxCategories?: number;
  /** Fewest rows a learned category needs. @default 1 */
  readonly minCategoryCount?: number;
}

const isMissing = (v: RawValue): v is null | undefined =>
  v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v));

/** `prefix.name` for errors (built only when one is thrown: this runs once per cell). */
const fieldOf = (prefix: string, index: number, name: string) =>
  index < 0 ? `${prefix}.${name}` : `${prefix}[${index}].${name}`;

function numericValue(v: RawValue, prefix: string, index: number, name: string): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v))
      throw new ValidationError(fieldOf(prefix, index, name), 'must be a finite number');
    return v;
  }
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'bigint') return Number(v);
  throw new ValidationError(fieldOf(prefix, index, name), `must be a number, not ${typeof v}`);
}

function categoryValue(v: RawValue, prefix: string, index: number, name: string): string {
  if (typeof v !== 'string') {
    throw new ValidationError(fieldOf(prefix, index, name), `must be a string, not ${typeof v}`);
  }
  return v;
}

/**
 * A training set in columns, as the point-in-time join returns it: numeric features as Float64Array
 * (NaN = missing; bool as 0/1), string features dictionary-encoded (code -1 = missing).
 */
export interface TrainingFrame {
  readonly rows: number;
  readonly columns: Readonly<Record<string, FeatureColumn>>;
}

/** The column of `feature`, checked for presence, kind and length. */
function columnOf(frame: TrainingFrame, feature: FeatureInput): FeatureColumn {
  const column = frame.columns[feature.name];
  const field = `columns.${feature.name}`;
  if (column === undefined) throw new ValidationError(field, 'is missing from the training set');
  const numeric = feature.type !== 'string';
  if (numeric !== column instanceof Float64Array) {
    throw new ValidationError(field, numeric ? 'must be a numeric column' : 'must be a categorical column');
  }
  const length = column instanceof Float64Array ? column.length : column.codes.length;
  if (length !== frame.rows) throw new ValidationError(field, `must hold ${frame.rows} rows, not ${length}`);
  return column;
}

/** Fits the spec on a training set: numeric means and deviations, learned category lists. */
export function fitEncodingSpec(
  features: readonly FeatureInput[],
  frame: TrainingFrame,
  options: FitEncodingOptions = {},
): EncodingSpec {
  if (features.length === 0) throw new ValidationError('features', 'must list at least one feature');
  if (frame.rows === 0) throw new ValidationError('rows', 'must not be empty (no training rows)');
  const missing = options.missing ?? 'mean';
  const unknown = options.unknown ?? 'zeros';
  const maxCategories = options.maxCategories ?? 100;
  const minCount = options.minCategoryCount ?? 1;
  const spec = features.map((feature): FeatureEncoding => {
    const column = columnOf(frame, feature);
    if (column instanceof Float64Array) {
      // Two-pass mean and population variance (stable; matches StandardScaler's ddof=0).
      let n = 0;
      let sum = 0;
      for (let i = 0; i < column.length; i++) {
        const v = column[i] as number;
        if (!Number.isNaN(v)) {
          sum += v;
          n++;
        }
      }
      const mean = n === 0 ? 0 : sum / n;
      let ss = 0;
      for (let i = 0; i < column.length; i++) {
        const v = column[i] as number;
        if (!Number.isNaN(v)) ss += (v - mean) * (v - mean);
      }
      const std = n === 0 ? 0 : Math.sqrt(ss / n);
      // A constant column keeps scale 1 (as scikit-learn does), so it never divides by zero.
      return { kind: 'numeric', name: feature.name, mean, std: std > 0 ? std : 1, missing };
    }
    let categories: string[];
    if (feature.categories !== undefined) {
      categories = [...feature.categories];
    } else {
      const codeCounts = new Float64Array(column.dictionary.length);
      for (const code of column.codes) if (code >= 0) codeCounts[code] = (codeCounts[code] as number) + 1;
      const counts = new Map<string, number>();
      column.dictionary.forEach((c, code) => {
        if (codeCounts[code]) counts.set(c, (counts.get(c) ?? 0) + (codeCounts[code] as number));
      });
      categories = [...counts]
        .filter(([, count]) => count >= minCount)
        .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0))
        .slice(0, maxCategories)
        .map(([c]) => c);
    }
    return { kind: 'categorical', name: feature.name, categories, unknown };
  });
  return parseEncodingSpec({ version: ENCODING_SPEC_VERSION, features: spec });
}

/**
 * Raw rows (CSV, JSON, tests) into a training frame, checking each value's type: a ValidationError
 * names `rows[i].<feature>`.
 */
export function rowsToFrame(features: readonly FeatureInput[], rows: readonly RawRow[]): TrainingFrame {
  const columns: Record<string, FeatureColumn> = {};
  for (const feature of features) {
    if (feature.type !== 'string') {
      const values = new Float64Array(rows.length);
      rows.forEach((row, i) => {
        const v = row[feature.name];
        values[i] = isMissing(v) ? Number.NaN : numericValue(v, 'rows', i, feature.name);
      });
      columns[feature.name] = values;
    } else {
      const dictionary: string[] = [];
      const codeOf = new Map<string, number>();
      const codes = new Int32Array(rows.length);
      rows.forEach((row, i) => {
        const v = row[feature.name];
        if (isMissing(v)) {
          codes[i] = -1;
          return;
        }
        const c = categoryValue(v, 'rows', i, feature.name);
        let code = codeOf.get(c);
        if (code === undefined) {
          code = dictionary.push(c) - 1;
          codeOf.set(c, code);
        }
        codes[i] = code;
      });
      columns[feature.name] = { codes, dictionary };
    }
  }
  return { rows: rows.length, columns };
}

/** Width of the encoded vector. */
export function encodedWidth(spec: EncodingSpec): number {
  let width = 0;
  for (const f of spec.features) {
    width += f.kind === 'numeric' ? 1 : f.categories.length + (f.unknown === 'other' ? 1 : 0);
  }
  return width;
}

/** Names of the encoded columns: `feature` for numeric, `feature=value` for one-hot. */
export function encodedColumnNames(spec: EncodingSpec): string[] {
  const names: string[] = [];
  for (const f of spec.features) {
    if (f.kind === 'numeric') names.push(f.name);
    else {
      for (const c of f.categories) names.push(`${f.name}=${c}`);
      if (f.unknown === 'other') names.push(`${f.name}=${OTHER_CATEGORY}`);
    }
  }
  return names;
}

/** For each encoded column, the numeric feature it holds (standardized by trainers), else null. */
export function numericColumns(spec: EncodingSpec): (NumericEncoding | null)[] {
  const out: (NumericEncoding | null)[] = [];
  for (const f of spec.features) {
    if (f.kind === 'numeric') out.push(f);
    else for (let i = 0; i < f.categories.length + (f.unknown === 'other' ? 1 : 0); i++) out.push(null);
  }
  return out;
}

/** Indexes of each categorical feature's categories, built once per spec. */
const categoryIndexes = new WeakMap<EncodingSpec, Map<string, Map<string, number>>>();

function indexOf(spec: EncodingSpec): Map<string, Map<string, number>> {
  let index = categoryIndexes.get(spec);
  if (!index) {
    index = new Map();
    for (const f of spec.features) {
      if (f.kind === 'categorical') index.set(f.name, new Map(f.categories.map((c, i) => [c, i])));
    }
    categoryIndexes.set(spec, index);
  }
  return index;
}

/**
 * Encodes one raw row into `out` at `offset` (a fresh vector when `out` is absent). Errors name the
 * field `row.<feature>`, or `rows[<index>].<feature>` when `index` is given.
 */
export function encodeRow(
  spec: EncodingSpec,
  row: RawRow,
  out: Float64Array = new Float64Array(encodedWidth(spec)),
  offset = 0,
  index = -1,
): Float64Array {
  const prefix = index < 0 ? 'row' : 'rows';
  const categories = indexOf(spec);
  let j = offset;
  for (const f of spec.features) {
    const v = row[f.name];
    if (f.kind === 'numeric') {
      out[j++] = isMissing(v)
        ? f.missing === 'mean'
          ? f.mean
          : Number.NaN
        : numericValue(v, prefix, index, f.name);
      continue;
    }
    const width = f.categories.length + (f.unknown === 'other' ? 1 : 0);
    out.fill(0, j, j + width);
    const at = isMissing(v)
      ? undefined
      : categories.get(f.name)?.get(categoryValue(v, prefix, index, f.name));
    if (at !== undefined) out[j + at] = 1;
    else if (f.unknown === 'other') out[j + f.categories.length] = 1;
    j += width;
  }
  return out;
}

/** A dense row-major matrix. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;
}

/** Encodes many rows into one row-major matrix (the trainers' and batch scoring's entry point). */
export function encodeRows(spec: EncodingSpec, rows: readonly RawRow[]): Matrix {
  const cols = encodedWidth(spec);
  const data = new Float64Array(rows.length * cols);
  rows.forEach((row, i) => {
    encodeRow(spec, row, data, i * cols, i);
  });
  return { rows: rows.length, cols, data };
}

/**
 * Encodes a training frame into one row-major matrix (the trainers' entry point): the same numbers
 * `encodeRow` gives for each row, computed column by column.
 */
export function encodeColumns(spec: EncodingSpec, frame: TrainingFrame): Matrix {
  return encodeFrame(spec, frame, false);
}

/**
 * The linear trainers' design matrix: `encodeColumns` with numeric columns standardized by the
 * spec's mean and deviation, and a trailing column of ones for the intercept.
 */
export function standardizedDesign(spec: EncodingSpec, frame: TrainingFrame): Matrix {
  return encodeFrame(spec, frame, true);
}

/** Rows per block: a block of the output stays in cache while every column is written into it. */
const BLOCK_ROWS = 512;

type ColumnPlan =
  | {
      readonly kind: 'numeric';
      readonly values: Float64Array;
      readonly fill: number;
      readonly shift: number;
      readonly scale: number;
    }
  | {
      readonly kind: 'categorical';
      readonly codes: Int32Array;
      readonly slot: Int32Array;
      readonly other: number;
      readonly width: number;
    };

function encodeFrame(spec: EncodingSpec, frame: TrainingFrame, design: boolean): Matrix {
  const width = encodedWidth(spec);
  const cols = design ? width + 1 : width;
  const n = frame.rows;
  const data = new Float64Array(n * cols);
  const plans = spec.features.map((f): ColumnPlan => {
    const column = columnOf(frame, { name: f.name, type: f.kind === 'numeric' ? 'float64' : 'string' });
    if (column instanceof Float64Array) {
      const numeric = f as NumericEncoding;
      return {
        kind: 'numeric',
        values: column,
        fill: numeric.missing === 'mean' ? numeric.mean : Number.NaN,
        shift: design ? numeric.mean : 0,
        scale: design ? 1 / numeric.std : 1,
      };
    }
    const categorical = f as Extract<FeatureEncoding, { kind: 'categorical' }>;
    const index = new Map(categorical.categories.map((c, k) => [c, k]));
    const other = categorical.unknown === 'other' ? categorical.categories.length : -1;
    // Each dictionary entry's one-hot position, once; -1 = all zeros.
    const slot = Int32Array.from(column.dictionary, (c) => index.get(c) ?? other);
    return {
      kind: 'categorical',
      codes: column.codes,
      slot,
      other,
      width: categorical.categories.length + (other >= 0 ? 1 : 0),
    };
  });
  for (let start = 0; start < n; start += BLOCK_ROWS) {
    const end = Math.min(n, start + BLOCK_ROWS);
    let j = 0;
    for (const plan of plans) {
      if (plan.kind === 'numeric') {
        const { values, fill, shift, scale } = plan;
        for (let i = start; i < end; i++) {
          const v = values[i] as number;
          data[i * cols + j] = ((Number.isNaN(v) ? fill : v) - shift) * scale;
        }
        j++;
        continue;
      }
      const { slot, codes, other } = plan;
      for (let i = start; i < end; i++) {
        const code = codes[i] as number;
        const at = code >= 0 ? (slot[code] as number) : other;
        if (at >= 0) data[i * cols + j + at] = 1;
      }
      j += plan.width;
    }
    if (design) for (let i = start; i < end; i++) data[i * cols + width] = 1;
  }
  return { rows: n, cols, data };
}
