/**
 * Label columns checked and encoded for the trainers: class indexes (classes sorted: numbers
 * ascending, strings by code unit; booleans arrive as 0/1) or regression targets. Bad labels are a
 * ValidationError naming the label column (and the first offending row): missing or NaN values, a
 * type the task cannot use, a single class. (Mixed types cannot reach here: a column has one type,
 * and rowsToFrame refuses a value of another.)
 */

import type { FeatureColumn } from '../feature-store/point-in-time-join.js';
import { ValidationError } from '../shared/errors.js';
import type { ClassLabel } from './model-contract.js';

export const TASKS = ['binary', 'multiclass', 'regression'] as const;
export type Task = (typeof TASKS)[number];

export interface ClassLabels {
  /** Class index per row. */
  readonly y: Int32Array;
  /** Sorted distinct classes; index k is class k. */
  readonly classes: ClassLabel[];
}

function missingAt(field: string, row: number): never {
  throw new ValidationError(field, `must not be missing or NaN (row ${row})`);
}

/** Regression targets: a numeric column without missing values. */
export function regressionTargets(field: string, column: FeatureColumn): Float64Array {
  if (!(column instanceof Float64Array))
    throw new ValidationError(field, 'must be numeric for regression, not strings');
  if (column.length === 0) throw new ValidationError(field, 'must not be empty (no training rows)');
  const at = column.findIndex((v) => Number.isNaN(v));
  if (at >= 0) missingAt(field, at);
  return column;
}

/** Class labels: integers (bool as 0/1) or strings; at least two classes (two exactly for binary). */
export function classLabels(
  field: string,
  column: FeatureColumn,
  task: 'binary' | 'multiclass',
): ClassLabels {
  const n = column instanceof Float64Array ? column.length : column.codes.length;
  if (n === 0) throw new ValidationError(field, 'must not be empty (no training rows)');
  let keys: ClassLabel[] | Float64Array;
  let distinct: Set<ClassLabel>;
  if (column instanceof Float64Array) {
    // Numbers stay in the typed column (no boxed copy): one pass checks them and collects classes.
    distinct = new Set<number>();
    for (let i = 0; i < n; i++) {
      const v = column[i] as number;
      if (Number.isNaN(v)) missingAt(field, i);
      if (!Number.isSafeInteger(v))
        throw new ValidationError(field, `must be integer or string class labels, not ${v} (row ${i})`);
      distinct.add(v);
    }
    keys = column;
  } else {
    keys = Array.from(column.codes, (code, i) =>
      code >= 0 ? (column.dictionary[code] as string) : missingAt(field, i),
    );
    distinct = new Set(keys);
  }
  const classes = [...distinct].sort((a, b) =>
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
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = index.get(keys[i] as ClassLabel) ?? -1;
  return { y, classes };
}
