/**
 * The offline store's Parquet layout for one feature view, written with hyparquet-writer and read
 * with hyparquet (pure JavaScript: nothing native to ship to Lambda).
 *
 * Columns, in order: the entity keys; the event time (`TIMESTAMP_MILLIS`, so Athena reads a
 * timestamp); `ingested_at` (`TIMESTAMP_MILLIS`, breaks ties between rows with equal entity and event
 * time: the later ingestion wins); then the features. Entity keys and the timestamps are REQUIRED,
 * features OPTIONAL when the view allows null. The Glue table in lib/ declares the same columns.
 */
import { parquetRead } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { FeatureType, FeatureView } from './feature-view.js';
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

/** Encodes accepted rows of one view as a Parquet file (Snappy-compressed). */
export function encodeFeatureRows(
  view: FeatureView,
  rows: readonly TypedRow[],
  ingestedAtMs: number,
): Uint8Array {
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
    return { name: column.name, data, type: column.type, nullable: column.nullable };
  });
  // hyparquet-writer's types describe `data` as its DecodedArray; our arrays match it.
  const buffer = parquetWriteBuffer({
    columnData: columnData as never,
    codec: 'SNAPPY',
    rowGroupSize: 100_000,
  });
  return new Uint8Array(buffer);
}

function toBigInt(value: Value): bigint | null {
  if (value === null) return null;
  return typeof value === 'bigint' ? value : BigInt(value as number);
}

/** Columns read back from a Parquet file, by name; timestamps as epoch ms, int64 as number. */
export type DecodedColumns = Record<string, Value[]>;

/** Reads a view's Parquet file (or the named columns of it) into columns. */
export async function decodeFeatureColumns(
  file: ArrayBuffer,
  columns?: readonly string[],
): Promise<DecodedColumns> {
  const out: DecodedColumns = {};
  await parquetRead({
    file,
    ...(columns ? { columns: [...columns] } : {}),
    parsers: {
      timestampFromMilliseconds: (ms: bigint) => Number(ms),
      timestampFromMicroseconds: (us: bigint) => Number(us / 1000n),
      timestampFromNanoseconds: (ns: bigint) => Number(ns / 1_000_000n),
      dateFromDays: (days: number) => days * 86_400_000,
    } as never,
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
