/**
 * Sorting for the point-in-time join (./point-in-time-join.ts), all O(n) on typed arrays:
 * - entity keys are dictionary-encoded to integer codes (one `Map` lookup per row of string keys;
 *   none for keys that arrive dictionary-encoded, as Parquet stores them);
 * - times are ordered with a stable LSD radix sort on their IEEE-754 bits (16-bit digits, passes
 *   whose digit is the same for every row are skipped), then rows are grouped by entity code with a
 *   stable counting sort. Stability makes ties keep their input order, which is the join's
 *   tie-break: of equal (entity, event time) rows, the later one wins.
 */
import { ValidationError } from '../shared/errors.js';
import type { FeatureBatch, FeatureColumn, KeyColumn } from './point-in-time-join.js';

/** Entity keys as dense integer codes (0..dictionary.length-1) plus the distinct keys. */
export interface EncodedKeys {
  readonly codes: Int32Array;
  readonly dictionary: string[];
}

/** Labels ordered by (entity, time) once per distinct label-key column. */
export interface SortedLabels {
  /** Sorted position → label row in the caller's order. */
  readonly order: Uint32Array;
  /** Label time at each sorted position. */
  readonly times: Float64Array;
  /** Entity code → first sorted position; `starts[code + 1]` ends the entity's run. */
  readonly starts: Uint32Array;
  /** Entity key → code. */
  readonly codeOf: ReadonlyMap<string, number>;
}

export function keyCount(keys: KeyColumn): number {
  return Array.isArray(keys) ? keys.length : (keys as { codes: ArrayLike<number> }).codes.length;
}

/** Dictionary-encodes keys; equal strings get one code even when a dictionary repeats them. */
export function encodeKeys(keys: KeyColumn, field: string): EncodedKeys {
  const codeOf = new Map<string, number>();
  const dictionary: string[] = [];
  const list = Array.isArray(keys)
    ? (keys as readonly unknown[])
    : (keys as { readonly dictionary: readonly unknown[] }).dictionary;
  const listCodes = new Int32Array(list.length);
  let last: unknown;
  let lastCode = -1;
  for (let i = 0; i < list.length; i++) {
    const key = list[i];
    // Sorted or clustered keys repeat: a run of one key costs one hash lookup.
    if (key !== last || lastCode < 0) {
      if (typeof key !== 'string')
        throw new ValidationError(
          Array.isArray(keys) ? `${field}.${i}` : `${field}.dictionary.${i}`,
          'must be a string entity key',
        );
      let code = codeOf.get(key);
      if (code === undefined) {
        code = dictionary.length;
        codeOf.set(key, code);
        dictionary.push(key);
      }
      last = key;
      lastCode = code;
    }
    listCodes[i] = lastCode;
  }
  if (Array.isArray(keys)) return { codes: listCodes, dictionary };
  const source = keys as Exclude<KeyColumn, readonly string[]>;
  const codes = new Int32Array(source.codes.length);
  for (let i = 0; i < codes.length; i++) {
    const code = listCodes[source.codes[i] as number];
    if (code === undefined) throw new ValidationError(`${field}.codes.${i}`, 'must index the dictionary');
    codes[i] = code;
  }
  return { codes, dictionary };
}

/**
 * Stable LSD radix sort of `idx` by the 64-bit keys (hi, lo), all three in the same order: 16-bit
 * digits, each a counting pass that moves keys and indexes together (sequential reads); digits that
 * are equal for every row are skipped. Consumes its arguments.
 */
function radixPairs(lo: Uint32Array, hi: Uint32Array, idx: Uint32Array): Uint32Array {
  const n = idx.length;
  if (n < 2) return idx;
  const counts = new Uint32Array(4 * 65_536);
  for (let i = 0; i < n; i++) {
    const l = lo[i] as number;
    const h = hi[i] as number;
    (counts[l & 0xffff] as number)++;
    (counts[65_536 + (l >>> 16)] as number)++;
    (counts[131_072 + (h & 0xffff)] as number)++;
    (counts[196_608 + (h >>> 16)] as number)++;
  }
  let lo2: Uint32Array = new Uint32Array(n);
  let hi2: Uint32Array = new Uint32Array(n);
  let idx2: Uint32Array = new Uint32Array(n);
  for (let pass = 0; pass < 4; pass++) {
    const shift = pass % 2 === 0 ? 0 : 16;
    const base = pass * 65_536;
    const first = (((pass < 2 ? lo : hi)[0] as number) >>> shift) & 0xffff;
    if (counts[base + first] === n) continue; // every row has this digit: the pass is a no-op
    let sum = 0;
    for (let d = base; d < base + 65_536; d++) {
      const c = counts[d] as number;
      counts[d] = sum;
      sum += c;
    }
    if (pass < 2) {
      for (let i = 0; i < n; i++) {
        const l = lo[i] as number;
        const at = (counts[base + ((l >>> shift) & 0xffff)] as number)++;
        lo2[at] = l;
        hi2[at] = hi[i] as number;
        idx2[at] = idx[i] as number;
      }
      [lo, lo2] = [lo2, lo];
    } else {
      for (let i = 0; i < n; i++) {
        const h = hi[i] as number;
        const at = (counts[base + ((h >>> shift) & 0xffff)] as number)++;
        hi2[at] = h;
        idx2[at] = idx[i] as number;
      }
    }
    [hi, hi2] = [hi2, hi];
    [idx, idx2] = [idx2, idx];
  }
  return idx;
}

/** Stable argsort of finite `values`, starting from `order` (ties keep it); returns the new order. */
export function radixArgsort(values: Float64Array, order: Uint32Array): Uint32Array {
  const n = order.length;
  const words = new Uint32Array(values.buffer, values.byteOffset, values.length * 2);
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  for (let p = 0; p < n; p++) {
    const row = order[p] as number;
    const h = words[2 * row + 1] as number;
    const l = words[2 * row] as number;
    const negative = h >>> 31 === 1 && (h !== 0x80000000 || l !== 0); // -0 sorts as +0
    hi[p] = negative ? ~h >>> 0 : (h | 0x80000000) >>> 0;
    lo[p] = negative ? ~l >>> 0 : l;
  }
  return radixPairs(lo, hi, order.slice());
}

/** Stable counting sort of `order` by `codes` (0..groups-1). */
function groupByCode(codes: Int32Array, groups: number, order: Uint32Array): Uint32Array {
  const next = codeStarts(codes, groups);
  const out = new Uint32Array(order.length);
  for (let i = 0; i < order.length; i++) {
    const row = order[i] as number;
    out[(next[codes[row] as number] as number)++] = row;
  }
  return out;
}

/** Code → first position once sorted by code; entry `groups` is the row count. */
function codeStarts(codes: Int32Array, groups: number): Uint32Array {
  const starts = new Uint32Array(groups + 1);
  for (let i = 0; i < codes.length; i++) (starts[(codes[i] as number) + 1] as number)++;
  for (let g = 0; g < groups; g++) starts[g + 1] = (starts[g + 1] as number) + (starts[g] as number);
  return starts;
}

/**
 * Stable sort of `order` by (code, time). When times are integers (epoch ms) whose range and the
 * code fit 64 bits together, one radix sort on the composite key (time − min in the low bits, the
 * code above); otherwise a radix sort on the float bits, then a counting sort by code.
 */
function sortByCodeThenTime(
  codes: Int32Array,
  groups: number,
  times: Float64Array,
  order: Uint32Array,
): Uint32Array {
  const n = order.length;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let integral = true;
  for (let i = 0; i < n; i++) {
    const t = times[i] as number;
    if (t < min) min = t;
    if (t > max) max = t;
    if (integral && t !== Math.floor(t)) integral = false;
  }
  const range = max - min;
  let timeBits = 0;
  while (timeBits < 64 && 2 ** timeBits <= range) timeBits++;
  const codeBits = groups <= 1 ? 0 : 32 - Math.clz32(groups - 1);
  if (!integral || range > Number.MAX_SAFE_INTEGER || timeBits + codeBits > 64)
    return groupByCode(codes, groups, radixArgsort(times, order));
  const lo = new Uint32Array(n);
  const hi = new Uint32Array(n);
  for (let p = 0; p < n; p++) {
    const row = order[p] as number;
    const key = (times[row] as number) - min; // an exact integer below 2^53
    const keyHi = Math.floor(key / 4_294_967_296);
    const code = codes[row] as number;
    if (timeBits >= 32) {
      lo[p] = key - keyHi * 4_294_967_296;
      hi[p] = keyHi + code * 2 ** (timeBits - 32);
    } else {
      lo[p] = (key | (code << timeBits)) >>> 0;
      hi[p] = timeBits === 0 ? code : code >>> (32 - timeBits);
    }
  }
  return radixPairs(lo, hi, order.slice());
}

function identity(n: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  return order;
}

/** Rejects NaN and ±Infinity, naming the first bad row. */
export function assertFiniteTimes(times: Float64Array, field: string): void {
  for (let i = 0; i < times.length; i++) {
    const t = times[i] as number;
    if (!(t >= -Number.MAX_VALUE && t <= Number.MAX_VALUE))
      throw new ValidationError(`${field}.${i}`, 'must be a finite time (epoch ms)');
  }
}

/** Sorts label rows by (entity, time): the join's one pass over the labels. */
export function sortLabels(keys: KeyColumn, times: Float64Array, field: string): SortedLabels {
  if (keyCount(keys) !== times.length)
    throw new ValidationError(field, `must hold one key per label row (${times.length})`);
  const { codes, dictionary } = encodeKeys(keys, field);
  const order = sortByCodeThenTime(codes, dictionary.length, times, identity(times.length));
  const starts = codeStarts(codes, dictionary.length);
  const sortedTimes = new Float64Array(order.length);
  for (let p = 0; p < order.length; p++) sortedTimes[p] = times[order[p] as number] as number;
  return { order, times: sortedTimes, starts, codeOf: new Map(dictionary.map((key, code) => [key, code])) };
}

/**
 * The order that sorts feature rows by (entity, event time, tieBreak, input position): what the
 * streaming join expects. Entities come out grouped in first-appearance order (the join needs
 * each entity's rows contiguous, not any particular order of entities).
 */
export function argsortFeatureRows(
  keys: KeyColumn,
  eventTimes: Float64Array,
  tieBreak?: Float64Array,
): Uint32Array {
  return orderRows(keys, eventTimes, tieBreak).order;
}

function orderRows(
  keys: KeyColumn,
  eventTimes: Float64Array,
  tieBreak: Float64Array | undefined,
): EncodedKeys & { order: Uint32Array } {
  if (keyCount(keys) !== eventTimes.length)
    throw new ValidationError('frame.keys', `must hold one key per row (${eventTimes.length})`);
  assertFiniteTimes(eventTimes, 'frame.eventTimes');
  let order = identity(eventTimes.length);
  if (tieBreak !== undefined) {
    if (tieBreak.length !== eventTimes.length)
      throw new ValidationError('frame.tieBreak', `must hold one value per row (${eventTimes.length})`);
    assertFiniteTimes(tieBreak, 'frame.tieBreak');
    order = radixArgsort(tieBreak, order);
  }
  const { codes, dictionary } = encodeKeys(keys, 'frame.keys');
  return { codes, dictionary, order: sortByCodeThenTime(codes, dictionary.length, eventTimes, order) };
}

/**
 * Sorts an in-memory feature frame (rows in any order) into one batch the streaming join accepts.
 * `tieBreak` (e.g. ingestion time) orders rows with equal (entity, event time): the greater wins;
 * rows equal on that too keep their input order, so the later row wins.
 */
export function sortFeatureBatch(batch: FeatureBatch, tieBreak?: Float64Array): FeatureBatch {
  const { order, codes, dictionary } = orderRows(batch.keys, batch.eventTimes, tieBreak);
  const sortedCodes = new Int32Array(order.length);
  const eventTimes = new Float64Array(order.length);
  for (let p = 0; p < order.length; p++) {
    const row = order[p] as number;
    sortedCodes[p] = codes[row] as number;
    eventTimes[p] = batch.eventTimes[row] as number;
  }
  const columns: Record<string, FeatureColumn> = {};
  for (const [name, column] of Object.entries(batch.columns)) {
    if (column instanceof Float64Array) {
      const values = new Float64Array(order.length);
      for (let p = 0; p < order.length; p++) values[p] = column[order[p] as number] as number;
      columns[name] = values;
    } else {
      const values = new Int32Array(order.length);
      for (let p = 0; p < order.length; p++) values[p] = column.codes[order[p] as number] as number;
      columns[name] = { codes: values, dictionary: column.dictionary };
    }
  }
  return { keys: { codes: sortedCodes, dictionary }, eventTimes, columns };
}

/**
 * Like {@link argsortFeatureRows}, but entities come out in ascending code-unit order of their
 * keys (JavaScript's `<` on strings), the one order every offline file is written in, so files
 * sorted separately can be merged into one stream (./offline-scan.ts). Only the distinct keys are
 * compared; the rows are still placed by counting and radix sorts.
 */
export function argsortByEntityThenTime(
  keys: KeyColumn,
  eventTimes: Float64Array,
  tieBreak?: Float64Array,
): Uint32Array {
  const { order, codes, dictionary } = orderRows(keys, eventTimes, tieBreak);
  const byKey = identity(dictionary.length).sort((a, b) => {
    const x = dictionary[a] as string;
    const y = dictionary[b] as string;
    return x < y ? -1 : x > y ? 1 : 0;
  });
  const rank = new Int32Array(dictionary.length);
  for (let r = 0; r < byKey.length; r++) rank[byKey[r] as number] = r;
  const ranked = new Int32Array(codes.length);
  for (let i = 0; i < codes.length; i++) ranked[i] = rank[codes[i] as number] as number;
  // `order` is already by (time, tie-break, position) within each entity; a stable counting sort by
  // rank keeps that.
  const starts = new Uint32Array(dictionary.length + 1);
  for (let i = 0; i < ranked.length; i++) (starts[(ranked[i] as number) + 1] as number)++;
  for (let r = 0; r < dictionary.length; r++)
    starts[r + 1] = (starts[r + 1] as number) + (starts[r] as number);
  const out = new Uint32Array(order.length);
  for (let p = 0; p < order.length; p++) {
    const row = order[p] as number;
    out[starts[ranked[row] as number] as number] = row;
    starts[ranked[row] as number] = (starts[ranked[row] as number] as number) + 1;
  }
  return out;
}
