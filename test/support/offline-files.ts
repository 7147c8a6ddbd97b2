import { parquetWriteBuffer } from 'hyparquet-writer';
import type { FeatureView } from '../../lambdas/feature-store/feature-view.js';
import { INGESTED_AT_COLUMN, parquetColumns, SORT_ORDER } from '../../lambdas/feature-store/parquet-codec.js';
import type { TypedRow } from '../../lambdas/feature-store/row-validation.js';

/**
 * A view's Parquet file as another tool would write it: the offline store's columns, rows in the
 * order given, one ingestion time per row, and no sort marker unless `sortMarker` claims one.
 */
export function foreignFeatureFile(
  view: FeatureView,
  rows: readonly TypedRow[],
  ingestedAt: readonly number[],
  options: { sortMarker?: boolean; rowGroupSize?: number } = {},
): Uint8Array {
  const columnData = parquetColumns(view).map((column) => ({
    name: column.name,
    type: column.type,
    nullable: column.nullable,
    data: rows.map((row, i) => {
      const value =
        column.name === view.eventTimeColumn
          ? row.eventTimeMs
          : column.name === INGESTED_AT_COLUMN
            ? ingestedAt[i]
            : (row.values[column.name] ?? null);
      return column.type === 'INT64' && value !== null ? BigInt(value as number) : value;
    }),
  }));
  return new Uint8Array(
    parquetWriteBuffer({
      columnData: columnData as never,
      rowGroupSize: options.rowGroupSize ?? 3,
      ...(options.sortMarker ? { kvMetadata: [{ ...SORT_ORDER }] } : {}),
    }),
  );
}
