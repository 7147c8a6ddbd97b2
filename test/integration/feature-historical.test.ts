import { parquetWriteBuffer } from 'hyparquet-writer';
import { beforeAll, describe, expect, it } from 'vitest';
import { defineFeatureView, type FeatureView, viewTtlMs } from '../../lambdas/feature-store/feature-view.js';
import { getHistoricalFeatures, parseEntityRows } from '../../lambdas/feature-store/historical.js';
import { ingestBatch, prepareBatch } from '../../lambdas/feature-store/ingest.js';
import { decodeFeatureColumns } from '../../lambdas/feature-store/parquet-codec.js';
import type { Value } from '../../lambdas/feature-store/row-validation.js';
import { clients } from '../../lambdas/shared/clients.js';
import { ValidationError } from '../../lambdas/shared/errors.js';
import { S3ObjectStore } from '../../lambdas/shared/object-store.js';
import { startLocalStack } from '../../local/local-stack.js';
import { testFeatureViews } from '../fixtures/feature-views.js';
import { assemblyFor } from '../support/assemblies.js';
import { foreignFeatureFile } from '../support/offline-files.js';
import { prng } from '../support/random.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-10-10T00:00:00Z');
let store: S3ObjectStore;
let views: Map<string, FeatureView>;

beforeAll(async () => {
  const local = await startLocalStack(
    await assemblyFor({ context: { mlops: { featureViews: testFeatureViews } } }),
    {
      prefix: 'history-',
    },
  );
  store = new S3ObjectStore(clients.s3(), local.resourceName('FeatureStoreOffline'));
  views = new Map(testFeatureViews.map((v) => [v.name, defineFeatureView(v)]));
  // customer: TTL 1 day. Values for c1 at T0+1h (orders 1) and T0+30h (orders 2, on the next date).
  const lines = [
    { customer_id: 'c1', event_time: T0 + HOUR, orders: 1, spend: 10 },
    { customer_id: 'c1', event_time: T0 + 30 * HOUR, orders: 2, spend: null },
    { customer_id: 'c2', event_time: T0 + 2 * HOUR, orders: 7, spend: 70 },
  ].map((r) => JSON.stringify(r));
  await ingestBatch(
    { view: 'customer', batchId: 'h1', format: 'jsonl' },
    new TextEncoder().encode(lines.join('\n')),
    {
      store,
      views,
    },
  );
});

describe('point-in-time training sets from the offline store', () => {
  it('joins each row to the latest value at its time, within TTL, and writes Parquet plus a manifest', async () => {
    const entityRows = [
      { customer_id: 'c1', event_time: T0 }, // before any value
      { customer_id: 'c1', event_time: T0 + 29 * HOUR }, // value from T0+1h, 28h old: past the 24h TTL
      { customer_id: 'c1', event_time: T0 + 30 * HOUR }, // the value stamped at this instant
      { customer_id: 'c2', event_time: T0 + 26 * HOUR }, // exactly 24h old: still inside
      { customer_id: 'c3', event_time: T0 + 5 * HOUR }, // unknown entity
    ];
    const manifest = await getHistoricalFeatures(
      { entityRows, featureRefs: ['customer:orders', 'customer:spend'], name: 'churn' },
      { store, views },
    );
    expect(manifest).toMatchObject({ rowCount: 5, featureRefs: ['customer:orders', 'customer:spend'] });
    expect(manifest.dataKey).toBe(`datasets/churn/${manifest.hash}/data.parquet`);
    expect(manifest.inputs.map((i) => i.key)).toEqual([
      'features/customer/date=2026-10-10/h1.parquet',
      'features/customer/date=2026-10-11/h1.parquet',
    ]);
    const bytes = await store.get(manifest.dataKey);
    const columns = await decodeFeatureColumns((bytes as Uint8Array).buffer as ArrayBuffer);
    expect(columns.customer__orders).toEqual([null, null, 2, 7, null]);
    expect(columns.customer__spend).toEqual([null, null, null, 70, null]);
    expect(columns.customer_id).toEqual(['c1', 'c1', 'c1', 'c2', 'c3']);
  });

  it('returns the same dataset for the same inputs without writing it again', async () => {
    const request = {
      entityRows: [{ customer_id: 'c2', event_time: T0 + 3 * HOUR }],
      featureRefs: ['customer:orders'],
    };
    const first = await getHistoricalFeatures(request, { store, views });
    const again = await getHistoricalFeatures(request, { store, views });
    expect(again).toEqual(first);
  });

  it.each([
    [{ entityRows: [{ customer_id: 'c1', event_time: T0 }], featureRefs: ['nope:orders'] }, 'featureRefs.0'],
    [
      { entityRows: [{ customer_id: 'c1', event_time: T0 }], featureRefs: ['customer:colour'] },
      'featureRefs.0',
    ],
    [{ entityRows: [{ customer_id: 'c1', event_time: T0 }], featureRefs: ['customer'] }, 'featureRefs.0'],
    [
      { entityRows: [{ customer_id: 'c1', event_time: 'yesterday' }], featureRefs: ['customer:orders'] },
      'entityRows.0.event_time',
    ],
    [{ entityRows: [{ event_time: T0 }], featureRefs: ['customer:orders'] }, 'entityRows.0.customer_id'],
    [{ entityRows: [], featureRefs: ['customer:orders'] }, 'entityRows'],
  ])('rejects a bad request by field (%j)', async (request, field) => {
    const error = await getHistoricalFeatures(request, { store, views }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe(field);
  });
});

/** A feature row as the reference sees it: where it came from decides ties. */
interface Source {
  readonly entity: string | number;
  readonly time: number;
  readonly ingestedAt: number;
  readonly file: string;
  readonly position: number;
  readonly values: Record<string, Value>;
}

/** Latest row at or before `time`, within `ttlMs`; ties: later ingestion, later file, later row. */
function reference(
  sources: readonly Source[],
  entity: unknown,
  time: number,
  ttlMs: number,
): Source | undefined {
  let best: Source | undefined;
  for (const s of sources) {
    if (s.entity !== entity || s.time > time || time - s.time > ttlMs) continue;
    const b = best;
    if (
      b === undefined ||
      s.time > b.time ||
      (s.time === b.time &&
        (s.ingestedAt > b.ingestedAt ||
          (s.ingestedAt === b.ingestedAt &&
            (s.file > b.file || (s.file === b.file && s.position > b.position)))))
    )
      best = s;
  }
  return best;
}

describe('training sets over many batches, against a brute-force reference', () => {
  it('matches the reference for two views, batches ingested at equal and later times, and a file written by another tool (4 seeds)', async () => {
    const customer = views.get('customer') as FeatureView;
    const merchant = views.get('merchant') as FeatureView;
    for (let seed = 1; seed <= 4; seed++) {
      const random = prng(seed * 977);
      const base = Date.parse('2026-06-01T00:00:00Z') + seed * 10 * 24 * HOUR;
      const N = base + 100 * 24 * HOUR; // ingestion clock, after every event
      // Event times on a coarse grid (10 min over ~30 h), so ties are common; dates split at midnight.
      const time = () => base + Math.floor(random() * 180) * 600_000;
      const customers: Source[] = [];
      const merchants: Source[] = [];
      const ingest = async (
        viewName: string,
        batch: string,
        now: number,
        make: () => Record<string, unknown>,
        into: Source[],
        entityColumn: string,
      ) => {
        const rows = Array.from({ length: 25 }, make);
        const result = await ingestBatch(
          { view: viewName, batchId: batch, format: 'jsonl' },
          new TextEncoder().encode(rows.map((r) => JSON.stringify(r)).join('\n')),
          { store, views, now: () => new Date(now) },
        );
        expect(result.rejected, batch).toBe(0);
        rows.forEach((row, position) => {
          const t = row.event_time as number;
          into.push({
            entity: row[entityColumn] as string | number,
            time: t,
            ingestedAt: now,
            file: `features/${viewName}/date=${new Date(t).toISOString().slice(0, 10)}/${batch}.parquet`,
            position,
            values: row as Record<string, Value>,
          });
        });
      };
      const customerRow = () => ({
        customer_id: `c${Math.floor(random() * 5)}`,
        event_time: time(),
        orders: Math.floor(random() * 100),
        spend: random() < 0.2 ? null : Math.floor(random() * 1000) / 10,
      });
      const merchantRow = () => ({
        merchant_id: [2, 10, 33][Math.floor(random() * 3)],
        event_time: time(),
        category: random() < 0.5 ? 'food' : 'travel',
      });
      // Two batches at the same ingestion time (the later batch id wins ties), one later.
      await ingest('customer', `s${seed}-b0`, N, customerRow, customers, 'customer_id');
      await ingest('customer', `s${seed}-b1`, N, customerRow, customers, 'customer_id');
      await ingest('customer', `s${seed}-b2`, N + 1000, customerRow, customers, 'customer_id');
      await ingest('merchant', `s${seed}-m0`, N, merchantRow, merchants, 'merchant_id');
      await ingest('merchant', `s${seed}-m1`, N, merchantRow, merchants, 'merchant_id');
      // Another tool's file: unsorted, no marker, ingestion times varying per row.
      const foreignRows = Array.from({ length: 20 }, customerRow);
      const foreignAt = foreignRows.map(() => (random() < 0.5 ? N : N + 1000));
      const foreignDate = new Date(base).toISOString().slice(0, 10);
      const foreignKey = `features/customer/date=${foreignDate}/s${seed}-zz-foreign.parquet`;
      const inDate = foreignRows.filter(
        (r) => new Date(r.event_time).toISOString().slice(0, 10) === foreignDate,
      );
      await store.put(
        foreignKey,
        foreignFeatureFile(
          customer,
          inDate.map(({ event_time, ...values }) => ({ eventTimeMs: event_time, values })),
          foreignAt,
        ),
      );
      inDate.forEach((row, position) => {
        customers.push({
          entity: row.customer_id,
          time: row.event_time,
          ingestedAt: foreignAt[position] as number,
          file: foreignKey,
          position,
          values: row,
        });
      });

      const entityRows = Array.from({ length: 60 }, (_, i) => ({
        customer_id: `c${Math.floor(random() * 6)}`, // c5 has no rows
        merchant_id: [2, 10, 33, 4][Math.floor(random() * 4)] as number,
        event_time: base - HOUR + Math.floor(random() * 200) * 600_000,
        y: i % 2 === 0,
      }));
      const manifest = await getHistoricalFeatures(
        {
          entityRows,
          featureRefs: ['customer:orders', 'customer:spend', 'merchant:category'],
          name: `seed-${seed}`,
        },
        { store, views },
      );
      expect(manifest.rowCount).toBe(60);
      expect(manifest.inputs.map((i) => i.key)).toContain(foreignKey);
      const bytes = (await store.get(manifest.dataKey)) as Uint8Array;
      const out = await decodeFeatureColumns(bytes.buffer.slice(bytes.byteOffset) as ArrayBuffer);
      expect(out.y).toEqual(entityRows.map((r) => r.y));
      entityRows.forEach((row, i) => {
        const c = reference(customers, row.customer_id, row.event_time, viewTtlMs(customer));
        const m = reference(merchants, row.merchant_id, row.event_time, viewTtlMs(merchant));
        const where = `seed ${seed} row ${i}`;
        expect(out.customer__orders?.[i], where).toBe(c?.values.orders ?? null);
        expect(out.customer__spend?.[i], where).toBe(c?.values.spend ?? null);
        expect(out.merchant__category?.[i], where).toBe(m?.values.category ?? null);
      });
    }
  });
});

describe('training sets: what they read, and what they refuse', () => {
  const day = (d: number) => Date.parse('2026-04-01T00:00:00Z') + d * 24 * HOUR;
  const jsonl = (rows: object[]) => new TextEncoder().encode(rows.map((r) => JSON.stringify(r)).join('\n'));
  const read = async (key: string) => {
    const bytes = (await store.get(key)) as Uint8Array;
    return decodeFeatureColumns(bytes.buffer.slice(bytes.byteOffset) as ArrayBuffer);
  };

  it('reads only files a batch manifest lists: not a crashed batch, not what its rerun no longer wrote', async () => {
    const customer = views.get('customer') as FeatureView;
    // A batch that crashed after writing its files, before its manifest: files, no manifest.
    const crashed = await prepareBatch(
      customer,
      'jsonl',
      jsonl([
        { customer_id: 'k1', event_time: day(0) + HOUR, orders: 50 },
        { customer_id: 'k1', event_time: day(1) + HOUR, orders: 51 },
      ]),
      day(2),
    );
    for (const [date, bytes] of crashed.files)
      await store.put(`features/customer/date=${date}/rr.parquet`, bytes);
    const entityRows = [
      { customer_id: 'k1', event_time: day(0) + 2 * HOUR },
      { customer_id: 'k1', event_time: day(1) + 2 * HOUR },
    ];
    const before = await getHistoricalFeatures(
      { entityRows, featureRefs: ['customer:orders'] },
      { store, views },
    );
    expect((await read(before.dataKey)).customer__orders).toEqual([null, null]);
    expect(before.inputs).toEqual([]);
    // Its rerun holds other rows, on the first date only: the second date's leftover stays unread.
    await ingestBatch(
      { view: 'customer', batchId: 'rr', format: 'jsonl' },
      jsonl([{ customer_id: 'k1', event_time: day(0) + HOUR, orders: 60 }]),
      { store, views, now: () => new Date(day(3)) },
    );
    const after = await getHistoricalFeatures(
      { entityRows, featureRefs: ['customer:orders'] },
      { store, views },
    );
    expect((await read(after.dataKey)).customer__orders).toEqual([60, null]);
    expect(after.inputs.map((i) => i.key)).toEqual(['features/customer/date=2026-04-01/rr.parquet']);
  });

  it('builds another dataset when a view definition changes (its TTL), not the cached one', async () => {
    await ingestBatch(
      { view: 'customer', batchId: 'ttl', format: 'jsonl' },
      jsonl([{ customer_id: 'k2', event_time: day(5), orders: 5 }]),
      { store, views, now: () => new Date(day(6)) },
    );
    const request = {
      entityRows: [{ customer_id: 'k2', event_time: day(5) + HOUR }],
      featureRefs: ['customer:orders'],
    };
    const long = await getHistoricalFeatures(request, { store, views });
    const customer = views.get('customer') as FeatureView;
    const short = new Map(views);
    short.set('customer', { ...customer, ttlSeconds: 60 });
    const shortTtl = await getHistoricalFeatures(request, { store, views: short });
    expect(shortTtl.hash).not.toBe(long.hash);
    expect((await read(long.dataKey)).customer__orders).toEqual([5]);
    expect((await read(shortTtl.dataKey)).customer__orders).toEqual([null]);
  });

  it('takes entity rows from Parquet with int64 keys and labels, and keeps columns only later rows hold', async () => {
    await ingestBatch(
      { view: 'merchant', batchId: 'pq', format: 'jsonl' },
      jsonl([{ merchant_id: 12, event_time: day(8), category: 'travel' }]),
      { store, views, now: () => new Date(day(9)) },
    );
    const file = parquetWriteBuffer({
      columnData: [
        { name: 'merchant_id', data: [12n, 13n], type: 'INT64' },
        { name: 'event_time', data: [day(8) + 60_000, day(8) + 60_000], type: 'TIMESTAMP' },
        { name: 'clicks', data: [3n, null], type: 'INT64' },
      ],
    });
    const rows = await parseEntityRows('parquet', new Uint8Array(file));
    rows[1] = { ...rows[1], late_label: 'x' };
    const manifest = await getHistoricalFeatures(
      { entityRows: rows, featureRefs: ['merchant:category'] },
      { store, views },
    );
    const out = await read(manifest.dataKey);
    expect(out).toMatchObject({
      merchant_id: [12, 13],
      clicks: [3, null],
      late_label: [null, 'x'],
      merchant__category: ['travel', null],
    });
  });

  it.each([
    [
      [
        { customer_id: 'c1', event_time: T0, y: 1 },
        { customer_id: 'c1', event_time: T0, y: 'one' },
      ],
      'entityRows.1.y',
    ],
    [[{ customer_id: 'c1', event_time: T0, y: { nested: true } }], 'entityRows.0.y'],
    [[{ customer_id: 'c1', event_time: T0, customer__orders: 1 }], 'entityRows.0.customer__orders'],
    [[{ customer_id: 'c1', event_time: 1e16 }], 'entityRows.0.event_time'],
    [[{ customer_id: 'c1', event_time: T0 + 0.5 }], 'entityRows.0.event_time'],
    [
      [
        { customer_id: 'c1', event_time: T0 },
        { customer_id: 9007199254740993n, event_time: T0 },
      ],
      'entityRows.1.customer_id',
    ],
  ])('refuses bad entity rows by field, writing nothing (%#)', async (entityRows, field) => {
    const error = await getHistoricalFeatures(
      {
        entityRows: entityRows as Record<string, unknown>[],
        featureRefs: ['customer:orders'],
        name: 'refused',
      },
      { store, views },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe(field);
    const written: string[] = [];
    for await (const key of store.list('datasets/refused/')) written.push(key);
    expect(written).toEqual([]);
  });
});
