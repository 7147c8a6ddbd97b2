/**
 * Row validation for ingestion: each raw row (from JSON lines, CSV or Parquet) is checked against
 * its feature view and either accepted as a typed row or rejected with every reason that applies.
 * A validator is compiled once per view and input kind, then runs a plain loop per row (no schema
 * library in the hot path).
 */
import { DYNAMODB_ITEM_LIMIT_BYTES, itemSize } from '../shared/item-size.js';
import { MAX_ENTITY_KEY_CHARS, ONLINE_ITEM } from '../shared/layout.js';
import type { FeatureView } from './feature-view.js';
import {
  DYNAMODB_PARTITION_KEY_LIMIT_BYTES,
  isOnlineNumber,
  ONLINE_NUMBER_RULE,
  onlineKey,
  onlineKeyBytes,
} from './online-key.js';

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

/**
 * Earliest event time a row may have: 2000-01-01T00:00:00Z, where the offline tables' partition
 * projection starts (lib/feature-store.ts `projection.date.range`); older rows would be invisible.
 */
export const MIN_EVENT_TIME_MS = Date.UTC(2000, 0, 1);
const MIN_EVENT_TIME_ISO = '2000-01-01T00:00:00Z';
/** How far past its ingestion time a row's event time may be (clock skew, time zones): one day. */
export const MAX_EVENT_TIME_SKEW_MS = 86_400_000;

export interface RowValidatorOptions {
  /**
   * Latest event time accepted, epoch ms. Ingestion passes `ingestedAtMs + MAX_EVENT_TIME_SKEW_MS`,
   * and the rejection reason says so. No upper bound when absent.
   */
  readonly maxEventTimeMs?: number;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;
/** Largest magnitude of a Date, in epoch ms. */
const MAX_DATE_MS = 8.64e15;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Whether the calendar and clock parts of an RFC 3339 match name a real instant (no leap second). */
function isRealTime(m: RegExpExecArray): boolean {
  const part = (i: number) => Number(m[i]);
  const [year, month, day] = [part(1), part(2), part(3)];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
  if (day < 1 || day > days || part(4) > 23 || part(5) > 59 || part(6) > 59) return false;
  // The zone offset, unless Z.
  return m[7] === undefined || (part(7) <= 23 && part(8) <= 59);
}

/**
 * Parses an event time: RFC 3339 with a zone, or epoch milliseconds. Returns NaN when unparsable,
 * for impossible calendar dates or clock times (`2024-02-30`, `24:00`, leap seconds) and outside the
 * range of a Date. Fractions of a millisecond in a number are returned as they are.
 */
export function parseEventTime(raw: unknown): number {
  let ms: number;
  if (typeof raw === 'number') ms = raw;
  else if (raw instanceof Date) ms = raw.getTime();
  else if (typeof raw === 'bigint') ms = Number(raw);
  else if (typeof raw !== 'string') return Number.NaN;
  else if (/^-?\d+$/.test(raw)) ms = Number(raw);
  else {
    const match = RFC3339.exec(raw);
    ms = match !== null && isRealTime(match) ? Date.parse(raw) : Number.NaN;
  }
  return Math.abs(ms) <= MAX_DATE_MS ? ms : Number.NaN;
}

/** Plain decimal notation for CSV numbers: no hex, binary, octal, `Infinity` or blank cells. */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const INTEGER_TEXT = /^[+-]?\d+$/;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Longest string feature value, in characters (UTF-16 code units): 1,048,576 (2^20). Far beyond any
 * category or text a model reads, and a bound on what one row of an offline-only view holds (online
 * views are held to DynamoDB's 400 KB item on top, see {@link onlineSizeCheck}).
 */
export const MAX_STRING_LENGTH = 1_048_576;
/** Longest string entity key, in characters; online views also bound the whole key in bytes. */
export const MAX_ENTITY_KEY_LENGTH = MAX_ENTITY_KEY_CHARS;

/** A lone UTF-16 surrogate: in `u` mode a surrogate class matches only unpaired ones. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const WELL_FORMED_RULE = 'must be well-formed Unicode (no lone UTF-16 surrogate)';
/** Whether a string is well-formed UTF-16 (what `String.prototype.isWellFormed` says, ES2024). */
export const isWellFormedUnicode = (text: string): boolean => !LONE_SURROGATE.test(text);

interface ColumnCheck {
  readonly name: string;
  readonly required: boolean;
  check(raw: unknown): { value: Value } | { reason: string };
}

/**
 * int64 values become JS numbers, exact only within ±(2^53−1): beyond, two ids would round to one.
 * JSON numbers arrive already rounded by JSON.parse, so an unsafe one cannot be trusted at all.
 * `onlineRange` (float64 features of online views): the value must be one the online store can
 * write and read back exactly ({@link isOnlineNumber}). -0 becomes 0 (DynamoDB has no
 * negative zero), so both stores hold the same value.
 */
function numberCheck(
  name: string,
  kind: InputKind,
  integer: boolean,
  nullable: boolean,
  min: number | undefined,
  max: number | undefined,
  onlineRange = false,
): ColumnCheck['check'] {
  const expected = integer ? 'an integer' : 'a number';
  const unsafe = { reason: `${name}: must be an integer within ±(2^53−1)` };
  return (raw) => {
    let n: number;
    if (raw === null || raw === undefined || (kind === 'text' && raw === '')) {
      return nullable ? { value: null } : { reason: `${name}: must not be null` };
    }
    if (typeof raw === 'number') n = raw;
    else if (typeof raw === 'bigint' && integer) {
      if (raw > MAX_SAFE || raw < -MAX_SAFE) return unsafe;
      n = Number(raw);
    } else if (kind === 'text' && typeof raw === 'string') {
      const cell = raw.trim();
      if (cell.toLowerCase() === 'nan') n = Number.NaN;
      else if (!(integer ? INTEGER_TEXT : DECIMAL).test(cell)) {
        return { reason: `${name}: must be ${expected}, got ${JSON.stringify(raw)}` };
      } else if (integer && cell.length > 15) {
        // Past 15 digits Number() may round: decide on the exact value.
        const big = BigInt(cell);
        if (big > MAX_SAFE || big < -MAX_SAFE) return unsafe;
        n = Number(big);
      } else n = Number(cell);
    } else return { reason: `${name}: must be ${expected}, got ${typeof raw}` };
    if (Number.isNaN(n)) return nullable ? { value: null } : { reason: `${name}: must not be NaN` };
    if (!Number.isFinite(n)) return { reason: `${name}: must be finite` };
    if (integer) {
      if (!Number.isInteger(n)) return { reason: `${name}: must be an integer` };
      if (!Number.isSafeInteger(n)) return unsafe;
    }
    if (n === 0)
      n = 0; // -0
    else if (onlineRange && !isOnlineNumber(n)) return { reason: `${name}: ${ONLINE_NUMBER_RULE}` };
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
          : (raw) => {
              if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_ENTITY_KEY_LENGTH)
                return {
                  reason: `${name}: entity key must be a non-empty string of at most ${MAX_ENTITY_KEY_LENGTH} characters`,
                };
              if (!isWellFormedUnicode(raw)) return { reason: `${name}: ${WELL_FORMED_RULE}` };
              return { value: raw };
            },
    });
  }
  for (const feature of view.features) {
    const { name, nullable } = feature;
    let check: ColumnCheck['check'];
    switch (feature.type) {
      case 'float64':
      case 'int64':
        check = numberCheck(
          name,
          kind,
          feature.type === 'int64',
          nullable,
          feature.min,
          feature.max,
          view.online && feature.type === 'float64',
        );
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
          if (raw.length > MAX_STRING_LENGTH)
            return { reason: `${name}: must be at most ${MAX_STRING_LENGTH} characters, got ${raw.length}` };
          if (!isWellFormedUnicode(raw)) return { reason: `${name}: ${WELL_FORMED_RULE}` };
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

/**
 * For online views, a check that a row's features fit in one online-store item (DynamoDB: 400 KB),
 * which materialization could otherwise never write. The item is sized only when the row's string
 * features are long enough to matter: every other part of the item is bounded by a worst-case
 * skeleton (longest numbers, entity keys of MAX_ENTITY_KEY_LENGTH characters that JSON-escape to 6 bytes each), and
 * a UTF-16 code unit is at most 3 UTF-8 bytes.
 */
function onlineSizeCheck(
  view: FeatureView,
): ((values: Record<string, Value>) => string | undefined) | undefined {
  const strings = view.features.filter((f) => f.type === 'string').map((f) => f.name);
  if (!view.online || strings.length === 0) return undefined;
  const onlineItem = (entityKey: unknown[], features: Record<string, Value>, eventTimeMs: number) => ({
    [ONLINE_ITEM.partitionKey]: onlineKey(view.name, entityKey as (string | number)[]),
    [ONLINE_ITEM.view]: view.name,
    [ONLINE_ITEM.features]: features,
    [ONLINE_ITEM.eventTime]: eventTimeMs,
    [ONLINE_ITEM.ingestedAt]: Number.MAX_SAFE_INTEGER,
    [ONLINE_ITEM.ttl]: Number.MAX_SAFE_INTEGER,
  });
  const skeleton = onlineItem(
    view.entities.map((e) =>
      e.type === 'string' ? '\u0000'.repeat(MAX_ENTITY_KEY_LENGTH) : -Number.MAX_SAFE_INTEGER,
    ),
    Object.fromEntries(view.features.map((f) => [f.name, f.type === 'string' ? null : Number.MAX_VALUE])),
    Number.MAX_VALUE,
  );
  const maxChars = Math.floor((DYNAMODB_ITEM_LIMIT_BYTES - itemSize(skeleton).total) / 3);
  return (values) => {
    let chars = 0;
    for (const name of strings) {
      const value = values[name];
      if (typeof value === 'string') chars += value.length;
    }
    if (chars <= maxChars) return undefined;
    const features: Record<string, Value> = {};
    for (const f of view.features) features[f.name] = values[f.name] ?? null;
    const entityKey = view.entities.map((e) => values[e.name] ?? null);
    const { total } = itemSize(onlineItem(entityKey, features, Number.MAX_SAFE_INTEGER));
    return total > DYNAMODB_ITEM_LIMIT_BYTES
      ? `row: too large for the online store (${total} bytes > 400 KB)`
      : undefined;
  };
}

/**
 * For online views, a check that a row's online key ({@link onlineKey}: view name, `#`, the entity
 * key values as a JSON array) fits DynamoDB's 2048-byte partition key, counted in UTF-8 bytes after
 * JSON escaping, all parts together. Runs only when every entity key value passed its own check.
 */
function onlineKeyCheck(
  view: FeatureView,
): ((values: Record<string, Value>) => string | undefined) | undefined {
  if (!view.online) return undefined;
  const names = view.entities.map((e) => e.name);
  const field = names.join(', ');
  return (values) => {
    const parts: (string | number)[] = [];
    for (const name of names) {
      const value = values[name];
      if (typeof value !== 'string' && typeof value !== 'number') return undefined;
      parts.push(value);
    }
    const bytes = onlineKeyBytes(view.name, parts);
    return bytes > DYNAMODB_PARTITION_KEY_LIMIT_BYTES
      ? `${field}: the online key (view, entity keys as JSON) must be at most ${DYNAMODB_PARTITION_KEY_LIMIT_BYTES} UTF-8 bytes, got ${bytes}`
      : undefined;
  };
}

/** Compiles the validator of one view for one input kind. */
export function compileRowValidator(
  view: FeatureView,
  kind: InputKind,
  options: RowValidatorOptions = {},
): (raw: unknown) => RowVerdict {
  const checks = compileColumns(view, kind);
  // ingested_at is the offline store's own column: an export of the store can be ingested again.
  const known = new Set([...checks.map((c) => c.name), view.eventTimeColumn, INGESTED_AT_COLUMN]);
  const timeColumn = view.eventTimeColumn;
  const maxTime = options.maxEventTimeMs;
  if (maxTime !== undefined && !(Math.abs(maxTime) <= MAX_DATE_MS))
    throw new RangeError(`maxEventTimeMs must be a time within a Date's range, got ${maxTime}`);
  const tooLate =
    maxTime === undefined
      ? ''
      : `${timeColumn}: must not be after ${new Date(maxTime).toISOString()} (ingestion time + 1 day)`;
  const sizeCheck = onlineSizeCheck(view);
  const keyCheck = onlineKeyCheck(view);
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
      } else if (!Number.isInteger(eventTimeMs)) reasons.push(`${timeColumn}: must be whole milliseconds`);
      else if (eventTimeMs < MIN_EVENT_TIME_MS) {
        reasons.push(`${timeColumn}: must be on or after ${MIN_EVENT_TIME_ISO}`);
      } else if (maxTime !== undefined && eventTimeMs > maxTime) reasons.push(tooLate);
    }
    for (const name in record) {
      if (!known.has(name)) reasons.push(`${name}: is not a column of feature view ${view.name}`);
    }
    const keyTooLong = keyCheck?.(values);
    if (keyTooLong !== undefined) reasons.push(keyTooLong);
    const tooLarge = sizeCheck?.(values);
    if (tooLarge !== undefined) reasons.push(tooLarge);
    return reasons.length > 0 ? { ok: false, reasons } : { ok: true, row: { eventTimeMs, values } };
  };
}
