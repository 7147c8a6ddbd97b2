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

function numericValue(name: string, v: RawValue): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new ValidationError(name, 'must be a finite number');
    return v;
  }
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'bigint') return Number(v);
  throw new ValidationError(name, `must be a number, not ${typeof v}`);
}

function categoryValue(name: string, v: RawValue): string {
  if (typeof v !== 'string') throw new ValidationError(name, `must be a string, not ${typeof v}`);
  return v;
}

/** Fits the spec on training rows: numeric means and deviations, learned category lists. */
export function fitEncodingSpec(
  features: readonly FeatureInput[],
  rows: readonly RawRow[],
  options: FitEncodingOptions = {},
): EncodingSpec {
  if (features.length === 0) throw new ValidationError('features', 'must list at least one feature');
  if (rows.length === 0) throw new ValidationError('rows', 'must not be empty');
  const missing = options.missing ?? 'mean';
  const unknown = options.unknown ?? 'zeros';
  const maxCategories = options.maxCategories ?? 100;
  const minCount = options.minCategoryCount ?? 1;
  const spec = features.map((feature): FeatureEncoding => {
    if (feature.type !== 'string') {
      // Two-pass mean and population variance (stable; matches StandardScaler's ddof=0).
      let n = 0;
      let sum = 0;
      rows.forEach((row, i) => {
        const v = row[feature.name];
        if (isMissing(v)) return;
        sum += numericValue(`rows[${i}].${feature.name}`, v);
        n++;
      });
      const mean = n === 0 ? 0 : sum / n;
      let ss = 0;
      for (const row of rows) {
        const v = row[feature.name];
        if (isMissing(v)) continue;
        const d = Number(v) - mean; // checked in the first pass
        ss += d * d;
      }
      const std = n === 0 ? 0 : Math.sqrt(ss / n);
      // A constant column keeps scale 1 (as scikit-learn does), so it never divides by zero.
      return { kind: 'numeric', name: feature.name, mean, std: std > 0 ? std : 1, missing };
    }
    let categories: string[];
    if (feature.categories !== undefined) {
      categories = [...feature.categories];
    } else {
      const counts = new Map<string, number>();
      rows.forEach((row, i) => {
        const v = row[feature.name];
        if (isMissing(v)) return;
        const c = categoryValue(`rows[${i}].${feature.name}`, v);
        counts.set(c, (counts.get(c) ?? 0) + 1);
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
 * Encodes one raw row into `out` at `offset` (a fresh vector when `out` is absent). `field` prefixes
 * the feature name in errors (e.g. `rows[3]`).
 */
export function encodeRow(
  spec: EncodingSpec,
  row: RawRow,
  out: Float64Array = new Float64Array(encodedWidth(spec)),
  offset = 0,
  field = 'row',
): Float64Array {
  const index = indexOf(spec);
  let j = offset;
  for (const f of spec.features) {
    const v = row[f.name];
    if (f.kind === 'numeric') {
      out[j++] = isMissing(v)
        ? f.missing === 'mean'
          ? f.mean
          : Number.NaN
        : numericValue(`${field}.${f.name}`, v);
      continue;
    }
    const width = f.categories.length + (f.unknown === 'other' ? 1 : 0);
    out.fill(0, j, j + width);
    const at = isMissing(v) ? undefined : index.get(f.name)?.get(categoryValue(`${field}.${f.name}`, v));
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
    encodeRow(spec, row, data, i * cols, `rows[${i}]`);
  });
  return { rows: rows.length, cols, data };
}
