import { beforeAll, describe, expect, it } from 'vitest';
import { defineFeatureView, type FeatureView } from '../../lambdas/feature-store/feature-view.js';
import { getHistoricalFeatures } from '../../lambdas/feature-store/historical.js';
import { ingestBatch } from '../../lambdas/feature-store/ingest.js';
import { decodeFeatureColumns } from '../../lambdas/feature-store/parquet-codec.js';
import { clients } from '../../lambdas/shared/clients.js';
import { ValidationError } from '../../lambdas/shared/errors.js';
import { S3ObjectStore } from '../../lambdas/shared/object-store.js';
import { synthesize } from '../../local/assembly.js';
import { startLocalStack } from '../../local/local-stack.js';
import { testFeatureViews } from '../fixtures/feature-views.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-10-10T00:00:00Z');
let store: S3ObjectStore;
let views: Map<string, FeatureView>;

beforeAll(async () => {
  const local = await startLocalStack(
    synthesize(undefined, { context: { mlops: { featureViews: testFeatureViews } } }),
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
