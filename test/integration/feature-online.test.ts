import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { defineFeatureView, type FeatureView } from '../../lambdas/feature-store/feature-view.js';
import { ingestBatch } from '../../lambdas/feature-store/ingest.js';
import { materializeView, watermarkKey } from '../../lambdas/feature-store/materialize.js';
import { MAX_ONLINE_KEYS, OnlineStore } from '../../lambdas/feature-store/online-store.js';
import { clients } from '../../lambdas/shared/clients.js';
import { ValidationError } from '../../lambdas/shared/errors.js';
import { S3ObjectStore } from '../../lambdas/shared/object-store.js';
import { synthesize } from '../../local/assembly.js';
import { startLocalStack } from '../../local/local-stack.js';
import { testFeatureViews } from '../fixtures/feature-views.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-11-20T00:00:00Z');
let store: S3ObjectStore;
let tableName: string;
let prefixCounter = 0;

/** A fresh view name per test, so tests do not share online items or watermarks. */
function freshView(): FeatureView {
  const base = testFeatureViews[0];
  if (base === undefined) throw new Error('no test view');
  return defineFeatureView({ ...base, name: `customer_${++prefixCounter}` });
}

const line = (id: string, hoursAfterT0: number, orders: number, spend: number | null = 1) =>
  JSON.stringify({ customer_id: id, event_time: T0 + hoursAfterT0 * HOUR, orders, spend });

async function ingest(view: FeatureView, batchId: string, lines: string[], at: number) {
  return ingestBatch(
    { view: view.name, batchId, format: 'jsonl' },
    new TextEncoder().encode(lines.join('\n')),
    {
      store,
      views: new Map([[view.name, view]]),
      now: () => new Date(at),
    },
  );
}

beforeAll(async () => {
  const local = await startLocalStack(
    synthesize(undefined, { context: { mlops: { featureViews: testFeatureViews } } }),
    {
      prefix: 'online-',
    },
  );
  store = new S3ObjectStore(clients.s3(), local.resourceName('FeatureStoreOffline'));
  tableName = local.resourceName('FeatureStoreOnline');
});

describe('materialization and online reads', () => {
  it('puts the latest value per entity online and reads it back with its age', async () => {
    const view = freshView();
    await ingest(view, 'b1', [line('c1', 1, 1), line('c1', 3, 3), line('c2', 2, 20, null)], T0 + 4 * HOUR);
    await ingest(view, 'b2', [line('c1', 2, 2)], T0 + 5 * HOUR); // later ingestion, older event: loses
    const online = new OnlineStore(clients.documents(), tableName, () => T0 + 6 * HOUR);

    const result = await materializeView(view, { store, online, now: () => T0 + 6 * HOUR });
    expect(result).toMatchObject({ batches: 2, rows: 4, written: 2, skipped: 0 });

    const rows = await online.getOnlineFeatures(
      view,
      ['orders', 'spend'],
      [{ customer_id: 'c1' }, { customer_id: 'c2' }, { customer_id: 'nobody' }],
    );
    expect(rows).toEqual([
      {
        entityKey: { customer_id: 'c1' },
        features: { orders: { value: 3, ageMs: 3 * HOUR }, spend: { value: 1, ageMs: 3 * HOUR } },
      },
      {
        entityKey: { customer_id: 'c2' },
        features: { orders: { value: 20, ageMs: 4 * HOUR }, spend: { value: null, ageMs: 4 * HOUR } },
      },
      {
        entityKey: { customer_id: 'nobody' },
        features: { orders: { value: null, ageMs: null }, spend: { value: null, ageMs: null } },
      },
    ]);
  });

  it('keeps the newer value when two materializations race', async () => {
    const view = freshView();
    const online = new OnlineStore(clients.documents(), tableName, () => T0 + 10 * HOUR);
    const newer = {
      entityKey: ['c1'],
      eventTimeMs: T0 + 5 * HOUR,
      ingestedAtMs: T0,
      features: { orders: 5, spend: 5 },
    };
    const older = {
      entityKey: ['c1'],
      eventTimeMs: T0 + 4 * HOUR,
      ingestedAtMs: T0 + HOUR,
      features: { orders: 4, spend: 4 },
    };
    const runs = await Promise.all(
      Array.from({ length: 20 }, (_, i) => online.writeLatest(view, [i % 2 === 0 ? older : newer])),
    );
    expect(runs.reduce((sum, r) => sum + r.written + r.skipped, 0)).toBe(20);
    const [row] = await online.getOnlineFeatures(view, ['orders'], [{ customer_id: 'c1' }]);
    expect(row?.features.orders?.value).toBe(5);
  });

  it('leaves the same final table when a crashed run is repeated', async () => {
    const view = freshView();
    const lines = Array.from({ length: 30 }, (_, i) => line(`c${i}`, 1 + (i % 3), i));
    await ingest(view, 'big', lines, T0 + 4 * HOUR);
    // The emulator cannot fail a write midway; a client that fails the 10th put stands in for the crash.
    let puts = 0;
    const documents = clients.documents();
    const crashing = {
      send: (command: { constructor: { name: string } }) => {
        if (command.constructor.name === 'PutCommand' && ++puts === 10)
          return Promise.reject(new Error('crash'));
        return documents.send(command as never);
      },
    } as unknown as DynamoDBDocumentClient;
    const now = () => T0 + 6 * HOUR;
    await expect(
      materializeView(view, {
        store,
        online: new OnlineStore(crashing, tableName, now),
        now,
        concurrency: 1,
      }),
    ).rejects.toThrow('crash');
    expect(await store.get(watermarkKey(view.name))).toBeUndefined();

    const online = new OnlineStore(documents, tableName, now);
    const rerun = await materializeView(view, { store, online, now });
    expect(rerun.written + rerun.skipped).toBe(30);
    const keys = Array.from({ length: 30 }, (_, i) => ({ customer_id: `c${i}` }));
    const rows = await online.getOnlineFeatures(view, ['orders'], keys);
    expect(rows.map((r) => r.features.orders?.value)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(await store.get(watermarkKey(view.name))).toBeDefined();
  });

  it('returns nulls for a value past its TTL even before DynamoDB deletes it', async () => {
    const view = freshView();
    const online = new OnlineStore(clients.documents(), tableName, () => T0 + 30 * HOUR);
    await online.writeLatest(view, [
      { entityKey: ['old'], eventTimeMs: T0, ingestedAtMs: T0, features: { orders: 1, spend: 1 } },
    ]);
    const [row] = await online.getOnlineFeatures(view, ['orders'], [{ customer_id: 'old' }]);
    expect(row?.features.orders).toEqual({ value: null, ageMs: null });
  });

  it('reads more than 100 keys across parallel chunks, duplicates included', async () => {
    const view = freshView();
    const online = new OnlineStore(clients.documents(), tableName, () => T0 + 2 * HOUR);
    const records = Array.from({ length: 250 }, (_, i) => ({
      entityKey: [`k${i}`],
      eventTimeMs: T0 + HOUR,
      ingestedAtMs: T0,
      features: { orders: i, spend: null },
    }));
    await online.writeLatest(view, records);
    const keys = [...records.map((r) => ({ customer_id: String(r.entityKey[0]) })), { customer_id: 'k7' }];
    const rows = await online.getOnlineFeatures(view, ['orders'], keys);
    expect(rows.map((r) => r.features.orders?.value)).toEqual([...records.map((r) => r.features.orders), 7]);
  });

  it.each([
    [['colour'], [{ customer_id: 'c1' }], 'featureNames.0'],
    [['orders'], [{ customer: 'c1' }], 'entityKeys.0.customer_id'],
    [['orders'], [{ customer_id: 5 }], 'entityKeys.0.customer_id'],
    [
      ['orders'],
      Array.from({ length: MAX_ONLINE_KEYS + 1 }, (_, i) => ({ customer_id: `k${i}` })),
      'entityKeys',
    ],
  ])('rejects a bad request by field (%j)', async (features, keys, field) => {
    const view = freshView();
    const online = new OnlineStore(clients.documents(), tableName);
    const error = await online.getOnlineFeatures(view, features, keys as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe(field);
  });
});
