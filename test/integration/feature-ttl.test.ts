/**
 * Views that never expire, and training sets whose S3 listing does not grow with the TTL or with
 * the distance between label times, against the emulator.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { defineFeatureView, type FeatureView } from '../../lambdas/feature-store/feature-view.js';
import { getHistoricalFeatures } from '../../lambdas/feature-store/historical.js';
import { ingestBatch } from '../../lambdas/feature-store/ingest.js';
import { materializeView } from '../../lambdas/feature-store/materialize.js';
import { OnlineStore, onlineKey } from '../../lambdas/feature-store/online-store.js';
import { decodeFeatureColumns } from '../../lambdas/feature-store/parquet-codec.js';
import { clients } from '../../lambdas/shared/clients.js';
import { type ObjectStore, S3ObjectStore } from '../../lambdas/shared/object-store.js';
import { startLocalStack } from '../../local/local-stack.js';
import { testFeatureViews } from '../fixtures/feature-views.js';
import { assemblyFor } from '../support/assemblies.js';

const DAY = 86_400_000;
const YEAR = 365 * DAY;
const T0 = Date.parse('2026-06-01T00:00:00Z');
let store: S3ObjectStore;
let tableName: string;

const viewWith = (name: string, ttlSeconds: number | 'never'): FeatureView =>
  defineFeatureView({
    ...(testFeatureViews[0] as Parameters<typeof defineFeatureView>[0]),
    name,
    ttlSeconds,
  });

/** The store, counting its listings. */
function counting(): { store: ObjectStore; lists: string[] } {
  const lists: string[] = [];
  return {
    lists,
    store: {
      put: (key, body, options) => store.put(key, body, options),
      get: (key) => store.get(key),
      list: (prefix, options) => {
        lists.push(prefix);
        return store.list(prefix, options);
      },
    },
  };
}

async function ingest(view: FeatureView, batchId: string, rows: object[], at: number) {
  return ingestBatch(
    { view: view.name, batchId, format: 'jsonl' },
    new TextEncoder().encode(rows.map((r) => JSON.stringify(r)).join('\n')),
    { store, views: new Map([[view.name, view]]), now: () => new Date(at) },
  );
}

async function orders(dataKey: string, column: string) {
  const bytes = (await store.get(dataKey)) as Uint8Array;
  const columns = await decodeFeatureColumns(bytes.buffer.slice(bytes.byteOffset) as ArrayBuffer);
  return columns[column];
}

beforeAll(async () => {
  const local = await startLocalStack(
    await assemblyFor({ context: { mlops: { featureViews: testFeatureViews } } }),
    { prefix: 'ttl-' },
  );
  store = new S3ObjectStore(clients.s3(), local.resourceName('FeatureStoreOffline'));
  tableName = local.resourceName('FeatureStoreOnline');
});

describe('a view that never expires', () => {
  it('gives a training set the latest value at or before each time, however old', async () => {
    const view = viewWith('profile', 'never');
    const old = Date.parse('2001-03-04T05:06:07Z');
    await ingest(view, 'p1', [{ customer_id: 'c1', event_time: old, orders: 1 }], old + DAY);
    await ingest(view, 'p2', [{ customer_id: 'c1', event_time: T0, orders: 2 }], T0 + DAY);
    const { store: listing, lists } = counting();
    const manifest = await getHistoricalFeatures(
      {
        entityRows: [
          { customer_id: 'c1', event_time: old - 1 }, // before any value
          { customer_id: 'c1', event_time: old + 20 * YEAR }, // 20 years later: the 2001 value
          { customer_id: 'c1', event_time: T0 + 1 },
        ],
        featureRefs: ['profile:orders'],
      },
      { store: listing, views: new Map([[view.name, view]]) },
    );
    expect(await orders(manifest.dataKey, 'profile__orders')).toEqual([null, 1, 2]);
    expect(lists).toHaveLength(1);
  });

  it('is written online without an expiry and read however old', async () => {
    const view = viewWith('profile_online', 'never');
    const old = T0 - 10 * YEAR;
    await ingest(view, 'o1', [{ customer_id: 'c1', event_time: old, orders: 3 }], old + DAY);
    const now = T0 + 10 * YEAR;
    const online = new OnlineStore(clients.documents(), tableName, () => now);
    const result = await materializeView(view, { store, online, now: () => now });
    expect(result).toMatchObject({ written: 1, expired: 0 });
    const item = await clients
      .documents()
      .send(new GetCommand({ TableName: tableName, Key: { pk: onlineKey(view.name, ['c1']) } }));
    expect(item.Item).toBeDefined();
    expect(item.Item).not.toHaveProperty('expiresAt');
    const [row] = await online.getOnlineFeatures(view, ['orders'], [{ customer_id: 'c1' }]);
    expect(row?.features.orders).toEqual({ value: 3, ageMs: now - old });
  });
});

describe('what a training set lists', () => {
  it('lists once for a 10-year TTL as for 7 days, with the same answer', async () => {
    const week = viewWith('span', 7 * 86_400);
    const decade = { ...week, ttlSeconds: 10 * 365 * 86_400 };
    await ingest(week, 's1', [{ customer_id: 'c1', event_time: T0 - 3 * DAY, orders: 7 }], T0);
    const request = { entityRows: [{ customer_id: 'c1', event_time: T0 }], featureRefs: ['span:orders'] };
    const results: { lists: number; values: unknown }[] = [];
    for (const view of [week, decade]) {
      const { store: listing, lists } = counting();
      const manifest = await getHistoricalFeatures(request, {
        store: listing,
        views: new Map([[view.name, view]]),
      });
      results.push({ lists: lists.length, values: await orders(manifest.dataKey, 'span__orders') });
    }
    expect(results).toEqual([
      { lists: 1, values: [7] },
      { lists: 1, values: [7] },
    ]);
  });

  it('clamps label times to what ingestion accepts, so times 270,000 years apart list once', async () => {
    const view = viewWith('far', 86_400);
    await ingest(view, 'f1', [{ customer_id: 'c1', event_time: T0, orders: 4 }], T0);
    const { store: listing, lists } = counting();
    const manifest = await getHistoricalFeatures(
      {
        entityRows: [
          { customer_id: 'c1', event_time: -8.64e15 },
          { customer_id: 'c1', event_time: T0 + 1 },
          { customer_id: 'c1', event_time: 8.64e15 },
        ],
        featureRefs: ['far:orders'],
      },
      { store: listing, views: new Map([[view.name, view]]), now: () => new Date(T0) },
    );
    expect(await orders(manifest.dataKey, 'far__orders')).toEqual([null, 4, null]);
    expect(lists).toHaveLength(1);
  });
});
