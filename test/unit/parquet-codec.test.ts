import { parquetMetadata } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import { defineFeatureView } from '../../lambdas/feature-store/feature-view.js';
import {
  decodeColumnsTyped,
  decodeFeatureColumns,
  encodeFeatureRows,
  entityKeyOf,
  INGESTED_AT_COLUMN,
  isSortedFile,
  parquetColumns,
  ROW_GROUP_SIZE,
} from '../../lambdas/feature-store/parquet-codec.js';
import type { TypedRow } from '../../lambdas/feature-store/row-validation.js';

const view = defineFeatureView({
  name: 'account',
  owner: 'risk-ml',
  entities: [
    { name: 'tenant', type: 'string' },
    { name: 'account_id', type: 'int64' },
  ],
  ttlSeconds: 3600,
  features: [
    { name: 'balance', type: 'float64' },
    { name: 'limit_used', type: 'float64', nullable: true },
    { name: 'txn_count', type: 'int64', nullable: true },
    { name: 'tier', type: 'string', nullable: true },
    { name: 'frozen', type: 'bool' },
  ],
});

function row(i: number, nulls: boolean): TypedRow {
  return {
    eventTimeMs: 1_762_000_000_000 + i * 1000,
    values: {
      tenant: `t${i % 3}`,
      account_id: 10_000_000_000 + i,
      balance: i * 1.25 - 3,
      limit_used: nulls ? null : i / 7,
      txn_count: nulls ? null : i,
      tier: nulls ? null : (['gold', 'silver'][i % 2] ?? null),
      frozen: i % 2 === 0,
    },
  };
}

describe('feature Parquet codec', () => {
  it('lays out entity keys, event time, ingestion time, then features', () => {
    expect(parquetColumns(view).map((c) => `${c.name}:${c.glueType}${c.nullable ? '?' : ''}`)).toEqual([
      'tenant:string',
      'account_id:bigint',
      'event_time:timestamp',
      'ingested_at:timestamp',
      'balance:double',
      'limit_used:double?',
      'txn_count:bigint?',
      'tier:string?',
      'frozen:boolean',
    ]);
  });

  it('round-trips values and explicit nulls exactly, rows sorted by (entity key, event time)', async () => {
    const unsorted = Array.from({ length: 250 }, (_, i) => row(i, i % 5 === 0)).reverse();
    const bytes = encodeFeatureRows(view, unsorted, 1_763_000_000_000);
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe('PAR1');
    expect(isSortedFile(parquetMetadata(bytes.buffer as ArrayBuffer))).toBe(true);
    // The order the writer promises, computed independently: encoded key by code unit, then time.
    const keyOf = (r: TypedRow) => entityKeyOf(view, (c) => r.values[c]);
    const rows = [...unsorted].sort((a, b) =>
      keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : a.eventTimeMs - b.eventTimeMs,
    );
    expect(rows.map(keyOf)).not.toEqual(unsorted.map(keyOf));
    const columns = await decodeFeatureColumns(bytes.buffer as ArrayBuffer);
    expect(columns.event_time).toEqual(rows.map((r) => r.eventTimeMs));
    expect(columns[INGESTED_AT_COLUMN]?.every((v) => v === 1_763_000_000_000)).toBe(true);
    for (const name of ['tenant', 'account_id', 'balance', 'limit_used', 'txn_count', 'tier', 'frozen']) {
      expect(columns[name], name).toEqual(rows.map((r) => r.values[name]));
    }
  });

  it('keeps input order for equal (entity, event time) and decodes a row range across row groups', async () => {
    const n = ROW_GROUP_SIZE + 10;
    const rows: TypedRow[] = Array.from({ length: n }, (_, i) => ({
      eventTimeMs: 5000 - (i % 3),
      values: { ...row(0, false).values, account_id: 10 + (i % 2), balance: i },
    }));
    const bytes = encodeFeatureRows(view, rows, 0);
    const metadata = parquetMetadata(bytes.buffer as ArrayBuffer);
    expect(metadata.row_groups.length).toBe(2);
    const all = await decodeFeatureColumns(bytes.buffer as ArrayBuffer, [
      'account_id',
      'event_time',
      'balance',
    ]);
    const expected = rows
      .map((r, i) => ({ id: r.values.account_id as number, t: r.eventTimeMs, i }))
      .sort((a, b) => a.id - b.id || a.t - b.t || a.i - b.i);
    expect(all.balance).toEqual(expected.map((e) => e.i));
    const range = await decodeColumnsTyped(bytes.buffer as ArrayBuffer, ['balance'], new Set(['balance']), {
      rowStart: ROW_GROUP_SIZE - 5,
      rowEnd: ROW_GROUP_SIZE + 5,
      metadata,
    });
    expect(Array.from(range.balance ?? [])).toEqual(
      all.balance?.slice(ROW_GROUP_SIZE - 5, ROW_GROUP_SIZE + 5),
    );
  });

  it('reads only the columns asked for', async () => {
    const bytes = encodeFeatureRows(view, [row(1, false)], 0);
    const columns = await decodeFeatureColumns(bytes.buffer as ArrayBuffer, ['tenant', 'balance']);
    expect(Object.keys(columns).sort()).toEqual(['balance', 'tenant']);
  });
});
