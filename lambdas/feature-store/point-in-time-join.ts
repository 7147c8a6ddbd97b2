/**
 * The point-in-time join behind training sets: for each label row (entity key, time) and each
 * requested feature view, the latest feature value whose event time is at or before the label's
 * time and within the view's TTL — never a value from the future.
 *
 * Semantics, pinned down (and tested in test/unit/point-in-time-join.test.ts):
 * - Available: `eventTime ≤ labelTime`. A value stamped at the label's own instant counts.
 * - TTL, inclusive: usable iff `labelTime − eventTime ≤ ttlMs`; a value exactly `ttlMs` old is used,
 *   one a millisecond older is not. `ttlMs: Infinity` means no TTL.
 * - Equal (entity, eventTime): the row that comes later in the stream wins (the later-ingested one
 *   when the stream is ordered by ingestion within a timestamp; {@link sortFeatureBatch} orders ties
 *   by a tie-break column such as ingestion time, then by input position).
 * - A stored null is a value: it is returned as null and does not fall back to an older non-null.
 *   Numeric nulls are NaN (a NaN feature value therefore reads as null); categorical nulls are code
 *   -1. "No value found" is told apart by `found[i] === 0` (and `eventTimes[i]` NaN).
 *
 * Streaming: each view's rows arrive as batches (e.g. Parquet row groups) in which every entity's
 * rows are contiguous and ascending by event time — sorted by (entity, eventTime) satisfies this,
 * and the order of entities does not matter. Labels are sorted once (argsort by entity, then time;
 * O(n) radix and counting sorts), then each view's stream is walked once beside them: a feature row
 * costs a few typed-array reads, a label one write per feature. Memory: the labels and outputs plus
 * the current batch; the latest row of an entity that spans a batch boundary is carried as scalars.
 * Disorder that would change an answer is rejected with a {@link ValidationError} (time going
 * back within an entity; a labelled entity appearing again after other entities), as are
 * non-finite times; rows of entities no label asks for are only checked for time order, since
 * their grouping cannot change an answer.
 *
 * Keys are strings, one per row or dictionary-encoded; build composite keys with
 * {@link joinKeyColumns} (or {@link encodeEntityKey}) the same way on both sides. Measured on
 * 10M rows (bench/point-in-time-join.bench.ts) both forms stream at the same speed: a row's key is
 * only compared with its neighbour's and looked up once per run of one entity, so dictionary codes
 * save memory rather than time.
 */
import { ValidationError } from '../shared/errors.js';
import { ViewMerge } from './point-in-time-merge.js';
import { assertFiniteTimes, type SortedLabels, sortFeatureBatch, sortLabels } from './point-in-time-sort.js';
import type { Value } from './row-validation.js';

export { argsortFeatureRows, sortFeatureBatch } from './point-in-time-sort.js';

/** Entity keys: one string per row, or dictionary-encoded (as Parquet stores them). */
export type KeyColumn =
  | readonly string[]
  | { readonly codes: Int32Array; readonly dictionary: readonly string[] };

/** A dictionary-encoded string feature; code -1 is null. */
export interface CategoricalColumn {
  readonly codes: Int32Array;
  readonly dictionary: readonly string[];
}

/** Numeric features are Float64Array with NaN for null. */
export type FeatureColumn = Float64Array | CategoricalColumn;
export type FeatureKind = 'numeric' | 'categorical';

/** A slice of one view's feature rows (see the module comment for the order required). */
export interface FeatureBatch {
  readonly keys: KeyColumn;
  /** Epoch milliseconds. */
  readonly eventTimes: Float64Array;
  readonly columns: Readonly<Record<string, FeatureColumn>>;
}

/** One feature view to join. */
export interface ViewRequest {
  /** Names the view in the result (unique per call). */
  readonly name: string;
  /** Maximum age of a usable value, inclusive (ms). */
  readonly ttlMs: number;
  /** Features to return, with their kinds. */
  readonly features: Readonly<Record<string, FeatureKind>>;
  /** Each label row's entity key for this view. Views passing the same array share one label sort. */
  readonly labelKeys: KeyColumn;
  readonly batches: AsyncIterable<FeatureBatch> | Iterable<FeatureBatch>;
}

/** One view's answer, indexed like the labels. */
export interface ViewResult {
  /** 1 where a value within TTL was found (the value itself may be null). */
  readonly found: Uint8Array;
  /** Event time of the value used, NaN where none (only with `eventTimes: true`). */
  readonly eventTimes?: Float64Array;
  readonly features: Record<string, Float64Array | CategoricalColumn>;
}

export interface JoinOptions {
  /** Also return each view's used event times. @default false */
  readonly eventTimes?: boolean;
}

/**
 * Joins every view onto the labels (`labelTimes[i]` is label row i's time, epoch ms), streaming
 * each view's batches once. Results are keyed by view name.
 */
export async function joinPointInTime(
  labelTimes: Float64Array,
  views: readonly ViewRequest[],
  options: JoinOptions = {},
): Promise<Record<string, ViewResult>> {
  assertFiniteTimes(labelTimes, 'labelTimes');
  const results: Record<string, ViewResult> = {};
  const sorted = new Map<KeyColumn, SortedLabels>();
  for (const [v, view] of views.entries()) {
    if (Object.hasOwn(results, view.name)) throw new ValidationError(`views.${v}.name`, 'must be unique');
    if (!(view.ttlMs >= 0)) throw new ValidationError(`views.${view.name}.ttlMs`, 'must be a number ≥ 0');
    let labels = sorted.get(view.labelKeys);
    if (labels === undefined) {
      labels = sortLabels(view.labelKeys, labelTimes, `views.${view.name}.labelKeys`);
      sorted.set(view.labelKeys, labels);
    }
    const merge = new ViewMerge(labels, {
      name: view.name,
      ttlMs: view.ttlMs,
      features: view.features,
      eventTimes: options.eventTimes === true,
    });
    for await (const batch of view.batches) merge.push(batch);
    results[view.name] = merge.finish();
  }
  return results;
}

/**
 * Composite keys from several key columns: the parts of each row joined with `separator`. A part
 * containing the separator is rejected (two different tuples must never make the same key).
 */
export function joinKeyColumns(
  columns: readonly (readonly (string | number)[])[],
  separator = '\u001f',
): string[] {
  const n = columns[0]?.length ?? 0;
  const keys = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    let key = '';
    for (const [c, column] of columns.entries()) {
      const part = String(column[i]);
      if (column[i] === undefined || part.includes(separator))
        throw new ValidationError(`keys.${c}.${i}`, 'must be present and not contain the separator');
      key = c === 0 ? part : key + separator + part;
    }
    keys[i] = key;
  }
  return keys;
}

/** Encodes one composite entity key (values in the view's entity order), typed: 1 and "1" differ. */
export function encodeEntityKey(values: readonly (string | number)[]): string {
  return values.length === 1
    ? `${typeof values[0] === 'number' ? 'n' : 's'}${String(values[0])}`
    : JSON.stringify(values);
}

/** The entity key values {@link encodeEntityKey} encoded (`types`: the view's entity key types, in order). */
export function decodeEntityKey(key: string, types: readonly ('string' | 'int64')[]): (string | number)[] {
  if (types.length === 1) return [key.startsWith('n') ? Number(key.slice(1)) : key.slice(1)];
  return JSON.parse(key) as (string | number)[];
}

// In-memory form, for callers holding a whole unsorted frame of JSON-typed values.

/** One view's feature rows, as columns, in any order. */
export interface FeatureFrame {
  /** Encoded entity key per row (see {@link encodeEntityKey}). */
  readonly keys: readonly string[];
  readonly eventTimes: Float64Array;
  /** Tie-break for equal event times (ingestion time, epoch ms): the greater wins, then the later row. */
  readonly ingestedAt: Float64Array;
  /** Feature columns by name; Float64Array columns use NaN for null. */
  readonly columns: Readonly<Record<string, readonly Value[] | Float64Array>>;
}

export interface ViewJoin {
  readonly view: string;
  readonly ttlMs: number;
  readonly features: readonly string[];
  readonly frame: FeatureFrame;
}

export interface LabelFrame {
  readonly keys: readonly string[];
  readonly times: Float64Array;
}

export interface JoinResult {
  /** `<view>__<feature>` → one value per label row, in the labels' order. */
  readonly columns: Record<string, Value[]>;
  /** `<view>` → event time of the value used per label row (NaN when none). */
  readonly eventTimes: Record<string, Float64Array>;
}

/**
 * Same semantics over in-memory frames: sorts each frame with {@link sortFeatureBatch} (ties by
 * `ingestedAt`, then row), merges it as one batch, and returns JSON-typed values.
 */
export function pointInTimeJoin(labels: LabelFrame, views: readonly ViewJoin[]): JoinResult {
  if (labels.keys.length !== labels.times.length)
    throw new ValidationError('labels', 'keys and times must have the same length');
  assertFiniteTimes(labels.times, 'labels.times');
  const sorted = sortLabels(labels.keys, labels.times, 'labels.keys');
  const columns: Record<string, Value[]> = {};
  const eventTimes: Record<string, Float64Array> = {};
  for (const join of views) {
    const { frame } = join;
    const m = frame.keys.length;
    if (frame.eventTimes.length !== m || frame.ingestedAt.length !== m)
      throw new ValidationError(
        `views.${join.view}`,
        'keys, eventTimes and ingestedAt must have the same length',
      );
    assertFiniteTimes(frame.eventTimes, `views.${join.view}.eventTimes`);
    for (const feature of join.features) {
      if (frame.columns[feature] === undefined)
        throw new ValidationError('featureRefs', `${join.view}:${feature} is not a feature of the view`);
    }
    // Merge row numbers, then look the values up: frames may hold any JSON type.
    const rowIds = new Float64Array(m);
    for (let i = 0; i < m; i++) rowIds[i] = i;
    const batch = sortFeatureBatch(
      { keys: frame.keys, eventTimes: frame.eventTimes, columns: { row: rowIds } },
      frame.ingestedAt,
    );
    const merge = new ViewMerge(sorted, {
      name: join.view,
      ttlMs: join.ttlMs,
      features: { row: 'numeric' },
      eventTimes: true,
    });
    merge.push(batch);
    const result = merge.finish();
    const chosen = result.features.row as Float64Array;
    eventTimes[join.view] = result.eventTimes as Float64Array;
    for (const feature of join.features) {
      const source = frame.columns[feature] as readonly Value[] | Float64Array;
      const out = new Array<Value>(chosen.length);
      for (let i = 0; i < chosen.length; i++) {
        const row = chosen[i] as number;
        const value = Number.isNaN(row) ? null : (source[row] ?? null);
        out[i] = typeof value === 'number' && Number.isNaN(value) ? null : value;
      }
      columns[`${join.view}__${feature}`] = out;
    }
  }
  return { columns, eventTimes };
}
