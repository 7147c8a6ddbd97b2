/**
 * Row validation for ingestion: each raw row (from JSON lines, CSV or Parquet) is checked against
 * its feature view and either accepted as a typed row or rejected with every reason that applies.
 * A validator is compiled once per view and input kind, then runs a plain loop per row (no schema
 * library in the hot path).
 */
import type { FeatureView } from './feature-view.js';

/** Name of the column recording when a row was ingested (epoch ms in memory). */
export const INGESTED_AT_COLUMN = 'ingested_at';

/** A feature or entity value after validation. Nulls are explicit. */
export type Value = number | bigint | string | boolean | null;

/** An accepted row: entity keys, event time (epoch ms) and feature values, by column name. */
export interface TypedRow {
  readonly eventTimeMs: number;
  readonly values: Record<string, Value>;
}

export type RowVerdict =
  | { readonly ok: true; readonly row: TypedRow }
  | { readonly ok: false; readonly reasons: string[] };

/**
 * How values arrive. `typed`: JSON or Parquet, where a number is a number (a string "1.5" for a
 * float64 column is a wrong type). `text`: CSV, where every cell is a string, parsed per column type
 * and the empty string means null.
 */
export type InputKind = 'typed' | 'text';

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Parses an event time: RFC 3339 with a zone, or epoch milliseconds. Returns NaN when unparsable. */
export function parseEventTime(raw: unknown): number {
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : Number.NaN;
  if (raw instanceof Date) return raw.getTime();
  if (typeof raw === 'bigint') return Number(raw);
  if (typeof raw !== 'string') return Number.NaN;
  if (/^-?\d+$/.test(raw)) return Number(raw);
  return RFC3339.test(raw) ? Date.parse(raw) : Number.NaN;
}

interface ColumnCheck {
  readonly name: string;
  readonly required: boolean;
  check(raw: unknown): { value: Value } | { reason: string };
}

function numberCheck(
  name: string,
  kind: InputKind,
  integer: boolean,
  nullable: boolean,
  min: number | undefined,
  max: number | undefined,
): ColumnCheck['check'] {
  return (raw) => {
    let n: number;
    if (raw === null || raw === undefined || (kind === 'text' && raw === '')) {
      return nullable ? { value: null } : { reason: `${name}: must not be null` };
    }
    if (typeof raw === 'number') n = raw;
    else if (typeof raw === 'bigint' && integer) n = Number(raw);
    else if (kind === 'text' && typeof raw === 'string') n = Number(raw.trim());
    else return { reason: `${name}: must be ${integer ? 'an integer' : 'a number'}, got ${typeof raw}` };
    if (Number.isNaN(n)) {
      if (kind === 'text' && typeof raw === 'string' && raw.trim().toLowerCase() !== 'nan') {
        return {
          reason: `${name}: must be ${integer ? 'an integer' : 'a number'}, got ${JSON.stringify(raw)}`,
        };
      }
      return nullable ? { value: null } : { reason: `${name}: must not be NaN` };
    }
    if (!Number.isFinite(n)) return { reason: `${name}: must be finite` };
    if (integer) {
      if (!Number.isInteger(n)) return { reason: `${name}: must be an integer` };
      const big = typeof raw === 'bigint' ? raw : BigInt(n);
      if (big < INT64_MIN || big > INT64_MAX) return { reason: `${name}: must fit in int64` };
    }
    if (min !== undefined && n < min) return { reason: `${name}: must be >= ${min}` };
    if (max !== undefined && n > max) return { reason: `${name}: must be <= ${max}` };
    return { value: n };
  };
}

function compileColumns(view: FeatureView, kind: InputKind): ColumnCheck[] {
  const checks: ColumnCheck[] = [];
  for (const entity of view.entities) {
    const name = entity.name;
    checks.push({
      name,
      required: true,
      check:
        entity.type === 'int64'
          ? numberCheck(name, kind, true, false, undefined, undefined)
          : (raw) =>
              typeof raw === 'string' && raw.length > 0 && raw.length <= 1024
                ? { value: raw }
                : { reason: `${name}: entity key must be a non-empty string of at most 1024 characters` },
    });
  }
  for (const feature of view.features) {
    const { name, nullable } = feature;
    let check: ColumnCheck['check'];
    switch (feature.type) {
      case 'float64':
      case 'int64':
        check = numberCheck(name, kind, feature.type === 'int64', nullable, feature.min, feature.max);
        break;
      case 'bool':
        check = (raw) => {
          if (raw === null || raw === undefined || (kind === 'text' && raw === '')) {
            return nullable ? { value: null } : { reason: `${name}: must not be null` };
          }
          if (typeof raw === 'boolean') return { value: raw };
          if (kind === 'text' && (raw === 'true' || raw === 'false')) return { value: raw === 'true' };
          return { reason: `${name}: must be a boolean` };
        };
        break;
      case 'string': {
        const allowed = feature.categories === undefined ? undefined : new Set(feature.categories);
        check = (raw) => {
          if (raw === null || raw === undefined || (kind === 'text' && raw === '')) {
            return nullable ? { value: null } : { reason: `${name}: must not be null` };
          }
          if (typeof raw !== 'string') return { reason: `${name}: must be a string` };
          if (allowed !== undefined && !allowed.has(raw)) {
            return { reason: `${name}: must be one of the view's categories, got ${JSON.stringify(raw)}` };
          }
          return { value: raw };
        };
        break;
      }
    }
    checks.push({ name, required: !nullable, check });
  }
  return checks;
}

/** Compiles the validator of one view for one input kind. */
export function compileRowValidator(view: FeatureView, kind: InputKind): (raw: unknown) => RowVerdict {
  const checks = compileColumns(view, kind);
  // ingested_at is the offline store's own column: an export of the store can be ingested again.
  const known = new Set([...checks.map((c) => c.name), view.eventTimeColumn, INGESTED_AT_COLUMN]);
  const timeColumn = view.eventTimeColumn;
  return (raw) => {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      return { ok: false, reasons: ['(row): must be an object of column values'] };
    }
    const record = raw as Record<string, unknown>;
    const reasons: string[] = [];
    const values: Record<string, Value> = {};
    for (const column of checks) {
      const cell = record[column.name];
      if (cell === undefined && !(column.name in record)) {
        if (column.required) reasons.push(`${column.name}: is required`);
        else values[column.name] = null;
        continue;
      }
      const verdict = column.check(cell);
      if ('reason' in verdict) reasons.push(verdict.reason);
      else values[column.name] = verdict.value;
    }
    let eventTimeMs = Number.NaN;
    if (!(timeColumn in record)) reasons.push(`${timeColumn}: is required`);
    else {
      eventTimeMs = parseEventTime(record[timeColumn]);
      if (Number.isNaN(eventTimeMs)) {
        reasons.push(`${timeColumn}: must be an RFC 3339 timestamp with a time zone or epoch milliseconds`);
      }
    }
    for (const name in record) {
      if (!known.has(name)) reasons.push(`${name}: is not a column of feature view ${view.name}`);
    }
    return reasons.length > 0 ? { ok: false, reasons } : { ok: true, row: { eventTimeMs, values } };
  };
}
