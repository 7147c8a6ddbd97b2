/**
 * The deterministic train / validation / test split of a training set, by seed.
 *
 * Each row goes to a side by a hash of its identity alone: u = MurmurHash3_x86_32(UTF-8 bytes of
 * the identity, seed) / 2^32, then test when u < testFraction, validation when
 * u < testFraction + validationFraction × (1 − testFraction), train otherwise. So:
 * - the same data and seed always give the same split, whatever the row order (when the identity
 *   comes from columns such as entity key and event time; the row index is the fallback);
 * - a row keeps its side when rows are added, so a retrained model is judged on held-out rows no
 *   earlier model trained on, and rows with the same identity never straddle sides;
 * - the fractions hold in expectation (binomially), not exactly.
 *
 * Plain code: no AWS SDK, so the training workflow's Lambdas and the CLI share it.
 */
import type { FeatureColumn } from '../feature-store/point-in-time-join.js';
import { ValidationError } from '../shared/errors.js';
import type { TrainingFrame } from './encoding.js';

export interface SplitOptions {
  /** Share of rows held out for evaluation, in (0, 1). */
  readonly testFraction: number;
  /** Share of the rest kept for early stopping and search, in [0, 1). */
  readonly validationFraction: number;
  /** Seeds the hash (a whole number in [0, 2^32)). */
  readonly seed: number;
}

/** Row indexes of each side, ascending. */
export interface Split {
  readonly train: Uint32Array;
  readonly validation: Uint32Array;
  readonly test: Uint32Array;
}

/** Separates identity columns' values (a unit separator cannot collide with a printed number). */
const SEPARATOR = '\u001f';

/** MurmurHash3 x86_32 of `bytes[0..length)`. */
export function murmur3(bytes: Uint8Array, length: number, seed: number): number {
  let h = seed >>> 0;
  const blocks = length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k =
      (bytes[i] as number) |
      ((bytes[i + 1] as number) << 8) |
      ((bytes[i + 2] as number) << 16) |
      ((bytes[i + 3] as number) << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail > 0) {
    let k = 0;
    if (tail === 3) k ^= (bytes[blocks + 2] as number) << 16;
    if (tail >= 2) k ^= (bytes[blocks + 1] as number) << 8;
    k ^= bytes[blocks] as number;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function checkOptions(options: SplitOptions): void {
  const { testFraction, validationFraction, seed } = options;
  if (!(testFraction > 0 && testFraction < 1))
    throw new ValidationError('split.testFraction', 'must be a number in (0, 1)');
  if (!(validationFraction >= 0 && validationFraction < 1))
    throw new ValidationError('split.validationFraction', 'must be a number in [0, 1)');
  if (!(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32))
    throw new ValidationError('split.seed', 'must be a whole number in [0, 2^32)');
}

/** One cell as identity text: numbers as JavaScript prints them, missing as empty. */
function cellText(column: FeatureColumn, row: number): string {
  if (column instanceof Float64Array) {
    const v = column[row] as number;
    return Number.isNaN(v) ? '' : String(v);
  }
  const code = column.codes[row] as number;
  return code < 0 ? '' : (column.dictionary[code] as string);
}

/**
 * Each row's identity: its `columns` values joined (entity key, event time, …), or its index when
 * no columns are named. A missing column is a ValidationError naming it.
 */
export function rowIdentities(frame: TrainingFrame, columns: readonly string[] = []): string[] {
  if (columns.length === 0) return Array.from({ length: frame.rows }, (_, i) => String(i));
  const cols = columns.map((name) => {
    const column = frame.columns[name];
    if (column === undefined)
      throw new ValidationError(`split.identity.${name}`, 'is missing from the training set');
    return column;
  });
  return Array.from({ length: frame.rows }, (_, i) => cols.map((c) => cellText(c, i)).join(SEPARATOR));
}

/** The side of each identity (0 train, 1 validation, 2 test) and the rows of each side. */
export function splitRows(identities: readonly string[], options: SplitOptions): Split {
  checkOptions(options);
  const { testFraction, validationFraction, seed } = options;
  const testBelow = testFraction * 2 ** 32;
  const validationBelow = (testFraction + validationFraction * (1 - testFraction)) * 2 ** 32;
  const encoder = new TextEncoder();
  let buffer = new Uint8Array(256);
  const side = new Uint8Array(identities.length);
  const counts = [0, 0, 0];
  identities.forEach((identity, i) => {
    if (buffer.length < identity.length * 3) buffer = new Uint8Array(identity.length * 3);
    const { written } = encoder.encodeInto(identity, buffer);
    const h = murmur3(buffer, written, seed);
    const s = h < testBelow ? 2 : h < validationBelow ? 1 : 0;
    side[i] = s;
    counts[s] = (counts[s] as number) + 1;
  });
  const out = [new Uint32Array(counts[0] as number), new Uint32Array(counts[1] as number)];
  out.push(new Uint32Array(counts[2] as number));
  const at = [0, 0, 0];
  for (let i = 0; i < side.length; i++) {
    const s = side[i] as number;
    (out[s] as Uint32Array)[at[s] as number] = i;
    at[s] = (at[s] as number) + 1;
  }
  return { train: out[0] as Uint32Array, validation: out[1] as Uint32Array, test: out[2] as Uint32Array };
}

/** The split of a frame's rows by identity columns (or row index). */
export function splitFrame(
  frame: TrainingFrame,
  options: SplitOptions,
  identityColumns: readonly string[] = [],
): Split {
  return splitRows(rowIdentities(frame, identityColumns), options);
}

/** The frame restricted to `rows`, in their order (categorical columns keep their dictionary). */
export function selectRows(frame: TrainingFrame, rows: Uint32Array): TrainingFrame {
  const columns: Record<string, FeatureColumn> = {};
  for (const [name, column] of Object.entries(frame.columns)) {
    columns[name] =
      column instanceof Float64Array
        ? Float64Array.from(rows, (r) => column[r] as number)
        : { codes: Int32Array.from(rows, (r) => column.codes[r] as number), dictionary: column.dictionary };
  }
  return { rows: rows.length, columns };
}
