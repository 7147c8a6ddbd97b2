/**
 * The offline store's Parquet layout for one feature view, written with hyparquet-writer and read
 * with hyparquet (pure JavaScript: nothing native to ship to Lambda).
 *
 * Columns, in order: the entity keys; the event time (`TIMESTAMP_MILLIS`, so Athena reads a
 * timestamp); `ingested_at` (`TIMESTAMP_MILLIS`, breaks ties between rows with equal entity and event
 * time: the later ingestion wins); then the features. Entity keys and the timestamps are REQUIRED,
 * features OPTIONAL when the view allows null. The Glue table in lib/ declares the same columns.
 *
 * Rows are written sorted by (entity key, event time), entities in ascending code-unit order of
 * their encoded key ({@link encodeEntityKey}), ties in input order; the file says so in its
 * key-value metadata ({@link SORT_ORDER}). Training sets merge such files as one sorted stream
 * without loading them (./offline-scan.ts); Athena skips row groups by the entity min/max statistics.
 */
import { type FileMetaData, parquetMetadata, parquetRead } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { CorruptDataError } from '../shared/errors.js';
import type { FeatureType, FeatureView } from './feature-view.js';
import { encodeEntityKey } from './point-in-time-join.js';
import { argsortByEntityThenTime } from './point-in-time-sort.js';
import { INGESTED_AT_COLUMN, type TypedRow, type Value } from './row-validation.js';

export { INGESTED_AT_COLUMN };

type BasicType = 'STRING' | 'INT64' | 'DOUBLE' | 'BOOLEAN' | 'TIMESTAMP';

const PARQUET_TYPE: Record<FeatureType | 'int64key' | 'stringkey', BasicType> = {
  float64: 'DOUBLE',
  int64: 'INT64',
  string: 'STRING',
  bool: 'BOOLEAN',
  int64key: 'INT64',
  stringkey: 'STRING',
};

/** Athena/Glue column types for the same layout (used by the Glue table definition). */
export const GLUE_TYPE: Record<FeatureType, string> = {
  float64: 'double',
  int64: 'bigint',
  string: 'string',
  bool: 'boolean',
};

export interface ParquetColumnSpec {
  readonly name: string;
  readonly type: BasicType;
  readonly nullable: boolean;
  readonly glueType: string;
}

/** The column layout of a view's Parquet files. */
export function parquetColumns(view: FeatureView): ParquetColumnSpec[] {
  return [
    ...view.entities.map((e) => ({
      name: e.name,
      type: PARQUET_TYPE[e.type === 'int64' ? 'int64key' : 'stringkey'],
      nullable: false,
      glueType: e.type === 'int64' ? 'bigint' : 'string',
    })),
    { name: view.eventTimeColumn, type: 'TIMESTAMP' as const, nullable: false, glueType: 'timestamp' },
    { name: INGESTED_AT_COLUMN, type: 'TIMESTAMP' as const, nullable: false, glueType: 'timestamp' },
    ...view.features.map((f) => ({
      name: f.name,
      type: PARQUET_TYPE[f.type],
      nullable: f.nullable,
      glueType: GLUE_TYPE[f.type],
    })),
  ];
}

/** Key-value metadata marking a file sorted as described above (version 1 of the order). */
export const SORT_ORDER = { key: 'mlops.sort_order', value: 'entity_key,event_time;v1' } as const;

/**
 * The footer of a stored Parquet file; a file that has none a reader can parse (truncated, garbage,
 * empty) is a {@link CorruptDataError} naming `key`.
 */
export function readFooter(key: string, file: ArrayBuffer): FileMetaData {
  try {
    return parquetMetadata(file);
  } catch (error) {
    throw new CorruptDataError(key, `is not a readable Parquet file (${(error as Error).message})`, {
      cause: error,
    });
  }
}

/** Whether a file's metadata says its rows are in {@link SORT_ORDER}. */
export function isSortedFile(metadata: FileMetaData): boolean {
  return (metadata.key_value_metadata ?? []).some(
    (kv) => kv.key === SORT_ORDER.key && kv.value === SORT_ORDER.value,
  );
}

/** The encoded entity key of a row (int64 keys as numbers, however they were read). */
export function entityKeyOf(view: FeatureView, value: (column: string) => unknown): string {
  if (view.entities.length === 1) {
    // encodeEntityKey's one-part form, without its array.
    const v = value((view.entities[0] as { name: string }).name);
    if (typeof v === 'bigint') return `n${String(Number(v))}`;
    return typeof v === 'number' ? `n${String(v)}` : `s${String(v)}`;
  }
  return encodeEntityKey(
    view.entities.map((e) => {
      const v = value(e.name);
      return typeof v === 'bigint' ? Number(v) : (v as string | number);
    }),
  );
}

/** Encodes accepted rows of one view as a Parquet file (Snappy-compressed), sorted as above. */
export function encodeFeatureRows(
  view: FeatureView,
  unsorted: readonly TypedRow[],
  ingestedAtMs: number,
  rowGroupSize = ROW_GROUP_SIZE,
): Uint8Array {
  const order = argsortByEntityThenTime(
    unsorted.map((row) => entityKeyOf(view, (c) => row.values[c])),
    Float64Array.from(unsorted, (row) => row.eventTimeMs),
  );
  const rows = Array.from(order, (i) => unsorted[i] as TypedRow);
  const columns = parquetColumns(view);
  const columnData = columns.map((column) => {
    const n = rows.length;
    let data: unknown[] | Float64Array | BigInt64Array;
    if (column.name === view.eventTimeColumn) {
      data = Array.from(rows, (row) => row.eventTimeMs);
    } else if (column.name === INGESTED_AT_COLUMN) {
      data = new Array<number>(n).fill(ingestedAtMs);
    } else if (column.type === 'INT64') {
      data = Array.from(rows, (row) => toBigInt(row.values[column.name] ?? null));
    } else if (column.type === 'DOUBLE' && !column.nullable) {
      data = Float64Array.from(rows, (row) => row.values[column.name] as number);
    } else {
      data = Array.from(rows, (row) => row.values[column.name] ?? null);
    }
    // String entity keys: the rows are sorted by them, so each key repeats in a run; a dictionary
    // stores (and readers decode) each key once.
    const keyColumn = column.type === 'STRING' && view.entities.some((e) => e.name === column.name);
    return {
      name: column.name,
      data,
      type: column.type,
      nullable: column.nullable,
      ...(keyColumn ? { encoding: 'RLE_DICTIONARY' as const } : {}),
    };
  });
  // hyparquet-writer's types describe `data` as its DecodedArray; our arrays match it.
  const buffer = parquetWriteBuffer({
    columnData: columnData as never,
    codec: 'SNAPPY',
    rowGroupSize,
    kvMetadata: [{ ...SORT_ORDER }],
  });
  return new Uint8Array(buffer);
}

/** Rows per row group: what a reader decodes at once when it streams a file. */
export const ROW_GROUP_SIZE = 65_536;

function toBigInt(value: Value): bigint | null {
  if (value === null) return null;
  return typeof value === 'bigint' ? value : BigInt(value as number);
}

/** Columns read back from a Parquet file, by name; timestamps as epoch ms, int64 as number. */
export type DecodedColumns = Record<string, Value[]>;

/** hyparquet parsers: every timestamp or date as epoch milliseconds (a number). */
export const TIME_PARSERS = {
  timestampFromMilliseconds: (ms: bigint) => Number(ms),
  timestampFromMicroseconds: (us: bigint) => Number(us / 1000n),
  timestampFromNanoseconds: (ns: bigint) => Number(ns / 1_000_000n),
  dateFromDays: (days: number) => days * 86_400_000,
} as never;

/** Reads a view's Parquet file (or the named columns of it) into columns. */
export async function decodeFeatureColumns(
  file: ArrayBuffer,
  columns?: readonly string[],
): Promise<DecodedColumns> {
  const out: DecodedColumns = {};
  await parquetRead({
    file,
    ...(columns ? { columns: [...columns] } : {}),
    parsers: TIME_PARSERS,
    onChunk: (chunk) => {
      const target = out[chunk.columnName] ?? [];
      out[chunk.columnName] = target;
      for (let i = 0; i < chunk.columnData.length; i++) {
        const v = chunk.columnData[i] as Value | undefined;
        target[chunk.rowStart + i] = typeof v === 'bigint' ? Number(v) : (v ?? null);
      }
    },
  });
  return out;
}

/**
 * Like {@link decodeFeatureColumns}, for rows [rowStart, rowEnd) only (decoding just the row groups
 * they touch), straight into the shapes the training-set merge uses: columns named in `numeric` as
 * Float64Array (null → NaN, booleans → 0/1, int64 → number), the others as values (index 0 is
 * rowStart). No per-value boxing for numeric columns.
 */
export async function decodeColumnsTyped(
  file: ArrayBuffer,
  columns: readonly string[],
  numeric: ReadonlySet<string>,
  range: { readonly rowStart: number; readonly rowEnd: number; readonly metadata: FileMetaData },
): Promise<Record<string, Float64Array | Value[]>> {
  const n = range.rowEnd - range.rowStart;
  const out: Record<string, Float64Array | Value[]> = {};
  // A column the file lacks reads as nulls (NaN), as in decodeFeatureColumns.
  for (const name of columns)
    out[name] = numeric.has(name) ? new Float64Array(n).fill(Number.NaN) : new Array<Value>(n).fill(null);
  // Files written before a feature was added to the view lack its column: read what the file has.
  const present = new Set(range.metadata.schema.map((element) => element.name));
  const readable = columns.filter((name) => present.has(name));
  if (readable.length === 0) return out;
  await parquetRead({
    file,
    columns: readable,
    rowStart: range.rowStart,
    rowEnd: range.rowEnd,
    metadata: range.metadata,
    parsers: TIME_PARSERS,
    onChunk: (chunk) => {
      const target = out[chunk.columnName];
      if (target === undefined) return;
      const data = chunk.columnData as ArrayLike<unknown>;
      const from = Math.max(0, range.rowStart - chunk.rowStart);
      const to = Math.min(data.length, range.rowEnd - chunk.rowStart);
      const shift = chunk.rowStart - range.rowStart;
      if (target instanceof Float64Array) {
        for (let i = from; i < to; i++) {
          const v = data[i];
          target[i + shift] =
            typeof v === 'number'
              ? v
              : v === null || v === undefined
                ? Number.NaN
                : typeof v === 'bigint'
                  ? Number(v)
                  : typeof v === 'boolean'
                    ? v
                      ? 1
                      : 0
                    : Number(v);
        }
      } else {
        for (let i = from; i < to; i++) {
          const v = data[i];
          target[i + shift] = typeof v === 'bigint' ? Number(v) : ((v ?? null) as Value);
        }
      }
    },
  });
  return out;
}
