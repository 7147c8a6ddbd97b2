/**
 * Label columns checked and encoded for the trainers: class indexes (classes sorted: numbers
 * ascending, strings by code unit, booleans as 0/1) or regression targets. Bad labels are a
 * ValidationError naming the label column and the first offending row: missing or NaN values, a type
 * the task cannot use, mixed types, a single class.
 */
import { ValidationError } from '../shared/errors.js';
import type { RawValue } from './encoding.js';
import type { ClassLabel } from './model-contract.js';

export const TASKS = ['binary', 'multiclass', 'regression'] as const;
export type Task = (typeof TASKS)[number];

export interface ClassLabels {
  /** Class index per row. */
  readonly y: Int32Array;
  /** Sorted distinct classes; index k is class k. */
  readonly classes: ClassLabel[];
}

const missing = (v: RawValue) => v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v));

function checkRows(field: string, values: readonly RawValue[]): void {
  if (values.length === 0) throw new ValidationError(field, 'must not be empty (no training rows)');
  const at = values.findIndex(missing);
  if (at >= 0) throw new ValidationError(field, `must not be missing or NaN (row ${at})`);
}

/** Regression targets: finite numbers. */
export function regressionTargets(field: string, values: readonly RawValue[]): Float64Array {
  checkRows(field, values);
  const y = new Float64Array(values.length);
  values.forEach((v, i) => {
    if (typeof v === 'bigint') y[i] = Number(v);
    else if (typeof v === 'number' && Number.isFinite(v)) y[i] = v;
    else
      throw new ValidationError(field, `must be a finite number for regression, not ${typeof v} (row ${i})`);
  });
  return y;
}

/** Class labels: all integers, all strings or all booleans; at least two classes (two exactly for binary). */
export function classLabels(
  field: string,
  values: readonly RawValue[],
  task: 'binary' | 'multiclass',
): ClassLabels {
  checkRows(field, values);
  const first = values[0];
  const kind = typeof first === 'bigint' ? 'number' : typeof first;
  const keys: ClassLabel[] = values.map((v, i) => {
    const k = typeof v === 'bigint' ? 'number' : typeof v;
    if (k !== kind)
      throw new ValidationError(field, `must hold one type of class label; row ${i} is ${k}, row 0 ${kind}`);
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (typeof v === 'string') return v;
    const n = Number(v);
    if (!Number.isSafeInteger(n)) {
      throw new ValidationError(field, `must be integer or string class labels, not ${n} (row ${i})`);
    }
    return n;
  });
  const classes = [...new Set(keys)].sort((a, b) =>
    typeof a === 'number' && typeof b === 'number' ? a - b : a < b ? -1 : a > b ? 1 : 0,
  );
  if (classes.length < 2) {
    throw new ValidationError(
      field,
      `must hold at least two classes; every row is ${JSON.stringify(classes[0])}`,
    );
  }
  if (task === 'binary' && classes.length > 2) {
    throw new ValidationError(
      field,
      `must hold exactly two classes for a binary task, not ${classes.length}`,
    );
  }
  const index = new Map(classes.map((c, k) => [c, k]));
  return { y: Int32Array.from(keys, (c) => index.get(c) ?? -1), classes };
}
