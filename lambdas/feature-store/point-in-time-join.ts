/**
 * The point-in-time join: for each label row (entity key, time), the latest feature value with
 * event time ≤ the label's time and within the view's TTL — never a value from the future.
 *
 * Rules, pinned down:
 * - Available means `eventTime ≤ labelTime` (a value stamped at the label's instant counts).
 * - Within TTL means `labelTime − eventTime ≤ ttl`: a value exactly TTL old is still used.
 * - Equal event times for one entity: the later ingestion wins; within one ingestion, the later row.
 * - A stored null is a value: it comes back as null and does not fall back to an older non-null.
 * - A label whose entity has no usable value gets null (and NaN as the value's event time).
 *
 * Algorithm (typed arrays, no per-row objects): entity keys are dictionary-encoded; feature rows and
 * labels are grouped by entity with a counting sort (O(n)) and sorted by time within each group;
 * then one merge pass per entity walks labels and feature rows together. Cost O(n + m) plus the small
 * per-entity sorts; memory is the columns themselves plus a few index arrays.
 */
import { ValidationError } from '../shared/errors.js';
import type { Value } from './row-validation.js';

/** One view's feature rows, as columns. */
export interface FeatureFrame {
  /** Encoded entity key per row (see {@link encodeEntityKey}). */
  readonly keys: readonly string[];
  readonly eventTimes: Float64Array;
  /** Tie-break for equal event times (ingestion time, epoch ms). */
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

/** Encodes a composite entity key (values in the view's entity order) as one string. */
export function encodeEntityKey(values: readonly (string | number)[]): string {
  return values.length === 1
    ? `${typeof values[0] === 'number' ? 'n' : 's'}${String(values[0])}`
    : JSON.stringify(values);
}

/** Groups `n` rows by integer code (0..groups-1) with a counting sort; returns the order and group starts. */
function groupByCode(codes: Int32Array, groups: number): { order: Uint32Array; starts: Uint32Array } {
  const starts = new Uint32Array(groups + 1);
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i] as number;
    if (code >= 0) (starts[code + 1] as number)++;
  }
  for (let g = 0; g < groups; g++) starts[g + 1] = (starts[g + 1] as number) + (starts[g] as number);
  const next = starts.slice(0, groups);
  const order = new Uint32Array(starts[groups] as number);
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i] as number;
    if (code >= 0) order[(next[code] as number)++] = i;
  }
  return { order, starts };
}

/** Sorts order[from, to) by (primary, secondary, index) ascending: insertion sort for small runs. */
function sortRun(
  order: Uint32Array,
  from: number,
  to: number,
  primary: Float64Array,
  secondary?: Float64Array,
): void {
  const less = (a: number, b: number) => {
    const pa = primary[a] as number;
    const pb = primary[b] as number;
    if (pa !== pb) return pa < pb;
    if (secondary !== undefined) {
      const sa = secondary[a] as number;
      const sb = secondary[b] as number;
      if (sa !== sb) return sa < sb;
    }
    return a < b;
  };
  if (to - from > 64) {
    const run = Array.from(order.subarray(from, to));
    run.sort((a, b) => (less(a, b) ? -1 : less(b, a) ? 1 : 0));
    order.set(run, from);
    return;
  }
  for (let i = from + 1; i < to; i++) {
    const item = order[i] as number;
    let j = i - 1;
    while (j >= from && less(item, order[j] as number)) {
      order[j + 1] = order[j] as number;
      j--;
    }
    order[j + 1] = item;
  }
}

function assertTimes(times: Float64Array, field: string): void {
  for (let i = 0; i < times.length; i++) {
    if (!Number.isFinite(times[i]))
      throw new ValidationError(`${field}.${i}`, 'must be a finite time (epoch ms)');
  }
}

/** Joins every view onto the labels. */
export function pointInTimeJoin(labels: LabelFrame, views: readonly ViewJoin[]): JoinResult {
  if (labels.keys.length !== labels.times.length)
    throw new ValidationError('labels', 'keys and times must have the same length');
  assertTimes(labels.times, 'labels.times');
  const columns: Record<string, Value[]> = {};
  const eventTimes: Record<string, Float64Array> = {};
  const n = labels.keys.length;

  for (const join of views) {
    const { frame } = join;
    const m = frame.keys.length;
    if (frame.eventTimes.length !== m || frame.ingestedAt.length !== m) {
      throw new ValidationError(
        `views.${join.view}`,
        'keys, eventTimes and ingestedAt must have the same length',
      );
    }
    assertTimes(frame.eventTimes, `views.${join.view}.eventTimes`);
    for (const feature of join.features) {
      if (frame.columns[feature] === undefined)
        throw new ValidationError(`featureRefs`, `${join.view}:${feature} is not a feature of the view`);
    }

    // Dictionary-encode the entities that have feature rows; labels of other entities get nothing.
    const dictionary = new Map<string, number>();
    const featureCodes = new Int32Array(m);
    for (let i = 0; i < m; i++) {
      const key = frame.keys[i] as string;
      let code = dictionary.get(key);
      if (code === undefined) {
        code = dictionary.size;
        dictionary.set(key, code);
      }
      featureCodes[i] = code;
    }
    const labelCodes = new Int32Array(n);
    for (let i = 0; i < n; i++) labelCodes[i] = dictionary.get(labels.keys[i] as string) ?? -1;

    const groups = dictionary.size;
    const features = groupByCode(featureCodes, groups);
    const targets = groupByCode(labelCodes, groups);
    const chosen = new Int32Array(n).fill(-1);

    for (let g = 0; g < groups; g++) {
      const fFrom = features.starts[g] as number;
      const fTo = features.starts[g + 1] as number;
      const lFrom = targets.starts[g] as number;
      const lTo = targets.starts[g + 1] as number;
      if (lFrom === lTo) continue;
      sortRun(features.order, fFrom, fTo, frame.eventTimes, frame.ingestedAt);
      sortRun(targets.order, lFrom, lTo, labels.times);
      // Merge: for each label in time order, the last feature row with eventTime ≤ label time.
      let f = fFrom;
      let candidate = -1;
      for (let l = lFrom; l < lTo; l++) {
        const label = targets.order[l] as number;
        const t = labels.times[label] as number;
        while (f < fTo && (frame.eventTimes[features.order[f] as number] as number) <= t) {
          candidate = features.order[f] as number;
          f++;
        }
        if (candidate >= 0 && t - (frame.eventTimes[candidate] as number) <= join.ttlMs)
          chosen[label] = candidate;
      }
    }

    const times = new Float64Array(n).fill(Number.NaN);
    for (let i = 0; i < n; i++) {
      const row = chosen[i] as number;
      if (row >= 0) times[i] = frame.eventTimes[row] as number;
    }
    eventTimes[join.view] = times;
    for (const feature of join.features) {
      const source = frame.columns[feature] as readonly Value[] | Float64Array;
      const out = new Array<Value>(n);
      const numeric = source instanceof Float64Array;
      for (let i = 0; i < n; i++) {
        const row = chosen[i] as number;
        if (row < 0) out[i] = null;
        else {
          const value = source[row] as Value;
          out[i] = numeric && Number.isNaN(value) ? null : (value ?? null);
        }
      }
      columns[`${join.view}__${feature}`] = out;
    }
  }
  return { columns, eventTimes };
}
